import * as tf from '@tensorflow/tfjs-core';
import { f32, free, input, runStock, type BackendWasm, type KernelArgs, type Pad } from './wasmCalls.ts';
import {
  ACTIVATIONS,
  conv3x3,
  conv3x3Fits,
  epilogueModule,
  isSame3x3,
  takeChannelsModule,
  winogradFits,
  winogradReady,
  type Epilogue,
} from './winograd.ts';
import { convGemm, patchesFit, patchGeometry } from './patches.ts';

export interface Attrs {
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
 * XNNPACK's direct convolution; 1.5-2x faster here), or F(4x4, 3x3) (4x fewer) where it measured
 * faster still (`winogradTile`: maps of at least 8x8 whose 4x4 tiles waste little, enough tiles, 16
 * or more outputs; 1.0-1.6x F(2x2)'s speed per layer; `setWinogradF4(false)` switches it off); with one
 * input channel (a first layer on grey
 * images, output channels a multiple of 4) or one output channel (its input gradient), directly in
 * the same module, where XNNPACK is slow on such thin products. Every other case, and everything before
 * `loadWinograd()` has finished, goes to the stock kernel (XNNPACK). Results differ from XNNPACK's
 * by float rounding (the transforms add and subtract inputs before multiplying: relative
 * differences of about 1e-6 for F(2x2), up to about 6e-6 for F(4x4), whose transforms scale by up to 8).
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
function ours(
  args: KernelArgs,
  epilogue: Epilogue | null,
  bias?: tf.TensorInfo,
  residual?: tf.TensorInfo,
): tf.TensorInfo | null {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const filter = input(args.inputs, 'filter');
  const a = args.attrs as unknown as Attrs;
  const [kh, kw, c, k] = filter.shape;
  const nhwc = a.dataFormat === undefined || a.dataFormat === 'NHWC';
  // The cheap checks first; then the geometry (stride, dilation and padding resolved by tfjs).
  if (!winogradReady() || x.dtype !== 'float32' || filter.dtype !== 'float32' || !nhwc) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
  );
  if (info.strideHeight > 1 || info.strideWidth > 1 || (kh === 1 && kw === 1))
    return strided(backend, x, filter, info, epilogue, bias, residual);
  // Three output channels (the input gradient of a colour model's first layer, as in every PGD step
  // on CIFAR): Winograd with the filter padded by five zero channels, whose outputs are dropped
  // (measured: 9.5 -> 5 ms of CPU for cifar-cnn's at batch 64; other counts are left to XNNPACK).
  const padK = !epilogue && k === 3 && winogradFits(c, 8);
  if (kh !== 3 || kw !== 3 || !(conv3x3Fits(c, k) || padK)) return null;
  const [n, h, w] = x.shape;
  if (!isSame3x3(info) || n * h * w === 0) return null;
  if (padK) return paddedOutputs(backend, x, filter);
  // The output first: views are taken after the last allocation of the backend.
  const out = backend.makeOutput([n, h, w, k], 'float32');
  conv3x3(
    f32(backend, x),
    [n, h, w, c],
    f32(backend, filter),
    k,
    views(backend, epilogue, bias, residual),
    f32(backend, out),
  );
  return out;
}

/**
 * A strided or 1x1 convolution (a ResNet's downsampling layers, darknet's bottlenecks) by the
 * module's product of unrolled patches (patches.c), or null when its channels do not fit (input
 * channels a multiple of 4, output of 8) or it has dilations: about 2x XNNPACK's direct convolution
 * on ResNet-20's strided layers, 1.1-1.3x its 1x1 product.
 */
function strided(
  backend: BackendWasm,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  epilogue: Epilogue | null,
  bias?: tf.TensorInfo,
  residual?: tf.TensorInfo,
): tf.TensorInfo | null {
  const g = patchGeometry(info);
  if (!g || !patchesFit(g, 'forward')) return null;
  const out = backend.makeOutput([g.n, g.oh, g.ow, g.k], 'float32');
  convGemm(
    f32(backend, x),
    f32(backend, filter),
    views(backend, epilogue, bias, residual),
    f32(backend, out),
    g,
  );
  return out;
}

/** The epilogue with the bias and residual tensors' views (taken after the output's allocation). */
function views(
  backend: BackendWasm,
  epilogue: Epilogue | null,
  bias?: tf.TensorInfo,
  residual?: tf.TensorInfo,
): Epilogue | undefined {
  if (!epilogue) return undefined;
  return {
    ...epilogue,
    bias: bias ? f32(backend, bias) : undefined,
    residual: residual ? f32(backend, residual) : undefined,
  };
}

/**
 * A convolution of a layers model's conv / batch norm (/ add) (/ activation) run as one kernel
 * (engine/convBnAct.ts): x by filter (strides, padding and dilations in `attrs`, NHWC), plus `bias`,
 * then the epilogue's batch norm, the residual and the activation. Through the module's convolution
 * with the epilogue applied in cache where the geometry fits ({@link conv2d}'s cases); else the
 * kernel the separate layers would have run for the convolution and bias (`FusedConv2D`), then the
 * epilogue as a pass of its own. Either way the bits of the separate kernels.
 */
export function convWithEpilogue(
  backend: BackendWasm,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: Attrs,
  epilogue: Omit<Epilogue, 'bias' | 'residual'>,
  bias?: tf.TensorInfo,
  residual?: tf.TensorInfo,
): tf.TensorInfo {
  const k = filter.shape[3];
  if (k % 4 !== 0)
    throw new Error(`convWithEpilogue: ${k} output channels; the epilogue needs a multiple of 4`);
  const inputs: tf.NamedTensorInfoMap = bias ? { x, filter, bias } : { x, filter };
  const a = { ...attrs, activation: 'linear' } as unknown as tf.NamedAttrMap;
  const mine = ours({ inputs, backend, attrs: a }, epilogue, bias, residual);
  if (mine) return mine;
  const out = fusedConv2d({ inputs, backend, attrs: a });
  epilogueModule(f32(backend, out), k, {
    ...epilogue,
    residual: residual ? f32(backend, residual) : undefined,
  });
  return out;
}

/**
 * A convolution then its bias and activation as the unfused layers under a gradient tape compute
 * them (`Conv2D`, `Add`, `Relu`: engine/convAct.ts): through the module's convolution with the bias
 * and activation applied in cache where the geometry fits ({@link conv2d}'s cases), else the kernel
 * `Conv2D` would have run (stock XNNPACK), then the bias and activation as a pass of their own, so
 * that either way the result is the separate kernels' bit for bit (the stock `FusedConv2D` would
 * start its sums from the bias instead). Output channels a multiple of 4.
 */
export function convBiasActivation(
  backend: BackendWasm,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: Attrs,
  activation: Epilogue['activation'],
  bias?: tf.TensorInfo,
): tf.TensorInfo {
  const k = filter.shape[3];
  if (k % 4 !== 0)
    throw new Error(`convBiasActivation: ${k} output channels; the epilogue needs a multiple of 4`);
  const a = { ...attrs, activation: 'linear' } as unknown as tf.NamedAttrMap;
  const mine = ours(
    { inputs: bias ? { x, filter, bias } : { x, filter }, backend, attrs: a },
    { activation },
    bias,
  );
  if (mine) return mine;
  const out = conv2d({ inputs: { x, filter }, backend, attrs: a });
  epilogueModule(f32(backend, out), k, { activation, bias: bias ? f32(backend, bias) : undefined });
  return out;
}

/**
 * The convolution of x [n, h, w, c] by filter [3, 3, c, k], k not a multiple of 8 (three: a colour
 * image's input gradient): by Winograd F(2x2) with the filter's output channels padded with zeros to
 * kp, into [n, h, w, kp], then the first k channels of each pixel (in the module). kp is k rounded up to
 * a multiple of 4 (the products' last four columns by gemm_cols4) where that is 4 more than a multiple
 * of 8, else to a multiple of 8. Every output channel is the same chain of multiply-adds whatever kp
 * is, so the bits do not depend on it; kp 4 instead of 8 halves the wasted products and output
 * transforms (darknet's first layer's input gradient, [8, 224, 224, 16] -> 3: 17.4 -> 13.6 ms;
 * ResNet-20's stem, [128, 32, 32, 16] -> 3: 6.1 -> 5.0 ms; 2026-12-07, alternated in one process).
 */
function paddedOutputs(backend: BackendWasm, x: tf.TensorInfo, filter: tf.TensorInfo): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const k = filter.shape[3];
  const k4 = (k + 3) & ~3;
  const narrow = paddedNarrow && k4 % 8 === 4;
  const kp = narrow ? k4 : (k + 7) & ~7;
  const fp = backend.makeOutput([3, 3, c, kp], 'float32');
  const yp = backend.makeOutput([n, h, w, kp], 'float32');
  const out = backend.makeOutput([n, h, w, k], 'float32');
  try {
    const fv = f32(backend, filter);
    const fpv = f32(backend, fp);
    fpv.fill(0);
    for (let i = 0, rows = 9 * c; i < rows; i++) fpv.set(fv.subarray(i * k, (i + 1) * k), i * kp);
    conv3x3(f32(backend, x), [n, h, w, c], fpv, kp, undefined, f32(backend, yp), narrow);
    // The module may have grown the heap: fresh views.
    takeChannelsModule(f32(backend, yp), kp, f32(backend, out), k);
    return out;
  } finally {
    free(backend, fp, yp);
  }
}

let paddedNarrow = true;
/** Pads a 3-output filter to 4 channels (the default) or, off, to 8 as before (for benchmarks and tests). */
export function setPaddedOutputsNarrow(on: boolean): void {
  paddedNarrow = on;
}
