/** A plain-text table with aligned columns (numbers right-aligned). */
export function textTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((v) => (typeof v === 'number' ? fmt(v) : v)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[], isHeader = false) =>
    r
      .map((v, i) => {
        const s = String(v ?? '');
        return !isHeader && typeof rows[0]?.[i] === 'number' ? s.padStart(widths[i]) : s.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [
    line(headers, true),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map((r) => line(r)),
  ].join('\n');
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (Number.isNaN(v)) return '-';
  return v.toFixed(4);
}

/** Formats a fraction as a percentage with two decimals. */
export function pct(v: number): string {
  return Number.isNaN(v) ? '-' : `${(100 * v).toFixed(2)}%`;
}
