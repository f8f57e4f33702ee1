/**
 * The zoo's version of Boopathy et al. (ICML 2020) Table 1: rows = training methods, columns = L-inf
 * budgets, each cell our PGD-200 accuracy beside the paper's (MNIST, Small), with a computed answer to
 * whether the paper's ordering at large eps (Int2-Adv and Int2 above Adv) reproduces, and everything
 * that produced the numbers. Pure functions: {@link buildZooTable} assembles, the renderers format
 * Markdown, JSON and HTML.
 *
 *   const t = buildZooTable({ eps: [0, 0.3], methods: ZOO_METHODS, models, missing, data, attack, command, versions });
 *   process.stdout.write(zooTableMarkdown(t));
 */
import { escapeHtml, htmlTable, reportPage } from '../report/html.ts';
import { lineChart } from '../report/plot.ts';
import {
  epsSeries,
  epsText,
  fmtEps,
  htmlList,
  methodCellHtml,
  methodRows,
  missingSection,
  provenanceMd,
  rowName,
  tableJson,
  versionsText,
  type MethodRowHead,
} from './tableRender.ts';
import { SEED_ROW_OF, SEED_TABLE, seedValue } from './seedTable.ts';
import { compareAccuracy, formatP, SIGNIFICANCE_LEVEL } from '../metrics/significance.ts';
import { sameEps, type RobustAttackSettings, type RobustRun } from './robustRecord.ts';
import type { ZooMethod } from './zoo.ts';
import {
  aaAttackOptions,
  aboveSameImages,
  OVERSTATE_MARGIN,
  overstates,
  type AutoAttackCellSettings,
} from './aaCells.ts';
import { failMarker, numberFailures, type SanityFailure, type TableSanity } from './sanityCells.ts';
import type { SanitySettings } from './measureSanity.ts';

export type { SanityFailure, TableSanity };

/** One member's AutoAttack cells (zoo/aaCells.ts) and where they came from. */
export interface TableAutoAttack {
  /** Accuracy under AutoAttack at each budget of the table's `eps`; null at eps 0 and where not measured. */
  values: (number | null)[];
  fromCard: number[];
  measured: number[];
  /** Budgets not in the card that this run did not attack (`--cached`). */
  unmeasured: number[];
  recorded: boolean;
  /** Which run measured each cell shown (one budget each). */
  runs: RobustRun[];
  /**
   * PGD-200 (the table's PGD settings) on exactly AutoAttack's images, per budget; null at eps 0 and
   * where not measured (a cell recorded before this number was kept, read with `--cached`).
   */
  pgd200SameImages?: (number | null)[];
  /** Budgets whose same-image PGD-200 number this run measured beside a cell read from the card. */
  pgd200Added?: number[];
}

/** A member where AutoAttack is more than 5 points below PGD-200: PGD-200 overstates its robustness. */
export interface OverstatedFlag {
  method: string;
  display: string;
  /** The budgets where it is, with both accuracies. */
  cells: { eps: number; pgd200: number; autoattack: number }[];
}

/** Our numbers for one zoo model and where they came from. */
export interface TableModel {
  method: string;
  cardPath: string;
  /** Accuracy at each budget of the table's `eps`; null where neither measured nor in the card (`--cached`). */
  values: (number | null)[];
  /** Budgets read from the card's record, and budgets measured by this run. */
  fromCard: number[];
  measured: number[];
  /** Budgets left out: not in the card, and this run did not attack (`--cached`). */
  unmeasured?: number[];
  /** True when every value came from the card (nothing was attacked). */
  cached: boolean;
  /** When, by which command and with which software the newest values were measured. */
  measuredAt: string;
  command: string;
  versions: Record<string, string>;
  /** Which run measured which of the values shown (oldest first). */
  runs: RobustRun[];
  /** Whether this run wrote the values into the card. */
  recorded: boolean;
  /** Its AutoAttack cells, when the table has the AutoAttack column. */
  autoattack?: TableAutoAttack;
  /** Its sanity checks, when the table runs them. */
  sanity?: TableSanity;
}

