/**
 * The zoo's version of Boopathy et al. (ICML 2020) Table 3: rows = training methods, columns = L-inf
 * budgets, each cell our mean Kendall's tau between the clean and the AAI-attacked true-class CAM
 * beside the paper's (MNIST, Small), the medians and the examples counted, and a computed line per
 * finding of the paper ("Int, Int2 keep a higher tau than Normal and at least as high as Adv/TRADES,
 * most clearly at large eps"): reproduced, not reproduced or not measured, with the numbers. Pure
 * functions: {@link buildZooTable3} assembles, the renderers format Markdown, JSON and HTML.
 *
 *   const t = buildZooTable3({ eps: [0.1, 0.4], methods, models, missing, data, attack, command, versions });
 *   process.stdout.write(zooTable3Markdown(t));
 */
import { escapeHtml, htmlTable, reportPage } from '../report/html.ts';
import { lineChart } from '../report/plot.ts';
import { SEED_ROW_OF } from './seedTable.ts';
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
import { SEED_TABLE3, seedTau } from './seedTable3.ts';
import { sameEps, type RobustRun } from './robustRecord.ts';
import type { AaiCell, AaiSettings } from './aaiRecord.ts';
import type { ZooMethod } from './zoo.ts';

/** Our cells for one zoo model and where they came from. */
export interface Table3Model {
  method: string;
  cardPath: string;
  /** One cell per budget of the table's `eps`; null where neither measured nor in the card. */
  cells: (AaiCell | null)[];
  /** Budgets read from the card, measured by this run, and left out (`--cached`, not in the card). */
  fromCard: number[];
  measured: number[];
  unmeasured: number[];
  /** Whether this run wrote its cells into the card. */
  recorded: boolean;
  /** Which run measured which of the cells shown (oldest first). */
  runs: RobustRun[];
}

/** What Table 3 is built from. */
export interface Table3Input {
  eps: number[];
  /** The methods the table covers, in row order. */
  methods: readonly ZooMethod[];
  models: Table3Model[];
  missing: { method: string; reason: string; train: string }[];
  data: { spec: string; source: string; examples: number };
  attack: AaiSettings;
  command: string;
  versions: Record<string, string>;
}

/** A row: a method, our mean and median tau and counted examples per eps, and the paper's tau. */
export interface Table3Row extends MethodRowHead {
  mean: (number | null)[];
  median: (number | null)[];
  counted: (number | null)[];
  seed: (number | null)[];
}

/** A finding of the paper, answered from our numbers and, as a check of the wording, from the paper's. */
export interface Finding3 {
  claim: string;
  answer: 'reproduced' | 'not reproduced' | 'not measured';
  detail: string;
  /** The same test on the paper's numbers (at all its budgets). */
  seed: 'holds' | 'does not hold';
  seedDetail: string;
}

/** Table 3 beside the seed's, its findings and provenance. */
export interface ZooTable3 {
  title: string;
  /** Which statistic the cells and the findings use: the paper's mean. */
  statistic: 'mean';
  eps: number[];
  rows: Table3Row[];
  findings: Finding3[];
  missing: { method: string; reason: string; train: string }[];
  provenance: {
    data: { spec: string; source: string; examples: number };
    attack: AaiSettings;
    command: string;
    versions: Record<string, string>;
    seed: { citation: string };
    models: Omit<Table3Model, 'cells'>[];
  };
}

/** The budgets the "most clearly at large eps" finding compares: large, and small. */
export const LARGE_EPS = [0.35, 0.4];
export const SMALL_EPS = [0.05, 0.1];

/** Three decimals, like the paper; '-' for no value. */
export const fmtTau = (v: number | null | undefined): string =>
  v === null || v === undefined ? '-' : v.toFixed(3);

type Lookup = (method: string, eps: number) => number | null;
const name = (m: string) => SEED_ROW_OF[m] ?? m;
type Test = { answer: 'yes' | 'no' | 'not measured'; detail: string };

