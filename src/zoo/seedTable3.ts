/**
 * The published numbers of Table 3 of Boopathy et al., "Proper Network Interpretability Helps
 * Adversarial Robustness in Classification", ICML 2020 ("Performance of AAI for different values of
 * perturbation size eps in terms of Kendall's Tau order rank correlation between the original and
 * adversarial interpretation maps"), block "MNIST, Small". Copied from the seed document
 * (`../shared/seeds/000_eb6fcf1d185bb3ea.txt`, the table after "Experiment: Attack Against
 * Interpretability"). The paper averages tau over the examples whose prediction did not change
 * (ALGORITHMS.md section 1); it does not say how many test images, so the table is compared with
 * ours at the 200 of its Table 1.
 *
 *   seedTau('int2', 0.35); // 0.612
 */
import { SEED_ROW_OF, type SeedRow } from './seedTable.ts';
import { sameEps } from './robustRecord.ts';

/** Table 3, MNIST Small: mean Kendall's tau under AAI per method (rows, Table 1's) and L-inf budget. */
export const SEED_TABLE3: {
  citation: string;
  eps: readonly number[];
  rows: Readonly<Record<SeedRow, readonly number[]>>;
} = {
  citation:
    'Boopathy et al., "Proper Network Interpretability Helps Adversarial Robustness in Classification", ICML 2020, Table 3 (MNIST, Small; Kendall\'s tau between clean and AAI-attacked CAMs)',
  eps: [0.05, 0.1, 0.2, 0.3, 0.35, 0.4],
  rows: {
    Normal: [0.907, 0.797, 0.366, -0.085, -0.085, -0.085],
    Adv: [0.978, 0.955, 0.91, 0.857, 0.467, 0.136],
    TRADES: [0.978, 0.955, 0.905, 0.847, 0.45, 0.115],
    'IG-Norm': [0.958, 0.894, 0.662, 0.278, 0.098, 0.094],
    'IG-Norm-Sum': [0.976, 0.951, 0.901, 0.85, 0.659, 0.389],
    'Int-one-class': [0.874, 0.818, 0.754, 0.692, 0.461, 0.278],
    Int: [0.982, 0.968, 0.941, 0.913, 0.504, 0.32],
    'Int-Adv': [0.98, 0.965, 0.936, 0.912, 0.527, 0.348],
    Int2: [0.982, 0.967, 0.941, 0.918, 0.612, 0.351],
    'Int2-Adv': [0.982, 0.971, 0.95, 0.931, 0.709, 0.503],
  },
};

/** The paper's tau for a zoo method at `eps`; null when it has no such row or column. */
export function seedTau(method: string, eps: number): number | null {
  const row = SEED_ROW_OF[method];
  if (!row) return null;
  const j = SEED_TABLE3.eps.findIndex((e) => sameEps(e, eps));
  return j < 0 ? null : SEED_TABLE3.rows[row][j];
}
