/**
 * How far an attack moves an explanation (ALGORITHMS.md section 3; Boopathy et al., "Proper Network
 * Interpretability Helps Adversarial Robustness in Classification", ICML 2020).
 *
 * Interpretation discrepancy, per example, with P the number of values of one map (h * w for CAM):
 *   D(x, x') = 1/2 (||I(x,y) - I(x',y)||_1 + ||I(x,t) - I(x',t)||_1) / P.
 * Proposition 1 for CAM: with completeness f_c = mean_p CAM_c + b_c, |mean(u) - mean(v)| <= ||u - v||_1 / P
 * gives D >= 1/2 (|f_y(x) - f_y(x')| + |f_t(x) - f_t(x')|) for any x' (the "completeness bound";
 * biases cancel), and when x' is classified as t (f_t(x') >= f_y(x')) that is
 * >= 1/2 (f_y(x) - f_t(x) + f_t(x') - f_y(x')) >= 1/2 (f_y(x) - f_t(x)), the proposition. Both hold
 * exactly for D divided by the number of positions, as here, and for maps without the bias term.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import { cam } from '../explain/cam.ts';
import { UserError } from '../errors.ts';

/**
 * D per example for maps [N, ...] of the true class y on x and x' and of the target t on x and x'
 * (see the file's header): half the sum of the two L1 distances, divided by the values per map.
 */
export function interpretationDiscrepancy(
  mapsXy: tf.Tensor,
  mapsAdvY: tf.Tensor,
  mapsXt: tf.Tensor,
  mapsAdvT: tf.Tensor,
): number[] {
  const shape = mapsXy.shape;
  for (const m of [mapsAdvY, mapsXt, mapsAdvT])
    if (m.shape.join() !== shape.join())
      throw new UserError(`interpretation maps differ in shape: [${shape}] and [${m.shape}]`);
  const positions = mapsXy.size / shape[0];
  return Array.from(
    tf.tidy(() => {
      const l1 = (u: tf.Tensor, v: tf.Tensor) =>
        tf.sum(
          tf.abs(tf.sub(u, v)),
          shape.slice(1).map((_, i) => i + 1),
        );
      return tf.div(tf.add(l1(mapsXy, mapsAdvY), l1(mapsXt, mapsAdvT)), 2 * positions).dataSync();
    }),
  );
}

/** The k largest positions of a map, ties broken by the lower index. */
function topK(v: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: v.length }, (_, i) => i);
  idx.sort((i, j) => (v[j] > v[i] ? 1 : v[j] < v[i] ? -1 : i - j));
  return idx.slice(0, k);
}

/** Fraction of the k (default 8) largest positions of map `a` that are among the k largest of `b`. */
export function topKOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k = 8): number {
  if (a.length !== b.length)
    throw new UserError(`top-k overlap needs maps of one size (got ${a.length} and ${b.length})`);
  if (!Number.isInteger(k) || k < 1 || k > a.length)
    throw new UserError(`k must be an integer in 1..${a.length} (got ${k})`);
  const inB = new Set(topK(b, k));
  return topK(a, k).filter((i) => inB.has(i)).length / k;
}

/** Proposition 1 checked on one example (see the file's header). */
export interface CamBound {
  /** D(x, x') of the CAMs, per position. */
  discrepancy: number;
  /** 1/2 (f_y(x) - f_t(x)): the proposition's bound, guaranteed when `applies`. */
  bound: number;
  /** 1/2 (|f_y(x) - f_y(x')| + |f_t(x) - f_t(x')|): a lower bound on D for any x'. */
  completenessBound: number;
  /** x' is scored as t at least as high as y (f_t(x') >= f_y(x')) and t != y. */
  applies: boolean;
  /** D >= completenessBound, and D >= bound where it applies (to float tolerance). */
  holds: boolean;
}

/**
 * Checks proposition 1 of the Int paper (Boopathy et al. 2020), D(x, x') >= 1/2 (f_y(x) - f_t(x)),
 * on CAM for clean images (batch x, labels y) and their adversarial versions `xAdv`, with targets t
 * (default: the class predicted on xAdv); one {@link CamBound} per example.
 */
export function camBoundCheck(
  model: Classifier,
  batch: Batch,
  xAdv: tf.Tensor4D,
  target?: number | number[],
): CamBound[] {
  const adv = { x: xAdv, y: batch.y };
  const t = target ?? ('predicted' as const);
  const y = Array.from(batch.y.dataSync());
  const camY = cam(model, batch, { target: 'label' });
  const camAdvY = cam(model, adv, { target: 'label' });
  const camAdvT = cam(model, adv, { target: t });
  const targets = camAdvT.targets;
  const camT = cam(model, batch, { target: targets });
  const d = interpretationDiscrepancy(camY.maps, camAdvY.maps, camT.maps, camAdvT.maps);
  tf.dispose([camY.maps, camAdvY.maps, camT.maps, camAdvT.maps]);
  const f = tf.tidy(() => model.logits(batch.x).arraySync());
  const fa = tf.tidy(() => model.logits(xAdv).arraySync());
  return d.map((discrepancy, i) => {
    const [yi, ti] = [y[i], targets[i]];
    const bound = (f[i][yi] - f[i][ti]) / 2;
    const completenessBound = (Math.abs(f[i][yi] - fa[i][yi]) + Math.abs(f[i][ti] - fa[i][ti])) / 2;
    const applies = ti !== yi && fa[i][ti] >= fa[i][yi];
    const tol =
      1e-4 * (1 + Math.abs(f[i][yi]) + Math.abs(f[i][ti]) + Math.abs(fa[i][yi]) + Math.abs(fa[i][ti]));
    const holds = discrepancy + tol >= completenessBound && (!applies || discrepancy + tol >= bound);
    return { discrepancy, bound, completenessBound, applies, holds };
  });
}