/** `ok(values at e)` at every budget of `eps`; not measured when a value is missing. */
function everyEps(
  eps: number[],
  tau: Lookup,
  methods: string[],
  line: (v: Record<string, number>, e: number) => { ok: boolean; text: string },
): Test {
  const absent: string[] = [];
  const parts: string[] = [];
  let ok = true;
  for (const e of eps) {
    const v: Record<string, number> = {};
    const miss = methods.filter((m) => tau(m, e) === null);
    if (miss.length) {
      absent.push(`${miss.map(name).join(', ')} at eps ${fmtEps(e)}`);
      continue;
    }
    for (const m of methods) v[m] = tau(m, e)!;
    const r = line(v, e);
    ok &&= r.ok;
    parts.push(`eps ${fmtEps(e)}: ${r.text}`);
  }
  if (eps.length === 0) return { answer: 'not measured', detail: 'no budget' };
  if (absent.length)
    return { answer: 'not measured', detail: [`not measured: ${absent.join('; ')}`, ...parts].join('; ') };
  return { answer: ok ? 'yes' : 'no', detail: parts.join('; ') };
}

const INT = ['int', 'int2'];
const BASE = ['pgd-linf', 'trades'];
const minOf = (v: Record<string, number>, ms: string[]) => Math.min(...ms.map((m) => v[m]));
const maxOf = (v: Record<string, number>, ms: string[]) => Math.max(...ms.map((m) => v[m]));
const listOf = (v: Record<string, number>, ms: string[]) =>
  ms.map((m) => `${name(m)} ${fmtTau(v[m])}`).join(', ');

/** The three claims of the finding, tested on `tau` at `eps`. */
function tests(eps: number[], tau: Lookup): { claim: string; t: Test }[] {
  const f1 = everyEps(eps, tau, [...INT, 'normal'], (v) => {
    const ok = minOf(v, INT) > v.normal;
    return { ok, text: `${listOf(v, INT)} ${ok ? '>' : 'not all >'} Normal ${fmtTau(v.normal)}` };
  });
  const f2 = everyEps(eps, tau, [...INT, ...BASE], (v) => {
    const ok = minOf(v, INT) >= maxOf(v, BASE);
    return { ok, text: `${listOf(v, INT)} ${ok ? '>=' : 'not all >='} ${listOf(v, BASE)}` };
  });
  // Margin of the lower of Int/Int2 over the higher of Adv/TRADES, mean over large vs small budgets.
  const margin = (e: number) => {
    const vs = [...INT, ...BASE].map((m) => tau(m, e));
    if (vs.some((x) => x === null)) return null;
    return Math.min(vs[0]!, vs[1]!) - Math.max(vs[2]!, vs[3]!);
  };
  const group = (es: number[]) => {
    const inTable = es.filter((e) => eps.some((x) => sameEps(x, e)));
    const ms = inTable.map(margin);
    return inTable.length < es.length || ms.some((m) => m === null)
      ? null
      : {
          mean: ms.reduce((s: number, m) => s + m!, 0) / ms.length,
          each: inTable.map((e, i) => `${fmtEps(e)}: ${fmtTau(ms[i])}`),
        };
  };
  const large = group(LARGE_EPS);
  const small = group(SMALL_EPS);
  const f3: Test =
    !large || !small
      ? {
          answer: 'not measured',
          detail: `needs Int, Int2, Adv and TRADES at eps ${[...SMALL_EPS, ...LARGE_EPS].map(fmtEps).join(', ')}`,
        }
      : {
          answer: large.mean > small.mean ? 'yes' : 'no',
          detail: `margin min(Int, Int2) - max(Adv, TRADES): large eps mean ${fmtTau(large.mean)} (${large.each.join(', ')}) ${large.mean > small.mean ? '>' : '<='} small eps mean ${fmtTau(small.mean)} (${small.each.join(', ')})`,
        };
  return [
    { claim: 'Int and Int2 keep a higher tau than Normal at every eps', t: f1 },
    { claim: 'Int and Int2 keep a tau at least as high as Adv and TRADES at every eps', t: f2 },
    {
      claim: `the margin of Int/Int2 over Adv/TRADES is widest at large eps (${LARGE_EPS.map(fmtEps).join(', ')} against ${SMALL_EPS.map(fmtEps).join(', ')})`,
      t: f3,
    },
  ];
}

