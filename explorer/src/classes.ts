/** The class a text names among a model's labels: `index`, `index: label` or a label (any case); null when none. */
export function parseClass(text: string, labels: string[]): number | null {
  const v = text.trim();
  const m = /^(\d+)(:|$)/.exec(v);
  if (m) return Number(m[1]) < labels.length ? Number(m[1]) : null;
  const i = labels.findIndex((l) => l.toLowerCase() === v.toLowerCase());
  return i >= 0 ? i : null;
}