/** What a zoo table is built from: the members' records and the budgets to show. */
export interface TableInput {
  /** The columns: budgets, L-inf, pixels in [0, 1]. */
  eps: number[];
  /** The methods the table covers, in row order. */
  methods: readonly ZooMethod[];
  models: TableModel[];
  /** Members of `methods` without a model, with why and how to train them. */
  missing: { method: string; reason: string; train: string }[];
  data: { spec: string; source: string; examples: number };
  attack: RobustAttackSettings;
  /** The AutoAttack column's settings and images, when measured beside PGD-200. */
  autoattack?: { settings: AutoAttackCellSettings; examples: number };
  /** The sanity checks' settings, when the table runs them. */
  sanity?: SanitySettings;
  command: string;
  versions: Record<string, string>;
}

/** A zoo table row: a method, ours and the paper's accuracy per eps, and where each value came from. */
export interface ZooTableRow extends MethodRowHead {
  cached: boolean | null;
  ours: (number | null)[];
  /** Accuracy under AutoAttack per budget (null where none); null when the table has no such column. */
  autoattack: (number | null)[] | null;
  /** PGD-200 on AutoAttack's images per budget (null where none); null when the table has no such column. */
  pgd200SameImages: (number | null)[] | null;
  seed: (number | null)[];
  /** Footnote numbers of the failed sanity checks concerning each cell (its own and the row's); empty without checks. */
  failed: number[][];
  /** Footnote numbers of the failed checks concerning the whole row (the unbounded budget). */
  rowFailed: number[];
}

/** The question the table answers under it, per budget. */
export const ORDERING_QUESTION =
  "Does the seed's ordering at large eps reproduce here: Int2-Adv and Int2 above Adv (pgd-linf)?";

/** The budgets at which the paper's ordering is checked. */
export const ORDERING_EPS = [0.35, 0.4];

/** The members whose cells the ordering rests on. */
const ORDERING_METHODS = ['pgd-linf', 'int2', 'int2-adv'];

/** The computed answer, per eps, to whether the paper's ordering at large eps holds in our numbers. */
export interface OrderingAnswer {
  eps: number;
  /** What the numbers say; `sanity check failed` when they say yes or no but a cell they rest on failed a check. */
  answer: 'yes' | 'no' | 'within sampling error' | 'not measured' | 'sanity check failed';
  /**
   * What the numbers alone say (the answer before the sanity checks): `within sampling error` when
   * Int2 and Int2-Adv are above Adv, but not both by more than the images measured can tell apart.
   */
  numbers: 'yes' | 'no' | 'within sampling error' | 'not measured';
  /** Footnote numbers of the failed checks of the cells the answer rests on. */
  failed: number[];
  detail: string;
  /** The same question asked of the paper's numbers (on its 200 images, by the same test). */
  seed: 'yes' | 'no' | 'within sampling error';
  seedDetail: string;
}

/** The ordering question's answer at one budget under AutoAttack. */
export interface AutoAttackOrdering {
  eps: number;
  answer: OrderingAnswer['numbers'];
  detail: string;
}

/** The zoo's Table 1 beside the seed's: rows, budgets, the computed ordering lines and provenance. */
export interface ZooTable {
  title: string;
  eps: number[];
  rows: ZooTableRow[];
  question: string;
  ordering: OrderingAnswer[];
  /**
   * With the AutoAttack column: the same question asked of the AutoAttack cells (the strongest attack
   * the project has), on AutoAttack's images; null without the column.
   */
  orderingAutoAttack: AutoAttackOrdering[] | null;
  /** With the AutoAttack column: the members where PGD-200 overstates robustness (empty when none). */
  overstated: OverstatedFlag[];
  /**
   * With the AutoAttack column: the members where AutoAttack leaves more images correct than PGD-200
   * on the same images (it should be at most PGD-200's; empty when none).
   */
  aaAbovePgd: OverstatedFlag[];
  /** The failed sanity checks, numbered as their markers; null when the table ran none. */
  sanityFailures: SanityFailure[] | null;
  missing: { method: string; reason: string; train: string }[];
  provenance: {
    /** The AutoAttack column's settings (options of attack 'autoattack') and images; absent without it. */
    autoattack?: { settings: AutoAttackCellSettings; options: Record<string, unknown>; examples: number };
    /** The sanity checks' settings; absent when the table ran none. */
    sanity?: SanitySettings;
    data: { spec: string; source: string; examples: number };
    attack: RobustAttackSettings;
    command: string;
    versions: Record<string, string>;
    seed: { citation: string; examples: number };
    models: {
      method: string;
      card: string;
      cached: boolean;
      fromCard: number[];
      measured: number[];
      unmeasured: number[];
      recorded: boolean;
      measuredAt: string;
      command: string;
      versions: Record<string, string>;
      runs: RobustRun[];
      autoattack?: TableAutoAttack;
      sanity?: TableSanity;
    }[];
  };
}

