/**
 * A tiny gap-cnn for the training tests: conv3x3(K=4, 'same', relu) 'features' on 8x8x1 -> (optional
 * 2x2 max-pool) -> GAP -> dense(3) 'logits', with seeded weights, so every objective (CAM ones
 * included) runs in milliseconds.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';

export const H = 8;
export const K = 4; // channels
export const C = 3; // classes
export const P = H * H;

export function tinyGapCnn(
  seed: number,
  opts: { pool?: boolean; cam?: boolean; activation?: 'relu' | 'softplus' } = {},
): Classifier {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [H, H, 1],
      filters: K,
      kernelSize: 3,
      padding: 'same',
      activation: opts.activation ?? 'relu',
      name: 'features',
      kernelInitializer: tfl.initializers.randomNormal({ stddev: 1, seed }),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.2, seed: seed + 1 }),
    }),
  );
  if (opts.pool) m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool' }));
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(
    tfl.layers.dense({
      units: C,
      name: 'logits',
      kernelInitializer: tfl.initializers.randomNormal({ stddev: 3, seed: seed + 2 }),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: seed + 3 }),
    }),
  );
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'tiny',
    architecture: opts.cam === false ? 'tiny-no-cam' : 'tiny-gap',
    modelType: 'layers',
    preprocess: plainPreprocess(H, H, 1),
    labels: ['a', 'b', 'c'],
    output: 'logits',
    layers: opts.cam === false ? { lastConv: 'features' } : { camFeatures: 'features', camDense: 'logits' },
    versions: {},
    created: '',
  });
}
