/**
 * The pathways report: the files `advlens pathways` writes (and the server would stream), as
 * `{ path, content }`. JSON artefacts, each with its `format`:
 * - `pathways.json` (`advlens-pathways/2`; src/pathways/format.ts reads /1 too): provenance (the shared
 *   one of provenance.ts, with `measuredAt`), classes, attack, success counts per strength, layers,
 *   groups per layer, vulnerability per neuron, timings;
 * - `neurons.json` (`advlens-pathways-neurons/1`): per layer, per image set (original, target, attacked
 *   at each strength), every neuron's median activation and within-layer percentile (null: no image);
 * - `edges.json` (`advlens-pathways-edges/1`): per connection, the edges between the groups' neurons as
 *   [from channel, to channel] pairs with their median influence per image set;
 * and `index.html` with the layered graph (SVG, also as `graph-<strength>.svg`) at the weakest strength
 * with images and the strongest side by side, both in one graph with Bluff's four-state comparison
 * encoding (`compare-<weaker>-<stronger>.svg`), the success counts and the groups.
 */
import type { PathwaysResult } from '../pathways/pathways.ts';
import { highlightView } from '../pathways/view.ts';
import { HIGHLIGHT_DEFAULTS, type HighlightMeasure } from '../pathways/highlight.ts';
import { escapeHtml, htmlTable, reportPage } from './html.ts';
import { lineChart } from './plot.ts';
import { pathwaysCompareSvg, pathwaysGraphSvg } from './pathwaysGraph.ts';

/** A file of the pathways report: its path in the output folder and its content. */
export interface PathwaysReportFile {
  path: string;
  content: string;
}

/** Options of the pathways report: provenance, measure, fractions of neurons and edges, strengths drawn, neuron details. */
export interface PathwaysReportOptions {
  /** What produced the result (src/report/provenance.ts: command, model, data, versions, measuredAt). */
  provenance: object;
  /** Lines shown under "What was run" (for example why an atlas was not used). */
  notes?: string[];
  measure?: HighlightMeasure;
  /** Fraction of neurons and of edges highlighted (Bluff: 0.2 and 0.3). */
  neurons?: number;
  edges?: number;
  /** Strength indices drawn (default the weakest with kept images and the strongest). */
  draw?: number[];
  /** Strength indices compared in one graph [weaker, stronger] (default the first with kept images and the strongest; false: none). */
  compare?: [number, number] | false;
  /** Image files (paths relative to the report) per neuron `layer:channel`: feature visualisation, patches, and where they come from. */
  details?: Record<
    string,
    {
      featureVis?: string;
      patches: string[];
      source?: { patches: 'atlas' | 'run'; featureVis: 'atlas' | 'run' };
    }
  >;
}