/** The paper's findings answered from `ours` (mean tau by method and eps), each beside the paper's own numbers. */
export function findings3(eps: number[], ours: Lookup): Finding3[] {
  const seed = tests([...SEED_TABLE3.eps], seedTau);
  return tests(eps, ours).map(({ claim, t }, i) => ({
    claim,
    answer: t.answer === 'yes' ? 'reproduced' : t.answer === 'no' ? 'not reproduced' : 'not measured',
    detail: t.detail,
    seed: seed[i].t.answer === 'yes' ? 'holds' : 'does not hold',
    seedDetail: seed[i].t.detail,
  }));
}

/** Assembles Table 3: one row per zoo model, one per method the paper has but the zoo lacks. */
export function buildZooTable3(t: Table3Input): ZooTable3 {
  const rows: Table3Row[] = [];
  for (const { m, model, head } of methodRows(t.methods, t.models)) {
    const cell = (j: number) => model?.cells[j] ?? null;
    rows.push({
      ...head,
      mean: t.eps.map((_, j) => cell(j)?.tauMean ?? null),
      median: t.eps.map((_, j) => cell(j)?.tauMedian ?? null),
      counted: t.eps.map((_, j) => cell(j)?.counted ?? null),
      seed: t.eps.map((e) => seedTau(m.method, e)),
    });
  }
  const ours: Lookup = (method, e) => {
    const j = t.eps.findIndex((x) => sameEps(x, e));
    return j < 0 ? null : (t.models.find((x) => x.method === method)?.cells[j]?.tauMean ?? null);
  };
  return {
    title: "Kendall's tau under AAI of the advlens MNIST zoo beside Boopathy et al. (ICML 2020), Table 3",
    statistic: 'mean',
    eps: t.eps,
    rows,
    findings: findings3(t.eps, ours),
    missing: t.missing,
    provenance: {
      data: t.data,
      attack: t.attack,
      command: t.command,
      versions: t.versions,
      seed: { citation: SEED_TABLE3.citation },
      models: t.models.map(({ cells: _c, ...m }) => m),
    },
  };
}

function setupLine(t: ZooTable3): string {
  const a = t.provenance.attack;
  const d = t.provenance.data;
  return (
    `Each cell: our mean tau (the paper's). Ours: AAI, ${a.steps} sign steps of ${a.stepSize}, ${a.randomStart ? `random start (seed ${a.seed})` : 'no random start'}, ${a.objective === 'topk' ? `top-${a.k} objective` : 'L1 objective'}, lambda ${a.lambda}, ` +
    `on the first ${d.examples} images of ${d.spec}; Kendall's tau-b between the full clean and attacked CAMs of the true class, ` +
    `averaged over the examples whose prediction did not change. Paper: ${t.provenance.seed.citation}.`
  );
}

const epsHead = (t: ZooTable3) => t.eps.map((e, j) => (j === 0 ? `eps ${fmtEps(e)}` : fmtEps(e)));
const meanCell = (r: Table3Row, j: number) => `${fmtTau(r.mean[j])} (${fmtTau(r.seed[j])})`;
const medianCell = (r: Table3Row, j: number) =>
  r.counted[j] === null ? '-' : `${fmtTau(r.median[j])} [${r.counted[j]}]`;

function findingLine(f: Finding3): string {
  return `${f.claim}: **${f.answer}** (${f.detail}). Paper: ${f.seed} (${f.seedDetail}).`;
}

