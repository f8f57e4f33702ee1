/**
 * Neuron groups and vulnerability (Bluff, ALGORITHMS.md section 6). Per layer, with k = 10:
 * - *both*: in the top k (by median) of the original class's images and of the target class's images;
 * - *original* / *target*: the rest of each top k;
 * - *exploited*: at each attack strength, the top k of the attacked images minus both top-k lists, the
 *   first k / 2 of them (5) kept; the group is their union over strengths, in order of first appearance.
 * Vulnerability of a neuron: `sum_s |pct_s - pct_original| / s` over the strengths s (in the attack's
 * own units, as given), skipping strengths without images.
 *
 *   const g = neuronGroups(orig.median, target.median, attacked.map((a) => a.median));
 */

/** Channel indices of the `k` largest values, largest first (ties: lower index first); NaN never ranks. */
export function topChannels(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .filter((i) => !Number.isNaN(values[i]))
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, k);
}

/** Options of the groups: top k neurons per set (10) and exploited neurons kept per strength (5). */
export interface GroupOptions {
  /** Top neurons per image set (Bluff: 10). */
  k?: number;
  /** Exploited neurons kept per strength (Bluff: k / 2 = 5). */
  exploitedPerStrength?: number;
}

/** One layer's groups: both, original, target and exploited neurons (Bluff). */
export interface NeuronGroups {
  both: number[];
  original: number[];
  target: number[];
  /** Union over strengths. */
  exploited: number[];
  /** Exploited at each strength (same order as the strengths; empty where no image was kept). */
  exploitedAt: number[][];
}

/** The defaults of {@link GroupOptions}, in one place. */
export const GROUP_DEFAULTS: Required<GroupOptions> = { k: 10, exploitedPerStrength: 5 };

/** Bluff's groups of one layer from the median activations of each image set. */
export function neuronGroups(
  original: ArrayLike<number>,
  target: ArrayLike<number>,
  attacked: ArrayLike<number>[],
  o: GroupOptions = {},
): NeuronGroups {
  const k = o.k ?? GROUP_DEFAULTS.k;
  const per = o.exploitedPerStrength ?? Math.floor(k / 2);
  const topO = topChannels(original, k);
  const topT = topChannels(target, k);
  const inO = new Set(topO);
  const inT = new Set(topT);
  const both = topO.filter((c) => inT.has(c));
  const exploitedAt = attacked.map((a) =>
    topChannels(a, k)
      .filter((c) => !inO.has(c) && !inT.has(c))
      .slice(0, per),
  );
  return {
    both,
    original: topO.filter((c) => !inT.has(c)),
    target: topT.filter((c) => !inO.has(c)),
    exploited: [...new Set(exploitedAt.flat())],
    exploitedAt,
  };
}

/** `sum_s |pct_s[c] - pctOriginal[c]| / s` per channel c; strengths whose percentiles are NaN are skipped. */
export function vulnerability(
  pctOriginal: ArrayLike<number>,
  pctAttacked: ArrayLike<number>[],
  strengths: number[],
): Float64Array {
  const v = new Float64Array(pctOriginal.length);
  pctAttacked.forEach((p, s) => {
    for (let c = 0; c < v.length; c++)
      if (!Number.isNaN(p[c])) v[c] += Math.abs(p[c] - pctOriginal[c]) / strengths[s];
  });
  return v;
}