/** Three decimals, like the paper; '-' for no value. */
export function fmtAcc(v: number | null): string {
  return v === null ? '-' : v.toFixed(3);
}

/**
 * The answer to {@link ORDERING_QUESTION} at `eps` from a lookup of accuracy by method, each measured
 * on `n` images: `yes` only when Int2 and Int2-Adv are both above Adv beyond sampling error (Fisher's
 * exact test, metrics/significance.ts), `no` when either is at or below it, `within sampling error`
 * when both are above it but not both beyond sampling error.
 */
function orderingAt(
  eps: number,
  acc: (method: string) => number | null,
  n: number,
): { answer: OrderingAnswer['numbers']; detail: string } {
  const adv = acc('pgd-linf');
  const others = (['int2', 'int2-adv'] as const).map((m) => ({ m, name: SEED_ROW_OF[m]!, v: acc(m) }));
  const absent = [
    ...(adv === null ? ['Adv (pgd-linf)'] : []),
    ...others.filter((o) => o.v === null).map((o) => o.name),
  ];
  const compared = others
    .filter((o) => o.v !== null && adv !== null)
    .map((o) => {
      const c = compareAccuracy(o.v!, n, adv!, n);
      const text = `${o.name} ${fmtAcc(o.v)} ${c.verdict === 'not above' ? '<=' : '>'} Adv ${fmtAcc(adv)}`;
      return {
        c,
        text:
          c.verdict === 'not above'
            ? text
            : `${text} (${c.verdict === 'within' ? 'within sampling error, ' : ''}${formatP(c.p)})`,
      };
    });
  const texts = compared.map((x) => x.text);
  if (absent.length)
    return {
      answer: 'not measured',
      detail: [`${absent.join(', ')} not measured`, ...texts].join('; '),
    };
  const verdicts = compared.map((x) => x.c.verdict);
  const answer = verdicts.includes('not above')
    ? 'no'
    : verdicts.includes('within')
      ? 'within sampling error'
      : 'yes';
  return {
    answer,
    detail: `${texts.join('; ')}; ${n} images each, one-sided Fisher exact test at ${SIGNIFICANCE_LEVEL}`,
  };
}

