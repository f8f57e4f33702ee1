/**
 * The seed's CIFAR-10 tables as data: which zoo members are the rows, what each column measures, the
 * seed's numbers beside them, and the findings each table tests, computed from the numbers. Pure
 * functions: {@link buildStudyTable} assembles a table from measured cells (src/node/studyRun.ts
 * measures them), zoo/studyRender.ts formats it.
 * - `1` (`--zoo cifar10`): Boopathy et al. Table 1, CIFAR-10: PGD-200 accuracy at eps 0..10 /255.
 * - `2`: Boopathy et al. Table 2: accuracy under Gabor, Snow and JPEG L-inf / L2 / L1 attacks.
 * - `atcnn`: Zhang & Zhu's generalisation tests: clean, stylised, saturated (p = 1..1024) and
 *   patch-shuffled (k = 2, 4, 8) test images, each with both AT-CNN accuracies; with `zoo` 'mnist',
 *   the same on the MNIST zoo (saturation and shuffling at k = 2, 4, 7; no stylised column).
 *
 *   const def = studyDef('atcnn');
 *   const t = buildStudyTable(def, { models, missing, data, command, versions });
 *   t.findings.map((f) => f.answer); // ['reproduced', 'not measured', ...]
 */
import { UserError } from '../errors.ts';
import { table1Def, table2Def } from './intTables.ts';
import { atcnnDef } from './atcnnTable.ts';
import { numberFailures, type SanityFailure, type TableSanity } from './sanityCells.ts';
import type { SanitySettings } from './measureSanity.ts';
import type { Answer, SizeLookup } from './findings.ts';
import { aboveSameImages, overstates, type AutoAttackCellSettings } from './aaCells.ts';

export { table1Def, table2Def, UNFORESEEN_EPS } from './intTables.ts';
export {
  atcnnDef,
  ATCNN_ADVERSARIAL,
  MNIST_ATCNN_ADVERSARIAL,
  MNIST_SHUFFLE_SIZES,
  SATURATION_LEVELS,
  SHUFFLE_SIZES,
  STRONG_SATURATION,
} from './atcnnTable.ts';

/** What a column measures. */
export type StudyColumn =
  | { key: string; label: string; kind: 'pgd200'; eps: number }
  | { key: string; label: string; kind: 'attack'; attack: string; eps: number; steps: number }
  | { key: string; label: string; kind: 'clean' }
  | { key: string; label: string; kind: 'transform'; transform: string; param: number }
  | { key: string; label: string; kind: 'stylized' }
  /** L-inf AutoAttack (zoo/aaCells.ts) on the table's first AutoAttack images, a `cell:autoattack-linf:<eps>` record. */
  | { key: string; label: string; kind: 'autoattack'; eps: number };

/** A row: a zoo member and the seed's name for it (null: the seed has no such row). */
export interface StudyRow {
  member: string;
  display: string;
  seedRow: string | null;
}

/** One block of the seed's numbers beside ours: values per seed row and column key. */
export interface SeedSet {
  name: string;
  citation: string;
  examples: number | null;
  values: Record<string, Record<string, number>>;
}

/** How a finding reads the numbers: a value of a member in a column (null: not measured). */
export type Lookup = (member: string, column: string) => number | null;

/** One finding of the seed the table tests, as a computation on the numbers. */
export interface FindingDef {
  id: string;
  statement: string;
  /** Which accuracy the finding reads: the plain one or AT-CNN's conditional one. */
  reads: 'value' | 'conditional';
  /** The columns it needs (a seed set without them has no answer). */
  columns: string[];
  /** `size`, where known: how many images a value counts over, for the sampling test (zoo/findings.ts). */
  check: (get: Lookup, fmt: (v: number | null) => string, size?: SizeLookup) => Answer;
}

/** A table of the seed: rows, columns, the seed's numbers, findings, defaults. */
export interface StudyDef {
  id: StudyId;
  zoo: 'cifar10' | 'mnist';
  title: string;
  rows: StudyRow[];
  columns: StudyColumn[];
  seeds: SeedSet[];
  findings: FindingDef[];
  /** Images measured on by default (the paper's count or more). */
  defaultLimit: number;
  /** How values are shown: fractions (three decimals) or percent (AT-CNN). */
  unit: 'fraction' | 'percent';
  /** The setup sentence of the table. */
  setup: string;
}

