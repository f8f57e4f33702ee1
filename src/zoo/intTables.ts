/**
 * Boopathy et al. (ICML 2020) Tables 1 (CIFAR-10 block) and 2 as zoo table definitions
 * (zoo/study.ts): the rows (Normal is the CIFAR-10 zoo's `standard`, Adv its `pgd-linf-8`), the
 * columns (PGD-200 budgets; the unforeseen attacks at the paper's budgets), the seed's numbers and
 * the findings of issue 21, computed from the numbers.
 *
 *   table1Def().findings[0].statement; // 'Int, Int-Adv, Int2 and Int2-Adv keep more accuracy than Adv at 8, 9 and 10 /255'
 */
import { JPEG_EPS } from '../attacks/jpeg.ts';
import { SEED_CIFAR_PGD, SEED_UNFORESEEN, SEED_UNFORESEEN_ATTACKS } from './studySeed.ts';
import { compareAll, fmt3, meanOver, type Answer, type SizeLookup } from './findings.ts';
import { compareAccuracy, formatP } from '../metrics/significance.ts';
import { aaColumn } from './aaCells.ts';
import type { FindingDef, Lookup, StudyColumn, StudyDef, StudyRow } from './study.ts';

const eps255 = (e: number) => `${Number((e * 255).toPrecision(4))}/255`;

const T1_EPS = SEED_CIFAR_PGD.eps255.map((e) => e / 255);
const pgdKey = (e: number) => `pgd200:${eps255(e)}`;
/** A row: the zoo member, its name in the table, and the seed's row it stands for (default: that name). */
const row = (member: string, display: string, seedRow = display): StudyRow => ({ member, display, seedRow });
/** The rows that open both tables: the baselines (Normal and Adv are the zoo's standard and pgd-linf-8). */
const BASELINE_ROWS = [
  row('standard', 'Normal (standard)', 'Normal'),
  row('pgd-linf-8', 'Adv (pgd-linf-8)', 'Adv'),
  row('trades', 'TRADES'),
];
/** The rows that close both tables: Int and Int2, each alone and with adversarial training. */
const INT_ROWS = [
  row('int', 'Int'),
  row('int-adv', 'Int-Adv'),
  row('int2', 'Int2'),
  row('int2-adv', 'Int2-Adv'),
];
/** The members of the Int/Int2 family, the findings' subject. */
const INT_FAMILY = INT_ROWS.map((r) => r.member);
/** Rows of the seed's Table 1 CIFAR-10 block and the members that stand for them. */
const T1_ROWS: StudyRow[] = [...BASELINE_ROWS, row('int-one-class', 'Int-one-class'), ...INT_ROWS];

/** The budgets of Table 1's finding, and of its AutoAttack columns unless told otherwise. */
export const T1_AA_EPS = [8, 9, 10].map((e) => e / 255);

/**
 * Table 1 (CIFAR-10) with the budgets `eps` as columns (default the paper's) and, with `aaEps`, an
 * AutoAttack column per budget of it (> 0; zoo/aaCells.ts) and the finding asked again of those.
 */
