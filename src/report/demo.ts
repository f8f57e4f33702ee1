/**
 * The report of `advlens demo` as files: accuracy of the shipped models on held-out digits, per
 * class, the first digits with their predictions, the robustness of a standard and an
 * adversarially trained model to PGD side by side (with the adversarial digits as grids), and
 * saliency maps with their colour scales; a table of contents on top, the provenance folded away.
 */
import { floatPixels, type Dataset } from '../data/dataset.ts';
import type { ExplainSetResult } from '../explain/explainSet.ts';
import { colorize } from '../explain/display.ts';
import type { Evaluation } from '../metrics/accuracy.ts';
import type { RobustnessResult } from '../metrics/robustness.ts';
import { jsonFile, type ImageEncoder, type ReportFile } from './files.ts';
import { escapeHtml, htmlTable, imageCell, imageGrid, reportPage, type Section } from './html.ts';
import { colorLegend } from './plot.ts';
import { adversarialGrid, pct, robustnessChart } from './robustness.ts';

/** A model of the demo and its accuracy on the demo's digits. */
export interface DemoModel {
  name: string;
  architecture: string;
  evaluation: Evaluation;
  /** Accuracy on the official MNIST test set, from the model's card (null when not measured). */
  officialTestAccuracy: number | null;
}

/** Input of {@link demoReport}. */
export interface DemoReportInput {
  data: Dataset;
  models: DemoModel[];
  /** One attack on several models (the first the standard one), on the first `examples` digits. */
  robustness: {
    attack: string;
    /** One sentence on the attack and its settings. */
    description: string;
    examples: number;
    models: { name: string; note: string; result: RobustnessResult }[];
  } | null;
  /** Saliency maps of one model: sets of methods that share a display (abs, signed). */
  saliency: { model: string; description: string; sets: ExplainSetResult[] };
  /** `summary.json`'s summary. */
  summary: unknown;
  provenance: object;
}

/** How many digits the "first digits" section shows. */
const SHOWN = 48;

/** The demo's files: `index.html`, `summary.json`, `digits/`, `adversarial/`, `saliency/`. */
export async function demoReport(input: DemoReportInput, encoder: ImageEncoder): Promise<ReportFile[]> {
  const { data, models } = input;
  const files: ReportFile[] = [];
  const [h, w, c] = data.shape;
  const per = h * w * c;
  const show = Math.min(data.size, SHOWN);
  const pixels = floatPixels(
    data,
    Array.from({ length: show }, (_, i) => i),
  );
  const figs = [];
  for (let i = 0; i < show; i++) {
    files.push({
      path: `digits/${i}.png`,
      content: await encoder.png(pixels.subarray(i * per, (i + 1) * per), [h, w, c]),
    });
    const preds = models.map((m) => m.evaluation.predictions[i]);
    figs.push({
      src: `digits/${i}.png`,
      caption: `${data.labels[i]} → ${preds.join('/')}`,
      wrong: preds.some((p) => p !== data.labels[i]),
    });
  }
  const sections: Section[] = [
    {
      title: 'Accuracy',
      html:
        `<p>${data.size} handwritten digits from <code>${escapeHtml(data.source)}</code> that the shipped models never saw in training.</p>` +
        htmlTable(
          ['model', 'architecture', 'accuracy here', 'accuracy on the official MNIST test set (card)'],
          models.map((m) => [
            m.name,
            m.architecture,
            pct(m.evaluation.accuracy),
            m.officialTestAccuracy === null ? 'not measured' : pct(m.officialTestAccuracy),
          ]),
        ),
    },
    {
      title: 'Per-class accuracy',
      html: htmlTable(
        ['class', 'examples', ...models.map((m) => m.name)],
        data.classNames.map((name, k) => [
          name,
          models[0].evaluation.perClass[k].examples,
          ...models.map((m) => pct(m.evaluation.perClass[k].accuracy)),
        ]),
      ),
    },
    {
      title: `The first ${show} digits`,
      html:
        `<p>Caption: true label → prediction of ${models.map((m) => m.name).join(' / ')}; red where a model is wrong.</p>` +
        imageGrid(figs, 56),
    },
  ];
  if (input.robustness) {
    const r = await robustnessSection(input.robustness, data, encoder);
    files.push(...r.files);
    sections.push(r.section);
  }
  const s = await saliencySection(input.saliency, data, encoder);
  files.push(...s.files);
  sections.push(s.section);
  files.push({
    path: 'index.html',
    content: reportPage('advlens demo: shipped MNIST models', sections, input.provenance, { toc: true }),
  });
  files.push(jsonFile('summary.json', { summary: input.summary, provenance: input.provenance }));
  return files;
}