/** The tables this module defines. */
export const STUDY_IDS = ['1', '2', 'atcnn'] as const;
export type StudyId = (typeof STUDY_IDS)[number];

/**
 * The table `id` of zoo `zoo` (default CIFAR-10; the MNIST zoo has `atcnn` here): `eps` replaces
 * Table 1's budgets, `attackSteps` Table 2's 200 steps.
 */
export function studyDef(
  id: string,
  o: { eps?: number[]; attackSteps?: number; zoo?: 'cifar10' | 'mnist'; aaEps?: number[] } = {},
): StudyDef {
  if (o.zoo === 'mnist') {
    if (id === 'atcnn') return atcnnDef('mnist');
    throw new UserError(`table '${id}' is not a study table of the MNIST zoo; use atcnn`);
  }
  if (id === '1') return table1Def(o.eps, o.aaEps);
  if (id === '2') return table2Def(o.attackSteps);
  if (id === 'atcnn') return atcnnDef();
  throw new UserError(`unknown table '${id}' for the CIFAR-10 zoo; use one of ${STUDY_IDS.join(', ')}`);
}

// ---------- the built table ----------

/** One cell: our value, AT-CNN's conditional accuracy where it applies, and where it came from. */
export interface StudyCell {
  value: number | null;
  conditional: number | null;
  /** `measured` by this run, read from the `card`, `not measured` (--cached, or no input), `not available` (no such transform). */
  state: 'measured' | 'card' | 'not measured' | 'not available' | 'not trained yet';
  note?: string;
  /** When and by what the value was measured. */
  measuredAt?: string;
  command?: string;
  versions?: Record<string, string>;
  examples?: number;
  data?: string;
  /** An AutoAttack cell: PGD-200 on exactly its images (null where not measured), for the check that AutoAttack is at most it. */
  pgd200SameImages?: number | null;
}

/** One member's measured cells, in the order of the table's columns. */
export interface StudyModel {
  member: string;
  cardPath: string;
  cells: StudyCell[];
  /** Cells this run wrote into the card. */
  recorded: number;
  /** The sanity checks of its PGD-200 cells (Table 1), when the run made them. */
  sanity?: TableSanity;
}

/** The table's rows: ours and the seed's values. */
export interface StudyTableRow {
  member: string;
  display: string;
  seedRow: string | null;
  status: 'present' | 'not trained yet';
  card: string | null;
  reason?: string;
  train?: string;
  cells: StudyCell[];
  /** Per seed set, the seed's value per column (null where it has none). */
  seed: (number | null)[][];
  /** Footnote numbers of the failed sanity checks concerning each cell (its own and the row's). */
  failed: number[][];
  /** Footnote numbers of the failed checks concerning the whole row (the unbounded budget). */
  rowFailed: number[];
  /** The member's sanity checks and where their numbers came from, when the table ran them. */
  sanity?: TableSanity;
}

/** A finding's computed answer, on our numbers and on each seed set's. */
export interface FindingAnswer {
  id: string;
  statement: string;
  reads: 'value' | 'conditional';
  /** `not established`: the numbers answer, but a cell they rest on failed a sanity check. */
  answer: 'reproduced' | 'not reproduced' | 'within sampling error' | 'not measured' | 'not established';
  /**
   * What the numbers alone say: `within sampling error` when every comparison goes the stated way but
   * not all by more than the images measured can tell apart (not a reproduction either).
   */
  numbers: 'reproduced' | 'not reproduced' | 'within sampling error' | 'not measured';
  /** Footnote numbers of the failed checks of the cells the finding read. */
  failed: number[];
  detail: string;
  seed: {
    set: string;
    answer: 'holds' | 'does not hold' | 'within sampling error' | 'no numbers';
    detail: string;
  }[];
}