/** Assembles the table: one row per zoo model, one per method the paper has but the zoo lacks. */
export function buildZooTable(t: TableInput): ZooTable {
  const rows: ZooTableRow[] = [];
  const failures: SanityFailure[] = [];
  for (const { m, model, head } of methodRows(t.methods, t.models)) {
    rows.push({
      ...numberFailures(failures, m, model?.sanity?.checks ?? [], t.eps),
      ...head,
      cached: model ? model.cached : null,
      ours: t.eps.map((_, j) => model?.values[j] ?? null),
      autoattack: t.autoattack ? t.eps.map((_, j) => model?.autoattack?.values[j] ?? null) : null,
      pgd200SameImages: t.autoattack
        ? t.eps.map((_, j) => model?.autoattack?.pgd200SameImages?.[j] ?? null)
        : null,
      seed: t.eps.map((e) => seedValue(m.method, e)),
    });
  }
  const ours = (e: number) => (method: string) => {
    const j = t.eps.findIndex((x) => sameEps(x, e));
    return j < 0 ? null : (t.models.find((x) => x.method === method)?.values[j] ?? null);
  };
  const ordering = ORDERING_EPS.map((e): OrderingAnswer => {
    const here = orderingAt(e, ours(e), t.data.examples);
    const seed = orderingAt(e, (method) => seedValue(method, e), SEED_TABLE.examples);
    const j = t.eps.findIndex((x) => sameEps(x, e));
    const failed =
      j < 0 ? [] : rows.filter((r) => ORDERING_METHODS.includes(r.method)).flatMap((r) => r.failed[j]);
    return {
      eps: e,
      answer: failed.length && here.answer !== 'not measured' ? 'sanity check failed' : here.answer,
      numbers: here.answer,
      failed: [...new Set(failed)].sort((a, b) => a - b),
      detail: t.eps.some((x) => sameEps(x, e))
        ? here.detail
        : `eps ${fmtEps(e)} not among the budgets measured`,
      seed: seed.answer === 'not measured' ? 'no' : seed.answer,
      seedDetail: seed.detail,
    };
  });
  const aaAt = (e: number) => (method: string) => {
    const j = t.eps.findIndex((x) => sameEps(x, e));
    return j < 0 ? null : (rows.find((r) => r.method === method)?.autoattack?.[j] ?? null);
  };
  const orderingAutoAttack = t.autoattack
    ? ORDERING_EPS.map((e): AutoAttackOrdering => ({
        eps: e,
        ...orderingAt(e, aaAt(e), t.autoattack!.examples),
      }))
    : null;
  // Both checks read PGD-200 on AutoAttack's own images, never the table's PGD-200 on more images.
  const flagged = (bad: (pgd: number, aa: number) => boolean): OverstatedFlag[] =>
    rows.flatMap((r) => {
      if (!r.autoattack || !r.pgd200SameImages) return [];
      const aa = r.autoattack;
      const pgd = r.pgd200SameImages;
      const cells = t.eps.flatMap((e, j) =>
        pgd[j] !== null && aa[j] !== null && bad(pgd[j]!, aa[j]!)
          ? [{ eps: e, pgd200: pgd[j]!, autoattack: aa[j]! }]
          : [],
      );
      return cells.length ? [{ method: r.method, display: r.display, cells }] : [];
    });
  const overstated = flagged((p, a) => overstates(p, a));
  const aaAbovePgd = flagged((p, a) => aboveSameImages(p, a));
  return {
    title: `PGD-200${t.autoattack ? ' and AutoAttack' : ''} accuracy of the advlens MNIST zoo beside Boopathy et al. (ICML 2020), Table 1`,
    eps: t.eps,
    rows,
    question: ORDERING_QUESTION,
    ordering,
    orderingAutoAttack,
    overstated,
    aaAbovePgd,
    sanityFailures: t.sanity ? failures : null,
    missing: t.missing,
    provenance: {
      ...(t.sanity ? { sanity: t.sanity } : {}),
      ...(t.autoattack
        ? {
            autoattack: {
              settings: t.autoattack.settings,
              options: aaAttackOptions(t.autoattack.settings),
              examples: t.autoattack.examples,
            },
          }
        : {}),
      data: t.data,
      attack: t.attack,
      command: t.command,
      versions: t.versions,
      seed: { citation: SEED_TABLE.citation, examples: SEED_TABLE.examples },
      models: t.models.map((m) => ({
        method: m.method,
        card: m.cardPath,
        cached: m.cached,
        fromCard: m.fromCard,
        measured: m.measured,
        unmeasured: m.unmeasured ?? [],
        recorded: m.recorded,
        measuredAt: m.measuredAt,
        command: m.command,
        versions: m.versions,
        runs: m.runs,
        ...(m.autoattack ? { autoattack: m.autoattack } : {}),
        ...(m.sanity ? { sanity: m.sanity } : {}),
      })),
    },
  };
}

