/**
 * The computations behind the findings lines of the zoo tables (zoo/study.ts): whether every model
 * of a group is above (or below) a reference in some columns, and means over columns, each answer
 * naming what was compared, or what was not measured.
 *
 *   compareAll(get, ['int', 'int2'], 'pgd-linf-8', [{ key: 'pgd200:8/255', label: '8/255' }], 'above', fmt);
 *   // { answer: 'yes', detail: '8/255: 2 of 2 above pgd-linf-8 0.170' }
 */
import { compareAccuracy, formatP, SIGNIFICANCE_LEVEL } from '../metrics/significance.ts';
import type { Lookup } from './study.ts';

/** Three decimals; '-' for no value. */
export const fmt3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/**
 * A finding's answer on one set of numbers, with what it compared: `within sampling error` when every
 * comparison goes the stated way but not all beyond sampling error.
 */
export type Answer = { answer: 'yes' | 'no' | 'within sampling error' | 'not measured'; detail: string };

/** How many images a value of a member in a column counts over (null: not known, no test). */
export type SizeLookup = (member: string, column: string) => number | null;

/** Values of `members` in `column`; the names of those without one. */
function valuesOf(get: Lookup, members: string[], column: string) {
  const v = members.map((m) => ({ m, v: get(m, column) }));
  return { v, absent: v.filter((x) => x.v === null).map((x) => x.m) };
}

/** "a, b (every column); c: x, y": which members lack which of `columns`. */
function absentText(absent: Map<string, string[]>, columns: number): string {
  const all = [...absent].filter(([, cols]) => cols.length === columns).map(([m]) => m);
  const some = [...absent]
    .filter(([, cols]) => cols.length < columns)
    .map(([m, cols]) => `${m}: ${cols.join(', ')}`);
  return `not measured: ${[...(all.length ? [`${all.join(', ')}${columns > 1 ? ' (every column)' : ''}`] : []), ...some].join('; ')}`;
}

/**
 * Whether every member of `group` is strictly above (or below) `ref` in each column of `columns`;
 * `not measured` naming what is absent when a value is missing. With `size` (the images each value
 * counts over), a comparison in the stated direction counts only when it is beyond sampling error
 * (one-sided Fisher exact test, metrics/significance.ts): if every comparison goes the stated way but
 * some not beyond it, the answer is `within sampling error`. Without a size for a value (the seed's
 * numbers whose image counts are unknown) the comparison is the plain one.
 */
export function compareAll(
  get: Lookup,
  group: string[],
  ref: string,
  columns: { key: string; label: string }[],
  dir: 'above' | 'below',
  fmt: (v: number | null) => string,
  size?: SizeLookup,
): Answer {
  const parts: string[] = [];
  const absent = new Map<string, string[]>();
  const miss = (m: string, label: string) => absent.set(m, [...(absent.get(m) ?? []), label]);
  let all = true;
  let weak = false;
  let tested = false;
  for (const c of columns) {
    const r = get(ref, c.key);
    const { v, absent: a } = valuesOf(get, group, c.key);
    if (r === null) miss(ref, c.label);
    a.forEach((m) => miss(m, c.label));
    if (r === null) continue;
    const known = v.filter((x) => x.v !== null);
    const ok = known.filter((x) => (dir === 'above' ? x.v! > r : x.v! < r));
    if (ok.length < known.length) all = false;
    // Of those the stated way, the ones not beyond sampling error, with their p.
    const nr = size?.(ref, c.key) ?? null;
    const within = ok.flatMap((x) => {
      const nx = size?.(x.m, c.key) ?? null;
      if (nr === null || nx === null || nr < 1 || nx < 1) return [];
      tested = true;
      const cmp = dir === 'above' ? compareAccuracy(x.v!, nx, r, nr) : compareAccuracy(r, nr, x.v!, nx);
      return cmp.verdict === 'above' ? [] : [`${x.m} ${fmt(x.v)}, ${formatP(cmp.p)}`];
    });
    if (within.length) weak = true;
    parts.push(
      `${c.label}: ${ok.length} of ${known.length} ${dir} ${ref} ${fmt(r)}${
        ok.length < known.length
          ? ` (not: ${known
              .filter((x) => !ok.includes(x))
              .map((x) => `${x.m} ${fmt(x.v)}`)
              .join(', ')})`
          : ''
      }${within.length ? ` (within sampling error: ${within.join('; ')})` : ''}`,
    );
  }
  if (absent.size)
    return { answer: 'not measured', detail: [absentText(absent, columns.length), ...parts].join('; ') };
  const test = tested ? `; one-sided Fisher exact test at ${SIGNIFICANCE_LEVEL} on the image counts` : '';
  return { answer: !all ? 'no' : weak ? 'within sampling error' : 'yes', detail: parts.join('; ') + test };
}

/** Mean of a member's values over `columns`, or null when one is missing. */
export function meanOver(get: Lookup, member: string, columns: string[]): number | null {
  const v = columns.map((c) => get(member, c));
  return v.some((x) => x === null) ? null : (v as number[]).reduce((a, b) => a + b, 0) / v.length;
}
