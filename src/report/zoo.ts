/**
 * The zoo's Tables 1 and 3 (`advlens zoo table [--table 3]`) as a file: Markdown (the README's table), JSON, or an
 * HTML page, from a {@link ZooTable} (zoo/table.ts) or a {@link ZooTable3} (zoo/table3.ts).
 */
import { zooTableHtml, zooTableJson, zooTableMarkdown, type ZooTable } from '../zoo/table.ts';
import { zooTable3Html, zooTable3Json, zooTable3Markdown, type ZooTable3 } from '../zoo/table3.ts';
import type { ReportFile } from './files.ts';

/** Formats of {@link zooReport}. */
export type ZooTableFormat = 'md' | 'json' | 'html';

/** Table 1 as one file, `zoo-table.md`, `.json` or `.html`. */
export function zooReport(table: ZooTable, format: ZooTableFormat = 'md'): ReportFile {
  const content =
    format === 'json'
      ? zooTableJson(table)
      : format === 'html'
        ? zooTableHtml(table)
        : zooTableMarkdown(table);
  return { path: `zoo-table.${format}`, content };
}

/** Table 3 as one file, `zoo-table3.md`, `.json` or `.html`. */
export function zooReport3(table: ZooTable3, format: ZooTableFormat = 'md'): ReportFile {
  const content =
    format === 'json'
      ? zooTable3Json(table)
      : format === 'html'
        ? zooTable3Html(table)
        : zooTable3Markdown(table);
  return { path: `zoo-table3.${format}`, content };
}
