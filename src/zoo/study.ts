/**
 * The seed's CIFAR-10 tables as data: which zoo members are the rows, what each column measures, the
 * seed's numbers beside them, and the findings each table tests, computed from the numbers. Pure
 * functions: {@link buildStudyTable} assembles a table from measured cells (src/node/studyRun.ts
 * measures them), zoo/studyRender.ts formats it.
 * - `1` (`--zoo cifar10`): Boopathy et al. Table 1, CIFAR-10: PGD-200 accuracy at eps 0..10 /255.
 * - `2`: Boopathy et al. Table 2: accuracy under Gabor, Snow and JPEG L-inf / L2 / L1 attacks.
 * - `atcnn`: Zhang & Zhu's generalisation tests: clean, stylised, saturated (p = 1..1024) and
 *   patch-shuffled (k = 2, 4, 8) test images, each with both AT-CNN accuracies.
 *
 *   const def = studyDef('atcnn');
 *   const t = buildStudyTable(def, { models, missing, data, command, versions });
 *   t.findings.map((f) => f.answer); // ['reproduced', 'not measured', ...]
 */
import { UserError } from '../errors.ts';
import { JPEG_EPS } from '../attacks/jpeg.ts';
import { SEED_ATCNN, SEED_CIFAR_PGD, SEED_UNFORESEEN, SEED_UNFORESEEN_ATTACKS } from './studySeed.ts';
import { CIFAR10_METHODS } from './cifar10.ts';

/** What a column measures. */
export type StudyColumn =
  | { key: string; label: string; kind: 'pgd200'; eps: number }
  | { key: string; label: string; kind: 'attack'; attack: string; eps: number; steps: number }
  | { key: string; label: string; kind: 'clean' }
  | { key: string; label: string; kind: 'transform'; transform: string; param: number }
  | { key: string; label: string; kind: 'stylized' };

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
  check: (
    get: Lookup,
    fmt: (v: number | null) => string,
  ) => { answer: 'yes' | 'no' | 'not measured'; detail: string };
}

/** A table of the seed: rows, columns, the seed's numbers, findings, defaults. */
export interface StudyDef {
  id: StudyId;
  zoo: 'cifar10';
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

const fmt3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));
const eps255 = (e: number) => `${Number((e * 255).toPrecision(4))}/255`;

// ---------- finding helpers ----------

type Answer = { answer: 'yes' | 'no' | 'not measured'; detail: string };

/** Values of `members` in `column`; the names of those without one. */
function valuesOf(get: Lookup, members: string[], column: string) {
  const v = members.map((m) => ({ m, v: get(m, column) }));
  return { v, absent: v.filter((x) => x.v === null).map((x) => x.m) };
}

/** "a, b (every column); c: x, y": which members lack which of `columns`. */
function absentText(absent: Map<string, string[]>, columns: number): string {
  const all = [...absent].filter(([, cols]) => cols.length === columns).map(([m]) => m);
  const some = [...absent]
    .filter(([, cols]) => cols.length < columns)
    .map(([m, cols]) => `${m}: ${cols.join(', ')}`);
  return `not measured: ${[...(all.length ? [`${all.join(', ')}${columns > 1 ? ' (every column)' : ''}`] : []), ...some].join('; ')}`;
}

/**
 * Whether every member of `group` is strictly above (or below) `ref` in each column of `columns`;
 * `not measured` naming what is absent when a value is missing.
 */
function compareAll(
  get: Lookup,
  group: string[],
  ref: string,
  columns: { key: string; label: string }[],
  dir: 'above' | 'below',
  fmt: (v: number | null) => string,
): Answer {
  const parts: string[] = [];
  const absent = new Map<string, string[]>();
  const miss = (m: string, label: string) => absent.set(m, [...(absent.get(m) ?? []), label]);
  let all = true;
  for (const c of columns) {
    const r = get(ref, c.key);
    const { v, absent: a } = valuesOf(get, group, c.key);
    if (r === null) miss(ref, c.label);
    a.forEach((m) => miss(m, c.label));
    if (r === null) continue;
    const known = v.filter((x) => x.v !== null);
    const ok = known.filter((x) => (dir === 'above' ? x.v! > r : x.v! < r));
    if (ok.length < known.length) all = false;
    parts.push(
      `${c.label}: ${ok.length} of ${known.length} ${dir} ${ref} ${fmt(r)}${
        ok.length < known.length
          ? ` (not: ${known
              .filter((x) => !ok.includes(x))
              .map((x) => `${x.m} ${fmt(x.v)}`)
              .join(', ')})`
          : ''
      }`,
    );
  }
  if (absent.size)
    return { answer: 'not measured', detail: [absentText(absent, columns.length), ...parts].join('; ') };
  return { answer: all ? 'yes' : 'no', detail: parts.join('; ') };
}

