/**
 * A layers model's convolution, batch norm (with given statistics: inference), residual add and
 * activation as one kernel, `AdvlensConvBnAct`, with its gradient.
 *
 * ResNets and darknet are chains of conv -> batch norm (-> add) -> ReLU / leaky ReLU. Run layer by
 * layer, each of those is a kernel over the activation-sized tensor (and in an input gradient, one
 * gradient kernel each): on ResNet-20's input gradient about a tenth of the time went to batch norm,
 * the residual adds, ReLU and their gradients, passes that read and write a whole feature map to do
 * a few operations per value. Here the convolution applies them to each block of its outputs as soon
 * as it has written it, while it is in cache (the module's epilogue, src/engine/kernels/epilogue.h),
 * and the gradient is one pass (through the activation, from the saved output, and batch norm's
 * scale) before the convolution's input gradient.
 *
 * The operations are those of the separate kernels, in the same order (the bias add of
 * `FusedConv2D`, `FusedBatchNorm`'s o + ((v - m) s) / sqrt(variance + eps), `Add`, `Relu` /
 * `LeakyRelu`; the gradient's dy * step(y) and (g / sqrt(variance + eps)) * s), so results are bit
 * for bit the layer-by-layer ones: `src/models/fusedInference.ts` runs models so, and
 * test/engine/convBnAct.test.ts holds outputs and gradients to the layer-by-layer run.
 *
 * Inputs: x [n, h, w, c], filter [kh, kw, c, k], bias [k] (read only when attrs.hasBias), mean,
 * variance, scale, offset [k], and optionally residual [n, oh, ow, k]. Attrs: the convolution's
 * strides, pad, dilations, dimRoundingMode; varianceEpsilon; activation 'linear' | 'relu' |
 * 'leakyrelu' (alpha > 0). The gradient computes, for an input gradient (x and the residual on the
 * backprop path, no outer tape), one pass and `Conv2DBackpropInput`; anything else (the parameters'
 * derivatives, a gradient of this gradient) goes through the separate layers' own gradients
 * (tf.grads of conv + bias + batch norm), so it is always the layer-by-layer result.
 */
import * as tf from '@tensorflow/tfjs-core';
import { outerTapeOn } from './layerPatch.ts';
import { f32, input, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { convWithEpilogue } from './kernels/conv2d.ts';
import { epilogueGradModule, winogradReady } from './kernels/winograd.ts';
import { inputsOnPath } from './unneededGrads.ts';
import { reciprocalStd } from './batchNormGrad.ts';
import { batchNormDivisor } from './kernels/batchNorm.ts';
import { reluGrad } from './reluGrad.ts';
import { leakyReluGrad } from './leakyRelu.ts';

/** The fused kernel's name. */
export const CONV_BN_ACT = 'AdvlensConvBnAct';
/** Its gradient's one-pass kernel (through the activation and batch norm's scale). */
export const CONV_BN_ACT_GRAD = 'AdvlensConvBnActGrad';

/** The activations the fused kernel applies. */
export type FusedActivation = 'linear' | 'relu' | 'leakyrelu';

/** The fused kernel's attributes. */
export interface ConvBnActAttrs {
  strides: [number, number];
  pad: 'same' | 'valid';
  dilations: [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  varianceEpsilon: number;
  activation: FusedActivation;
  alpha: number;
  hasBias: boolean;
}

/** The forward kernel (wasm). */
export function convBnActKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const a = attrs as unknown as ConvBnActAttrs;
  const x = input(inputs, 'x');
  const filter = input(inputs, 'filter');
  const k = filter.shape[3];
  const vec = (name: string) => {
    const t = input(inputs, name);
    if (t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== k)
      throw new Error(`${CONV_BN_ACT}: ${name} must be float32 with one value per output channel (${k})`);
    return Float32Array.from(f32(backend, t));
  };
  if (a.activation === 'leakyrelu' && !(a.alpha > 0))
    throw new Error(`${CONV_BN_ACT}: leaky ReLU needs a slope above 0, got ${a.alpha}`);
  if (!winogradReady()) throw new Error(`${CONV_BN_ACT}: the module is not loaded`);
  const bn = {
    m: vec('mean'),
    s: vec('scale'),
    r: batchNormDivisor(vec('variance'), a.varianceEpsilon),
    o: vec('offset'),
  };
  const bias = a.hasBias ? input(inputs, 'bias') : undefined;
  const residual = inputs['residual'];
  return convWithEpilogue(
    backend,
    x,
    filter,
    {
      strides: a.strides,
      pad: a.pad,
      dilations: a.dilations,
      dimRoundingMode: a.dimRoundingMode,
      dataFormat: 'NHWC',
    },
    { bn, activation: a.activation, alpha: a.alpha },
    bias,
    residual,
  );
}

/** The gradient's one pass (wasm): inputs dy, y, variance, scale; outputs dz and, with attrs.withDv, dv. */
export function convBnActGradKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = b as BackendWasm;
  const { varianceEpsilon, activation, alpha, withDv } = attrs as unknown as ConvBnActAttrs & {
    withDv: boolean;
  };
  const dy = input(inputs, 'dy');
  const y = input(inputs, 'y');
  const ri = reciprocalStd(Float32Array.from(f32(backend, input(inputs, 'variance'))), varianceEpsilon);
  const s = Float32Array.from(f32(backend, input(inputs, 'scale')));
  const dz = backend.makeOutput(dy.shape, 'float32');
  const dv = withDv ? backend.makeOutput(dy.shape, 'float32') : null;
  epilogueGradModule(
    f32(backend, dy),
    f32(backend, y),
    ri,
    s,
    activation,
    alpha,
    f32(backend, dz),
    dv ? f32(backend, dv) : undefined,
  );
  return dv ? [dz, dv] : [dz];
}

