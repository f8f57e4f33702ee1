/**
 * A study table (zoo/study.ts) as Markdown (the README's tables), JSON (the {@link StudyTable}
 * object) or a standalone HTML page with the plots a reader would rather look at than read: Table 1's
 * accuracy against eps per method, AT-CNN's accuracy against saturation level and against shuffle
 * size per method. Table 2's columns are five unrelated attacks, so it has no line plot.
 */
import { escapeHtml, htmlTable, reportPage } from '../report/html.ts';
import { PALETTE, lineChart, type Series } from '../report/plot.ts';
import { unitFormat, type StudyCell, type StudyTable, type StudyTableRow } from './study.ts';
import { failMarker } from './sanityCells.ts';
import { sanityModelText } from './table.ts';
import { htmlList, provenanceMd, tableJson } from './tableRender.ts';

/** A value in the table's unit: three decimals, or percent with two. */
export function fmtValue(t: Pick<StudyTable, 'unit'>, v: number | null): string {
  return unitFormat(t.unit)(v);
}

/** Our cell: its value (and conditional accuracy where the table has it), or why it is empty. */
function oursText(t: StudyTable, c: StudyCell): string {
  if (c.value === null) return c.state === 'not available' ? 'n/a' : '-';
  return t.id === 'atcnn' && c.conditional !== null
    ? `${fmtValue(t, c.value)} / ${fmtValue(t, c.conditional)}`
    : fmtValue(t, c.value);
}

const hasSeed = (t: StudyTable, j: number) => t.rows.some((r) => r.seed.some((s) => s[j] !== null));

/** Cell text: ours, with the seed's value in parentheses where the table's column has one (Tables 1, 2). */
function cellText(t: StudyTable, r: StudyTableRow, j: number): string {
  const ours = oursText(t, r.cells[j]);
  const mark = failMarker(r.failed[j]);
  if (t.id === 'atcnn' || !hasSeed(t, j)) return ours + mark;
  return `${ours} (${fmtValue(t, r.seed[0][j])})${mark}`;
}

/** The header and body of the main table; AT-CNN adds the seed's two datasets as extra columns. */
function tableCells(t: StudyTable): { head: string[]; body: string[][] } {
  const seedCols =
    t.id === 'atcnn'
      ? t.seeds.map((s, i) => ({
          head: `${s.name} clean / stylised (seed)`,
          cell: (r: StudyTableRow) => {
            const v = r.seed[i];
            const c = t.columns.findIndex((x) => x.key === 'clean');
            const s2 = t.columns.findIndex((x) => x.key === 'stylized');
            return v[c] === null ? '-' : `${fmtValue(t, v[c])} / ${fmtValue(t, v[s2])}`;
          },
        }))
      : [];
  return {
    head: ['method', ...t.columns.map((c) => c.label), ...seedCols.map((s) => s.head)],
    body: t.rows.map((r) => [
      (r.status === 'present' ? r.display : `${r.display} (not trained yet)`) + failMarker(r.rowFailed),
      ...t.columns.map((_, j) => cellText(t, r, j)),
      ...seedCols.map((s) => s.cell(r)),
    ]),
  };
}

const SANITY_TITLE = 'Sanity checks that failed';

/** One line per failed sanity check (Table 1): its number, the cell or row, the check and its numbers. */
function sanityLines(t: StudyTable): string[] {
  const f = t.sanityFailures ?? [];
  const checks = t.rows.reduce((n, r) => n + (r.sanity?.checks.length ?? 0), 0);
  if (f.length === 0)
    return [
      checks ? `None failed (${checks} checks).` : 'Not measured: no member has the numbers the checks need.',
    ];
  return f.map(
    (x) =>
      `⚠${x.n} ${x.display}${x.eps === null ? ' (whole row)' : ` at eps ${Number((x.eps * 255).toPrecision(4))}/255`}: ${x.name} failed: ${x.detail}`,
  );
}

/** The sentence saying what the sanity checks are (empty without them). */
function sanitySetup(t: StudyTable): string {
  const s = t.provenance.sanity;
  if (!s) return '';
  return ` Sanity checks (Carlini et al. 2019, as advlens eval runs them) per member and eps: PGD-200 at least as strong as FGSM and stronger than random L-inf noise of size eps (random signs, seed ${s.seed}) on the same images, accuracy not above the previous eps; once per member, the same PGD at eps 1 (step 2.5 / steps) on the first ${s.unboundedExamples} images must leave <= 1%. A failed check marks its cell (the method, for the whole row) with ⚠ and its line's number.`;
}

/** The sentence saying what the AutoAttack columns are (empty without them). */
function aaSetup(t: StudyTable): string {
  const a = t.provenance.autoattack;
  if (!a) return '';
  const s = a.settings;
  return ` AA columns: L-inf AutoAttack (Croce and Hein, ICML 2020; ${s.parts ? `parts ${s.parts.join(', ')}` : `the ${s.aaPreset} preset: APGD-CE, APGD-T, FAB-T, Square`}, ${s.steps} iterations, ${s.queries} Square queries, ${s.nTargetClasses} target classes, seed ${s.seed}, batches of ${s.batchSize}) on the first ${a.examples} images, each cell beside PGD-200 on exactly its images (below).`;
}