/** How the numbers were measured, in one sentence. */
function setupLine(t: ZooTable): string {
  const a = t.provenance.attack;
  const d = t.provenance.data;
  return (
    `Each cell: ours (paper). Ours: L-inf PGD, ${a.steps} steps of ${a.stepSize}, ${a.randomStart ? 'random start' : 'no random start'}, ${a.loss === 'ce' ? 'cross-entropy' : 'CW margin'} loss, ` +
    `on the first ${d.examples} images of ${d.spec} (one image = ${(1 / d.examples).toFixed(3)}); eps 0 is the clean accuracy. ` +
    `Paper: ${t.provenance.seed.citation}, ${t.provenance.seed.examples} test images.`
  );
}

const cellText = (r: ZooTableRow, j: number) =>
  (r.autoattack
    ? `${fmtAcc(r.ours[j])} / ${fmtAcc(r.autoattack[j])} (${fmtAcc(r.seed[j])})`
    : `${fmtAcc(r.ours[j])} (${fmtAcc(r.seed[j])})`) + failMarker(r.failed[j]);

/** The sentence saying what the sanity checks are (empty without them). */
function sanitySetupLine(t: ZooTable): string {
  const s = t.provenance.sanity;
  if (!s) return '';
  const a = t.provenance.attack;
  return (
    ` Sanity checks (Carlini et al. 2019, as advlens eval runs them) per member and eps: PGD-200 at least as strong as FGSM at the same eps and stronger than random L-inf noise of size eps (random signs, seed ${s.seed}), both on the same images, and accuracy not above the previous eps; once per member, PGD with ${a.steps} steps of ${fmtEps(2.5 / Math.max(1, a.steps))} at eps 1 (every image reachable) on the first ${s.unboundedExamples} images must leave <= 1%. ` +
    `A failed check marks its cell (the method, when it concerns the whole row) with ⚠ and the number of its line under the table.`
  );
}

/** One line per failed sanity check: its number, the cell (or row) it concerns, the check and its numbers. */
function sanityLines(t: ZooTable): string[] {
  const f = t.sanityFailures;
  if (!f) return [];
  const models = t.provenance.models;
  const checked = models.filter((m) => m.sanity && m.sanity.checks.length).length;
  // Members whose checks lack numbers (--cached on cards without them): named, so a missing line is not read as a pass.
  const partial = models.filter(
    (m) => m.sanity && (m.sanity.unmeasured.length > 0 || m.sanity.unbounded === 'not measured'),
  );
  const display = (method: string) => t.rows.find((r) => r.method === method)?.display ?? method;
  const missing = partial.length
    ? [
        `Not checked (the card lacks the numbers; measure them with --record, PGD-200 is read from the card): ${partial
          .map((m) =>
            m.sanity!.fromCard.length === 0 && m.sanity!.unbounded === 'not measured'
              ? display(m.method)
              : `${display(m.method)} (${[
                  ...(m.sanity!.unmeasured.length
                    ? [`FGSM and noise at eps ${epsText(m.sanity!.unmeasured)}`]
                    : []),
                  ...(m.sanity!.unbounded === 'not measured' ? ['the unbounded run'] : []),
                ].join(', ')})`,
          )
          .join('; ')}.`,
      ]
    : [];
  if (f.length === 0)
    return [
      checked
        ? `None failed (${models.reduce((n, m) => n + (m.sanity?.checks.length ?? 0), 0)} checks on ${checked} members).`
        : 'Not measured: no member has the numbers the checks need (run without --cached).',
      ...missing,
    ];
  return [
    ...f.map(
      (x) =>
        `⚠${x.n} ${x.display}${x.eps === null ? ' (whole row)' : ` at eps ${fmtEps(x.eps)}`}: ${x.name} failed: ${x.detail}`,
    ),
    ...missing,
  ];
}
const SANITY_TITLE = 'Sanity checks that failed';

