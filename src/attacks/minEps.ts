/**
 * Minimum-epsilon attack: the smallest budget at which a PGD attack succeeds, per example, by
 * bisection (ALGORITHMS.md section 1; used for the interpretation discrepancy of Boopathy et al.).
 * Round 0 attacks at the upper bound `eps`; an example that fails there has no minimum (NaN). Each
 * later round attacks every example at the middle of its bracket [lo, hi] and keeps the half that
 * contains the boundary. Success means the logit margin reaches `kappa`: f_t - max_{j!=t} f_j >= kappa
 * (targeted) or max_{j!=y} f_j - f_y >= kappa (untargeted); the inner attack ascends that margin (CW loss).
 * Bounds the L-inf (default) or L2 distance by each example's own budget.
 * Options and defaults (MinEpsOptions): `eps` (the upper bound of the search, required), `norm`
 * 'linf', `steps` 10, `rounds` 10, `kappa` 0.1, step size per example 2.5 * eps_i / steps (Madry et
 * al.'s rule), `target`. Input: images [N, H, W, C] in [0, 1] with int32 labels [N].
 * Returns the adversarial image found at the smallest successful budget (the failed attempt at `eps`
 * where none succeeded) and that budget in `epsPerExample`.
 *
 *   const r = minEps(model, batch, { eps: 0.5, target: 3 });
 *   r.epsPerExample; // e.g. [0.12, NaN, ...]
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import { attackLoss, lossLabels } from './loss.ts';
import { pgdSteps } from './pgd.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import type { OptionSpecs } from '../options.ts';

/** Options of the minimum-eps search. */
export interface MinEpsOptions {
  /** The upper bound of the search. */
  eps: number;
  norm?: 'linf' | 'l2';
  /** PGD steps per attempt. */
  steps?: number;
  /** Bisection rounds after the first attack at the upper bound. */
  rounds?: number;
  /** Required logit margin. */
  kappa?: number;
  target?: number | number[];
}

/** min-eps's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const MIN_EPS_OPTIONS = {
  eps: { ...COMMON_SPECS.eps, doc: 'upper bound of the budget search' },
  norm: COMMON_SPECS.norm,
  steps: { ...COMMON_SPECS.steps, default: 10, doc: 'PGD steps per attempt' },
  rounds: {
    type: 'number',
    integer: true,
    min: 1,
    default: 10,
    doc: 'bisection rounds',
    metavar: 'n',
  },
  kappa: {
    type: 'number',
    min: 0,
    default: 0.1,
    doc: 'logit margin that counts as success',
    metavar: 'margin',
  },
  target: COMMON_SPECS.target,
} satisfies OptionSpecs<MinEpsOptions>;

/** The minimum-eps search as a registry record: its function, option specs and facts. */
export const minEpsAttack = defineAttack<MinEpsOptions, typeof MIN_EPS_OPTIONS>({
  name: 'min-eps',
  summary: 'minimum-eps search: the smallest budget at which PGD succeeds, by bisection',
  options: MIN_EPS_OPTIONS,
  facts: { norm: null, iterative: true, findsMinimumEps: true, exampleEps: '0.5 (upper bound)' },
  attack: (model, batch, o) => {
    const { norm, steps, rounds, kappa } = o;
    const { labels, targeted } = lossLabels(batch.y, o.target, model.labels.length);
    const x = batch.x;
    const n = x.shape[0];
    const lo = new Float32Array(n);
    const hi = new Float32Array(n).fill(o.eps);
    const found = new Array<boolean>(n).fill(false);
    let best: tf.Tensor4D | null = null;
    for (let r = 0; r <= rounds; r++) {
      const e = r === 0 ? Float32Array.from(hi) : Float32Array.from(lo, (l, i) => (l + hi[i]) / 2);
      const xa = tf.tidy(() => {
        const eps = tf.tensor4d(e, [n, 1, 1, 1]);
        const d = {
          eps,
          stepSize: tf.mul(eps, 2.5 / steps) as tf.Tensor4D,
          steps,
          norm,
          loss: 'cw',
          earlyStop: false,
        } as const;
        return pgdSteps(model, x, tf.clone(x), labels, targeted, d);
      });
      // The CW loss is the margin toward the goal: f_t - max_{j!=t} f_j, or max_{j!=y} f_j - f_y.
      const m = tf.tidy(() => attackLoss(model.logits(xa), labels, targeted, 'cw').dataSync());
      const ok = Array.from(m, (v) => v >= kappa);
      if (r === 0) {
        best = xa;
        ok.forEach((s, i) => (found[i] = s));
        continue;
      }
      const take = ok.map((s, i) => s && found[i]);
      ok.forEach((s, i) => {
        if (!found[i]) return;
        if (s) hi[i] = e[i];
        else lo[i] = e[i];
      });
      const merged = tf.tidy(
        () =>
          tf.where(
            tf.broadcastTo(tf.reshape(tf.tensor1d(take.map(Number), 'bool'), [-1, 1, 1, 1]), x.shape),
            xa,
            best!,
          ) as tf.Tensor4D,
      );
      tf.dispose([xa, best!]);
      best = merged;
    }
    labels.dispose();
    const xAdv = best as tf.Tensor4D;
    return {
      xAdv,
      logits: model.logits(xAdv),
      success: found,
      epsPerExample: Array.from(hi, (h, i) => (found[i] ? h : NaN)),
      options: {
        attack: 'min-eps',
        eps: o.eps,
        norm,
        steps,
        rounds,
        kappa,
        target: o.target ?? null,
        loss: 'cw',
      },
    };
  },
});

/** The minimum-eps search (see the file's header); validates its options. */
export const minEps = minEpsAttack.run;
