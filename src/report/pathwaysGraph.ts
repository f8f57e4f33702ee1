/**
 * Bluff's layered pathway graph as an SVG string: one row per layer (input side at the bottom, the
 * logits at the top), neurons in four column groups (original / both / target / exploited, Bluff's
 * colours green / orange / blue / red), the highlighted neurons solid and the others faint, and the
 * highlighted edges between them, their width by the measure's value.
 *
 * {@link pathwaysCompareSvg} draws two strengths in one graph with Bluff's comparison encoding: each
 * neuron is an outer square (the stronger attack) around an inner square (the weaker one), so a
 * neuron is in one of four states: highlighted at both (both solid), only at the stronger (solid with
 * a white core), only at the weaker (faint with a solid core), at neither (faint, no core).
 */
import type { PathwaysResult } from '../pathways/pathways.ts';
import type { HighlightView } from '../pathways/view.ts';
import { measureValue, type HighlightMeasure } from '../pathways/highlight.ts';
import { escapeHtml } from './html.ts';

/** The graph's columns, left to right: original, both, target, exploited. */
export const GROUP_COLUMNS = ['original', 'both', 'target', 'exploited'] as const;
/** The colour of each group in the graph. */
export const GROUP_COLOURS: Record<(typeof GROUP_COLUMNS)[number], string> = {
  original: '#33a02c',
  both: '#ff7f00',
  target: '#1f78b4',
  exploited: '#e31a1c',
};

/** Options of the graph SVG: its title, the strength shown and the highlight measure. */
export interface GraphSvgOptions {
  title: string;
  /** Index of the strength drawn (-1: benign). */
  strength: number;
  measure: HighlightMeasure;
}

const NODE = 16;
const GAP = 6;
const ROW = 64;
const LEFT = 130;
const TOP = 48;

/** Where each neuron of the graph is drawn: columns per group, one row per layer. */
function graphLayout(r: PathwaysResult) {
  const widthOf = (g: (typeof GROUP_COLUMNS)[number]) =>
    Math.max(1, ...r.layers.map((l) => r.groups[l.name][g].length));
  const colX: Record<string, number> = {};
  let x = LEFT;
  for (const g of GROUP_COLUMNS) {
    colX[g] = x;
    x += widthOf(g) * (NODE + GAP) + 24;
  }
  const width = x + 10;
  const rows = r.layers.length;
  const height = TOP + rows * ROW + 20;
  const rowY = (i: number) => TOP + (rows - 1 - i) * ROW + ROW / 2;
  const pos = new Map<string, { x: number; y: number; group: string }>();
  r.layers.forEach((l, i) => {
    for (const g of GROUP_COLUMNS)
      r.groups[l.name][g].forEach((c, k) => {
        const key = `${l.name}:${c}`;
        if (!pos.has(key)) pos.set(key, { x: colX[g] + k * (NODE + GAP) + NODE / 2, y: rowY(i), group: g });
      });
  });
  return { colX, width, height, rowY, pos };
}

