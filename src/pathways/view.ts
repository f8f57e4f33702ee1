/**
 * Bluff's highlighted view of a pathways result at one strength: per layer, the top fraction of the
 * graph's neurons by a measure (highlight.ts), and per target layer the top fraction of the edges
 * between highlighted neurons by the same measure on the edges' median influences.
 *
 *   const v = highlightView(result, { strength: 9, measure: 'excited' });
 */
import { graphNeurons, type PathwaysResult } from './pathways.ts';
import {
  edgeCount,
  HIGHLIGHT_DEFAULTS,
  neuronCount,
  topByMeasure,
  type HighlightMeasure,
} from './highlight.ts';

/** Options of a highlight view: the measure, the strength and the fractions of neurons and edges. */
export interface ViewOptions {
  /** Index into the strengths; -1 for the benign images (no attack). */
  strength?: number;
  measure?: HighlightMeasure;
  /** Fraction of each layer's graph neurons highlighted (Bluff: 0.2). */
  neurons?: number;
  /** Fraction of the edges between highlighted neurons highlighted per layer (Bluff: 0.3). */
  edges?: number;
}

/** The neurons and edges a highlight view shows per layer. */
export interface HighlightView {
  /** Highlighted channels per layer. */
  neurons: Record<string, number[]>;
  /** Highlighted edges: index into `result.edges` and into its `pairs`. */
  edges: { group: number; pair: number }[];
}

const nums = (v: (number | null)[]) => v.map((x) => (x === null ? NaN : x));

/** The neurons and edges highlighted at one strength (defaults: the strongest, most activated, 20% / 30%). */
export function highlightView(r: PathwaysResult, o: ViewOptions = {}): HighlightView {
  const s = o.strength ?? r.attack.strengths.length - 1;
  const measure = o.measure ?? HIGHLIGHT_DEFAULTS.measure;
  const fn = o.neurons ?? HIGHLIGHT_DEFAULTS.neurons;
  const fe = o.edges ?? HIGHLIGHT_DEFAULTS.edges;
  const keep = graphNeurons(r);
  const neurons: Record<string, number[]> = {};
  for (const l of r.layers) {
    const cand = keep[l.name];
    const n = r.neurons[l.name];
    const b = nums(n.original.median);
    const a = s >= 0 ? nums(n.attacked[s].median) : undefined;
    const top = topByMeasure(
      measure,
      cand.map((c) => b[c]),
      a && cand.map((c) => a[c]),
      neuronCount(cand.length, fn),
    );
    neurons[l.name] = top.map((i) => cand[i]);
  }
  const edges: HighlightView['edges'] = [];
  for (const l of r.layers) {
    const cand: { group: number; pair: number; b: number; a?: number }[] = [];
    r.edges.forEach((e, group) => {
      if (e.to !== l.name) return;
      const hf = new Set(neurons[e.from]);
      const ht = new Set(neurons[e.to]);
      e.pairs.forEach(([f, t], pair) => {
        if (hf.has(f) && ht.has(t))
          cand.push({
            group,
            pair,
            b: e.original[pair] ?? NaN,
            a: s >= 0 ? (e.attacked[s][pair] ?? NaN) : undefined,
          });
      });
    });
    const top = topByMeasure(
      measure,
      cand.map((c) => c.b),
      s >= 0 ? cand.map((c) => c.a!) : undefined,
      edgeCount(cand.length, fe),
    );
    for (const i of top) edges.push({ group: cand[i].group, pair: cand[i].pair });
  }
  return { neurons, edges };
}
