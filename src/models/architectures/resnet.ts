import * as tfl from '@tensorflow/tfjs-layers';
import type { ArchOptions } from './index.ts';

/**
 * `resnet`: a small ResNet for 32x32 colour images (He et al. 2016, CIFAR variant): a 3x3 stem of 16
 * channels, three stages of `blocks` basic blocks (16, 32, 64 channels; stride 2 between stages, 1x1
 * projection shortcuts), batch norm, global average pooling ('features' is the last block's output)
 * and a dense head. `blocks` = 1 gives ResNet-8, 3 gives ResNet-20.
 */
export function resnet(o: ArchOptions & { blocks?: number }): tfl.LayersModel {
  const blocks = o.blocks ?? 1;
  const init = () => tfl.initializers.heNormal({ seed: o.seed() });
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  const convBn = (x: tfl.SymbolicTensor, filters: number, stride: number, name: string, k = 3) => {
    const c = tfl.layers.conv2d({ filters, kernelSize: k, strides: stride, padding: 'same', useBias: false, name: `${name}_conv`, kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor;
    return tfl.layers.batchNormalization({ name: `${name}_bn` }).apply(c) as tfl.SymbolicTensor;
  };
  const relu = (x: tfl.SymbolicTensor, name: string) => tfl.layers.activation({ activation: 'relu', name }).apply(x) as tfl.SymbolicTensor;
  let x = relu(convBn(input, 16, 1, 'stem'), 'stem_relu');
  let channels = 16;
  [16, 32, 64].forEach((filters, s) => {
    for (let b = 0; b < blocks; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const name = `s${s + 1}b${b + 1}`;
      const last = s === 2 && b === blocks - 1;
      let h = relu(convBn(x, filters, stride, `${name}a`), `${name}a_relu`);
      h = convBn(h, filters, 1, `${name}b`);
      const shortcut = stride !== 1 || channels !== filters ? convBn(x, filters, stride, `${name}_proj`, 1) : x;
      const sum = tfl.layers.add({ name: `${name}_add` }).apply([h, shortcut]) as tfl.SymbolicTensor;
      x = relu(sum, last ? 'features' : `${name}_relu`);
      channels = filters;
    }
  });
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: o.classes, name: 'logits', kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed() }) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: `resnet${6 * blocks + 2}` });
}