/** The inputs whose derivatives take the general route. */
const PARAMETERS = ['filter', 'bias', 'mean', 'variance', 'scale', 'offset'];

/** dy through the activation, read from its output y (y > 0 exactly where the activation's input is). */
function activationGrad(dy: tf.Tensor, y: tf.Tensor, a: ConvBnActAttrs): tf.Tensor {
  if (a.activation === 'relu') return reluGrad(dy, y);
  if (a.activation === 'leakyrelu') return leakyReluGrad(dy, y, a.alpha);
  return dy;
}

/** conv (+ bias) then batch norm, as the separate layers compute them (the general gradient's function). */
function convBn(
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor | null,
  m: tf.Tensor,
  v: tf.Tensor,
  s: tf.Tensor,
  o: tf.Tensor,
  a: ConvBnActAttrs,
) {
  const z = tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: w as tf.Tensor4D,
    strides: a.strides,
    pad: a.pad,
    dilations: a.dilations,
    dimRoundingMode: a.dimRoundingMode,
    dataFormat: 'NHWC',
    bias: b ?? undefined,
    activation: 'linear',
  });
  return tf.batchNorm(
    z,
    m as tf.Tensor1D,
    v as tf.Tensor1D,
    o as tf.Tensor1D,
    s as tf.Tensor1D,
    a.varianceEpsilon,
  );
}

let done = false;

/** Registers the fused kernel's gradient (once). */
export function ensureConvBnActGrad(): void {
  if (done) return;
  done = true;
  tf.registerGradient({
    kernelName: CONV_BN_ACT,
    inputsToSave: ['x', 'filter', 'bias', 'mean', 'variance', 'scale', 'offset'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs): Record<string, () => tf.Tensor> => {
      const [x, filter, bias, mean, variance, scale, offset, y] = saved;
      const a = attrs as unknown as ConvBnActAttrs;
      if (a.dilations.some((d) => d !== 1))
        throw new Error(
          `${CONV_BN_ACT}: no gradient for dilated convolutions (dilations ${a.dilations}), as in tfjs`,
        );
      const g0 = dy as tf.Tensor;
      const on = inputsOnPath() ?? new Set(['x', 'residual', ...PARAMETERS]);
      const fast =
        !PARAMETERS.some((p) => on.has(p)) &&
        !outerTapeOn() &&
        winogradReady() &&
        tf.getKernel(CONV_BN_ACT_GRAD, tf.getBackend()) != null;
      if (fast) {
        // An input gradient: one pass, then the convolution's input gradient (the kernel the
        // separate layers' gradient runs, with the same attributes).
        const withDv = on.has('residual');
        const [dz, dv] = tf.engine().runKernel(CONV_BN_ACT_GRAD, { dy: g0, y, variance, scale }, {
          ...attrs,
          withDv,
        } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        let dx: tf.Tensor | undefined;
        if (on.has('x'))
          dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, {
            strides: a.strides,
            pad: a.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: a.dimRoundingMode,
            inputShape: x.shape,
            dilations: a.dilations,
          } as unknown as tf.NamedAttrMap) as tf.Tensor;
        dz.dispose();
        const out: Record<string, () => tf.Tensor> = { x: () => dx! };
        if (dv) out['residual'] = () => dv;
        return out;
      }
      // Everything else through the separate layers' gradients. The derivatives of inputs off the
      // path are not computed (and not asked for).
      const g = activationGrad(g0, y, a);
      const names = ['x', ...PARAMETERS].filter((n) => on.has(n) && (n !== 'bias' || a.hasBias));
      const all: Record<string, tf.Tensor> = { x, filter, bias, mean, variance, scale, offset };
      const grads: Record<string, tf.Tensor> = {};
      if (names.length > 0) {
        const fn = (...args: tf.Tensor[]) => {
          const v = { ...all };
          names.forEach((n, i) => (v[n] = args[i]));
          return convBn(v.x, v.filter, a.hasBias ? v.bias : null, v.mean, v.variance, v.scale, v.offset, a);
        };
        // A gradient inside the backprop of another: the inner one ends by dropping the engine's
        // tape (as the outermost gradient does), whose saved tensors the outer one still has to
        // free at its end; so the tape is put back.
        const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
        const tape = engine.state.activeTape;
        let gs: tf.Tensor[];
        try {
          gs = tf.grads(fn)(
            names.map((n) => all[n]),
            g,
          );
        } finally {
          engine.state.activeTape = tape;
        }
        names.forEach((n, i) => (grads[n] = gs[i]));
      }
      const zero = (t: tf.Tensor) => () => tf.zerosLike(t);
      return {
        x: () => grads['x'],
        filter: () => grads['filter'],
        bias: a.hasBias ? () => grads['bias'] : zero(bias),
        mean: () => grads['mean'],
        variance: () => grads['variance'],
        scale: () => grads['scale'],
        offset: () => grads['offset'],
        residual: () => g,
      };
    },
  });
}
