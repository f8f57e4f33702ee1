/**
 * Attack against interpretation (AAI; Boopathy et al., ICML 2020, ALGORITHMS.md section 1): keep the
 * prediction, move the explanation. Minimises over ||delta||_inf <= eps, by signed gradient steps,
 *
 *   lambda * max(max_{j != y} f_j(x') - f_y(x'), 0) + T(x'),
 *
 * with T the interpretation term on the true class y's CAM:
 *   - `objective: 'topk'` (default, the original code's variant): the mean of the adversarial CAM at
 *     the k = 8 largest positions of the clean CAM (pushing the evidence away from where it was);
 *   - `objective: 'l1'`: minus D1, the mean absolute difference between the clean and adversarial CAMs.
 * The original code has no prediction term (lambda = 0), keeps the last iterate and reports only
 * examples whose prediction did not change. Here lambda defaults to 1 and the result is, per example,
 * the iterate with the lowest interpretation term among those that kept the clean prediction (the
 * last iterate where none did), so far more examples count; `lambda: 0` removes the prediction term. The map is CAM (the default and the original's choice; `map: 'cam'`), which is
 * differentiable through the model's feature layer; gradient-based maps of ReLU networks have zero
 * second derivative almost everywhere, so they are not offered as the attacked map.
 *
 * Reported per example in `metrics` (NaN where the prediction changed, as the paper averages over
 * unchanged examples): `kendallTau` between the full clean and adversarial CAMs of y at their own
 * resolution, `topKOverlap` of their 8 largest positions, and `kendallTauIG` between the Integrated
 * Gradients maps of y on x and x' (channels summed; `igSteps` path points, default 50, 0 to skip);
 * plus `predictionChanged` (0 or 1) for every example.
 * Bounds the L-inf distance ||x' - x||_inf <= eps. Input: images [N, H, W, C] in [0, 1] with int32
 * labels [N], on a model with a CAM head (a GAP + dense head named in its card).
 * Options and defaults (AaiOptions): `eps` (required), `steps` 200, `stepSize` 0.01, `randomStart`
 * true, `seed` 0, `lambda` 1, `objective` 'topk', `k` 8, `igSteps` 50, `map` 'cam'; no `target`.
 *
 *   const r = aai(model, batch, { eps: 0.1 });
 *   r.metrics!.kendallTau; // per example
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackLoss, finishAttack } from './loss.ts';
import { project, randomStart as pgdRandomStart } from './ball.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import { refused, type OptionSpecs } from '../options.ts';
import { camHead } from '../explain/cam.ts';
import { integratedGradients } from '../explain/integratedGradients.ts';
import { kendallTau } from '../metrics/kendall.ts';
import { topKOverlap } from '../metrics/interpretation.ts';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';

/** Options of the attack against interpretation. */
export interface AaiOptions {
  eps: number;
  steps?: number;
  stepSize?: number;
  randomStart?: boolean;
  seed?: number;
  /** Weight of the term that keeps the prediction. */
  lambda?: number;
  objective?: 'topk' | 'l1';
  /** Positions of the clean CAM the `topk` objective pushes down (1..h*w). */
  k?: number;
  /** Integrated Gradients path points for `kendallTauIG` (0 skips it). */
  igSteps?: number;
  map?: 'cam';
  /** Refused: aai keeps the prediction. */
  target?: never;
}

