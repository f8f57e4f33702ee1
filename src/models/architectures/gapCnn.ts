import * as tfl from '@tensorflow/tfjs-layers';
import type { ArchOptions } from './index.ts';

/**
 * `gap-cnn`: convolutions, then global average pooling, then one dense layer, so class activation
 * maps are exact (CAM_c = sum_k w_kc A_k and mean(CAM_c) + b_c = logit_c). For 28x28 and 32x32 input:
 * conv3x3(32)-pool, conv3x3(64)-pool, conv3x3(128), conv3x3(128) ('features', the CAM layer, 7x7 at
 * 28x28 input), GAP, dense(K).
 */
export function gapCnn(o: ArchOptions): tfl.LayersModel {
  const init = () => tfl.initializers.heNormal({ seed: o.seed() });
  const conv = (filters: number, name: string, first = false) =>
    tfl.layers.conv2d({
      ...(first ? { inputShape: o.inputShape } : {}),
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name,
      kernelInitializer: init(),
    });
  const m = tfl.sequential({ name: 'gap_cnn' });
  m.add(conv(32, 'conv1', true));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  m.add(conv(64, 'conv2'));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  m.add(conv(128, 'conv3'));
  m.add(conv(128, 'features'));
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tfl.layers.dense({ units: o.classes, name: 'logits', kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed() }) }));
  return m;
}
