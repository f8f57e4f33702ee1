/**
 * What the zoo tables share (Table 1, zoo/table.ts; Table 3, zoo/table3.ts; open to the other
 * tables): which methods are rows and how a row opens, budgets and versions as text, the method cell
 * of a row, the Markdown provenance block, HTML lists and the "missing from the zoo" section, and the
 * JSON form.
 *
 *   provenanceMd({ data, command, versions, seed }, ['- attack: ...'], modelLines); // '### Provenance', ...
 */
import { escapeHtml } from '../report/html.ts';
import type { Series } from '../report/plot.ts';
import { SEED_ROW_OF, type SeedRow } from './seedTable.ts';
import type { ZooMethod } from './zoo.ts';

/** How every zoo table's row opens: the method, whether the zoo has a model of it, the seed's row. */
export interface MethodRowHead {
  method: string;
  display: string;
  /** `zoo`: a model of ours; `seed only`: the paper has the row, the zoo has no model. */
  status: 'zoo' | 'seed only';
  seedRow: SeedRow | null;
  /** The model's card, for zoo rows. */
  card: string | null;
}

/**
 * A zoo table's rows, in the order of `methods`: one per method with a model in `models` (matched by
 * method), one per method the paper has but the zoo lacks; each with its model and its row's head.
 */
export function methodRows<M extends { method: string; cardPath: string }>(
  methods: readonly ZooMethod[],
  models: readonly M[],
): { m: ZooMethod; model: M | undefined; head: MethodRowHead }[] {
  const rows: { m: ZooMethod; model: M | undefined; head: MethodRowHead }[] = [];
  for (const m of methods) {
    const model = models.find((x) => x.method === m.method);
    const seedRow = SEED_ROW_OF[m.method] ?? null;
    if (!model && !seedRow) continue;
    const status = model ? 'zoo' : 'seed only';
    rows.push({
      m,
      model,
      head: { method: m.method, display: m.display, status, seedRow, card: model?.cardPath ?? null },
    });
  }
  return rows;
}

/** A budget as text: 4 significant digits, no trailing zeros (8/255 → 0.03137). */
export const fmtEps = (e: number) => String(Number(e.toPrecision(4)));

/** Budgets as text ('none' when there are none). */
export const epsText = (es: number[]) => (es.length ? es.map(fmtEps).join(', ') : 'none');

/** Software versions as text: `advlens 0.1.0, tfjs 4.22.0`. */
export const versionsText = (v: Record<string, string>) =>
  Object.entries(v)
    .map(([k, x]) => `${k} ${x}`)
    .join(', ');

/** A row of a zoo table: a zoo member, or a method only the paper has. */
interface MethodRow {
  display: string;
  status: string;
}

/** A row's method as text: seed-only rows say so. */
export const rowName = (r: MethodRow) =>
  r.status === 'zoo' ? r.display : `${r.display} (seed only: not in the zoo)`;

/** A row's method as an HTML table cell (htmlTable): seed-only rows say so in italics. */
export const methodCellHtml = (r: MethodRow) =>
  r.status === 'zoo' ? r.display : { html: `${escapeHtml(r.display)} <em>(seed only: not in the zoo)</em>` };

/** Items as an HTML list, escaped. */
export const htmlList = (items: string[]) =>
  `<ul>${items.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>`;

/** The report section listing the methods missing from the zoo, none when none is. */
export function missingSection(missing: { method: string; reason: string; train: string }[]) {
  return missing.length
    ? [
        {
          title: 'Missing from the zoo',
          html: htmlList(missing.map((m) => `${m.method}: ${m.reason}; train with: ${m.train}`)),
        },
      ]
    : [];
}

/** The provenance every zoo table carries (data null: none loaded; the study tables name no one seed). */
export interface TableProvenanceBase {
  data: { spec: string; source: string; examples: number } | null;
  command: string;
  versions: Record<string, string>;
  seed?: { citation: string };
}

/** The Markdown provenance block: data, the table's own lines (attack, stylised data), command, versions, seed, then each model's line. */
export function provenanceMd(p: TableProvenanceBase, own: string[], models: string[]): string[] {
  return [
    '### Provenance',
    '',
    `- data: ${p.data ? `${p.data.spec} from ${p.data.source}, first ${p.data.examples} images` : 'none loaded (no member trained yet)'}`,
    ...own,
    `- command: \`${p.command}\``,
    `- versions: ${versionsText(p.versions)}`,
    ...(p.seed ? [`- seed: ${p.seed.citation}`] : []),
    ...models.map((l) => `- ${l}`),
    '',
  ];
}

/** A table as JSON (the table object, 2-space indented, newline-terminated). */
export const tableJson = (t: unknown): string => JSON.stringify(t, null, 2) + '\n';

/**
 * One line per row against eps, from `values` (null: no value there): every row, so that a method has
 * the same colour in each chart of a table; a row with no value at all is named with " (-)".
 */
export function epsSeries<R extends MethodRowHead>(
  rows: R[],
  eps: number[],
  values: (r: R) => (number | null)[] | null,
): Series[] {
  return rows.map((r) => {
    const points = eps.flatMap((e, j): [number, number][] => {
      const v = values(r)?.[j] ?? null;
      return v === null ? [] : [[e, v]];
    });
    return { name: `${r.seedRow ?? r.display}${points.length ? '' : ' (-)'}`, points };
  });
}
