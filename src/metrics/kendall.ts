/**
 * Kendall's rank correlation tau-b between two equally long lists, in O(n log n) by Knight's
 * algorithm (Knight, "A Computer Method for Calculating Kendall's Tau with Ungrouped Data", JASA
 * 1966): sort by a then b; count pairs tied in a (n1) and tied in both (n3); count the swaps a merge
 * sort of b needs (discordant pairs); count pairs tied in b (n2). With n0 = n(n-1)/2,
 * tau_b = (n0 - n1 - n2 + n3 - 2 swaps) / sqrt((n0 - n1)(n0 - n2)).
 * Used for the robustness of an interpretation: tau between the clean and adversarial maps at all
 * positions (ALGORITHMS.md sections 1 and 3). When either list is constant (or n < 2) tau-b is 0/0
 * and the result is NaN, as in SciPy; averages should skip such examples.
 */
import { UserError } from '../errors.ts';

function check(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length)
    throw new UserError(`Kendall's tau needs equally long lists (got ${a.length} and ${b.length})`);
  for (let i = 0; i < a.length; i++)
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) throw new UserError(`Kendall's tau: value ${i} is NaN`);
}

const cmp = (u: number, v: number): number => (u < v ? -1 : u > v ? 1 : 0);

/** Pairs tied within runs of equal values of the sorted array `v`: sum over runs of t(t-1)/2. */
function tiedPairs(v: Float64Array, order: Uint32Array | null): number {
  let ties = 0;
  let run = 1;
  for (let i = 1; i <= v.length; i++) {
    const same = i < v.length && (order ? v[order[i]] === v[order[i - 1]] : v[i] === v[i - 1]);
    if (same) run++;
    else {
      ties += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return ties;
}

/** Sorts `v` in place by merge sort and returns the number of swaps (pairs i < j with v[i] > v[j]). */
function mergeSortSwaps(v: Float64Array): number {
  const n = v.length;
  let src: Float64Array = v;
  let dst: Float64Array = new Float64Array(n);
  let swaps = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (src[j] < src[i]) {
          dst[k++] = src[j++];
          swaps += mid - i; // src[j] jumps over every remaining left element
        } else dst[k++] = src[i++];
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    [src, dst] = [dst, src];
  }
  if (src !== v) v.set(src);
  return swaps;
}

/** Kendall's tau-b of `a` and `b` in O(n log n) (Knight's algorithm); NaN when either is constant. */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a, b);
  const n = a.length;
  if (n < 2) return NaN;
  const av = Float64Array.from(a);
  const bv = Float64Array.from(b);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => cmp(av[i], av[j]) || cmp(bv[i], bv[j]));
  const n1 = tiedPairs(av, order);
  // joint ties: runs equal in both a and b
  let n3 = 0;
  let run = 1;
  for (let i = 1; i <= n; i++) {
    const same = i < n && av[order[i]] === av[order[i - 1]] && bv[order[i]] === bv[order[i - 1]];
    if (same) run++;
    else {
      n3 += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  const bs = Float64Array.from(order, (i) => bv[i]);
  const swaps = mergeSortSwaps(bs);
  const n2 = tiedPairs(bs, null);
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - n1) * (n0 - n2));
  if (den === 0) return NaN;
  return (n0 - n1 - n2 + n3 - 2 * swaps) / den;
}

/** Kendall's tau-b by counting all n(n-1)/2 pairs: the O(n^2) reference for {@link kendallTau}. */
export function kendallTauNaive(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a, b);
  const n = a.length;
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const sa = cmp(a[i], a[j]);
      const sb = cmp(b[i], b[j]);
      if (sa === 0) tiesA++;
      if (sb === 0) tiesB++;
      if (sa * sb > 0) concordant++;
      else if (sa * sb < 0) discordant++;
    }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tiesA) * (n0 - tiesB));
  return den === 0 ? NaN : (concordant - discordant) / den;
}
