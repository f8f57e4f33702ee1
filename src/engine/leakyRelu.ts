/**
 * Leaky ReLU on wasm (darknet's activation): the forward kernel and its gradient in one pass each.
 * The stock wasm `LeakyRelu` takes ~15 ns an element, and tfjs writes the gradient as
 * where(greater(x, 0), dy, mul(dy, alpha)): three kernels and two activation-sized intermediates per
 * layer per gradient pass (a quarter of darknet tiny's input gradient). {@link ensureFusedLeakyReluGrad}
 * re-registers `LeakyRelu`'s gradient so that, on a backend with the project's
 * `AdvlensLeakyReluGrad` kernel (wasm), it runs that one kernel: out = x > 0 ? dy : dy * alpha, the
 * same float32 operations as before (bit for bit). Elsewhere the gradient is tfjs' own. The kernel
 * has a gradient itself (second-order objectives, which tfjs' version could not differentiate:
 * `Greater` has no gradient): with respect to dy the same kernel of the incoming gradient, with
 * respect to x zero (the slope is piecewise constant).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { f32, input, runStock, type BackendWasm, type KernelArgs } from './kernels/wasmCalls.ts';
import { leakyReluGradModule, leakyReluModule, winogradReady } from './kernels/winograd.ts';

/** The kernel name of leaky ReLU's one-pass gradient. */
export const LEAKY_RELU_GRAD = 'AdvlensLeakyReluGrad';

/** `LeakyRelu` for wasm: float32 in the project's module (out = x < 0 ? alpha * x : x); other dtypes stock. */
export function leakyReluKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = input(args.inputs, 'x');
  const { alpha } = args.attrs as unknown as { alpha: number };
  if (!winogradReady() || x.dtype !== 'float32')
    return runStock(backend, 'LeakyRelu', leakyReluKernel, args.inputs, args.attrs);
  const out = backend.makeOutput(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  leakyReluModule(f32(backend, x), alpha, f32(backend, out));
  return out;
}

/** The fused gradient kernel: the module's `leaky_relu_grad`, or the same loop in JavaScript before it loads. */
export function leakyReluGradKernel({ inputs, backend: b, attrs }: KernelArgs): tf.TensorInfo {
  const backend = b as BackendWasm;
  const dy = input(inputs, 'dy');
  const x = input(inputs, 'x');
  const alpha = (attrs as unknown as { alpha: number }).alpha;
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || dy.shape.join() !== x.shape.join()) {
    throw new Error(
      `${LEAKY_RELU_GRAD}: dy and x must be float32 of one shape, got ${dy.dtype} [${dy.shape}] and ${x.dtype} [${x.shape}]`,
    );
  }
  const out = backend.makeOutput(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  if (winogradReady()) {
    leakyReluGradModule(f32(backend, dy), f32(backend, x), alpha, f32(backend, out));
    return out;
  }
  const a = Math.fround(alpha);
  const [d, v, o] = [f32(backend, dy), f32(backend, x), f32(backend, out)];
  for (let i = 0; i < v.length; i++) o[i] = v[i] > 0 ? d[i] : d[i] * a;
  return out;
}

/** The gradient by the fused kernel where the backend has it, else as tfjs writes it. */
export function leakyReluGrad(dy: tf.Tensor, x: tf.Tensor, alpha: number): tf.Tensor {
  if (dy.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(LEAKY_RELU_GRAD, tf.getBackend())) {
    return tf.engine().runKernel(LEAKY_RELU_GRAD, { dy, x }, { alpha }) as tf.Tensor;
  }
  return tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha));
}

let done = false;

/** Registers the gradients of `LeakyRelu` and of the fused kernel (once; after tfjs' own). */
export function ensureFusedLeakyReluGrad(): void {
  if (done) return;
  done = true;
  tf.registerGradient({
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { alpha } = attrs as unknown as { alpha: number };
      return { x: () => leakyReluGrad(dy as tf.Tensor, x, alpha) };
    },
  });
  tf.registerGradient({
    kernelName: LEAKY_RELU_GRAD,
    inputsToSave: ['x'],
    gradFunc: (g, saved, attrs) => {
      const [x] = saved;
      const { alpha } = attrs as unknown as { alpha: number };
      return { dy: () => leakyReluGrad(g as tf.Tensor, x, alpha), x: () => tf.zerosLike(x) };
    },
  });
}
