/**
 * The robustness report (`advlens eval --attack ... --report`, and the demo's robustness section)
 * as files: accuracy-versus-budget charts, the table of every (attack, eps), the sanity checks, and
 * the adversarial examples as a grid (rows = eps, columns = images, the clean image on top, each
 * adversarial image beside its amplified perturbation). The blocks are exported so that a page can
 * put several models side by side ({@link robustnessChart} with several results).
 */
import { attackFacts } from '../attacks/index.ts';
import type { RobustExample, RobustnessResult, RobustRow } from '../metrics/robustness.ts';
import { jsonFile, type ImageEncoder, type ReportFile } from './files.ts';
import { escapeHtml, htmlTable, imageCell, reportPage, type Section } from './html.ts';
import { lineChart } from './plot.ts';

/** A percentage with two decimals ('-' for NaN), as the CLI prints them. */
export function pct(v: number): string {
  return Number.isNaN(v) ? '-' : `${(100 * v).toFixed(2)}%`;
}

/** Short names for the per-attack measurements in tables. */
const METRIC_LABEL: Record<string, string> = {
  kendallTau: 'tau',
  topKOverlap: 'top-8',
  kendallTauIG: 'tau(IG)',
  predictionChanged: 'changed',
  discrepancy: 'D',
  discrepancyBound: 'bound',
  boundHolds: 'bound holds',
};

/** The row's extra measurements as `tau 0.61, top-8 0.50, ...` (empty when none). */
export function metricsText(m: RobustRow['metrics']): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([k, v]) => `${METRIC_LABEL[k] ?? k} ${Number.isNaN(v.mean) ? '-' : v.mean.toFixed(3)}`)
    .join(', ');
}

/** The unit of an attack's budget: `L-inf`, `L2`, or the attack's own (unforeseen attacks). */
function unit(attack: string): string {
  const n = attackFacts(attack).norm;
  return n === 'linf' ? 'L-inf' : n === 'l2' ? 'L2' : attack;
}

/**
 * Accuracy-versus-budget line charts (SVG): one chart per budget unit, one line per attack, and
 * per model when several results are given (`name` labels them).
 */
export function robustnessChart(results: { name?: string; result: RobustnessResult }[]): string {
  const series = results.flatMap(({ name, result }) => {
    const attacks = [...new Set(result.rows.map((x) => x.attack))];
    return attacks.map((a) => ({
      unit: unit(a),
      name: name ? (attacks.length > 1 ? `${name} ${a}` : name) : a,
      points: result.rows.filter((x) => x.attack === a).map((x) => [x.eps, x.accuracy] as [number, number]),
    }));
  });
  return [...new Set(series.map((s) => s.unit))]
    .map((u) =>
      lineChart(
        series.filter((s) => s.unit === u),
        {
          xLabel: `eps (${u === 'L-inf' || u === 'L2' ? u + ' norm' : u + ' budget'}, pixels in [0,1])`,
          yLabel: 'accuracy',
        },
      ),
    )
    .join('\n');
}

/** The sanity checks as a table, with a warning when one failed. */
export function sanityHtml(r: RobustnessResult): string {
  const failed = r.checks.filter((x) => !x.passed);
  return (
    (failed.length
      ? '<p class="wrong">A failed check is a sign of gradient masking or a bug: do not trust the robust accuracy above until it is explained.</p>'
      : '<p>The checks of Carlini et al., "On Evaluating Adversarial Robustness" (2019).</p>') +
    htmlTable(
      ['attack', 'check', 'result', 'detail'],
      r.checks.map((x) => [
        x.attack,
        x.name,
        { html: x.passed ? 'passed' : '<span class="wrong">FAILED</span>' },
        x.detail,
      ]),
    )
  );
}

/** Options of {@link adversarialGrid}. */
export interface AdversarialGridOptions {
  /** Class names, for captions. */
  labels: string[];
  /** Image shape [H, W, C]. */
  shape: readonly [number, number, number];
  /** Folder of the image files inside the report (`examples`). */
  dir: string;
  encoder: ImageEncoder;
}

/**
 * The kept examples of `r` as grids, one per attack: rows = eps (the clean images on top),
 * columns = images; each cell the adversarial image (caption: true label → prediction, red where
 * wrong) beside its perturbation, amplified by one factor per row so the row's largest change fills
 * the grey range (0.5 + k delta). Files: `dir/clean-J.png`, `dir/N.png`, `dir/N-delta.png`.
 */