/** A study table with everything that produced it. */
export interface StudyTable {
  id: StudyId;
  title: string;
  setup: string;
  unit: 'fraction' | 'percent';
  columns: {
    key: string;
    label: string;
    kind: StudyColumn['kind'];
    eps?: number;
    attack?: string;
    transform?: string;
    param?: number;
  }[];
  rows: StudyTableRow[];
  seeds: { name: string; citation: string; examples: number | null }[];
  findings: FindingAnswer[];
  /** The failed sanity checks, numbered as their markers; null when the table ran none. */
  sanityFailures: SanityFailure[] | null;
  /**
   * With AutoAttack columns: each AutoAttack cell against PGD-200 on exactly its images: how many were
   * compared, where AutoAttack leaves more correct (it never should: it is the stronger evaluation),
   * and where it is more than OVERSTATE_MARGIN below (PGD-200 overstates robustness). Null without.
   */
  autoattackCheck: {
    cells: number;
    above: AaPgdCell[];
    overstated: AaPgdCell[];
  } | null;
  provenance: {
    /** The AutoAttack columns' settings and images, when the table has them. */
    autoattack?: { settings: AutoAttackCellSettings; examples: number };
    /** The sanity checks' settings, when the table ran them. */
    sanity?: SanitySettings;
    data: { spec: string; source: string; examples: number } | null;
    stylizedData: string | null;
    command: string;
    versions: Record<string, string>;
  };
}

/** An AutoAttack cell beside PGD-200 on the same images. */
export interface AaPgdCell {
  member: string;
  column: string;
  autoattack: number;
  pgd200: number;
}

/** What {@link buildStudyTable} takes besides the definition. */
export interface StudyInput {
  models: StudyModel[];
  /** Members without a model: why, and how to train them. */
  missing: { member: string; reason: string; train: string }[];
  data: { spec: string; source: string; examples: number } | null;
  stylizedData?: string | null;
  /** The sanity checks' settings, when the run made them (Table 1). */
  sanity?: SanitySettings;
  /** The AutoAttack columns' settings and images (Table 1 with AutoAttack columns). */
  autoattack?: { settings: AutoAttackCellSettings; examples: number };
  command: string;
  versions: Record<string, string>;
}

/** Values as a table of unit `unit` shows them: three decimals, or percent with two. */
export function unitFormat(unit: 'fraction' | 'percent'): (v: number | null) => string {
  return (v) => (v === null ? '-' : unit === 'percent' ? (100 * v).toFixed(2) : v.toFixed(3));
}