function modelLines(t: ZooTable3): string[] {
  return t.provenance.models.map(
    (m) =>
      `${m.method}: ${m.cardPath}; ${m.measured.length ? `measured eps ${epsText(m.measured)}` : 'nothing measured'}${m.fromCard.length ? `, read eps ${epsText(m.fromCard)} from the card` : ''}${m.unmeasured.length ? `; not measured: eps ${epsText(m.unmeasured)}` : ''}${m.recorded ? ', recorded in the card' : ''}${m.runs.map((r) => `; eps ${epsText(r.eps)} measured at ${r.measuredAt} in ${r.seconds.toFixed(0)} s by \`${r.command}\` (${versionsText(r.versions)})`).join('')}`,
  );
}

/** Table 3 as Markdown: the means beside the paper's, the medians, the findings, provenance. */
export function zooTable3Markdown(t: ZooTable3): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const table = (cell: (r: Table3Row, j: number) => string, rows: Table3Row[]) => [
    `| method | ${epsHead(t).join(' | ')} |`,
    `|---|${t.eps.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${esc(rowName(r))} | ${t.eps.map((_, j) => cell(r, j)).join(' | ')} |`),
  ];
  const lines = [
    `## ${t.title}`,
    '',
    setupLine(t),
    '',
    ...table(meanCell, t.rows),
    '',
    'Median tau [examples counted: prediction unchanged], ours:',
    '',
    ...table(
      medianCell,
      t.rows.filter((r) => r.status === 'zoo'),
    ),
    '',
    '**Findings of the paper, from the mean tau:**',
    '',
    ...t.findings.map((f) => `- ${findingLine(f)}`),
    '',
  ];
  if (t.missing.length)
    lines.push(`Missing from the zoo: ${t.missing.map((m) => `${m.method} (${m.reason})`).join('; ')}.`, '');
  const p = t.provenance;
  const a = p.attack;
  const attack = `- attack: aai, ${a.steps} steps of ${a.stepSize}, random start ${a.randomStart}, seed ${a.seed}, lambda ${a.lambda}, objective ${a.objective}, k ${a.k}, batches of ${a.batchSize}`;
  lines.push(...provenanceMd(p, [attack], modelLines(t)));
  return lines.join('\n');
}

/** Table 3 as JSON (the {@link ZooTable3} object). */
export function zooTable3Json(t: ZooTable3): string {
  return tableJson(t);
}

/** Tau against eps, one line per method with values, from `values` (ours or the paper's). */
function tauChart(t: ZooTable3, values: (r: Table3Row) => (number | null)[]): string {
  // Every row in both charts, so a method has the same colour in ours and the paper's.
  const series = epsSeries(t.rows, t.eps, values);
  const lo = Math.min(0, ...series.flatMap((s) => s.points.map((p) => p[1])));
  return lineChart(series, {
    xLabel: 'eps (L-inf)',
    yLabel: "mean Kendall's tau",
    yRange: [Math.floor(lo * 10) / 10, 1],
    yFormat: (v) => String(Number(v.toFixed(2))),
  });
}

/** Table 3 as a standalone HTML page: the tables, tau against eps (ours and the paper's), findings, provenance. */
export function zooTable3Html(t: ZooTable3): string {
  const cells = (cell: (r: Table3Row, j: number) => string, rows: Table3Row[]) =>
    htmlTable(
      ['method', ...epsHead(t)],
      rows.map((r) => [methodCellHtml(r), ...t.eps.map((_, j) => cell(r, j))]),
    );
  return reportPage(
    t.title,
    [
      {
        title: "Mean Kendall's tau under AAI, ours (paper)",
        html: `<p>${escapeHtml(setupLine(t))}</p>\n${cells(meanCell, t.rows)}`,
      },
      {
        title: 'Tau against eps',
        html: `<p>Ours</p>\n${tauChart(t, (r) => r.mean)}\n<p>The paper</p>\n${tauChart(t, (r) => r.seed)}`,
      },
      {
        title: 'Median tau [examples counted], ours',
        html: cells(
          medianCell,
          t.rows.filter((r) => r.status === 'zoo'),
        ),
      },
      {
        title: 'Findings of the paper, from the mean tau',
        html: htmlList(t.findings.map((f) => findingLine(f).replace(/\*\*/g, ''))),
      },
      ...missingSection(t.missing),
      { title: 'Models', html: htmlList(modelLines(t)) },
    ],
    t.provenance as unknown as Record<string, unknown>,
  );
}