/** The SVG's opening, title, column headings and layer rows. */
function frame(r: PathwaysResult, L: ReturnType<typeof graphLayout>, title: string): string[] {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="system-ui,sans-serif" font-size="11">`,
    `<text x="8" y="18" font-size="14" font-weight="600">${escapeHtml(title)}</text>`,
  ];
  for (const g of GROUP_COLUMNS)
    parts.push(
      `<text x="${L.colX[g]}" y="38" fill="${GROUP_COLOURS[g]}" font-weight="600">${g === 'exploited' ? 'exploited by the attack' : g === 'both' ? 'original and target' : g}</text>`,
    );
  r.layers.forEach((l, i) =>
    parts.push(
      `<text x="8" y="${L.rowY(i) + 4}">${escapeHtml(l.logits ? `${l.name} (logits)` : l.name)}</text>`,
      `<line x1="${LEFT - 6}" x2="${L.width - 6}" y1="${L.rowY(i)}" y2="${L.rowY(i)}" stroke="#eee"/>`,
    ),
  );
  return parts;
}

/** An edge's curve from the top of neuron a to the bottom of neuron b. */
const curve = (a: { x: number; y: number }, b: { x: number; y: number }) => {
  const my = (a.y + b.y) / 2;
  return `M${a.x},${a.y - NODE / 2} C${a.x},${my} ${b.x},${my} ${b.x},${b.y + NODE / 2}`;
};

/** A neuron's label under it: its channel, or its class at the logits. */
const neuronLabel = (r: PathwaysResult, layer: { logits: boolean }, c: number) =>
  layer.logits ? (c === r.original.index ? r.original.label : r.target.label) : String(c);

/** The SVG of the graph at one strength with a highlighted view. */
export function pathwaysGraphSvg(r: PathwaysResult, view: HighlightView, o: GraphSvgOptions): string {
  const L = graphLayout(r);
  const pos = L.pos;
  const s = o.strength;
  const edgeVals = view.edges.map(({ group, pair }) => {
    const e = r.edges[group];
    return measureValue(
      o.measure,
      e.original[pair] ?? NaN,
      s >= 0 ? (e.attacked[s][pair] ?? NaN) : undefined,
    );
  });
  const maxE = Math.max(1e-12, ...edgeVals.filter(Number.isFinite).map(Math.abs));
  const parts = frame(r, L, o.title);
  view.edges.forEach(({ group, pair }, k) => {
    const e = r.edges[group];
    const [f, t] = e.pairs[pair];
    const a = pos.get(`${e.from}:${f}`);
    const b = pos.get(`${e.to}:${t}`);
    if (!a || !b || !Number.isFinite(edgeVals[k])) return;
    const w = 0.5 + 3.5 * (Math.abs(edgeVals[k]) / maxE);
    parts.push(
      `<path d="${curve(a, b)}" fill="none" stroke="#888" stroke-opacity="0.55" stroke-width="${w.toFixed(2)}"><title>${escapeHtml(`${e.from}:${f} -> ${e.to}:${t} (${e.via}) ${edgeVals[k].toPrecision(3)}`)}</title></path>`,
    );
  });
  r.layers.forEach((l) => {
    const hi = new Set(view.neurons[l.name]);
    const n = r.neurons[l.name];
    for (const [key, p] of pos) {
      if (!key.startsWith(`${l.name}:`)) continue;
      const c = Number(key.slice(l.name.length + 1));
      const on = hi.has(c);
      const med = s >= 0 ? n.attacked[s].median[c] : n.original.median[c];
      const label = neuronLabel(r, l, c);
      parts.push(
        `<rect x="${p.x - NODE / 2}" y="${p.y - NODE / 2}" width="${NODE}" height="${NODE}" rx="3" fill="${GROUP_COLOURS[p.group as keyof typeof GROUP_COLOURS]}" fill-opacity="${on ? 1 : 0.25}" stroke="${on ? '#222' : 'none'}"><title>${escapeHtml(`${l.name} channel ${c} (${p.group}); median ${med === null ? 'n/a' : med.toPrecision(3)}; vulnerability ${r.vulnerability[l.name][c].toPrecision(3)}`)}</title></rect>`,
        `<text x="${p.x}" y="${p.y + NODE / 2 + 10}" text-anchor="middle" font-size="9" fill="#555">${escapeHtml(label)}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** A neuron's or edge's state in the two-strength comparison. */
export type CompareState = 'both' | 'stronger' | 'weaker' | 'neither';

/** The comparison state of something highlighted (or not) at the weaker and the stronger strength. */
export const compareState = (weak: boolean, strong: boolean): CompareState =>
  weak && strong ? 'both' : strong ? 'stronger' : weak ? 'weaker' : 'neither';

/** Options of the two-strength graph: its title, the two strength indices and their views, the measure. */
export interface CompareSvgOptions {
  title: string;
  /** Indices of the weaker and the stronger strength. */
  weak: number;
  strong: number;
  measure: HighlightMeasure;
}

/**
 * The graph at two strengths in Bluff's comparison encoding (outer square: stronger, inner square:
 * weaker; see the top of this file). Edges highlighted at the stronger strength are solid, those
 * highlighted only at the weaker one dashed; widths by the measure's value at the strength that
 * highlights them. Every neuron and edge carries its state in `data-state`.
 */
export function pathwaysCompareSvg(
  r: PathwaysResult,
  weakView: HighlightView,
  strongView: HighlightView,
  o: CompareSvgOptions,
): string {
  const L = graphLayout(r);
  const parts = frame(r, L, o.title);
  const key = (e: { group: number; pair: number }) => `${e.group}:${e.pair}`;
  const inWeak = new Set(weakView.edges.map(key));
  const inStrong = new Set(strongView.edges.map(key));
  const union = [...strongView.edges, ...weakView.edges.filter((e) => !inStrong.has(key(e)))];
  const values = union.map(({ group, pair }) => {
    const e = r.edges[group];
    const s = inStrong.has(`${group}:${pair}`) ? o.strong : o.weak;
    return measureValue(o.measure, e.original[pair] ?? NaN, e.attacked[s][pair] ?? NaN);
  });
  const maxE = Math.max(1e-12, ...values.filter(Number.isFinite).map(Math.abs));
  union.forEach(({ group, pair }, k) => {
    const e = r.edges[group];
    const [f, t] = e.pairs[pair];
    const a = L.pos.get(`${e.from}:${f}`);
    const b = L.pos.get(`${e.to}:${t}`);
    if (!a || !b || !Number.isFinite(values[k])) return;
    const state = compareState(inWeak.has(`${group}:${pair}`), inStrong.has(`${group}:${pair}`));
    const w = 0.5 + 3.5 * (Math.abs(values[k]) / maxE);
    parts.push(
      `<path data-state="${state}" d="${curve(a, b)}" fill="none" stroke="#888" stroke-opacity="0.55" stroke-width="${w.toFixed(2)}"${state === 'weaker' ? ' stroke-dasharray="4 3"' : ''}><title>${escapeHtml(`${e.from}:${f} -> ${e.to}:${t} (${e.via}), highlighted at ${state === 'both' ? 'both strengths' : state === 'stronger' ? 'the stronger only' : 'the weaker only'}`)}</title></path>`,
    );
  });
  const inner = NODE / 2;
  for (const l of r.layers) {
    const weak = new Set(weakView.neurons[l.name]);
    const strong = new Set(strongView.neurons[l.name]);
    const n = r.neurons[l.name];
    for (const [k, p] of L.pos) {
      if (!k.startsWith(`${l.name}:`)) continue;
      const c = Number(k.slice(l.name.length + 1));
      const state = compareState(weak.has(c), strong.has(c));
      const colour = GROUP_COLOURS[p.group as keyof typeof GROUP_COLOURS];
      const med = (s: number) => {
        const v = n.attacked[s].median[c];
        return v === null ? 'n/a' : v.toPrecision(3);
      };
      const title = `${l.name} channel ${c} (${p.group}); ${state === 'neither' ? 'highlighted at neither strength' : state === 'both' ? 'highlighted at both strengths' : `highlighted at the ${state} strength only`}; median ${med(o.weak)} (weaker), ${med(o.strong)} (stronger)`;
      parts.push(
        `<g data-neuron="${escapeHtml(k)}" data-state="${state}"><title>${escapeHtml(title)}</title>`,
        `<rect x="${p.x - NODE / 2}" y="${p.y - NODE / 2}" width="${NODE}" height="${NODE}" rx="3" fill="${colour}" fill-opacity="${strong.has(c) ? 1 : 0.25}" stroke="${strong.has(c) ? '#222' : 'none'}"/>`,
        state === 'neither'
          ? ''
          : `<rect x="${p.x - inner / 2}" y="${p.y - inner / 2}" width="${inner}" height="${inner}" rx="1.5" fill="${weak.has(c) ? colour : '#fff'}"/>`,
        `</g>`,
        `<text x="${p.x}" y="${p.y + NODE / 2 + 10}" text-anchor="middle" font-size="9" fill="#555">${escapeHtml(neuronLabel(r, l, c))}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}