export async function adversarialGrid(
  r: RobustnessResult,
  o: AdversarialGridOptions,
): Promise<{ html: string; files: ReportFile[] }> {
  const [h, w] = o.shape;
  const size = Math.max(56, Math.min(112, w * 2));
  const name = (k: number) => o.labels[k] ?? String(k);
  const files: ReportFile[] = [];
  const parts: string[] = [];
  const attacks = [...new Set(r.examples.map((e) => e.attack))];
  let n = 0;
  for (const attack of attacks) {
    const ex = r.examples.filter((e) => e.attack === attack);
    const images = [...new Set(ex.map((e) => e.index))].sort((a, b) => a - b);
    const eps = [...new Set(ex.map((e) => e.eps))].sort((a, b) => a - b);
    const at = (e: number, j: number) => ex.find((x) => x.eps === e && x.index === j);
    const clean: (string | { html: string })[] = ['clean'];
    for (const j of images) {
      const e = ex.find((x) => x.index === j)!;
      const src = `${o.dir}/clean-${j}.png`;
      files.push({
        path: src,
        content: await o.encoder.png(
          e.image.map((v, i) => v - e.delta[i]),
          o.shape,
        ),
      });
      clean.push(
        imageCell(src, size, `${name(e.label)} → ${name(e.cleanPrediction)}`, e.cleanPrediction !== e.label),
      );
    }
    const rows: (string | { html: string })[][] = [clean];
    for (const e of eps.filter((x) => x > 0)) {
      const cells = images.map((j) => at(e, j));
      const maxAbs = Math.max(0, ...cells.flatMap((c) => (c ? [maxAbsOf(c)] : [])));
      const amp = maxAbs > 0 ? 0.5 / maxAbs : 1;
      const row: (string | { html: string })[] = [
        { html: `eps ${Number(e.toPrecision(3))}<br><small>perturbation ×${amp.toFixed(1)}</small>` },
      ];
      for (const c of cells) {
        if (!c) {
          row.push('');
          continue;
        }
        const stem = `${o.dir}/${n++}`;
        files.push({ path: `${stem}.png`, content: await o.encoder.png(c.image, o.shape) });
        files.push({
          path: `${stem}-delta.png`,
          content: await o.encoder.png(
            c.delta.map((d) => 0.5 + amp * d),
            o.shape,
          ),
        });
        const caption = `${name(c.label)} → ${name(c.prediction)}`;
        const img = (src: string, alt: string) =>
          `<img class="px" src="${escapeHtml(src)}" width="${size}" height="${Math.round((size * h) / w)}" alt="${escapeHtml(alt)}">`;
        row.push({
          html:
            `<div class="pair">${img(`${stem}.png`, caption)}${img(`${stem}-delta.png`, 'perturbation')}</div>` +
            `<div class="cap${c.prediction !== c.label ? ' wrong' : ''}">${escapeHtml(caption)}</div>`,
        });
      }
      rows.push(row);
    }
    const table = htmlTable(['', ...images.map((j) => `image ${j}`)], rows).replace(
      '<table>',
      '<table class="pics">',
    );
    parts.push(
      (attacks.length > 1 ? `<h3>${escapeHtml(attack)}</h3>` : '') + `<div class="scroll">${table}</div>`,
    );
  }
  return { html: parts.join('\n'), files };
}

function maxAbsOf(e: RobustExample): number {
  let m = 0;
  for (const d of e.delta) m = Math.max(m, Math.abs(d));
  return m;
}

/** Input of {@link robustnessReport}. */
export interface RobustnessReportInput {
  model: { name: string; labels: string[] };
  /** Image shape [H, W, C]. */
  shape: readonly [number, number, number];
  result: RobustnessResult;
  /** What produced the result (report/provenance.ts). */
  provenance: object;
}

/**
 * The robustness report's files: `index.html` (charts, table, sanity checks, examples),
 * `results.json` and the example images under `examples/`.
 */
export async function robustnessReport(
  input: RobustnessReportInput,
  encoder: ImageEncoder,
): Promise<ReportFile[]> {
  const r = input.result;
  const failed = r.checks.filter((x) => !x.passed);
  const sections: Section[] = [
    {
      title: 'Accuracy versus budget',
      html:
        `<p>Clean accuracy ${pct(r.clean.accuracy)} on ${r.clean.examples} images.</p>` +
        robustnessChart([{ result: r }]) +
        htmlTable(
          [
            'attack',
            'eps',
            'accuracy',
            'attack success',
            'mean L-inf',
            'mean L2',
            'mean L1',
            'seconds',
            'measured',
          ],
          r.rows.map((x) => [
            x.attack,
            x.eps,
            pct(x.accuracy),
            Number.isNaN(x.successRate) ? '-' : pct(x.successRate),
            x.meanLinf,
            x.meanL2,
            x.meanL1,
            x.seconds,
            metricsText(x.metrics),
          ]),
        ),
    },
    {
      title: failed.length ? `Sanity checks: ${failed.length} WARNING(S)` : 'Sanity checks: all passed',
      html: sanityHtml(r),
    },
  ];
  const files: ReportFile[] = [];
  if (r.examples.length) {
    const grid = await adversarialGrid(r, {
      labels: input.model.labels,
      shape: input.shape,
      dir: 'examples',
      encoder,
    });
    files.push(...grid.files);
    sections.push({
      title: 'Examples',
      html:
        '<p>The first images of the set under each attack and budget: rows are budgets, columns images. Each adversarial image stands beside its perturbation, amplified by the factor of its row to fill the grey range (grey is no change); captions give the true label → the prediction, red where it is wrong.</p>' +
        grid.html,
    });
  }
  files.push({
    path: 'index.html',
    content: reportPage(`advlens eval: robustness of ${input.model.name}`, sections, input.provenance),
  });
  files.push(
    jsonFile('results.json', {
      clean: { ...r.clean, predictions: undefined },
      rows: r.rows,
      checks: r.checks,
      provenance: input.provenance,
    }),
  );
  return files;
}