export function table1Def(eps: number[] = T1_EPS, aaEps?: number[]): StudyDef {
  const columns: StudyColumn[] = eps.map((e) => ({
    key: pgdKey(e),
    label: e === 0 ? 'eps 0' : eps255(e),
    kind: 'pgd200',
    eps: e,
  }));
  const aa = (aaEps ?? [])
    .filter((e) => e > 0)
    .map((e) => ({ key: aaColumn(e), label: `AA ${eps255(e)}`, eps: e }));
  for (const c of aa) columns.push({ ...c, kind: 'autoattack' });
  const seedValues: Record<string, Record<string, number>> = {};
  for (const [row, vals] of Object.entries(SEED_CIFAR_PGD.rows))
    seedValues[row] = Object.fromEntries(T1_EPS.map((e, j) => [pgdKey(e), vals[j]]));
  const large = [8, 9, 10].map((e) => ({ key: pgdKey(e / 255), label: `${e}/255` }));
  // Table 1's finding on a set of columns (PGD-200's, or AutoAttack's).
  const aboveAdv =
    (cols: { key: string; label: string }[]): FindingDef['check'] =>
    (get, fmt, size) =>
      compareAll(get, INT_FAMILY, 'pgd-linf-8', cols, 'above', fmt, size);
  return {
    id: '1',
    zoo: 'cifar10',
    title: `PGD-200${aa.length ? ' and AutoAttack' : ''} accuracy of the advlens CIFAR-10 zoo beside Boopathy et al. (ICML 2020), Table 1 (CIFAR-10)`,
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
        check: aboveAdv(large),
      },
      ...(aa.length
        ? [
            {
              id: 'int-family-above-adv-autoattack',
              statement: `Under AutoAttack (the strongest attack here, first images of the test set): Int, Int-Adv, Int2 and Int2-Adv keep more accuracy than Adv at ${aa.map((c) => c.label.slice(3)).join(', ')}`,
              reads: 'value' as const,
              columns: aa.map((c) => c.key),
              check: aboveAdv(aa),
            },
          ]
        : []),
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

/** Rows of the seed's Table 2 and the members that stand for them. */
const T2_ROWS: StudyRow[] = [
  ...BASELINE_ROWS,
  row('ig-norm', 'IG-Norm'),
  row('ig-norm-sum', 'IG-Norm-Sum'),
  ...INT_ROWS,
];

/** The mean of each member over the five attacks, as a finding's detail. */
function meansText(get: Lookup, members: string[], cols: string[]): string {
  return members.map((m) => `${m} ${fmt3(meanOver(get, m, cols))}`).join(', ');
}

/**
 * Whether mean a (of member `ma`) is above mean b (of `mb`) beyond sampling error: Fisher's test
 * (metrics/significance.ts) as if each mean were one accuracy on its member's images (the fewest any
 * of its cells counts). Conservative: a mean over five attacks on the same images varies no more than
 * one accuracy on them (the variance of an average is at most the average variance, and p(1 - p) is
 * concave). Null without the image counts (then the plain comparison stands).
 */
function meanAbove(
  size: SizeLookup | undefined,
  cols: string[],
  ma: string,
  a: number,
  mb: string,
  b: number,
): { above: boolean; p: number } | null {
  const n = (m: string) => {
    const v = cols.map((c) => size?.(m, c) ?? null);
    return v.some((x) => x === null || x < 1) ? null : Math.min(...(v as number[]));
  };
  const [na, nb] = [n(ma), n(mb)];
  if (na === null || nb === null) return null;
  const c = compareAccuracy(a, na, b, nb);
  return { above: c.verdict === 'above', p: c.p };
}

/** The sampling note of a Table 2 finding's detail. */
const MEAN_TEST =
  '; sampling: one-sided Fisher exact test at 0.05 on each mean as one accuracy on its images (conservative)';

type MeanTest = { m: string; t: ReturnType<typeof meanAbove> };

/**
 * The sampling part of a Table 2 finding's detail: the members whose comparison (`what`) holds only
 * within sampling error, with their p, then the note on the test when any comparison was tested.
 */
function samplingText(what: string, tests: MeanTest[], weak: MeanTest[]): string {
  return `${weak.length ? `; ${what} within sampling error: ${weak.map((x) => `${x.m} (${formatP(x.t!.p)})`).join(', ')}` : ''}${tests.some((x) => x.t) ? MEAN_TEST : ''}`;
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
      check: (get, _fmt, size) => {
        const miss = needAll(get, ['standard', ...robust]);
        if (miss) return miss;
        const n = meanOver(get, 'standard', cols)!;
        const below = robust.filter((m) => !(meanOver(get, m, cols)! > n));
        const tests = robust
          .filter((m) => !below.includes(m))
          .map((m) => ({ m, t: meanAbove(size, cols, m, meanOver(get, m, cols)!, 'standard', n) }));
        const weak = tests.filter((x) => x.t && !x.t.above);
        return {
          answer: below.length ? 'no' : weak.length ? 'within sampling error' : 'yes',
          detail: `means: Normal ${fmt3(n)}; ${meansText(get, robust, cols)}${below.length ? `; not above Normal: ${below.join(', ')}` : ''}${samplingText('above Normal', tests, weak)}`,
        };
      },
    },
    {
      id: 'ig-norm-weak',
      statement:
        "IG-Norm is weak: its mean accuracy over the five attacks is the lowest of the robust models'",
      reads: 'value',
      columns: cols,
      check: (get, _fmt, size) => {
        const miss = needAll(get, robust);
        if (miss) return miss;
        const ig = meanOver(get, 'ig-norm', cols)!;
        const others = robust.filter((m) => m !== 'ig-norm');
        const lower = others.filter((m) => !(meanOver(get, m, cols)! > ig));
        const tests = others
          .filter((m) => !lower.includes(m))
          .map((m) => ({ m, t: meanAbove(size, cols, m, meanOver(get, m, cols)!, 'ig-norm', ig) }));
        const weak = tests.filter((x) => x.t && !x.t.above);
        return {
          answer: lower.length ? 'no' : weak.length ? 'within sampling error' : 'yes',
          detail: `IG-Norm ${fmt3(ig)}; ${meansText(get, others, cols)}${lower.length ? `; not above IG-Norm: ${lower.join(', ')}` : ''}${samplingText('above IG-Norm', tests, weak)}`,
        };
      },
    },
    {
      id: 'int-family-competitive',
      statement:
        "The Int/Int2 family is competitive with Adv/TRADES: each of Int, Int-Adv, Int2, Int2-Adv has a mean accuracy over the five attacks at least the lower of Adv's and TRADES's",
      reads: 'value',
      columns: cols,
      check: (get, _fmt, size) => {
        const family = INT_FAMILY;
        const miss = needAll(get, ['pgd-linf-8', 'trades', ...family]);
        if (miss) return miss;
        const adv = meanOver(get, 'pgd-linf-8', cols)!;
        const trades = meanOver(get, 'trades', cols)!;
        const [barMember, bar] = adv <= trades ? ['pgd-linf-8', adv] : ['trades', trades];
        const under = family.filter((m) => meanOver(get, m, cols)! < bar);
        // "At least the bar" fails only where a member is below it beyond sampling error.
        const tests = under.map((m) => ({
          m,
          t: meanAbove(size, cols, barMember, bar, m, meanOver(get, m, cols)!),
        }));
        const clear = tests.filter((x) => !x.t || x.t.above).map((x) => x.m);
        const weak = tests.filter((x) => x.t && !x.t.above);
        return {
          answer: clear.length ? 'no' : weak.length ? 'within sampling error' : 'yes',
          detail: `bar ${fmt3(bar)} (Adv ${fmt3(adv)}, TRADES ${fmt3(trades)}); ${meansText(get, family, cols)}${under.length ? `; below: ${under.join(', ')}` : ''}${samplingText('below', tests, weak)}`,
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