const AA_TITLE = 'AutoAttack against PGD-200 on the same images';

/** The AutoAttack check lines: at most PGD-200 everywhere, and where PGD-200 overstates robustness. */
function aaLines(t: StudyTable): string[] {
  const c = t.autoattackCheck;
  if (!c) return [];
  if (c.cells === 0) return ['Not measured: no AutoAttack cell has PGD-200 on its images yet.'];
  const f = (x: { member: string; column: string; autoattack: number; pgd200: number }) =>
    `${x.member} at ${x.column.replace(/^AA /, '')}: AutoAttack ${fmtValue(t, x.autoattack)}, PGD-200 ${fmtValue(t, x.pgd200)}`;
  return [
    c.above.length
      ? `Does not hold: AutoAttack leaves more images correct than PGD-200 on the same images in ${c.above.length} of ${c.cells} cells (${c.above.map(f).join('; ')}).`
      : `Holds: AutoAttack is at most PGD-200 in all ${c.cells} cells measured on the same images.`,
    c.overstated.length
      ? `PGD-200 overstates robustness (AutoAttack more than 5 points below it) in ${c.overstated.length} of ${c.cells} cells: ${c.overstated.map(f).join('; ')}.`
      : 'PGD-200 is within 5 points of AutoAttack in every cell.',
  ];
}

function setupText(t: StudyTable): string {
  const d = t.provenance.data;
  const seeds = [
    ...new Set(t.seeds.map((s) => `${s.citation}${s.examples ? `, ${s.examples} test images` : ''}`)),
  ].join('; ');
  return (
    `${t.id === 'atcnn' ? '' : 'Each cell: ours (paper). '}Ours: ${t.setup} ` +
    (d
      ? `Measured on the first ${d.examples} images of ${d.spec} (one image = ${(100 / d.examples).toFixed(2)}%).`
      : '') +
    (seeds ? ` Seed: ${seeds}.` : '') +
    sanitySetup(t) +
    aaSetup(t)
  ).trim();
}

function findingLines(t: StudyTable): string[] {
  return t.findings.map(
    (f) =>
      `**${f.answer === 'not established' ? `not established (${f.numbers} by the numbers, but a cell it reads failed a sanity check: ${f.failed.map((n) => `⚠${n}`).join(', ')})` : f.answer}**: ${f.statement}${f.reads === 'conditional' ? ' (reads the second accuracy)' : ''}. Ours: ${f.detail}.${f.seed.length ? ` Seed: ${f.seed.map((s) => `${s.set}: ${s.answer}${s.answer === 'no numbers' ? '' : ` (${s.detail})`}`).join('; ')}.` : ''}`,
  );
}

/** Per-member provenance: where each value came from. */
function modelLines(t: StudyTable): string[] {
  return t.rows.map((r) => {
    if (r.status !== 'present')
      return `${r.member}: not trained yet (${r.reason ?? ''})${r.train ? `; train with \`${r.train}\`` : ''}`;
    // Cells from one run (same state, command and data) share a line, with the span of their times.
    const groups = new Map<string, { state: string; rest: string; cols: string[]; times: string[] }>();
    r.cells.forEach((c, j) => {
      const timed = c.state === 'measured' || c.state === 'card';
      const state = timed ? (c.state === 'card' ? 'read from the card' : 'measured') : c.state;
      const rest = timed
        ? ` by \`${c.command}\` on ${c.examples} images of ${c.data}`
        : c.note
          ? ` (${c.note})`
          : '';
      const g = groups.get(state + rest) ?? { state, rest, cols: [], times: [] };
      g.cols.push(t.columns[j].label);
      if (timed && c.measuredAt) g.times.push(c.measuredAt);
      groups.set(state + rest, g);
    });
    const span = (times: string[]) => {
      if (!times.length) return '';
      const sorted = [...times].sort();
      return sorted[0] === sorted.at(-1) ? ` at ${sorted[0]}` : ` from ${sorted[0]} to ${sorted.at(-1)}`;
    };
    return `${r.member} (${r.card}): ${[...groups.values()].map((g) => `${g.cols.join(', ')}: ${g.state}${span(g.times)}${g.rest}`).join('; ')}${r.sanity ? sanityModelText(r.sanity) : ''}`;
  });
}