/** Mean of a member's values over `columns`, or null when one is missing. */
function meanOver(get: Lookup, member: string, columns: string[]): number | null {
  const v = columns.map((c) => get(member, c));
  return v.some((x) => x === null) ? null : (v as number[]).reduce((a, b) => a + b, 0) / v.length;
}

// ---------- Table 1, CIFAR-10 ----------

const T1_EPS = SEED_CIFAR_PGD.eps255.map((e) => e / 255);
const pgdKey = (e: number) => `pgd200:${eps255(e)}`;
/** Rows of the seed's Table 1 CIFAR-10 block and the members that stand for them. */
const T1_ROWS: StudyRow[] = [
  { member: 'standard', display: 'Normal (standard)', seedRow: 'Normal' },
  { member: 'pgd-linf-8', display: 'Adv (pgd-linf-8)', seedRow: 'Adv' },
  { member: 'trades', display: 'TRADES', seedRow: 'TRADES' },
  { member: 'int-one-class', display: 'Int-one-class', seedRow: 'Int-one-class' },
  { member: 'int', display: 'Int', seedRow: 'Int' },
  { member: 'int-adv', display: 'Int-Adv', seedRow: 'Int-Adv' },
  { member: 'int2', display: 'Int2', seedRow: 'Int2' },
  { member: 'int2-adv', display: 'Int2-Adv', seedRow: 'Int2-Adv' },
];

/** Table 1 (CIFAR-10) with the budgets `eps` as columns (default the paper's). */
export function table1Def(eps: number[] = T1_EPS): StudyDef {
  const columns: StudyColumn[] = eps.map((e) => ({
    key: pgdKey(e),
    label: e === 0 ? 'eps 0' : eps255(e),
    kind: 'pgd200',
    eps: e,
  }));
  const seedValues: Record<string, Record<string, number>> = {};
  for (const [row, vals] of Object.entries(SEED_CIFAR_PGD.rows))
    seedValues[row] = Object.fromEntries(T1_EPS.map((e, j) => [pgdKey(e), vals[j]]));
  const large = [8, 9, 10].map((e) => ({ key: pgdKey(e / 255), label: `${e}/255` }));
  return {
    id: '1',
    zoo: 'cifar10',
    title:
      'PGD-200 accuracy of the advlens CIFAR-10 zoo beside Boopathy et al. (ICML 2020), Table 1 (CIFAR-10)',
    rows: T1_ROWS,
    columns,
    seeds: [
      {
        name: 'CIFAR-10, WResnet',
        citation: SEED_CIFAR_PGD.citation,
        examples: SEED_CIFAR_PGD.examples,
        values: seedValues,
      },
    ],
    findings: [
      {
        id: 'int-family-above-adv',
        statement: 'Int, Int-Adv, Int2 and Int2-Adv keep more accuracy than Adv at 8, 9 and 10 /255',
        reads: 'value',
        columns: large.map((c) => c.key),
        check: (get, fmt) =>
          compareAll(get, ['int', 'int-adv', 'int2', 'int2-adv'], 'pgd-linf-8', large, 'above', fmt),
      },
    ],
    defaultLimit: 500,
    unit: 'fraction',
    setup:
      'L-inf PGD, 200 steps of 0.01, no random start, cross-entropy loss (the Int/Int2 evaluation, ALGORITHMS.md section 1); eps 0 is the clean accuracy.',
  };
}

// ---------- Table 2 ----------

/** The paper's budgets of the unforeseen attacks (ALGORITHMS.md section 1), in [0, 1] pixel units. */
export const UNFORESEEN_EPS: Record<(typeof SEED_UNFORESEEN_ATTACKS)[number], number> = {
  gabor: 400 / 255,
  snow: 2,
  'jpeg-linf': JPEG_EPS.linf,
  'jpeg-l2': JPEG_EPS.l2,
  'jpeg-l1': JPEG_EPS.l1,
};

const T2_ROWS: StudyRow[] = [
  { member: 'standard', display: 'Normal (standard)', seedRow: 'Normal' },
  { member: 'pgd-linf-8', display: 'Adv (pgd-linf-8)', seedRow: 'Adv' },
  { member: 'trades', display: 'TRADES', seedRow: 'TRADES' },
  { member: 'ig-norm', display: 'IG-Norm', seedRow: 'IG-Norm' },
  { member: 'ig-norm-sum', display: 'IG-Norm-Sum', seedRow: 'IG-Norm-Sum' },
  { member: 'int', display: 'Int', seedRow: 'Int' },
  { member: 'int-adv', display: 'Int-Adv', seedRow: 'Int-Adv' },
  { member: 'int2', display: 'Int2', seedRow: 'Int2' },
  { member: 'int2-adv', display: 'Int2-Adv', seedRow: 'Int2-Adv' },
];

