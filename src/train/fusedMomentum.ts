/**
 * SGD with momentum as one JavaScript pass per variable: the values tfjs's MomentumOptimizer
 * computes, bit for bit, without its four kernels per variable and the gradient tensors.
 *
 * tfjs, per variable (useNesterov false), every value float32: a' = m * a + g, then w' = c * a' + w,
 * with m the momentum and c = -lr held as float32 scalars; weight decay (optimizer.ts's
 * addWeightDecay) first makes g' = g + w * wd for kernels. Each of those is one correctly rounded
 * float32 operation, which `Math.fround` of the double operation reproduces (a double holds the exact
 * product of two floats, and rounding a double sum of two floats to float32 gives the float32 sum:
 * 53 >= 2 * 24 + 2 bits). The new values go into new tensors that the variables are assigned, as
 * tfjs does: writing over a variable's memory would leave stale what caches a weight by its tensor
 * (tfjs-wasm's stock convolution packs a filter into an XNNPACK operator kept per filter tensor).
 *
 * Why: ResNet-20's 65 variables took ~260 kernel calls a step plus 65 gradient tensors made from the
 * summed gradients, ~4-5 ms of the data-parallel step's serial part in the main thread while both
 * workers waited (2026-12-07).
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapValues } from '../engine/readInto.ts';
import { addWeightDecay } from './optimizer.ts';

interface MomentumInternals {
  useNesterov: boolean;
  m?: tf.Scalar;
  c?: tf.Scalar;
  accumulations?: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
}

let enabled = true;

/** Turns the fused step on (the default) or off (tfjs's optimiser everywhere), for benchmarks. */
export function setFusedMomentum(on: boolean): void {
  enabled = on;
}

/** Scratch arrays for the new values (the largest variable's size), reused between steps. */
let scratch: { a: Float32Array; w: Float32Array } | null = null;

/**
 * One step of `optimizer` on `vars`, when it is tfjs's SGD with (non-Nesterov) momentum whose
 * accumulations match `vars` in order and shape (or do not exist yet: its first step makes them, as
 * tfjs would), on the wasm backend; returns false, having changed nothing, otherwise (the caller
 * applies the gradients through tfjs). `grad(k)` gives variable k's gradient, float32, flattened;
 * it is called at the start of variable k's pass, so a view of the wasm heap is fine. Weight decay
 * `wd` is added to the gradients of kernels (names containing `kernel`), as addWeightDecay does.
 */
export function fusedMomentumStep(
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  grad: (k: number) => Float32Array,
  wd: number,
): boolean {
  if (!enabled || tf.getBackend() !== 'wasm' || !(optimizer instanceof tf.MomentumOptimizer)) return false;
  const o = optimizer as unknown as MomentumInternals;
  if (o.useNesterov || !o.m || !o.c || !o.accumulations) return false;
  if (o.accumulations.length === 0 && vars.every((v) => v.dtype === 'float32')) {
    // The first step: zero accumulations, made as tfjs makes them at its first step.
    o.accumulations = vars.map((v) => ({
      originalName: `${v.name}/momentum`,
      variable: tf.tidy(() => tf.zerosLike(v).variable(false)),
    }));
  }
  const acc = o.accumulations;
  if (acc.length !== vars.length) return false;
  let largest = 0;
  for (let k = 0; k < vars.length; k++) {
    const a = acc[k]?.variable;
    if (!a || a.isDisposed || vars[k].dtype !== 'float32' || a.dtype !== 'float32') return false;
    if (!tf.util.arraysEqual(a.shape, vars[k].shape)) return false;
    largest = Math.max(largest, vars[k].size);
  }
  if (!scratch || scratch.a.length < largest)
    scratch = { a: new Float32Array(largest), w: new Float32Array(largest) };
  const { a: na, w: nw } = scratch;
  // The float32 scalars tfjs multiplies by: m made once from the momentum, c = -lr kept by
  // setLearningRate.
  const m = heapValues(o.m)[0];
  const c = heapValues(o.c)[0];
  const decay = wd > 0 ? Math.fround(wd) : 0;
  for (let k = 0; k < vars.length; k++) {
    const v = vars[k];
    const accumulation = acc[k]!.variable;
    const n = v.size;
    // Views of the heap, used before anything below allocates.
    const g = grad(k);
    if (g.length !== n) throw new Error(`a gradient of ${g.length} values for ${v.name}'s ${n}`);
    const w = heapValues(v);
    const a = heapValues(accumulation);
    const decayed = decay > 0 && /kernel/.test(v.name);
    for (let i = 0; i < n; i++) {
      const gi = decayed ? Math.fround(g[i] + Math.fround(w[i] * decay)) : g[i];
      const ai = Math.fround(Math.fround(m * a[i]) + gi);
      na[i] = ai;
      nw[i] = Math.fround(Math.fround(c * ai) + w[i]);
    }
    tf.tidy(() => {
      accumulation.assign(tf.tensor(na.subarray(0, n), v.shape, 'float32'));
      v.assign(tf.tensor(nw.subarray(0, n), v.shape, 'float32'));
    });
  }
  o.incrementIterations();
  return true;
}

/**
 * One optimiser step of a training loop: {@link fusedMomentumStep} with the gradients `values(k)`
 * where it applies, else weight decay added to the tensors `grads()` gives (keyed by variable name;
 * made only then) and tfjs's `applyGradients`. `values` null: tfjs's path (a variable without a
 * gradient, which only tfjs's optimiser handles: it leaves it alone). The caller disposes what
 * `grads()` returned (or runs this in a tidy).
 */
export function optimizerStep(
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  weightDecay: number,
  values: ((k: number) => Float32Array) | null,
  grads: () => tf.NamedTensorMap,
): void {
  if (values && fusedMomentumStep(optimizer, vars, values, weightDecay)) return;
  const g = grads();
  addWeightDecay(g, vars, weightDecay);
  optimizer.applyGradients(g);
}
