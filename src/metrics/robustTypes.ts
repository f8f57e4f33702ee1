/**
 * The types of a robustness evaluation (src/metrics/robustness.ts): its options, its result (rows,
 * sanity checks, example images) and the runner that attacks its batches. Types only, so the plan,
 * the sanity checks and the runners share them without importing each other.
 */
import type { Dataset } from '../data/dataset.ts';
import type { AttackOptions } from '../attacks/index.ts';
import type { AttackBatchOut, AttackItem } from './attackBatch.ts';

/** One attack at one budget over the whole set: robust accuracy, success rate and mean perturbation norms. */
export interface RobustRow {
  attack: string;
  eps: number;
  examples: number;
  /** Examples still classified correctly under the attack. */
  correct: number;
  accuracy: number;
  /**
   * Untargeted: share of the clean-correct examples the attack turned wrong. Targeted: share of all
   * examples classified as their target.
   */
  successRate: number;
  meanLinf: number;
  meanL2: number;
  meanL1: number;
  /** Time spent attacking: the sum over the run's batches, on whichever thread ran them. */
  seconds: number;
  /** The attack's options with defaults filled in (from its first batch). */
  options: Record<string, unknown>;
  /**
   * Means of the per-example measurements the attack reports (AAI: kendallTau, topKOverlap,
   * kendallTauIG, predictionChanged), over the examples where they are defined; and for min-eps on a
   * model with CAM, the interpretation discrepancy D and proposition 1's bound (ALGORITHMS.md 3).
   */
  metrics?: Record<string, { mean: number; examples: number }>;
}

/** A sanity check's outcome (Carlini et al. 2019); `passed: false` is a warning to show (gradient masking or a bug). */
export interface SanityCheck {
  name: string;
  attack: string;
  passed: boolean;
  detail: string;
}

/** An example image kept for a report: one of the first few of the set under one attack and budget. */
export interface RobustExample {
  attack: string;
  eps: number;
  index: number;
  label: number;
  cleanPrediction: number;
  prediction: number;
  /** Adversarial image [H, W, C] in [0, 1] and its perturbation x' - x. */
  image: Float32Array;
  delta: Float32Array;
}

/** What {@link robustness} evaluates: attacks x budgets, their common options, and which extras to run. */
export interface RobustnessOptions {
  attacks: string[];
  eps: number[];
  /** Options passed to every attack (eps excepted). */
  attack?: Omit<AttackOptions, 'eps'>;
  batchSize?: number;
  /** Run the sanity checks (default true). */
  sanity?: boolean;
  /** Examples the checks that need extra attack runs (1 and 4) use, from the start of the set (default 200). */
  sanityExamples?: number;
  /** Example images kept per attack and budget (default 0). */
  keepExamples?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** A robustness evaluation's outcome: clean accuracy, one row per (attack, eps), the checks and kept images. */
export interface RobustnessResult {
  clean: { accuracy: number; correct: number; examples: number; predictions: Int32Array };
  rows: RobustRow[];
  checks: SanityCheck[];
  examples: RobustExample[];
}

/**
 * Runs lists of {@link AttackItem}s on `data` and answers their outcomes in the same order; calls
 * `done(item)` as each finishes (in any order). The default runs them in process, one after the
 * other; src/node/poolWorkerTasks.ts has one that spreads them over a worker pool.
 */
export type AttackRunner = (
  items: AttackItem[],
  data: Dataset,
  done: (item: AttackItem) => void,
) => Promise<AttackBatchOut[]>;
