/**
 * A layers model's `Conv2D` with a ReLU of its own, under one gradient tape (training, every attack
 * step and saliency pass), as one kernel, `AdvlensConvAct`, with its gradient.
 *
 * tfjs fuses a convolution's bias and activation (`FusedConv2D`) only outside a gradient tape: under
 * one, `tf.fused.conv2d` with an activation other than linear runs Conv2D, then Add (the bias), then
 * Relu, two passes over the activation-sized output that do one operation per value (on the MNIST
 * CNN's input gradient, about 8% of the kernels' time). {@link ensureFastConvAct} patches tfjs-layers'
 * `Conv2D.call` so that, with exactly one tape recording, a 2-D convolution whose activation is ReLU
 * runs `AdvlensConvAct` (output channels a multiple of 4): the convolution with the bias and ReLU
 * applied in cache by the project's module, or where the module does not take the geometry, the
 * stock convolution then one pass for both (src/engine/kernels/conv2d.ts, convBiasActivation), whose
 * gradient is
 *
 *   g = dy * step(y)   (y > 0 exactly where the ReLU's input is; the project's ReLU gradient kernel)
 *   dx = Conv2DBackpropInput(g), dfilter = Conv2DBackpropFilter(x, g), dbias = sum(g) over all but channels
 *
 * each computed only for the inputs the tape needs (an input gradient computes no filter gradient).
 * These are the operations of the unfused path, in the same order, so values and gradients are its
 * own bit for bit (test/engine/convAct.test.ts holds them to it). Elsewhere (other backends, no tape,
 * a gradient of a gradient, other activations, channels-first data, the module not loaded) the layer
 * is tfjs-layers' own. It reads tfjs' internal `engine.state.gradientDepth` and patches tfjs-layers'
 * `Conv2D.prototype.call` (4.22): re-check both on a tfjs upgrade. On by default;
 * `ADVLENS_FAST_CONV_ACT=0` in the environment, or {@link setFastConvAct}(false), turns it off.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { input, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { convBiasActivation, type Attrs } from './kernels/conv2d.ts';
import { winogradReady } from './kernels/winograd.ts';
import { reluGrad } from './reluGrad.ts';
import { gradientDepth, patchLayerCall } from './layerPatch.ts';

/** The kernel's name (inputs x, filter and optionally bias; the attributes of `FusedConv2D`). */
export const CONV_ACT = 'AdvlensConvAct';

/** The forward kernel: convolution, bias and ReLU as the unfused kernels compute them (kernels/conv2d.ts). */
export function convActKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  return convBiasActivation(
    backend as BackendWasm,
    input(inputs, 'x'),
    input(inputs, 'filter'),
    attrs as unknown as Attrs,
    'relu',
    inputs['bias'],
  );
}

interface ConvAttrs {
  strides: [number, number];
  pad: 'same' | 'valid';
  dataFormat: 'NHWC';
  dilations: [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

let gradientDone = false;

/** Registers the gradient of {@link CONV_ACT} (once). */
function registerGradient(): void {
  if (gradientDone) return;
  gradientDone = true;
  tf.registerGradient({
    kernelName: CONV_ACT,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as ConvAttrs;
      // dy through the ReLU, once, for whichever of the three the tape asks for (each in a tidy of
      // its own): made here, it lives until the backward pass's own tidy ends.
      const g = reluGrad(dy as tf.Tensor, y) as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(g, filter, x.shape, a.strides, a.pad, a.dimRoundingMode),
        filter: () =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, {
            strides: a.strides,
            pad: a.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: a.dimRoundingMode,
            filterShape: filter.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        bias: () => tf.sum(g, [0, 1, 2]),
      };
    },
  });
}

/** The parts of tfjs-layers' Conv2D (4.22) the patch reads. */
interface ConvLayer {
  rank: number;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  activation: { getClassName(): string } | null;
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
}

let enabled = !(typeof process !== 'undefined' && process.env?.ADVLENS_FAST_CONV_ACT === '0');
let patched = false;

/** Switches the patched layers to the fused path under one tape (true, the default) or to tfjs-layers' own; returns the previous setting. */
export function setFastConvAct(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

const isOne = (v: number | number[]) => (Array.isArray(v) ? v.every((d) => d === 1) : v === 1);

/**
 * Patches tfjs-layers' `Conv2D.call` (once) as the header says, and registers the gradient. The
 * kernel itself is registered with the project's other wasm kernels.
 */
export function ensureFastConvAct(): void {
  registerGradient();
  if (patched) return;
  patched = patchLayerCall<ConvLayer>(
    'Conv2D',
    (stock) =>
      function (inputs, kwargs) {
        const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
        const filter = this.kernel.read();
        const fits =
          enabled &&
          x !== undefined &&
          x.rank === 4 &&
          x.dtype === 'float32' &&
          this.rank === 2 &&
          this.activation?.getClassName() === 'relu' &&
          this.dataFormat === 'channelsLast' &&
          (this.padding === 'same' || this.padding === 'valid') &&
          isOne(this.dilationRate) &&
          (filter.shape[3] ?? 1) % 4 === 0 &&
          gradientDepth() === 1 &&
          winogradReady() &&
          tf.getKernel(CONV_ACT, tf.getBackend()) !== undefined;
        if (!fits) return stock.call(this, inputs, kwargs);
        const bias = this.bias?.read();
        const attrs = {
          strides: [this.strides[0], this.strides[1] ?? this.strides[0]],
          pad: this.padding,
          dataFormat: 'NHWC',
          dilations: [1, 1],
          activation: 'relu',
        };
        return tf
          .engine()
          .runKernel(
            CONV_ACT,
            bias ? { x: x!, filter, bias } : { x: x!, filter },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor;
      },
  );
}