/** The AutoAttack column's setup, in one sentence (empty without it). */
function aaSetupLine(t: ZooTable): string {
  const a = t.provenance.autoattack;
  if (!a) return '';
  const s = a.settings;
  const what = s.parts ? `parts ${s.parts.join(', ')}` : `the ${s.aaPreset} preset`;
  return (
    ` With AutoAttack: each cell is PGD-200 / AutoAttack (paper). AutoAttack (Croce and Hein, ICML 2020): L-inf, ${what}, ${s.steps} APGD/FAB iterations, ${s.queries} Square queries, ${s.nTargetClasses} target classes, seed ${s.seed} (batch b: seed + 1000003 b, ${s.batchSize} images per batch), ` +
    `on the first ${a.examples} images (PGD-200 on the first ${t.provenance.data.examples}; the checks below compare AutoAttack with PGD-200 on the same first ${a.examples}); '-' at eps 0.`
  );
}

/** Cells with an AutoAttack number but no PGD-200 number on the same images (cards from before it was kept). */
function notSameImages(t: ZooTable): string[] {
  return t.rows.flatMap((r) => {
    const e = t.eps.filter(
      (_, j) => (r.autoattack?.[j] ?? null) !== null && r.pgd200SameImages?.[j] === null,
    );
    return e.length
      ? [`${r.display}: eps ${e.map(fmtEps).join(', ')} not measured on the same images (?)`]
      : [];
  });
}

/** How many cells have both AutoAttack and PGD-200 on the same images. */
function comparedCells(t: ZooTable): number {
  return t.rows.reduce(
    (n, r) =>
      n +
      t.eps.filter(
        (_, j) => (r.pgd200SameImages?.[j] ?? null) !== null && (r.autoattack?.[j] ?? null) !== null,
      ).length,
    0,
  );
}

const flagText = (f: OverstatedFlag, what: string): string =>
  `${f.display}: ${what} at ${f.cells.map((c) => `eps ${fmtEps(c.eps)} (PGD-200 ${fmtAcc(c.pgd200)}, AutoAttack ${fmtAcc(c.autoattack)})`).join(', ')}`;

/** The lines flagging members where AutoAttack is more than 5 points below PGD-200 on the same images. */
function overstatedLines(t: ZooTable): string[] {
  if (!t.provenance.autoattack) return [];
  const rest = notSameImages(t);
  if (comparedCells(t) === 0)
    return ['Not measured: no cell has both an AutoAttack and a PGD-200 number on the same images.', ...rest];
  if (t.overstated.length === 0)
    return [
      `No member: AutoAttack is within ${OVERSTATE_MARGIN * 100} points of PGD-200 on the same images (or above it) wherever both were measured.`,
      ...rest,
    ];
  return [...t.overstated.map((f) => flagText(f, 'PGD-200 overstates robustness')), ...rest];
}

/** The lines of the check "AutoAttack at most PGD-200 on the same images". */
function atMostLines(t: ZooTable): string[] {
  if (!t.provenance.autoattack) return [];
  const rest = notSameImages(t);
  const n = comparedCells(t);
  if (n === 0)
    return ['Not measured: no cell has both an AutoAttack and a PGD-200 number on the same images.', ...rest];
  if (t.aaAbovePgd.length === 0)
    return [`Holds: AutoAttack is at most PGD-200 in all ${n} cells measured on the same images.`, ...rest];
  return [...t.aaAbovePgd.map((f) => flagText(f, 'fails (AutoAttack above PGD-200)')), ...rest];
}
const AT_MOST_TITLE = 'AutoAttack at most PGD-200 on the same images';
const OVERSTATED_TITLE = `Where AutoAttack is more than ${OVERSTATE_MARGIN * 100} points below PGD-200 (on the same images)`;