/** The mean of each member over the five attacks, as a finding's detail. */
function meansText(get: Lookup, members: string[], cols: string[]): string {
  return members.map((m) => `${m} ${fmt3(meanOver(get, m, cols))}`).join(', ');
}

function table2Findings(cols: string[]): FindingDef[] {
  const robust = T2_ROWS.map((r) => r.member).filter((m) => m !== 'standard');
  const needAll = (get: Lookup, members: string[]): Answer | null => {
    const absent = members.filter((m) => meanOver(get, m, cols) === null);
    return absent.length
      ? { answer: 'not measured', detail: `not measured on every attack: ${absent.join(', ')}` }
      : null;
  };
  return [
    {
      id: 'robust-beats-normal',
      statement:
        "Robust training of any kind beats Normal: each robust model's mean accuracy over the five attacks is above Normal's",
      reads: 'value',
      columns: cols,
      check: (get) => {
        const miss = needAll(get, ['standard', ...robust]);
        if (miss) return miss;
        const n = meanOver(get, 'standard', cols)!;
        const below = robust.filter((m) => !(meanOver(get, m, cols)! > n));
        return {
          answer: below.length ? 'no' : 'yes',
          detail: `means: Normal ${fmt3(n)}; ${meansText(get, robust, cols)}${below.length ? `; not above Normal: ${below.join(', ')}` : ''}`,
        };
      },
    },
    {
      id: 'ig-norm-weak',
      statement:
        "IG-Norm is weak: its mean accuracy over the five attacks is the lowest of the robust models'",
      reads: 'value',
      columns: cols,
      check: (get) => {
        const miss = needAll(get, robust);
        if (miss) return miss;
        const ig = meanOver(get, 'ig-norm', cols)!;
        const lower = robust.filter((m) => m !== 'ig-norm' && !(meanOver(get, m, cols)! > ig));
        return {
          answer: lower.length ? 'no' : 'yes',
          detail: `IG-Norm ${fmt3(ig)}; ${meansText(
            get,
            robust.filter((m) => m !== 'ig-norm'),
            cols,
          )}${lower.length ? `; not above IG-Norm: ${lower.join(', ')}` : ''}`,
        };
      },
    },
    {
      id: 'int-family-competitive',
      statement:
        "The Int/Int2 family is competitive with Adv/TRADES: each of Int, Int-Adv, Int2, Int2-Adv has a mean accuracy over the five attacks at least the lower of Adv's and TRADES's",
      reads: 'value',
      columns: cols,
      check: (get) => {
        const family = ['int', 'int-adv', 'int2', 'int2-adv'];
        const miss = needAll(get, ['pgd-linf-8', 'trades', ...family]);
        if (miss) return miss;
        const bar = Math.min(meanOver(get, 'pgd-linf-8', cols)!, meanOver(get, 'trades', cols)!);
        const under = family.filter((m) => meanOver(get, m, cols)! < bar);
        return {
          answer: under.length ? 'no' : 'yes',
          detail: `bar ${fmt3(bar)} (Adv ${fmt3(meanOver(get, 'pgd-linf-8', cols))}, TRADES ${fmt3(meanOver(get, 'trades', cols))}); ${meansText(get, family, cols)}${under.length ? `; below: ${under.join(', ')}` : ''}`,
        };
      },
    },
  ];
}

/** Table 2: the unforeseen attacks at the paper's budgets, `steps` iterations each (the paper: 200). */
export function table2Def(steps = 200): StudyDef {
  const columns: StudyColumn[] = SEED_UNFORESEEN_ATTACKS.map((a, j) => ({
    key: a,
    label: SEED_UNFORESEEN.columns[j],
    kind: 'attack',
    attack: a,
    eps: UNFORESEEN_EPS[a],
    steps,
  }));
  const values: Record<string, Record<string, number>> = {};
  for (const [row, vals] of Object.entries(SEED_UNFORESEEN.rows))
    values[row] = Object.fromEntries(SEED_UNFORESEEN_ATTACKS.map((a, j) => [a, vals[j]]));
  return {
    id: '2',
    zoo: 'cifar10',
    title: 'Unforeseen attacks on the advlens CIFAR-10 zoo beside Boopathy et al. (ICML 2020), Table 2',
    rows: T2_ROWS,
    columns,
    seeds: [
      {
        name: 'CIFAR-10, Small',
        citation: SEED_UNFORESEEN.citation,
        examples: SEED_UNFORESEEN.examples,
        values,
      },
    ],
    findings: table2Findings(columns.map((c) => c.key)),
    defaultLimit: 200,
    unit: 'fraction',
    setup: `The attacks of Kang et al. (2019) at the budgets of the Int/Int2 paper (Gabor 400/255, Snow 2, JPEG L-inf 0.25/255, JPEG L2 8/255, JPEG L1 256/255 in [0,1] units), ${steps} steps${steps === 200 ? '' : ' (the paper: 200)'}, random initialisation seeded per batch (batch b: seed + 1000003 b).`,
  };
}

