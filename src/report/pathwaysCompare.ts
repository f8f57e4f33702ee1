/**
 * The two-model comparison report: `compare.json` (`advlens-pathways-compare/1`) and `compare.html`,
 * a table per layer of the exploited neurons and vulnerability of each model, and the success curves.
 */
import type { ModelSummary } from '../pathways/compare.ts';
import { htmlTable, reportPage } from './html.ts';
import { lineChart } from './plot.ts';
import type { PathwaysReportFile } from './pathways.ts';

const f = (v: number) => (Number.isFinite(v) ? v.toPrecision(3) : '-');

/** The comparison's files; `strengths` are the shared strengths, `provenance` what produced them. */
export function pathwaysCompareReport(
  models: ModelSummary[],
  strengths: number[],
  title: string,
  provenance: object,
): PathwaysReportFile[] {
  const layers = models[0].layers.map((l) => l.layer);
  const rows = layers.map((layer) => [
    layer,
    ...models.flatMap((m) => {
      const l = m.layers.find((x) => x.layer === layer);
      return l ? [l.exploited, f(l.meanVulnerability), f(l.exploitedVulnerability)] : ['-', '-', '-'];
    }),
  ]);
  const headers = [
    'layer',
    ...models.flatMap((m) => [
      `${m.name}: exploited`,
      `${m.name}: mean vulnerability`,
      `${m.name}: exploited's vulnerability`,
    ]),
  ];
  const html = reportPage(
    title,
    [
      {
        title: 'Attack success',
        html: lineChart(
          models.map((m) => ({
            name: m.name,
            points: m.success.map((s, i) => [strengths[i], s] as [number, number]),
          })),
          { xLabel: 'strength', yLabel: 'reached the target', width: 560, height: 280 },
        ),
      },
      {
        title: 'Exploited neurons and vulnerability per layer',
        html:
          "<p>Exploited: neurons the attack pushes into a layer's top list at some strength (union over strengths). Vulnerability: sum over strengths of |percentile under attack - benign percentile| / strength.</p>" +
          htmlTable(headers, rows),
      },
    ],
    provenance,
  );
  return [
    {
      path: 'compare.json',
      content: JSON.stringify(
        { format: 'advlens-pathways-compare/1', strengths, models, provenance },
        null,
        1,
      ),
    },
    { path: 'compare.html', content: html },
  ];
}
