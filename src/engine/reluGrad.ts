/**
 * ReLU's gradient in one pass on wasm. tfjs computes it as mul(dy, cast(step(x))): two kernels and an
 * intermediate the size of the activation, per ReLU per gradient pass. {@link ensureFusedReluGrad}
 * re-registers the gradient of `Relu` so that, on a backend that has the project's `AdvlensReluGrad`
 * kernel (wasm, registered with the project's kernels), it runs that one kernel instead: out = dy *
 * step(x), with step(x) = 1 above 0, 0 at or below and NaN for NaN, exactly as before (so NaN or
 * Infinity in dy at x <= 0 still give NaN). Elsewhere (cpu, webgl) the gradient is tfjs' own. The
 * kernel has a gradient itself (for second-order training objectives): with respect to dy it is the
 * same kernel of the incoming gradient, with respect to x zero, as step is flat.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs' gradients first (importing tfjs-layers registers them), so that the one here replaces Relu's.
import '@tensorflow/tfjs-layers';
import { f32, input, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { reluGradModule, winogradReady } from './kernels/winograd.ts';

/** The kernel name of ReLU's one-pass gradient, dy * step(x). */
export const RELU_GRAD = 'AdvlensReluGrad';

/** The wasm kernel: the module's `relu_grad`, or the same loop in JavaScript before it loads. */
export function reluGradKernel({ inputs, backend: b }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'x');
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || dy.shape.join() !== x.shape.join()) {
    throw new Error(
      `${RELU_GRAD}: dy and x must be float32 of one shape, got ${dy.dtype} [${dy.shape}] and ${x.dtype} [${x.shape}]`,
    );
  }
  const out = backend.makeOutput(x.shape, 'float32');
  if (winogradReady()) {
    reluGradModule(f32(backend, dy), f32(backend, x), f32(backend, out));
    return out;
  }
  const [d, v, o] = [f32(backend, dy), f32(backend, x), f32(backend, out)];
  for (let i = 0; i < v.length; i++) o[i] = d[i] * (v[i] > 0 ? 1 : Number.isNaN(v[i]) ? NaN : 0);
  return out;
}

/** dy * step(x) by the fused kernel where the backend has it, else as tfjs writes it. */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (dy.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend())) {
    return tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
  }
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

let done = false;

/** Registers the gradients of `Relu` and of the fused kernel (once; after tfjs' own are registered). */
export function ensureFusedReluGrad(): void {
  if (done) return;
  done = true;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => reluGrad(dy as tf.Tensor, x) };
    },
  });
  tf.registerGradient({
    kernelName: RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (g, saved) => {
      const [x] = saved;
      return { dy: () => reluGrad(g as tf.Tensor, x), x: () => tf.zerosLike(x) };
    },
  });
}