// ---------- AT-CNN ----------

/** AT-CNN's saturation levels and patch-shuffle grid sizes (ALGORITHMS.md section 5). */
export const SATURATION_LEVELS = [1, 2, 4, 8, 16, 64, 1024];
export const SHUFFLE_SIZES = [2, 4, 8];
/** The saturation levels at which the "keeps more on saturated images" finding is checked. */
export const STRONG_SATURATION = [8, 16, 64, 1024];

const ATCNN_MEMBERS = CIFAR10_METHODS.filter((m) =>
  ['standard', 'underfit', 'pgd', 'fgsm'].some((k) => m.method === k || m.method.startsWith(`${k}-`)),
);
/** The adversarially trained members of the AT-CNN set. */
export const ATCNN_ADVERSARIAL = ATCNN_MEMBERS.filter((m) => m.adversarial).map((m) => m.method);

function atcnnFindings(): FindingDef[] {
  const at = ATCNN_ADVERSARIAL;
  const col = (key: string, label: string) => [{ key, label }];
  return [
    {
      id: 'at-lose-clean',
      statement:
        "Adversarial training costs clean accuracy: every AT model's clean accuracy is below Standard's",
      reads: 'value',
      columns: ['clean'],
      check: (get, fmt) => compareAll(get, at, 'standard', col('clean', 'clean'), 'below', fmt),
    },
    {
      id: 'at-keep-stylized',
      statement:
        "AT models keep more on stylised images (less reliance on texture): every AT model's stylised accuracy is above Standard's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt) => compareAll(get, at, 'standard', col('stylized', 'stylised'), 'above', fmt),
    },
    {
      id: 'underfit-not-stylized',
      statement:
        "The stylised gain is not lower clean accuracy alone: Underfit's stylised accuracy is below every AT model's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt) => compareAll(get, at, 'underfit', col('stylized', 'stylised'), 'above', fmt),
    },
    {
      id: 'at-keep-saturated',
      statement: `AT models keep more on saturated images: at saturation levels ${STRONG_SATURATION.join(', ')}, every AT model's accuracy on the images it classifies right when clean is above Standard's`,
      reads: 'conditional',
      columns: STRONG_SATURATION.map((p) => `saturate:${p}`),
      check: (get, fmt) =>
        compareAll(
          get,
          at,
          'standard',
          STRONG_SATURATION.map((p) => ({ key: `saturate:${p}`, label: `saturation ${p}` })),
          'above',
          fmt,
        ),
    },
    {
      id: 'at-lose-shuffled',
      statement: `AT models lose more on patch-shuffled images (more reliance on shape): at shuffle sizes ${SHUFFLE_SIZES.join(', ')}, every AT model's accuracy on the images it classifies right when clean is below Standard's`,
      reads: 'conditional',
      columns: SHUFFLE_SIZES.map((k) => `shuffle:${k}`),
      check: (get, fmt) =>
        compareAll(
          get,
          at,
          'standard',
          SHUFFLE_SIZES.map((k) => ({ key: `shuffle:${k}`, label: `shuffle ${k}` })),
          'below',
          fmt,
        ),
    },
  ];
}

