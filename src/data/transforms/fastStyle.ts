/**
 * The fast style transfer network of Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time
 * Style Transfer and Super-Resolution" (ECCV 2016), as in L. Engstrom's fast-style-transfer code
 * and ml5's StyleTransfer (whose trained variables `../shared/models/style-transfer/<style>` holds):
 *
 *   conv 9x9/1 32, conv 3x3/2 64, conv 3x3/2 128      (each: conv SAME, instance norm, ReLU)
 *   5 residual blocks of two 3x3 128 convs           (x + IN(conv(ReLU(IN(conv(x))))))
 *   transposed conv 3x3/2 64, transposed conv 3x3/2 32 (each: SAME, instance norm, ReLU)
 *   conv 9x9/1 3, instance norm, then 150 * tanh + 127.5
 *
 * on pixel values 0-255. Instance norm: (x - mean) / sqrt(var + 1e-3) * scale + shift over each
 * image's positions, per channel. The variables are named `Variable`, `Variable_1`, ... in the
 * order conv weights, shift, scale per layer (48 in all). Browser-safe: the variables come in as
 * tensors (`src/node/styleModels.ts` reads them from files).
 *
 *   const net = fastStyleNet(vars);   // vars: name -> tensor
 *   const y = net(x);                 // x: [N, H, W, 3] in [0, 1]; y: the same shape, caller's
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../errors.ts';

/** The network's variables by name (`Variable`, `Variable_1`, ..., `Variable_47`). */
export type FastStyleVariables = Record<string, tf.Tensor>;

/** Instance norm's epsilon in the trained networks. */
export const INSTANCE_NORM_EPSILON = 1e-3;

/** Instance normalisation of x [N, H, W, C] per image and channel, then `scale * . + shift` ([C] each). */
export function instanceNorm(x: tf.Tensor4D, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    const normalised = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, INSTANCE_NORM_EPSILON)));
    return tf.add(tf.mul(scale, normalised), shift) as tf.Tensor4D;
  });
}

/** conv (SAME, `stride`) with filter w [k, k, in, out], instance norm, ReLU when `relu`. */
export function convLayer(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  shift: tf.Tensor,
  scale: tf.Tensor,
  stride: number,
  relu = true,
): tf.Tensor4D {
  return tf.tidy(() => {
    const y = instanceNorm(tf.conv2d(x, w, stride, 'same'), shift, scale);
    return relu ? tf.relu(y) : y;
  });
}

/**
 * Transposed conv (SAME, `stride`: output H*stride x W*stride) with filter w [k, k, out, in],
 * instance norm, ReLU.
 */
export function convTransposeLayer(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  shift: tf.Tensor,
  scale: tf.Tensor,
  stride: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, wd] = x.shape;
    const out = w.shape[2];
    const y = tf.conv2dTranspose(x, w, [n, h * stride, wd * stride, out], stride, 'same');
    return tf.relu(instanceNorm(y, shift, scale));
  });
}

/** Shapes of the 48 variables, in order (3 per layer: weights, shift, scale). */
function expectedShapes(): number[][] {
  const layers: [number, number, number][] = [
    [9, 3, 32],
    [3, 32, 64],
    [3, 64, 128],
    ...Array.from({ length: 10 }, (): [number, number, number] => [3, 128, 128]),
    [3, 128, 64], // transposed: stored [k, k, out, in]
    [3, 64, 32],
    [9, 32, 3],
  ];
  return layers.flatMap(([k, a, b], i) => {
    const transposed = i === 13 || i === 14;
    const c = b;
    return [transposed ? [k, k, b, a] : [k, k, a, b], [c], [c]];
  });
}

/** The variable name of index i: `Variable`, then `Variable_1`, ... */
export const variableName = (i: number) => (i === 0 ? 'Variable' : `Variable_${i}`);

/**
 * Checks that `vars` holds the 48 variables of the network with their shapes; a one-line
 * {@link UserError} naming `where` and the first bad variable otherwise.
 */
export function checkFastStyleVariables(vars: FastStyleVariables, where: string): void {
  expectedShapes().forEach((shape, i) => {
    const v = vars[variableName(i)];
    if (!v)
      throw new UserError(`${where} has no variable ${variableName(i)}; it is not a fast style network`);
    if (v.shape.join('x') !== shape.join('x'))
      throw new UserError(
        `${where}: ${variableName(i)} has shape ${v.shape.join('x')}, the network needs ${shape.join('x')}`,
      );
  });
}

/**
 * The network as a function of images [N, H, W, 3] in [0, 1] (H and W multiples of 4) to stylised
 * images of the same shape in [0, 1]; it returns tensors the caller owns and keeps references to
 * `vars` (the caller disposes them when done).
 */
export function fastStyleNet(vars: FastStyleVariables): (x: tf.Tensor4D) => tf.Tensor4D {
  checkFastStyleVariables(vars, 'the style network');
  const v = (i: number) => vars[variableName(i)];
  const conv = (x: tf.Tensor4D, at: number, stride: number, relu = true) =>
    convLayer(x, v(at) as tf.Tensor4D, v(at + 1), v(at + 2), stride, relu);
  return (x) =>
    tf.tidy(() => {
      const [, h, w, c] = x.shape;
      if (c !== 3 || h % 4 !== 0 || w % 4 !== 0)
        throw new UserError(
          `the fast style network takes RGB images with sides divisible by 4, not ${h}x${w}x${c}`,
        );
      let y = conv(tf.mul(x, 255), 0, 1);
      y = conv(y, 3, 2);
      y = conv(y, 6, 2);
      for (let b = 0; b < 5; b++) {
        const at = 9 + b * 6;
        y = tf.add(y, conv(conv(y, at, 1), at + 3, 1, false));
      }
      y = convTransposeLayer(y, v(39) as tf.Tensor4D, v(40), v(41), 2);
      y = convTransposeLayer(y, v(42) as tf.Tensor4D, v(43), v(44), 2);
      y = conv(y, 45, 1, false);
      const pixels = tf.add(tf.mul(tf.tanh(y), 150), 255 / 2);
      return tf.div(tf.clipByValue(pixels, 0, 255), 255) as tf.Tensor4D;
    });
}
