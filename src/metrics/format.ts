/** Numbers as the robustness evaluation's labels and check details write them. */

/** A budget as short text, to 4 significant digits: 0.3, 8, 0.03137. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
}

/** A share in [0, 1] as a percentage with one decimal: 0.985 -> "98.5%". */
export function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