/** The AT-CNN table: clean, stylised, each saturation level, each shuffle size. */
export function atcnnDef(): StudyDef {
  const columns: StudyColumn[] = [
    { key: 'clean', label: 'clean', kind: 'clean' },
    { key: 'stylized', label: 'stylised', kind: 'stylized' },
    ...SATURATION_LEVELS.map((p): StudyColumn => ({
      key: `saturate:${p}`,
      label: `sat ${p}`,
      kind: 'transform',
      transform: 'saturate',
      param: p,
    })),
    ...SHUFFLE_SIZES.map((k): StudyColumn => ({
      key: `shuffle:${k}`,
      label: `shuffle ${k}`,
      kind: 'transform',
      transform: 'shuffle',
      param: k,
    })),
  ];
  const sets = SEED_ATCNN.datasets.map((name, d): SeedSet => {
    const values: Record<string, Record<string, number>> = {};
    for (const [row, v] of Object.entries(SEED_ATCNN.rows))
      values[row] = { clean: v[2 * d] / 100, stylized: v[2 * d + 1] / 100 };
    return { name, citation: SEED_ATCNN.citation, examples: null, values };
  });
  return {
    id: 'atcnn',
    zoo: 'cifar10',
    title:
      'Shape versus texture: the advlens CIFAR-10 zoo on transformed test images, beside Zhang & Zhu (ICML 2019)',
    rows: ATCNN_MEMBERS.map((m) => ({ member: m.method, display: m.display, seedRow: m.display })),
    columns,
    seeds: sets,
    findings: atcnnFindings(),
    defaultLimit: 2000,
    unit: 'percent',
    setup:
      "Each cell: accuracy on the transformed images / AT-CNN's second accuracy (of the images the model classifies right when clean, the share still right), in %. Saturation p: v' = sign(2v-1)|2v-1|^(2/p)/2 + 1/2 (p = 2 is the identity); shuffle k: a k x k grid of patches permuted at random (seeded); stylised: the stylised copy of the test set made once by `advlens stylize` (--stylized-data), its images paired with the clean ones by the index in their file names (a folder named otherwise gives the plain accuracy only).",
  };
}

/** The table `id` (`eps` replaces Table 1's budgets, `attackSteps` Table 2's 200 steps). */
export function studyDef(id: string, o: { eps?: number[]; attackSteps?: number } = {}): StudyDef {
  if (id === '1') return table1Def(o.eps);
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
}

/** One member's measured cells, in the order of the table's columns. */
export interface StudyModel {
  member: string;
  cardPath: string;
  cells: StudyCell[];
  /** Cells this run wrote into the card. */
  recorded: number;
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
}

/** A finding's computed answer, on our numbers and on each seed set's. */
export interface FindingAnswer {
  id: string;
  statement: string;
  reads: 'value' | 'conditional';
  answer: 'reproduced' | 'not reproduced' | 'not measured';
  detail: string;
  seed: { set: string; answer: 'holds' | 'does not hold' | 'no numbers'; detail: string }[];
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
  provenance: {
    data: { spec: string; source: string; examples: number } | null;
    stylizedData: string | null;
    command: string;
    versions: Record<string, string>;
  };
}

/** What {@link buildStudyTable} takes besides the definition. */
export interface StudyInput {
  models: StudyModel[];
  /** Members without a model: why, and how to train them. */
  missing: { member: string; reason: string; train: string }[];
  data: { spec: string; source: string; examples: number } | null;
  stylizedData?: string | null;
  command: string;
  versions: Record<string, string>;
}

/** Values as a table of unit `unit` shows them: three decimals, or percent with two. */
export function unitFormat(unit: 'fraction' | 'percent'): (v: number | null) => string {
  return (v) => (v === null ? '-' : unit === 'percent' ? (100 * v).toFixed(2) : v.toFixed(3));
}

/** Assembles the table: a row per member of the definition, measured or "not trained yet". */
export function buildStudyTable(def: StudyDef, input: StudyInput): StudyTable {
  const rows: StudyTableRow[] = def.rows.map((r) => {
    const model = input.models.find((m) => m.member === r.member);
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
    };
  });
  const col = (key: string) => def.columns.findIndex((c) => c.key === key);
  const ours =
    (reads: 'value' | 'conditional'): Lookup =>
    (member, key) => {
      const row = rows.find((r) => r.member === member);
      const j = col(key);
      if (!row || j < 0) return null;
      return reads === 'value' ? row.cells[j].value : row.cells[j].conditional;
    };
  const findings = def.findings.map((f): FindingAnswer => {
    const fmt = unitFormat(def.unit);
    const here = f.check(ours(f.reads), fmt);
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
      const a = f.check(bySeed, fmt);
      return {
        set: s.name,
        answer:
          a.answer === 'yes'
            ? ('holds' as const)
            : a.answer === 'no'
              ? ('does not hold' as const)
              : ('no numbers' as const),
        detail: a.detail,
      };
    });
    return {
      id: f.id,
      statement: f.statement,
      reads: f.reads,
      answer: here.answer === 'yes' ? 'reproduced' : here.answer === 'no' ? 'not reproduced' : 'not measured',
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
    provenance: {
      data: input.data,
      stylizedData: input.stylizedData ?? null,
      command: input.command,
      versions: input.versions,
    },
  };
}