/** The table as Markdown. */
export function studyMarkdown(t: StudyTable): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const { head, body } = tableCells(t);
  const p = t.provenance;
  return [
    `## ${t.title}`,
    '',
    setupText(t),
    '',
    `| ${head.map(esc).join(' | ')} |`,
    `|---|${head
      .slice(1)
      .map(() => '---:')
      .join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
    ...(t.sanityFailures ? [`**${SANITY_TITLE}**`, '', ...sanityLines(t).map((l) => `- ${l}`), ''] : []),
    ...(t.autoattackCheck ? [`**${AA_TITLE}**`, '', ...aaLines(t).map((l) => `- ${l}`), ''] : []),
    '**Findings**',
    '',
    ...findingLines(t).map((l) => `- ${l}`),
    '',
    ...provenanceMd(
      p,
      t.columns.some((c) => c.kind === 'stylized')
        ? [`- stylised data: ${p.stylizedData ?? 'not given (--stylized-data)'}`]
        : [],
      modelLines(t),
    ),
  ].join('\n');
}

/** The table as JSON. */
export const studyJson = (t: StudyTable): string => tableJson(t);

/** Line series of the present members over the columns `cols` (x from `xOf`), reading `which`. */
function seriesOf(
  t: StudyTable,
  cols: { key: string; x: number }[],
  which: 'value' | 'conditional',
): Series[] {
  return t.rows
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.status === 'present')
    .map(({ r, i }) => ({
      name: r.display,
      colorIndex: i,
      points: cols
        .map(({ key, x }): [number, number | null] => {
          const j = t.columns.findIndex((c) => c.key === key);
          const c = r.cells[j];
          return [x, c ? (which === 'value' ? c.value : c.conditional) : null];
        })
        .filter((p): p is [number, number] => p[1] !== null),
    }))
    .filter((s) => s.points.length > 0);
}

/** The plots of the table (none for Table 2), as HTML sections. */
function plots(t: StudyTable): { title: string; html: string }[] {
  if (t.id === '1') {
    const byKind = (kind: 'pgd200' | 'autoattack') =>
      t.columns.filter((c) => c.kind === kind).map((c) => ({ key: c.key, x: (c.eps ?? 0) * 255 }));
    // PGD-200 per member, and AutoAttack (its own columns, on its own images) as separate lines.
    const s = [
      ...seriesOf(t, byKind('pgd200'), 'value'),
      // AutoAttack in its row's colour, dashed (the legend names it).
      ...seriesOf(t, byKind('autoattack'), 'value').map((x) => ({
        ...x,
        name: `${x.name}, AutoAttack`,
        colorIndex: ((x.colorIndex ?? 0) % PALETTE.length) + PALETTE.length,
      })),
    ];
    const out = s.length
      ? [
          {
            title: 'Accuracy against eps: ours',
            html: lineChart(s, {
              xLabel: 'eps (/255)',
              yLabel: t.autoattackCheck ? 'accuracy (PGD-200; AutoAttack)' : 'PGD-200 accuracy',
            }),
          },
        ]
      : [];
    // The seed's numbers for the same rows, each in its row's colour in both charts, beside ours.
    const cols = byKind('pgd200');
    const seed = t.rows
      .map((r, i) => ({
        name: r.display,
        colorIndex: i,
        points: cols
          .map(({ key, x }): [number, number | null] => [
            x,
            r.seed[0]?.[t.columns.findIndex((c) => c.key === key)] ?? null,
          ])
          .filter((p): p is [number, number] => p[1] !== null),
      }))
      .filter((x) => x.points.length > 0);
    if (seed.length)
      out.push({
        title: `Accuracy against eps: the paper (${t.seeds[0].name})`,
        html: lineChart(seed, { xLabel: 'eps (/255)', yLabel: 'PGD-200 accuracy' }),
      });
    return out;
  }
  if (t.id === 'atcnn') {
    // p = 2 is the identity; k = 1 (one patch) is the clean image, where the share of the
    // clean-correct images still right is 1 (the clean column's second accuracy).
    const sat = t.columns
      .filter((c) => c.transform === 'saturate')
      .map((c) => ({ key: c.key, x: Math.log2(c.param!) }));
    const shuf = [
      { key: 'clean', x: 1 },
      ...t.columns.filter((c) => c.transform === 'shuffle').map((c) => ({ key: c.key, x: c.param! })),
    ];
    const out: { title: string; html: string }[] = [];
    const a = seriesOf(t, sat, 'conditional');
    if (a.length)
      out.push({
        title: 'Accuracy against saturation level',
        html: lineChart(a, {
          xLabel: 'log2 of the saturation level p (1: p = 2, the identity)',
          yLabel: 'share of clean-correct still right',
        }),
      });
    const b = seriesOf(t, shuf, 'conditional');
    if (b.some((s) => s.points.length > 1))
      out.push({
        title: 'Accuracy against shuffle size',
        html: lineChart(b, {
          xLabel: 'patches per side k (1 = the clean image)',
          yLabel: 'share of clean-correct still right',
        }),
      });
    return out;
  }
  return [];
}

/** The table as a standalone HTML page. */
export function studyHtml(t: StudyTable): string {
  const { head, body } = tableCells(t);
  return reportPage(
    t.title,
    [
      { title: 'Table', html: `<p>${escapeHtml(setupText(t))}</p>\n${htmlTable(head, body)}` },
      ...(t.sanityFailures ? [{ title: SANITY_TITLE, html: htmlList(sanityLines(t)) }] : []),
      ...(t.autoattackCheck ? [{ title: AA_TITLE, html: htmlList(aaLines(t)) }] : []),
      { title: 'Findings', html: htmlList(findingLines(t).map((l) => l.replace(/\*\*/g, ''))) },
      ...plots(t),
      { title: 'Models', html: htmlList(modelLines(t)) },
    ],
    t.provenance as unknown as Record<string, unknown>,
  );
}