/** AAI's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const AAI_OPTIONS = {
  eps: COMMON_SPECS.eps,
  steps: { ...COMMON_SPECS.steps, default: 200 },
  stepSize: { ...COMMON_SPECS.stepSize, default: 0.01 },
  randomStart: { ...COMMON_SPECS.randomStart, default: true },
  seed: COMMON_SPECS.seed,
  lambda: {
    type: 'number',
    min: 0,
    default: 1,
    doc: 'weight of the term that keeps the prediction (0: none, as the original code)',
    metavar: 'x',
  },
  objective: {
    type: 'choice',
    choices: ['topk', 'l1'],
    default: 'topk',
    doc: "interpretation term: the clean map's top-k positions, or the L1 distance between maps",
  },
  k: {
    type: 'number',
    integer: true,
    min: 1,
    default: 8,
    doc: 'top-k positions of the clean map',
    metavar: 'n',
  },
  igSteps: {
    type: 'number',
    integer: true,
    min: 0,
    default: 50,
    doc: 'path points of the Integrated Gradients maps compared after the attack (0: skip)',
    metavar: 'n',
  },
  map: { type: 'choice', choices: ['cam'], default: 'cam', doc: 'the map attacked (CAM only)' },
  target: refused('aai keeps the prediction'),
} satisfies OptionSpecs<AaiOptions>;

/** The true-class CAM [N, h*w] as a differentiable function of x (call inside a tidy). */
function camOf(
  model: Classifier,
  x: tf.Tensor4D,
  features: string,
  wy: tf.Tensor2D,
): { map: tf.Tensor2D; logits: tf.Tensor2D } {
  const { activations, logits } = model.taps(x, [features]);
  const a = activations[features] as tf.Tensor4D; // [n, h, w, k]
  const [n, h, w] = a.shape;
  const map = tf.reshape(tf.sum(tf.mul(a, tf.reshape(wy, [n, 1, 1, -1])), 3), [n, h * w]) as tf.Tensor2D;
  return { map, logits };
}

