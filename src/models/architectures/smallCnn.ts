import * as tfl from '@tensorflow/tfjs-layers';
import type { ArchOptions } from './index.ts';

/**
 * `small-cnn`: conv3x3(32)-relu-maxpool2, conv3x3(64)-relu-maxpool2, dense(K); 'same' padding.
 * The MNIST model of the reference benchmark (`../shared/bench/torch_ref.py`), 28x28 by default.
 */
export function smallCnn(o: ArchOptions): tfl.LayersModel {
  const init = () => tfl.initializers.glorotUniform({ seed: o.seed() });
  const m = tfl.sequential({ name: 'small_cnn' });
  m.add(tfl.layers.conv2d({ inputShape: o.inputShape, filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1', kernelInitializer: init() }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2', kernelInitializer: init() }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  m.add(tfl.layers.flatten({ name: 'flatten' }));
  m.add(tfl.layers.dense({ units: o.classes, name: 'logits', kernelInitializer: init() }));
  return m;
}
