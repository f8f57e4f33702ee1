/**
 * Bluff's layered pathway graph as an SVG string: one row per layer (input side at the bottom, the
 * logits at the top), neurons in four column groups (original / both / target / exploited, Bluff's
 * colours green / orange / blue / red), the highlighted neurons solid and the others faint, and the
 * highlighted edges between them, their width by the measure's value.
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

/** The SVG of the graph at one strength with a highlighted view. */
export function pathwaysGraphSvg(r: PathwaysResult, view: HighlightView, o: GraphSvgOptions): string {
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
  const pos = new Map<string, { x: number; y: number; group: string }>();
  r.layers.forEach((l, i) => {
    const y = TOP + (rows - 1 - i) * ROW + ROW / 2;
    for (const g of GROUP_COLUMNS)
      r.groups[l.name][g].forEach((c, k) => {
        const key = `${l.name}:${c}`;
        if (!pos.has(key)) pos.set(key, { x: colX[g] + k * (NODE + GAP) + NODE / 2, y, group: g });
      });
  });
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
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,sans-serif" font-size="11">`,
    `<text x="8" y="18" font-size="14" font-weight="600">${escapeHtml(o.title)}</text>`,
  );
  for (const g of GROUP_COLUMNS)
    parts.push(
      `<text x="${colX[g]}" y="38" fill="${GROUP_COLOURS[g]}" font-weight="600">${g === 'exploited' ? 'exploited by the attack' : g === 'both' ? 'original and target' : g}</text>`,
    );
  view.edges.forEach(({ group, pair }, k) => {
    const e = r.edges[group];
    const [f, t] = e.pairs[pair];
    const a = pos.get(`${e.from}:${f}`);
    const b = pos.get(`${e.to}:${t}`);
    if (!a || !b || !Number.isFinite(edgeVals[k])) return;
    const w = 0.5 + 3.5 * (Math.abs(edgeVals[k]) / maxE);
    const my = (a.y + b.y) / 2;
    parts.push(
      `<path d="M${a.x},${a.y - NODE / 2} C${a.x},${my} ${b.x},${my} ${b.x},${b.y + NODE / 2}" fill="none" stroke="#888" stroke-opacity="0.55" stroke-width="${w.toFixed(2)}"><title>${escapeHtml(`${e.from}:${f} -> ${e.to}:${t} (${e.via}) ${edgeVals[k].toPrecision(3)}`)}</title></path>`,
    );
  });
  r.layers.forEach((l, i) => {
    const y = TOP + (rows - 1 - i) * ROW + ROW / 2;
    parts.push(
      `<text x="8" y="${y + 4}">${escapeHtml(l.logits ? `${l.name} (logits)` : l.name)}</text>`,
      `<line x1="${LEFT - 6}" x2="${width - 6}" y1="${y}" y2="${y}" stroke="#eee"/>`,
    );
    const hi = new Set(view.neurons[l.name]);
    const n = r.neurons[l.name];
    for (const [key, p] of pos) {
      if (!key.startsWith(`${l.name}:`)) continue;
      const c = Number(key.slice(l.name.length + 1));
      const on = hi.has(c);
      const med = s >= 0 ? n.attacked[s].median[c] : n.original.median[c];
      const label = l.logits ? (c === r.original.index ? r.original.label : r.target.label) : String(c);
      parts.push(
        `<rect x="${p.x - NODE / 2}" y="${p.y - NODE / 2}" width="${NODE}" height="${NODE}" rx="3" fill="${GROUP_COLOURS[p.group as keyof typeof GROUP_COLOURS]}" fill-opacity="${on ? 1 : 0.25}" stroke="${on ? '#222' : 'none'}"><title>${escapeHtml(`${l.name} channel ${c} (${p.group}); median ${med === null ? 'n/a' : med.toPrecision(3)}; vulnerability ${r.vulnerability[l.name][c].toPrecision(3)}`)}</title></rect>`,
        `<text x="${p.x}" y="${p.y + NODE / 2 + 10}" text-anchor="middle" font-size="9" fill="#555">${escapeHtml(label)}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}