/** The attack against interpretation (AAI) as a registry record: its function, option specs and facts. */
export const aaiAttack = defineAttack<AaiOptions, typeof AAI_OPTIONS>({
  name: 'aai',
  summary: 'attack against interpretation (Boopathy et al., ICML 2020): keep the prediction, move the CAM',
  options: AAI_OPTIONS,
  facts: {
    norm: null,
    iterative: true,
    targetsAccuracy: false,
    targeted: false,
    needsCam: true,
    exampleEps: '0.1',
  },
  attack: (model, batch, o) => {
    const { steps, stepSize, lambda, objective, k, igSteps, randomStart, seed } = o;
    const head = camHead(model);
    const x = batch.x;
    const y = Array.from(batch.y.dataSync());
    const n = y.length;
    const wy = tf.tidy(() => tf.gather(tf.transpose(head.weights), batch.y)) as tf.Tensor2D; // [n, k]
    head.weights.dispose();
    const clean = tf.tidy(() => camOf(model, x, head.features, wy).map);
    const positions = clean.shape[1];
    if (!Number.isInteger(k) || k < 1 || k > positions) {
      tf.dispose([wy, clean]);
      throw new UserError(`attack 'aai': option 'k' must be an integer in 1..${positions} (got ${k})`);
    }
    // Mask of the clean map's top-k positions per example.
    const cleanRows = clean.arraySync() as number[][];
    const mask = tf.tensor2d(
      cleanRows.map((row) => {
        const idx = row.map((_, i) => i).sort((i, j) => row[j] - row[i] || i - j);
        const m = new Array<number>(row.length).fill(0);
        for (const i of idx.slice(0, k)) m[i] = 1 / k;
        return m;
      }),
    );
    const loss = (v: tf.Tensor4D) => {
      const { map, logits } = camOf(model, v, head.features, wy);
      // The untargeted CW loss is the margin max_{j != y} f_j - f_y.
      const keep = tf.mul(lambda, tf.relu(attackLoss(logits, batch.y, false, 'cw')));
      const term =
        objective === 'topk' ? tf.sum(tf.mul(map, mask), 1) : tf.neg(tf.mean(tf.abs(tf.sub(map, clean)), 1));
      return tf.sum(tf.add(keep, term));
    };
    let xa = randomStart ? pgdRandomStart(x, o.eps, 'linf', seed) : tf.clone(x);
    // Keep, per example, the iterate with the lowest interpretation term among those that keep the
    // clean prediction (sign steps oscillate across the decision boundary, so the last one may not).
    const cleanPredT = tf.tidy(() => tf.argMax(model.logits(x), 1));
    const termOf = (v: tf.Tensor4D) =>
      tf.tidy(() => {
        const { map, logits } = camOf(model, v, head.features, wy);
        const term =
          objective === 'topk'
            ? tf.sum(tf.mul(map, mask), 1)
            : tf.neg(tf.mean(tf.abs(tf.sub(map, clean)), 1));
        const kept = tf.equal(tf.argMax(logits, 1), cleanPredT);
        return tf.where(kept, term, tf.fill(term.shape, Infinity));
      });
    let best = tf.clone(xa);
    let bestTerm = termOf(xa);
    for (let s = 0; s < steps; s++) {
      const next = tf.tidy(() => {
        const g = tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D))(xa);
        return project(x, tf.sub(xa, tf.mul(stepSize, tf.sign(g))) as tf.Tensor4D, o.eps, 'linf');
      });
      xa.dispose();
      xa = next;
      const t = termOf(xa);
      const [b2, t2] = tf.tidy(() => {
        const better = tf.less(t, bestTerm);
        return [
          tf.where(tf.reshape(better, [-1, 1, 1, 1]), xa, best) as tf.Tensor4D,
          tf.minimum(t, bestTerm),
        ];
      });
      tf.dispose([best, bestTerm, t]);
      best = b2;
      bestTerm = t2;
    }
    // Examples that never kept their prediction keep the last iterate.
    const keptAny = tf.tidy(() => tf.isFinite(bestTerm));
    const chosen = tf.tidy(() => tf.where(tf.reshape(keptAny, [-1, 1, 1, 1]), best, xa) as tf.Tensor4D);
    tf.dispose([xa, best, bestTerm, keptAny, cleanPredT]);
    xa = chosen;
    // Interpretation metrics on the final images.
    const advRows = tf.tidy(() => camOf(model, xa, head.features, wy).map.arraySync() as number[][]);
    const pred = tf.tidy(() => tf.argMax(model.logits(xa), 1).dataSync());
    const cleanPred = tf.tidy(() => tf.argMax(model.logits(x), 1).dataSync());
    const changed = Array.from(pred, (p, i) => (p !== cleanPred[i] ? 1 : 0));
    const kendall = cleanRows.map((row, i) => (changed[i] ? NaN : kendallTau(row, advRows[i])));
    const overlap = cleanRows.map((row, i) => (changed[i] ? NaN : topKOverlap(row, advRows[i], k)));
    const tauIG = new Array<number>(n).fill(NaN);
    if (igSteps > 0) {
      const igOpts = { target: y, steps: igSteps };
      const a = integratedGradients(model, batch, igOpts);
      const b = integratedGradients(model, { x: xa, y: batch.y }, igOpts);
      const ra = tf.tidy(() => tf.reshape(tf.sum(a.maps, 3), [n, -1]).arraySync() as number[][]);
      const rb = tf.tidy(() => tf.reshape(tf.sum(b.maps, 3), [n, -1]).arraySync() as number[][]);
      tf.dispose([a.maps, b.maps]);
      for (let i = 0; i < n; i++) if (!changed[i]) tauIG[i] = kendallTau(ra[i], rb[i]);
    }
    tf.dispose([wy, clean, mask]);
    const r = finishAttack(model, xa, tf.clone(batch.y), false, {
      attack: 'aai',
      eps: o.eps,
      norm: 'linf',
      steps,
      stepSize,
      randomStart,
      seed,
      lambda,
      objective,
      k,
      map: 'cam',
      layer: head.features,
      igSteps,
    });
    r.metrics = {
      kendallTau: kendall,
      topKOverlap: overlap,
      kendallTauIG: tauIG,
      predictionChanged: changed,
    };
    return r;
  },
});

/** The attack against interpretation (see the file's header); validates its options. */
export const aai = aaiAttack.run;
