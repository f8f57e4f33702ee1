import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';

/** A fresh optimiser: Adam, or SGD with momentum, at learning rate `lr`. */
export function makeOptimizer(o: { optimizer: string; lr: number; momentum: number }): tf.Optimizer {
  if (o.optimizer === 'adam') return tf.train.adam(o.lr);
  if (o.optimizer === 'sgd') return tf.train.momentum(o.lr, o.momentum);
  throw new UserError(`unknown optimizer '${o.optimizer}'; use adam or sgd`);
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
