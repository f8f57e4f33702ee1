/**
 * Two-model comparison (beyond Bluff): the same class pair, images and strengths on, say, a standard
 * and an adversarially trained model of one architecture, summarised per layer by what the attack
 * exploits: how many neurons it pushes into a layer's top list (the exploited group) and how far it
 * moves the neurons' percentiles (vulnerability, sum_s |pct_s - pct_original| / s). Use `keep: 'all'`
 * for both runs so every strength of both models rests on the same images.
 *
 *   const rows = comparePathways([{ name: 'normal', result: a }, { name: 'pgd', result: b }]);
 */
import type { PathwaysResult } from './pathways.ts';

/** One layer of a pathways comparison: its channels, exploited neurons and vulnerability (mean, of the exploited, max). */
export interface LayerSummary {
  layer: string;
  channels: number;
  /** Size of the exploited group (union over strengths). */
  exploited: number;
  /** Mean vulnerability over the layer's neurons, and over its exploited ones (NaN when none). */
  meanVulnerability: number;
  exploitedVulnerability: number;
  maxVulnerability: number;
}

/** One model of a pathways comparison: its success per strength and its layers' summaries. */
export interface ModelSummary {
  name: string;
  /** Fraction of images that reached the target, per strength. */
  success: number[];
  layers: LayerSummary[];
}

const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN);

/** Per model and layer: exploited neurons and vulnerability (the logits unit is left out). */
export function comparePathways(runs: { name: string; result: PathwaysResult }[]): ModelSummary[] {
  return runs.map(({ name, result: r }) => ({
    name,
    success: r.success.map((s) => s.succeeded / s.attempted),
    layers: r.layers
      .filter((l) => !l.logits)
      .map((l) => {
        const v = r.vulnerability[l.name];
        const ex = r.groups[l.name].exploited;
        return {
          layer: l.name,
          channels: l.channels,
          exploited: ex.length,
          meanVulnerability: mean(v),
          exploitedVulnerability: mean(ex.map((c) => v[c])),
          maxVulnerability: Math.max(...v),
        };
      }),
  }));
}
