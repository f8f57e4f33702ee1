/**
 * The zoo's Table 1 (`advlens zoo table`) as a file: Markdown (the README's table), JSON, or an
 * HTML page, from a {@link ZooTable} (zoo/table.ts).
 */
import { zooTableHtml, zooTableJson, zooTableMarkdown, type ZooTable } from '../zoo/table.ts';
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
