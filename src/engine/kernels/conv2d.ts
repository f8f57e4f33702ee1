import * as tf from '@tensorflow/tfjs-core';
import { f32, input, runStock, type BackendWasm, type KernelArgs, type Pad } from './wasmCalls.ts';
import { ACTIVATIONS, conv3x3, conv3x3Fits, isSame3x3, winogradReady, type Epilogue } from './winograd.ts';

interface Attrs {
  activation?: string;
  leakyreluAlpha?: number;
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * `Conv2D` for wasm: 3x3, stride-1 convolutions with one pixel of padding on every side ('same'),
 * input channels a multiple of 4 and output channels of 8 (every convolution of the project's
 * MNIST models but the first, and their input gradients, which `Conv2DBackpropInput` computes as
 * such a convolution) by Winograd F(2x2, 3x3) (winograd.c: 2.25x fewer multiplications than
 * XNNPACK's direct convolution; 1.5-2x faster here); with one input channel (a first layer on grey
 * images, output channels a multiple of 4) or one output channel (its input gradient), directly in
 * the same module, where XNNPACK is slow on such thin products. Every other case, and everything before
 * `loadWinograd()` has finished, goes to the stock kernel (XNNPACK). Results differ from XNNPACK's
 * by float rounding (the transforms add and subtract inputs before multiplying: relative
 * differences of about 1e-6).
 */
export function conv2d(args: KernelArgs): tf.TensorInfo {
  return ours(args, null) ?? runStock(args.backend as BackendWasm, 'Conv2D', conv2d, args.inputs, args.attrs);
}

/**
 * `FusedConv2D` for wasm (every convolution of a layers model at inference: bias and activation
 * fused): the cases {@link conv2d} takes, with a bias of one value per output channel (or none) and a
 * linear, ReLU, ReLU6 or leaky ReLU activation applied in the same module; the rest (PReLU, other
 * activations, broadcast biases) goes to the stock kernel.
 */
export function fusedConv2d(args: KernelArgs): tf.TensorInfo {
  const a = args.attrs as unknown as Attrs;
  const bias = args.inputs['bias'];
  const activation = (a.activation ?? 'linear') as Epilogue['activation'];
  const k = input(args.inputs, 'filter').shape[3];
  const fits =
    ACTIVATIONS.includes(activation) &&
    !args.inputs['preluActivationWeights'] &&
    (!bias || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === k)) &&
    k % 4 === 0;
  const out = fits ? ours(args, { activation, alpha: a.leakyreluAlpha }, bias) : null;
  return out ?? runStock(args.backend as BackendWasm, 'FusedConv2D', fusedConv2d, args.inputs, args.attrs);
}

/**
 * The module's convolution of the kernel's x and filter (then `epilogue` with `bias`), or null when
 * it does not fit.
 */
function ours(args: KernelArgs, epilogue: Epilogue | null, bias?: tf.TensorInfo): tf.TensorInfo | null {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const filter = input(args.inputs, 'filter');
  const a = args.attrs as unknown as Attrs;
  const [kh, kw, c, k] = filter.shape;
  const nhwc = a.dataFormat === undefined || a.dataFormat === 'NHWC';
  // The cheap checks first; then the geometry (stride, dilation and padding resolved by tfjs).
  if (!winogradReady() || x.dtype !== 'float32' || filter.dtype !== 'float32' || !nhwc) return null;
  if (kh !== 3 || kw !== 3 || !conv3x3Fits(c, k)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  const [n, h, w] = x.shape;
  if (!isSame3x3(info) || n * h * w === 0) return null;
  // The output first: views are taken after the last allocation of the backend.
  const out = backend.makeOutput([n, h, w, k], 'float32');
  const ep = epilogue && { ...epilogue, bias: bias ? f32(backend, bias) : undefined };
  conv3x3(f32(backend, x), [n, h, w, c], f32(backend, filter), k, ep ?? undefined, f32(backend, out));
  return out;
}