/** Per-model provenance lines. */
function modelLines(t: ZooTable): string[] {
  return t.provenance.models.map(
    (m) =>
      `${m.method}: ${m.card}; ${m.autoattack ? `PGD-200: ` : ''}${m.cached ? 'read from the card' : `measured eps ${epsText(m.measured)}${m.fromCard.length ? `, read eps ${epsText(m.fromCard)} from the card` : ''}`}${m.unmeasured.length ? `; not measured (not in the card): eps ${epsText(m.unmeasured)}` : ''}${m.recorded ? ', recorded in the card' : ''}${m.runs.map((r) => `; eps ${epsText(r.eps)} measured at ${r.measuredAt} by \`${r.command}\` (${versionsText(r.versions)})`).join('')}${m.autoattack ? aaModelText(m.autoattack) : ''}${m.sanity ? sanityModelText(m.sanity) : ''}`,
  );
}

/** A member's sanity-check provenance, appended to its line. */
export function sanityModelText(s: TableSanity): string {
  const runs = s.runs.map(
    (r) =>
      `; ${r.eps.length ? `FGSM and noise at eps ${epsText(r.eps)}` : 'unbounded run'} measured at ${r.measuredAt} by \`${r.command}\` (${r.seconds.toFixed(1)} s)`,
  );
  return `. Sanity checks: FGSM and noise measured eps ${epsText(s.measured)}${s.fromCard.length ? `, read eps ${epsText(s.fromCard)} from the card` : ''}${s.unmeasured.length ? `; not measured (not in the card): eps ${epsText(s.unmeasured)}` : ''}; unbounded run ${s.unbounded === 'card' ? 'read from the card' : s.unbounded}${s.recorded ? ', recorded in the card' : ''}${runs.join('')}`;
}

/** A member's AutoAttack provenance, appended to its line. */
function aaModelText(a: TableAutoAttack): string {
  return `. AutoAttack: measured eps ${epsText(a.measured)}${a.fromCard.length ? `, read eps ${epsText(a.fromCard)} from the card` : ''}${a.unmeasured.length ? `; not measured (not in the card): eps ${epsText(a.unmeasured)}` : ''}${a.pgd200Added?.length ? `; PGD-200 on the same images added at eps ${epsText(a.pgd200Added)}` : ''}${a.recorded ? ', recorded in the card' : ''}${a.runs.map((r) => `; eps ${epsText(r.eps)} measured at ${r.measuredAt} by \`${r.command}\` (${r.seconds.toFixed(1)} s)`).join('')}`;
}

/** The ordering lines under AutoAttack (empty without the column). */
function aaOrderingLines(t: ZooTable): string[] {
  return (t.orderingAutoAttack ?? []).map(
    (o) => `Under AutoAttack, eps ${fmtEps(o.eps)}: ${o.answer} (${o.detail}).`,
  );
}

function orderingLine(o: OrderingAnswer): string {
  const answer =
    o.answer === 'sanity check failed'
      ? `${o.numbers} by the numbers, but not established: a cell it rests on failed a sanity check (${o.failed.map((n) => `⚠${n}`).join(', ')})`
      : o.answer;
  return `eps ${fmtEps(o.eps)}: ${answer} (${o.detail}). Paper: ${o.seed} (${o.seedDetail}).`;
}

/** The table as Markdown: the table, the ordering answer, what is missing, provenance. */
export function zooTableMarkdown(t: ZooTable): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `## ${t.title}`,
    '',
    setupLine(t) + aaSetupLine(t) + sanitySetupLine(t),
    '',
    `| method | ${t.eps.map((e, j) => (j === 0 ? `eps ${fmtEps(e)}` : fmtEps(e))).join(' | ')} |`,
    `|---|${t.eps.map(() => '---:').join('|')}|`,
    ...t.rows.map(
      (r) =>
        `| ${esc(rowName(r))}${failMarker(r.rowFailed)} | ${t.eps.map((_, j) => cellText(r, j)).join(' | ')} |`,
    ),
    '',
    ...(t.sanityFailures ? [`**${SANITY_TITLE}**`, '', ...sanityLines(t).map((l) => `- ${l}`), ''] : []),
    `**${t.question}**`,
    '',
    ...t.ordering.map((o) => `- ${orderingLine(o)}`),
    ...aaOrderingLines(t).map((l) => `- ${l}`),
    '',
    ...(t.provenance.autoattack
      ? [
          `**${OVERSTATED_TITLE}**`,
          '',
          ...overstatedLines(t).map((l) => `- ${l}`),
          '',
          `**${AT_MOST_TITLE}**`,
          '',
          ...atMostLines(t).map((l) => `- ${l}`),
          '',
        ]
      : []),
  ];
  if (t.missing.length)
    lines.push(
      `Missing from the zoo: ${t.missing.map((m) => `${m.method} (${m.reason})`).join('; ')}. Train one with the commands \`advlens zoo\` prints.`,
      '',
    );
  const p = t.provenance;
  const attack = [
    `- attack: ${p.attack.name}, ${p.attack.steps} steps of ${p.attack.stepSize}, random start ${p.attack.randomStart}, loss ${p.attack.loss}`,
    ...(p.autoattack
      ? [`- autoattack: ${JSON.stringify(p.autoattack.options)} on the first ${p.autoattack.examples} images`]
      : []),
  ];
  lines.push(...provenanceMd(p, attack, modelLines(t)));
  return lines.join('\n');
}

