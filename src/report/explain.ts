/**
 * The report of `advlens explain` as files: per image its input PNG and a PNG per map (and
 * overlay), the labelled `grid.png` (rows = images, columns = input then models x methods),
 * `index.html` and `explain.json`, from an {@link explainSet} result.
 */
import { colorize, overlay, type Rgb } from '../explain/display.ts';
import type { ExplainMap, ExplainRow, ExplainSetResult } from '../explain/explainSet.ts';
import { DISPLAY_PERCENTILE } from '../explain/explainSet.ts';
import { jsonFile, type ImageEncoder, type ReportFile } from './files.ts';
import { gridLabelsSvg, gridLayout, gridPixels, type GridLayout, type GridPicture } from './grid.ts';
import { escapeHtml, reportPage } from './html.ts';
import { colorLegend } from './plot.ts';

/** A map with the files it was drawn in. */
export type ExplainMapEntry = ExplainMap & { files: { map: string; overlay?: string } };

/** A row of `explain.json`: an {@link ExplainRow} with its files. */
export interface ExplainReportRow extends Omit<ExplainRow, 'models'> {
  files: { input: string };
  models: (Omit<ExplainRow['models'][number], 'methods'> & { methods: Record<string, ExplainMapEntry> })[];
}

/** `grid.png`'s description in `explain.json`. */
export type ExplainGridInfo = { file: string } & GridLayout & { columns: string[]; content: string };

/** Options of {@link explainReport}. */
export interface ExplainReportOptions {
  /** Also draw each map blended over its image (and use the overlays in the grid). */
  overlay?: boolean;
  /** What produced the maps (see report/provenance.ts); written into the page and the JSON. */
  provenance: object;
  encoder: ImageEncoder;
}

/** `007`: an image's index in the selection, three digits. */
const stem = (i: number) => String(i).padStart(3, '0');

/**
 * The files of an explain report (see the file's comment) and the rows and grid description that
 * `explain.json` holds.
 */
export async function explainReport(
  set: ExplainSetResult,
  o: ExplainReportOptions,
): Promise<{ files: ReportFile[]; results: ExplainReportRow[]; grid: ExplainGridInfo }> {
  const { names, methods } = set;
  const [h, w] = set.shape;
  const files: ReportFile[] = [];
  const results: ExplainReportRow[] = [];
  const cells: GridPicture[][] = [];
  for (const [r, row] of set.rows.entries()) {
    const pic = set.pictures[r];
    const input = `${stem(row.index)}-input.png`;
    files.push({ path: input, content: await o.encoder.png(pic.image.data, pic.image.shape) });
    const gridRow: GridPicture[] = [pic.image];
    const models: ExplainReportRow['models'] = row.models.map((m) => ({ ...m, methods: {} }));
    for (const [k, m] of row.models.entries()) {
      for (const [j, method] of methods.entries()) {
        const v = pic.values[k][j];
        const heat: Rgb = { data: colorize(v, set.display.colormap), shape: [h, w, 3] };
        const map = `${stem(row.index)}-${names[k]}-${method}.png`;
        files.push({ path: map, content: await o.encoder.png(heat.data, heat.shape) });
        const entry: ExplainMapEntry = { ...m.methods[method], files: { map } };
        let shown: Rgb = heat;
        if (o.overlay) {
          entry.files.overlay = map.replace(/\.png$/, '-overlay.png');
          shown = overlay(pic.image, heat, 0.5, v);
          files.push({ path: entry.files.overlay, content: await o.encoder.png(shown.data, shown.shape) });
        }
        models[k].methods[method] = entry;
        gridRow.push(shown);
      }
    }
    cells.push(gridRow);
    results.push({ index: row.index, input: row.input, label: row.label, files: { input }, models });
  }
  const columns = ['input', ...names.flatMap((n) => methods.map((m) => `${n} ${m}`))];
  const labels = {
    rows: set.rows.map((r) => [r.input, ...(r.label ? [`label ${r.label.name}`] : [])]),
    cols: columns,
  };
  const layout = gridLayout(results.length, columns.length, h, w, labels);
  const grid: ExplainGridInfo = {
    file: 'grid.png',
    ...layout,
    columns,
    content: o.overlay ? 'overlays' : 'maps',
  };
  files.push({
    path: 'grid.png',
    content: await o.encoder.pngWithSvg(
      gridPixels(cells, layout),
      [layout.height, layout.width, 3],
      gridLabelsSvg(layout, labels),
    ),
  });
  files.push(jsonFile('explain.json', { results, grid, provenance: o.provenance }));
  files.push({ path: 'index.html', content: explainPage(set, results, o) });
  return { files, results, grid };
}

/** index.html: rows = images; per model its target (with probability) and a column per method. */
function explainPage(set: ExplainSetResult, results: ExplainReportRow[], o: ExplainReportOptions): string {
  const { names, methods } = set;
  // 28 px digits at 3x, photos at their size up to 224 px, so that a row of maps fits the page.
  const size = Math.min(224, Math.max(84, set.shape[1]));
  const img = (src: string) =>
    `<img class="px" src="${escapeHtml(src)}" width="${size}" height="${Math.round((size * set.shape[0]) / set.shape[1])}">`;
  const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
  const head =
    `<thead><tr><th rowspan="2">input</th><th rowspan="2"></th>` +
    names.map((n) => `<th class="group" colspan="${methods.length + 1}">${escapeHtml(n)}</th>`).join('') +
    `</tr><tr>` +
    names
      .map(
        () =>
          `<th class="group">target</th>` +
          methods.map((m) => `<th>${escapeHtml(m).replace(/-/g, '-<wbr>')}</th>`).join(''),
      )
      .join('') +
    `</tr></thead>`;
  const body = results
    .map((r) => {
      const cells = r.models.flatMap((m) => {
        const t = m.methods[methods[0]].target;
        const target =
          `${escapeHtml(t.label)}<br><small>${pct(t.probability)}</small>` +
          (t.label !== m.predicted.label
            ? `<br><small>predicted ${escapeHtml(m.predicted.label)} ${pct(m.predicted.probability)}</small>`
            : '');
        return [
          `<td class="group">${target}</td>`,
          ...methods.map((k) => {
            const e = m.methods[k];
            return `<td>${img(e.files.map)}${o.overlay && e.files.overlay ? img(e.files.overlay) : ''}</td>`;
          }),
        ];
      });
      const label = r.label ? `<br><small>label ${escapeHtml(r.label.name)}</small>` : '';
      return `<tr><td>${escapeHtml(r.input)}${label}</td><td>${img(r.files.input)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  const table = `<table class="maps">${head}<tbody>${body}</tbody></table>`;
  const note =
    `<p>Maps of the same method on the same image share one display scale across the models (the ${DISPLAY_PERCENTILE}th percentile of |map| over all of them), so brighter means larger attribution in the same units and the models can be compared. CAM and Grad-CAM maps are upsampled to the input size for display. The whole figure: <a href="grid.png">grid.png</a>.</p>` +
    `<div class="legend">${colorLegend(set.display.colormap, set.display.sign, { scaleLabel: 'shared scale' })}<br>Colour scale of the maps: ${
      set.display.sign === 'signed'
        ? 'blue opposes the target class, red supports it, white is no attribution'
        : 'dark is no attribution, bright yellow is the shared scale or more'
    }.</div>`;
  return reportPage(
    `advlens explain: ${methods.join(', ')} on ${names.join(' vs ')}`,
    [{ title: 'Maps', html: note + `<div class="scroll">${table}</div>` }],
    o.provenance,
  );
}
