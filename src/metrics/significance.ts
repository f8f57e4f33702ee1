/**
 * Whether one accuracy is above another by more than sampling error: Fisher's exact test on the two
 * counts of correct images. The zoo tables compare members measured on the same first n test images,
 * but record only each member's count, not which images it got right, so the paired test (McNemar's)
 * cannot be computed from them; Fisher's unpaired test is the exact test those counts allow. When the
 * same images tend to be hard for both models (the usual case) it is conservative: a difference it
 * calls significant would be significant paired too, and some it does not call might be.
 *
 *   fisherGreater(143, 200, 1, 200)   // 7.5e-60: 0.715 against 0.005 is no accident of the sample
 *   fisherGreater(3, 200, 1, 200)     // 0.31: 0.015 against 0.005 could be
 */

/** ln(k!) for k = 0..n, grown on demand (exact sums of logarithms, no approximation). */
const logFact: number[] = [0];
function lnFactorial(k: number): number {
  for (let i = logFact.length; i <= k; i++) logFact.push(logFact[i - 1] + Math.log(i));
  return logFact[k];
}

function lnChoose(n: number, k: number): number {
  return lnFactorial(n) - lnFactorial(k) - lnFactorial(n - k);
}

/**
 * One-sided p-value of Fisher's exact test that group A's rate (a of na) is above group B's (b of nb):
 * the probability, with the margins fixed and no difference between the groups, that A gets a or
 * more of the a + b successes. Counts must be integers with 0 <= a <= na and 0 <= b <= nb, na, nb >= 1.
 */
export function fisherGreater(a: number, na: number, b: number, nb: number): number {
  for (const [v, what] of [
    [a, 'a'],
    [na, 'na'],
    [b, 'b'],
    [nb, 'nb'],
  ] as const)
    if (!Number.isInteger(v) || v < 0)
      throw new Error(`fisherGreater: ${what} must be a whole number >= 0, got ${v}`);
  if (na < 1 || nb < 1 || a > na || b > nb)
    throw new Error(
      `fisherGreater: need 0 <= a <= na, 0 <= b <= nb and na, nb >= 1 (got ${a}/${na}, ${b}/${nb})`,
    );
  const k = a + b;
  const n = na + nb;
  const top = Math.min(k, na);
  const lnTotal = lnChoose(n, k);
  let p = 0;
  for (let x = a; x <= top; x++) p += Math.exp(lnChoose(na, x) + lnChoose(nb, k - x) - lnTotal);
  return Math.min(1, p);
}

/** A p-value as the tables print it: `p = 0.31` (two significant digits), or `p < 1e-4`. */
export function formatP(p: number): string {
  return p < 1e-4 ? 'p < 1e-4' : `p = ${p.toPrecision(2)}`;
}

/** The level below which a difference counts as beyond sampling error. */
export const SIGNIFICANCE_LEVEL = 0.05;

/** How accuracy A stands against accuracy B on samples of na and nb images. */
export interface Comparison {
  /** `above`: A > B beyond sampling error; `within`: A > B but not beyond it; `not above`: A <= B. */
  verdict: 'above' | 'within' | 'not above';
  /** Fisher's one-sided p that A is above B (1 when A <= B). */
  p: number;
}

/**
 * Compares two accuracies measured on na and nb images: the counts are the accuracies times the image
 * counts, rounded to whole images.
 */
export function compareAccuracy(accA: number, na: number, accB: number, nb: number): Comparison {
  const count = (acc: number, n: number) => {
    if (!(acc >= 0 && acc <= 1)) throw new Error(`compareAccuracy: accuracy ${acc} is not in [0, 1]`);
    return Math.round(acc * n);
  };
  const a = count(accA, na);
  const b = count(accB, nb);
  if (a / na <= b / nb) return { verdict: 'not above', p: 1 };
  const p = fisherGreater(a, na, b, nb);
  // A p at the level in exact arithmetic can land a rounding below it: it does not count.
  return { verdict: p < SIGNIFICANCE_LEVEL * (1 - 1e-9) ? 'above' : 'within', p };
}
