import * as tfl from '@tensorflow/tfjs-layers';
import type { ArchOptions } from './index.ts';

/**
 * `cifar-cnn`: a VGG-style CNN for 32x32 colour images sized to train on a CPU: three stages of two
 * 3x3 convolutions (32, 64, 128 channels; batch norm and ReLU after each; 2x2 max pooling between
 * stages), global average pooling and one dense layer, so class activation maps are exact ('features',
 * 8x8 at 32x32 input, is the CAM layer). About 0.29 M parameters and 38 M multiply-adds per image.
 */
export function cifarCnn(o: ArchOptions): tfl.LayersModel {
  const init = () => tfl.initializers.heNormal({ seed: o.seed() });
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  let x: tfl.SymbolicTensor = input;
  const block = (filters: number, name: string) => {
    x = tfl.layers
      .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_conv`, kernelInitializer: init() })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ name: `${name}_bn` }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.activation({ activation: 'relu', name }).apply(x) as tfl.SymbolicTensor;
  };
  const pool = (name: string) => {
    x = tfl.layers.maxPooling2d({ poolSize: 2, name }).apply(x) as tfl.SymbolicTensor;
  };
  block(32, 'c1');
  block(32, 'c2');
  pool('pool1');
  block(64, 'c3');
  block(64, 'c4');
  pool('pool2');
  block(128, 'c5');
  block(128, 'features');
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ units: o.classes, name: 'logits', kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed() }) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'cifar_cnn' });
}
