import * as tf from '@tensorflow/tfjs-core';
import type { Objective, ObjectiveContext } from './objectives/index.ts';
import { optimizerStep } from './fusedMomentum.ts';
import { heapValues } from '../engine/readInto.ts';

/** One step in this thread: inner maximisation, loss and gradients, optimiser step. */
export function localStep(
  ctx: ObjectiveContext,
  objective: Objective,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  weightDecay = 0,
): { loss: number; hits: number } {
  let logits: tf.Tensor2D | null = null;
  // A robust objective's inner maximisation runs outside the tape: x' is a constant of the loss.
  const xAdv = objective.inner?.(ctx) ?? undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = objective.loss(xAdv ? { ...ctx, xAdv } : ctx);
    logits = tf.keep(r.logits);
    return r.loss;
  }, vars);
  xAdv?.dispose();
  // SGD with momentum in one pass (train/fusedMomentum.ts), else tfjs's optimiser, which alone
  // handles a variable the loss does not reach (no gradient).
  const values = vars.every((v) => grads[v.name]) ? (k: number) => heapValues(grads[vars[k].name]) : null;
  optimizerStep(optimizer, vars, weightDecay, values, () => grads);
  const [loss, hits] = tf.tidy(() => [value.dataSync()[0], correctCount(logits!, ctx.y)]);
  tf.dispose([value, logits as unknown as tf.Tensor]);
  tf.dispose(Object.values(grads));
  return { loss, hits };
}

/** Examples whose logits [N, K] rank their label [N] first. */
export function correctCount(logits: tf.Tensor2D, y: tf.Tensor1D): number {
  return tf.tidy(
    () => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'int32')).dataSync()[0],
  );
}