/** Median activation against strength: attacked (red), benign original (green) and target (blue) levels. */
export function strengthSparkline(
  attacked: (number | null)[],
  original: number | null,
  target: number | null,
): string {
  const W = 130;
  const H = 40;
  const vals = [...attacked, original, target].filter((v): v is number => v !== null);
  if (vals.length === 0) return '';
  const lo = Math.min(0, ...vals);
  const hi = Math.max(lo + 1e-9, ...vals);
  const y = (v: number) => (H - 3 - ((v - lo) / (hi - lo)) * (H - 6)).toFixed(1);
  const x = (i: number) => (3 + (i * (W - 6)) / Math.max(1, attacked.length - 1)).toFixed(1);
  const level = (v: number | null, c: string) =>
    v === null
      ? ''
      : `<line x1="0" x2="${W}" y1="${y(v)}" y2="${y(v)}" stroke="${c}" stroke-dasharray="3 2"/>`;
  const pts = attacked.flatMap((v, i) => (v === null ? [] : [`${x(i)},${y(v)}`])).join(' ');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${level(original, '#33a02c')}${level(target, '#1f78b4')}<polyline points="${pts}" fill="none" stroke="#e31a1c" stroke-width="1.5"/></svg>`;
}

const round = (v: number | null) => (v === null ? null : Number(v.toPrecision(6)));

/** The report's files for a pathways result. */
export function pathwaysReport(r: PathwaysResult, o: PathwaysReportOptions): PathwaysReportFile[] {
  const measure = o.measure ?? HIGHLIGHT_DEFAULTS.measure;
  const S = r.attack.strengths.length;
  const firstKept = r.success.findIndex((s) => s.kept > 0);
  const draw = o.draw ?? [...new Set([firstKept < 0 ? 0 : firstKept, S - 1])];
  const files: PathwaysReportFile[] = [];
  const { neurons, edges, ...summary } = r;
  files.push({
    path: 'pathways.json',
    content: JSON.stringify({ ...summary, provenance: o.provenance }, null, 1),
  });
  const roundSet = (s: { median: (number | null)[]; percentile: (number | null)[] }) => ({
    median: s.median.map(round),
    percentile: s.percentile.map(round),
  });
  files.push({
    path: 'neurons.json',
    content: JSON.stringify({
      format: 'advlens-pathways-neurons/1',
      sets: ['original', 'target', ...r.attack.strengths.map((s) => `attacked@${s}`)],
      neurons: Object.fromEntries(
        Object.entries(neurons).map(([k, v]) => [
          k,
          { original: roundSet(v.original), target: roundSet(v.target), attacked: v.attacked.map(roundSet) },
        ]),
      ),
    }),
  });
  files.push({
    path: 'edges.json',
    content: JSON.stringify({
      format: 'advlens-pathways-edges/1',
      edges: edges.map((e) => ({
        ...e,
        original: e.original.map(round),
        target: e.target.map(round),
        attacked: e.attacked.map((a) => a.map(round)),
      })),
    }),
  });

  const targetNote =
    r.target.source === 'images'
      ? `${r.target.images} benign images of class ${r.target.label}`
      : r.target.source === 'none'
        ? 'nothing: no target images were given and no attacked image reached the target, so the target group is empty'
        : `the attacked images that reached ${r.target.label} at strength ${r.target.source.attackedAt} (no target images were given)`;
  const graphs = draw.map((s) => {
    const view = highlightView(r, { strength: s, measure, neurons: o.neurons, edges: o.edges });
    const strength = s >= 0 ? r.attack.strengths[s] : 0;
    const svg = pathwaysGraphSvg(r, view, {
      title: `strength ${strength}: ${plural(r.success[s]?.kept ?? r.original.images, 'image')}; most ${measure} ${Math.round(100 * (o.neurons ?? HIGHLIGHT_DEFAULTS.neurons))}% neurons, ${Math.round(100 * (o.edges ?? HIGHLIGHT_DEFAULTS.edges))}% edges`,
      strength: s,
      measure,
    });
    files.push({ path: `graph-${strength}.svg`, content: svg });
    return svg;
  });
  const [cw, cs] = o.compare === false ? [-1, -1] : (o.compare ?? [firstKept, S - 1]);
  let compareHtml = '';
  if (o.compare !== false && cw >= 0 && cs > cw) {
    const view = (s: number) =>
      highlightView(r, { strength: s, measure, neurons: o.neurons, edges: o.edges });
    const [w, st] = [r.attack.strengths[cw], r.attack.strengths[cs]];
    const svg = pathwaysCompareSvg(r, view(cw), view(cs), {
      title: `strengths ${w} (inner squares) and ${st} (outer squares): most ${measure}`,
      weak: cw,
      strong: cs,
      measure,
    });
    files.push({ path: `compare-${w}-${st}.svg`, content: svg });
    compareHtml = `<p>Bluff's comparison of two strengths in one graph: each neuron's outer square is the stronger attack (${st}), its inner square the weaker one (${w}). Solid with a solid core: highlighted at both; solid with a white core: only at the stronger; faint with a solid core: only at the weaker; faint without a core: at neither. Edges highlighted at the stronger strength are solid, those only at the weaker dashed.</p><div style="overflow-x:auto">${svg}</div>`;
  }
  const list = (v: number[]) => (v.length ? v.join(' ') : '-');
  const layerRows = r.layers.map((l) => {
    const g = r.groups[l.name];
    const vul = r.vulnerability[l.name];
    const top = vul
      .map((v, c) => [v, c])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, 5)
      .map(([v, c]) => `${c} (${v.toPrecision(3)})`)
      .join(', ');
    const exploited = g.exploited
      .map((c) => `${c}@${r.attack.strengths[g.exploitedAt.findIndex((e) => e.includes(c))]}`)
      .join(' ');
    return [
      l.name,
      l.channels,
      list(g.original),
      list(g.both),
      list(g.target),
      exploited || '-',
      l.logits ? '-' : top,
    ];
  });
  const html = reportPage(
    `Pathways of ${r.original.label} attacked toward ${r.target.label}`,
    [
      {
        title: 'What was run',
        html: `<p>${plural(r.original.images, 'image')} of class <b>${escapeHtml(r.original.label)}</b> attacked toward <b>${escapeHtml(r.target.label)}</b> with ${escapeHtml(r.attack.name)} (${r.attack.steps} steps of ${r.attack.stepFraction.toPrecision(3)} x strength) at ${S} strengths; ${r.attack.keep === 'successful' ? 'each strength rests on the images that reached the target (Bluff)' : 'every strength rests on all images'}. The target group rests on ${escapeHtml(targetNote)}.</p>${(o.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join('')}`,
      },
      {
        title: 'Attack success',
        html:
          htmlTable(
            ['strength', 'attacked', 'reached the target', 'kept'],
            r.success.map((s) => [String(s.strength), s.attempted, s.succeeded, s.kept]),
          ) +
          lineChart(
            [{ name: 'success', points: r.success.map((s) => [s.strength, s.succeeded / s.attempted]) }],
            { xLabel: 'strength', yLabel: 'reached the target', width: 520, height: 260 },
          ),
      },
      {
        title: 'Pathways',
        html: `<p>Rows are layers (input side at the bottom); columns the groups of Bluff (top ${r.groupOptions.k} by median activation; exploited: top ${r.groupOptions.k} under attack outside both top lists, first ${r.groupOptions.exploitedPerStrength} per strength). Solid neurons and drawn edges are the highlighted ones; hover for values. ${graphs.length > 1 ? 'The two strengths side by side:' : ''}</p><div style="display:flex;gap:16px;overflow-x:auto;align-items:flex-start">${graphs.map((g) => `<div>${g}</div>`).join('\n')}</div>`,
      },
      ...(compareHtml ? [{ title: 'Two strengths in one graph', html: compareHtml }] : []),
      {
        title: 'Groups per layer',
        html: htmlTable(
          [
            'layer',
            'channels',
            'original',
            'both',
            'target',
            'exploited (first strength)',
            'most vulnerable (sum |dpct| / s)',
          ],
          layerRows,
        ),
      },
      {
        title: 'Neurons',
        html: neuronSection(r, o.details ?? {}),
      },
      {
        title: 'Files',
        html: "<p><code>pathways.json</code>: provenance, classes, attack, success counts, layers, groups, vulnerability; <code>neurons.json</code>: median activation and percentile of every neuron per image set; <code>edges.json</code>: median influence of the edges between the groups' neurons per image set; <code>graph-*.svg</code>: the graphs above.</p>",
      },
      { title: 'Time per stage (ms)', html: htmlTable(Object.keys(r.timings), [Object.values(r.timings)]) },
    ],
    o.provenance,
  );
  files.push({ path: 'index.html', content: html });
  return files;
}

/** Per layer, each neuron of the graph: group, median against strength, feature visualisation, patches. */
function neuronSection(r: PathwaysResult, details: NonNullable<PathwaysReportOptions['details']>): string {
  const rows: (string | number | { html: string })[][] = [];
  const fromAtlas = Object.values(details).filter(
    (d) => d.source?.patches === 'atlas' || d.source?.featureVis === 'atlas',
  ).length;
  const star = (d: (typeof details)[string] | undefined, what: 'patches' | 'featureVis') =>
    d?.source?.[what] === 'atlas' ? '*' : '';
  for (const l of r.layers) {
    const g = r.groups[l.name];
    for (const group of ['original', 'both', 'target', 'exploited'] as const)
      for (const c of g[group]) {
        const n = r.neurons[l.name];
        const d = details[`${l.name}:${c}`];
        const img = (src: string, size: number) =>
          `<img src="${escapeHtml(src)}" width="${size}" height="${size}" style="image-rendering:pixelated;border:1px solid #ccc;margin:1px">`;
        rows.push([
          l.name,
          l.logits ? `${c} (${c === r.original.index ? r.original.label : r.target.label})` : c,
          group,
          {
            html: strengthSparkline(
              n.attacked.map((a) => a.median[c]),
              n.original.median[c],
              n.target.median[c],
            ),
          },
          r.vulnerability[l.name][c].toPrecision(3),
          { html: d?.featureVis ? img(d.featureVis, 64) + star(d, 'featureVis') : '' },
          { html: (d?.patches ?? []).map((p) => img(p, 40)).join('') + star(d, 'patches') },
        ]);
      }
  }
  return (
    `<p>Median activation against strength: red, the attacked images; dashed green and blue, the benign original and target images. Patches: the images that activate the neuron most, cropped to its receptive field around the peak${fromAtlas ? `; ${fromAtlas} neurons' patches or feature visualisations come from the model's atlas (its dataset's images, marked with *), the others' patches from the images of this run` : ', among the images of this run'}.</p>` +
    htmlTable(
      ['layer', 'channel', 'group', 'median vs strength', 'vulnerability', 'feature vis.', 'top patches'],
      rows,
    )
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