async function robustnessSection(
  rob: NonNullable<DemoReportInput['robustness']>,
  data: Dataset,
  encoder: ImageEncoder,
): Promise<{ section: Section; files: ReportFile[] }> {
  const [first] = rob.models;
  const files: ReportFile[] = [];
  const eps = first.result.rows.map((x) => x.eps);
  const table = htmlTable(
    [
      'eps',
      ...rob.models.map((m) => `accuracy of ${m.name}`),
      ...rob.models.map((m) => `mean L-inf (${m.name})`),
    ],
    eps.map((e, i) => [
      String(e),
      ...rob.models.map((m) => pct(m.result.rows[i].accuracy)),
      ...rob.models.map((m) => m.result.rows[i].meanLinf),
    ]),
  );
  const checks = rob.models
    .filter((m) => m.result.checks.length > 0)
    .map((m) => {
      const failed = m.result.checks.filter((c) => !c.passed);
      return failed.length
        ? `<li>${escapeHtml(m.name)}: <span class="wrong">${failed.length} sanity check(s) failed:</span> ${escapeHtml(failed.map((c) => c.detail).join('; '))}</li>`
        : `<li>${escapeHtml(m.name)}: all ${m.result.checks.length} sanity checks (Carlini et al.) passed.</li>`;
    })
    .join('');
  const grids: string[] = [];
  for (const [k, m] of rob.models.entries()) {
    const g = await adversarialGrid(m.result, {
      labels: data.classNames,
      shape: data.shape,
      dir: k === 0 ? 'adversarial' : `adversarial-${m.name}`,
      encoder,
    });
    files.push(...g.files);
    grids.push(`<h3>Adversarial digits: ${escapeHtml(m.name)}</h3>` + g.html);
  }
  return {
    files,
    section: {
      title: `Robustness: PGD L-inf on ${first.name} and ${rob.models
        .slice(1)
        .map((m) => m.name)
        .join(', ')}`,
      html:
        `<p>Accuracy on the first digits under ${escapeHtml(rob.description)} ${rob.models.map((m) => `<strong>${escapeHtml(m.name)}</strong> ${escapeHtml(m.note)}`).join('; ')}.</p>` +
        robustnessChart(rob.models.map((m) => ({ name: m.name, result: m.result }))) +
        table +
        `<ul>${checks}</ul>` +
        "<p>Rows are budgets, columns digits: the clean digit on top, then each adversarial digit beside its perturbation (amplified by the row's factor; grey is no change). Captions: true label → prediction, red where the attack succeeded.</p>" +
        grids.join('\n'),
    },
  };
}

async function saliencySection(
  sal: DemoReportInput['saliency'],
  data: Dataset,
  encoder: ImageEncoder,
): Promise<{ section: Section; files: ReportFile[] }> {
  const files: ReportFile[] = [];
  const [first] = sal.sets;
  const [h, w] = first.shape;
  const size = 84;
  const methods = sal.sets.flatMap((s) => s.methods);
  const rows: (string | { html: string })[][] = [];
  for (const [i, row] of first.rows.entries()) {
    const src = `saliency/${row.index}-input.png`;
    const img = first.pictures[i].image;
    files.push({ path: src, content: await encoder.png(img.data, img.shape) });
    const cells: (string | { html: string })[] = [
      `digit ${data.classNames[data.labels[row.index]]}`,
      imageCell(src, size),
    ];
    for (const set of sal.sets) {
      for (const [m, method] of set.methods.entries()) {
        const v = set.pictures[i].values[0][m];
        const file = `saliency/${row.index}-${method}.png`;
        files.push({ path: file, content: await encoder.png(colorize(v, set.display.colormap), [h, w, 3]) });
        cells.push(imageCell(file, size));
      }
    }
    rows.push(cells);
  }
  const legends = sal.sets
    .map(
      (s) =>
        `<div class="legend">${colorLegend(s.display.colormap, s.display.sign, { scaleLabel: '99th percentile' })}<br>${escapeHtml(s.methods.join(', '))}: ${
          s.display.sign === 'signed'
            ? 'red supports the class, blue opposes it, white is none; scaled per map by its 99th percentile of |value|'
            : 'attribution magnitude, dark is none; scaled per map by its 99th percentile'
        }</div>`,
    )
    .join('');
  const table = htmlTable(['digit', 'input', ...methods.map((m) => m.replace(/-/g, ' '))], rows).replace(
    '<table>',
    '<table class="pics">',
  );
  return {
    files,
    section: {
      title: `Saliency: what ${sal.model} looks at`,
      html: `<p>${escapeHtml(sal.description)} <code>advlens explain</code> draws these for any model and image.</p><div class="scroll">${table}</div>${legends}`,
    },
  };
}
