/**
 * Bluff's highlight measures, for neurons and edges alike, comparing a value on the benign original
 * images (b) with the same value on the attacked images at one strength (a):
 * `activated` = a (at strength 0: b), `changed` = |a - b|, `excited` = a - b, `inhibited` = b - a.
 * Highlighted = the top fraction of the candidates by the measure (Bluff: 20% of a layer's neurons in
 * the graph, rounded down, and 30% of the edges between highlighted neurons per layer, rounded).
 */

/** What a highlighted pathway shows: most activated, changed, excited or inhibited. */
export type HighlightMeasure = 'activated' | 'changed' | 'excited' | 'inhibited';
/** Every highlight measure. */
export const HIGHLIGHT_MEASURES: HighlightMeasure[] = ['activated', 'changed', 'excited', 'inhibited'];

/** The defaults: 20% of neurons, 30% of edges, most activated. */
export const HIGHLIGHT_DEFAULTS = { neurons: 0.2, edges: 0.3, measure: 'activated' as HighlightMeasure };

/** The measure's value from a benign value `b` and an attacked value `a` (`a` undefined: strength 0). */
export function measureValue(measure: HighlightMeasure, b: number, a?: number): number {
  if (a === undefined) return measure === 'activated' ? b : 0;
  switch (measure) {
    case 'activated':
      return a;
    case 'changed':
      return Math.abs(a - b);
    case 'excited':
      return a - b;
    case 'inhibited':
      return b - a;
  }
}

/**
 * Positions (into `benign`) of the top `count` candidates by the measure, largest first (ties: lower
 * position first); NaN values never rank.
 */
export function topByMeasure(
  measure: HighlightMeasure,
  benign: ArrayLike<number>,
  attacked: ArrayLike<number> | undefined,
  count: number,
): number[] {
  const v = Array.from({ length: benign.length }, (_, i) => measureValue(measure, benign[i], attacked?.[i]));
  return v
    .map((_, i) => i)
    .filter((i) => !Number.isNaN(v[i]))
    .sort((p, q) => v[q] - v[p] || p - q)
    .slice(0, Math.max(0, count));
}

/** How many of `n` candidates a fraction highlights: neurons round down (Bluff's parseInt) but at least one, edges round. */
export const neuronCount = (n: number, fraction: number) =>
  n > 0 && fraction > 0 ? Math.max(1, Math.floor(n * fraction)) : 0;
/** How many edges of a layer the top fraction `p` keeps. */
export const edgeCount = (n: number, fraction: number) => Math.round(n * fraction);
