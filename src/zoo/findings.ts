/**
 * The computations behind the findings lines of the zoo tables (zoo/study.ts): whether every model
 * of a group is above (or below) a reference in some columns, and means over columns, each answer
 * naming what was compared, or what was not measured.
 *
 *   compareAll(get, ['int', 'int2'], 'pgd-linf-8', [{ key: 'pgd200:8/255', label: '8/255' }], 'above', fmt);
 *   // { answer: 'yes', detail: '8/255: 2 of 2 above pgd-linf-8 0.170' }
 */
import type { Lookup } from './study.ts';

/** Three decimals; '-' for no value. */
export const fmt3 = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** A finding's answer on one set of numbers, with what it compared. */
export type Answer = { answer: 'yes' | 'no' | 'not measured'; detail: string };

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
 * `not measured` naming what is absent when a value is missing.
 */
export function compareAll(
  get: Lookup,
  group: string[],
  ref: string,
  columns: { key: string; label: string }[],
  dir: 'above' | 'below',
  fmt: (v: number | null) => string,
): Answer {
  const parts: string[] = [];
  const absent = new Map<string, string[]>();
  const miss = (m: string, label: string) => absent.set(m, [...(absent.get(m) ?? []), label]);
  let all = true;
  for (const c of columns) {
    const r = get(ref, c.key);
    const { v, absent: a } = valuesOf(get, group, c.key);
    if (r === null) miss(ref, c.label);
    a.forEach((m) => miss(m, c.label));
    if (r === null) continue;
    const known = v.filter((x) => x.v !== null);
    const ok = known.filter((x) => (dir === 'above' ? x.v! > r : x.v! < r));
    if (ok.length < known.length) all = false;
    parts.push(
      `${c.label}: ${ok.length} of ${known.length} ${dir} ${ref} ${fmt(r)}${
        ok.length < known.length
          ? ` (not: ${known
              .filter((x) => !ok.includes(x))
              .map((x) => `${x.m} ${fmt(x.v)}`)
              .join(', ')})`
          : ''
      }`,
    );
  }
  if (absent.size)
    return { answer: 'not measured', detail: [absentText(absent, columns.length), ...parts].join('; ') };
  return { answer: all ? 'yes' : 'no', detail: parts.join('; ') };
}

/** Mean of a member's values over `columns`, or null when one is missing. */
export function meanOver(get: Lookup, member: string, columns: string[]): number | null {
  const v = columns.map((c) => get(member, c));
  return v.some((x) => x === null) ? null : (v as number[]).reduce((a, b) => a + b, 0) / v.length;
}