/** The table as JSON (the {@link ZooTable} object). */
export function zooTableJson(t: ZooTable): string {
  return tableJson(t);
}

/** The method cell of a row with the markers of its row-wide failed checks. */
function methodWithMarker(r: ZooTableRow) {
  const c = methodCellHtml(r);
  const mark = failMarker(r.rowFailed);
  if (!mark) return c;
  return typeof c === 'string' ? c + mark : { html: c.html + escapeHtml(mark) };
}

/** Accuracy against eps, one line per row with values in `values`. */
function accuracyChart(
  t: ZooTable,
  values: (r: ZooTableRow) => (number | null)[] | null,
  yLabel: string,
): string {
  return lineChart(epsSeries(t.rows, t.eps, values), { xLabel: 'eps (L-inf)', yLabel });
}

/** The plots of the table: ours and the paper's accuracy against eps, and AutoAttack's where measured. */
function zooTablePlots(t: ZooTable): { title: string; html: string }[] {
  const has = (f: (r: ZooTableRow) => (number | null)[] | null) =>
    t.rows.some((r) => (f(r) ?? []).some((v) => v !== null));
  const out: { title: string; html: string }[] = [];
  if (has((r) => r.ours))
    out.push({
      title: 'Accuracy against eps: ours (PGD-200)',
      html: accuracyChart(t, (r) => r.ours, 'PGD-200 accuracy'),
    });
  if (has((r) => r.autoattack))
    out.push({
      title: 'Accuracy against eps: ours (AutoAttack)',
      html: accuracyChart(t, (r) => r.autoattack, 'AutoAttack accuracy'),
    });
  if (has((r) => r.seed))
    out.push({
      title: 'Accuracy against eps: the paper (PGD-200)',
      html: accuracyChart(t, (r) => r.seed, 'PGD-200 accuracy'),
    });
  return out;
}

/** The table as a standalone HTML page (report style, provenance block at the end). */
export function zooTableHtml(t: ZooTable): string {
  const table = htmlTable(
    ['method', ...t.eps.map((e, j) => (j === 0 ? `eps ${fmtEps(e)}` : fmtEps(e)))],
    t.rows.map((r) => [methodWithMarker(r), ...t.eps.map((_, j) => cellText(r, j))]),
  );
  return reportPage(
    t.title,
    [
      {
        title: t.provenance.autoattack
          ? 'Accuracy under PGD-200 / AutoAttack, ours (paper)'
          : 'Accuracy under PGD-200, ours (paper)',
        html: `<p>${escapeHtml(setupLine(t) + aaSetupLine(t) + sanitySetupLine(t))}</p>\n${table}`,
      },
      ...zooTablePlots(t),
      ...(t.sanityFailures ? [{ title: SANITY_TITLE, html: htmlList(sanityLines(t)) }] : []),
      { title: t.question, html: htmlList([...t.ordering.map(orderingLine), ...aaOrderingLines(t)]) },
      ...(t.provenance.autoattack
        ? [
            { title: OVERSTATED_TITLE, html: htmlList(overstatedLines(t)) },
            { title: AT_MOST_TITLE, html: htmlList(atMostLines(t)) },
          ]
        : []),
      ...missingSection(t.missing),
      { title: 'Models', html: htmlList(modelLines(t)) },
    ],
    t.provenance as unknown as Record<string, unknown>,
  );
}
