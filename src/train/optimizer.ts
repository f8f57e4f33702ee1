import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';

/** A fresh optimiser: Adam, or SGD with momentum, at learning rate `lr`. */
export function makeOptimizer(o: { optimizer: string; lr: number; momentum: number }): tf.Optimizer {
  if (o.optimizer === 'adam') return tf.train.adam(o.lr);
  if (o.optimizer === 'sgd') return tf.train.momentum(o.lr, o.momentum);
  throw new UserError(`unknown optimizer '${o.optimizer}'; use adam or sgd`);
}

/**
 * L2 weight decay as PyTorch's SGD applies it: adds `wd * w` to the gradient of every kernel (conv
 * and dense weights; biases and batch-norm scales and shifts are left alone, as is usual). Replaces
 * the entries of `grads` it changes and disposes the old ones. `wd` of 0 changes nothing.
 */
export function addWeightDecay(grads: tf.NamedTensorMap, vars: tf.Variable[], wd: number): void {
  if (!(wd > 0)) return;
  for (const v of vars) {
    const g = grads[v.name];
    if (!g || !/kernel/.test(v.name)) continue;
    grads[v.name] = tf.tidy(() => tf.add(g, tf.mul(v, wd)));
    g.dispose();
  }
}

/** Sets the rate of the next steps (the schedule's rate at this batch). */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  // SGD and momentum read a kept scalar `c` that only setLearningRate updates; Adam reads its
  // protected `learningRate` field at every step.
  const o = opt as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.learningRate === lr) return;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Frees the optimiser's slots. */
export function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  // tfjs 4.22's MomentumOptimizer.dispose leaves SGD's kept learning-rate scalar behind.
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

/** Names of the slots tfjs's getWeights leaves out, saved beside its own (see {@link optimizerState}). */
const ADAM_POWERS = ['advlens/accBeta1', 'advlens/accBeta2'] as const;

interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/** Slots per trainable variable: Adam keeps two moments, SGD with momentum one accumulation. */
export function slotsPerVariable(opt: tf.Optimizer): number {
  return (opt as unknown as AdamInternals).accBeta1 ? 2 : 1;
}

/**
 * The optimiser's whole state as named tensors (the caller owns them): tfjs's `getWeights` (the
 * step count `iter`, then the slots) and, for Adam, the running powers beta1^t and beta2^t. tfjs's
 * `setWeights` recomputes those as pow(beta, t + 1), which differs in the last bits from the
 * product the uninterrupted run accumulated step by step; a resumed run then drifts away from the
 * uninterrupted one (issue 15). Saving them makes a resume exact.
 */
export async function optimizerState(opt: tf.Optimizer): Promise<{ name: string; tensor: tf.Tensor }[]> {
  const own = await opt.getWeights();
  // getWeights returns a fresh `iter` scalar and the slot variables themselves: copy the variables.
  const out = own.map((w, i) => ({ name: w.name, tensor: i === 0 ? w.tensor : tf.clone(w.tensor) }));
  const adam = opt as unknown as AdamInternals;
  if (adam.accBeta1 && adam.accBeta2) {
    out.push({ name: ADAM_POWERS[0], tensor: tf.clone(adam.accBeta1) });
    out.push({ name: ADAM_POWERS[1], tensor: tf.clone(adam.accBeta2) });
  }
  return out;
}

/** Restores what {@link optimizerState} saved into a fresh optimiser of the same kind (the caller still owns and disposes `named`). */
export async function restoreOptimizer(
  opt: tf.Optimizer,
  named: { name: string; tensor: tf.Tensor }[],
): Promise<void> {
  const powers = named.filter((w) => (ADAM_POWERS as readonly string[]).includes(w.name));
  // setWeights makes its variables share the given tensors' data: the caller may dispose them after.
  await opt.setWeights(named.filter((w) => !powers.includes(w)));
  const adam = opt as unknown as AdamInternals;
  for (const p of powers) {
    const v = p.name === ADAM_POWERS[0] ? adam.accBeta1 : adam.accBeta2;
    v?.assign(p.tensor as tf.Scalar);
  }
}