/** Assembles the table: a row per member of the definition, measured or "not trained yet". */
export function buildStudyTable(def: StudyDef, input: StudyInput): StudyTable {
  const failures: SanityFailure[] = [];
  const budgets = def.columns.map((c) => (c.kind === 'pgd200' ? c.eps : null));
  const rows: StudyTableRow[] = def.rows.map((r) => {
    const model = input.models.find((m) => m.member === r.member);
    const marks = numberFailures(
      failures,
      { method: r.member, display: r.display },
      model?.sanity?.checks ?? [],
      budgets,
    );
    const miss = input.missing.find((m) => m.member === r.member);
    const seed = def.seeds.map((s) =>
      def.columns.map((c) => (r.seedRow ? (s.values[r.seedRow]?.[c.key] ?? null) : null)),
    );
    if (model)
      return {
        member: r.member,
        display: r.display,
        seedRow: r.seedRow,
        status: 'present',
        card: model.cardPath,
        cells: model.cells,
        seed,
        ...marks,
        ...(model.sanity ? { sanity: model.sanity } : {}),
      };
    return {
      member: r.member,
      display: r.display,
      seedRow: r.seedRow,
      status: 'not trained yet',
      card: null,
      reason: miss?.reason ?? 'not trained yet',
      ...(miss ? { train: miss.train } : {}),
      cells: def.columns.map(() => ({ value: null, conditional: null, state: 'not trained yet' as const })),
      seed,
      ...marks,
    };
  });
  const col = (key: string) => def.columns.findIndex((c) => c.key === key);
  const cellOf = (member: string, key: string): StudyCell | null => {
    const row = rows.find((r) => r.member === member);
    const j = col(key);
    return row && j >= 0 ? row.cells[j] : null;
  };
  const ours =
    (reads: 'value' | 'conditional'): Lookup =>
    (member, key) => {
      const cell = cellOf(member, key);
      return cell === null ? null : reads === 'value' ? cell.value : cell.conditional;
    };
  // The images a value counts over: a cell's own for the plain accuracy; for AT-CNN's conditional
  // one, the member's clean-correct images (its clean accuracy times the images), where known.
  const sizeOf =
    (reads: 'value' | 'conditional'): SizeLookup =>
    (member, key) => {
      const n = cellOf(member, key)?.examples ?? null;
      if (reads === 'value' || n === null) return n;
      const clean = cellOf(member, 'clean')?.value ?? null;
      return clean === null ? null : Math.round(clean * n);
    };
  const findings = def.findings.map((f): FindingAnswer => {
    const fmt = unitFormat(def.unit);
    // The cells the finding reads, to say when one of them failed a sanity check.
    const read: number[] = [];
    const lookup = ours(f.reads);
    const here = f.check(
      (member, key) => {
        const row = rows.find((x) => x.member === member);
        const j = col(key);
        if (row && j >= 0) read.push(...row.failed[j]);
        return lookup(member, key);
      },
      fmt,
      sizeOf(f.reads),
    );
    const failed = [...new Set(read)].sort((a, b) => a - b);
    const numbers =
      here.answer === 'yes'
        ? 'reproduced'
        : here.answer === 'no'
          ? 'not reproduced'
          : here.answer === 'within sampling error'
            ? 'within sampling error'
            : 'not measured';
    const seed = def.seeds.map((s) => {
      if (f.reads === 'conditional' || f.columns.some((c) => !Object.values(s.values).some((v) => c in v)))
        return {
          set: s.name,
          answer: 'no numbers' as const,
          detail: 'the seed gives no numbers for these columns',
        };
      const bySeed: Lookup = (member, key) => {
        const row = def.rows.find((r) => r.member === member);
        return row?.seedRow ? (s.values[row.seedRow]?.[key] ?? null) : null;
      };
      const seedSize: SizeLookup | undefined = s.examples === null ? undefined : () => s.examples;
      const a = f.check(bySeed, fmt, seedSize);
      return {
        set: s.name,
        answer:
          a.answer === 'yes'
            ? ('holds' as const)
            : a.answer === 'no'
              ? ('does not hold' as const)
              : a.answer === 'within sampling error'
                ? ('within sampling error' as const)
                : ('no numbers' as const),
        detail: a.detail,
      };
    });
    return {
      id: f.id,
      statement: f.statement,
      reads: f.reads,
      answer: failed.length && numbers !== 'not measured' ? 'not established' : numbers,
      numbers,
      failed,
      detail: here.detail,
      seed,
    };
  });
  return {
    id: def.id,
    title: def.title,
    setup: def.setup,
    unit: def.unit,
    columns: def.columns.map((c) => ({
      key: c.key,
      label: c.label,
      kind: c.kind,
      ...('eps' in c ? { eps: c.eps } : {}),
      ...('attack' in c ? { attack: c.attack } : {}),
      ...('transform' in c ? { transform: c.transform, param: c.param } : {}),
    })),
    rows,
    seeds: def.seeds.map((s) => ({ name: s.name, citation: s.citation, examples: s.examples })),
    findings,
    sanityFailures: input.sanity ? failures : null,
    autoattackCheck: aaCheck(def, rows),
    provenance: {
      ...(input.autoattack ? { autoattack: input.autoattack } : {}),
      ...(input.sanity ? { sanity: input.sanity } : {}),
      data: input.data,
      stylizedData: input.stylizedData ?? null,
      command: input.command,
      versions: input.versions,
    },
  };
}

/** Each AutoAttack cell against PGD-200 on its images (null when the table has no AutoAttack column). */
function aaCheck(def: StudyDef, rows: StudyTableRow[]): StudyTable['autoattackCheck'] {
  const cols = def.columns.flatMap((c, j) => (c.kind === 'autoattack' ? [{ c, j }] : []));
  if (!cols.length) return null;
  const pairs: AaPgdCell[] = rows.flatMap((r) =>
    cols.flatMap(({ c, j }) => {
      const cell = r.cells[j];
      const pgd = cell.pgd200SameImages ?? null;
      return cell.value === null || pgd === null
        ? []
        : [{ member: r.member, column: c.label, autoattack: cell.value, pgd200: pgd }];
    }),
  );
  return {
    cells: pairs.length,
    above: pairs.filter((p) => aboveSameImages(p.pgd200, p.autoattack)),
    overstated: pairs.filter((p) => overstates(p.pgd200, p.autoattack)),
  };
}
