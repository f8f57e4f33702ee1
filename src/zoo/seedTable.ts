/**
 * The published numbers the model zoo is compared with: Boopathy et al., "Proper Network
 * Interpretability Helps Adversarial Robustness in Classification", ICML 2020, Table 1 ("Evaluation
 * of 200-step PGD accuracy under different perturbation sizes eps"), block "MNIST, Small". Accuracy
 * of a small MNIST CNN under 200-step L-inf PGD, on 200 test images (every value is a multiple of
 * 1/200); eps 0 is the clean test accuracy. Copied from the seed document
 * (`../shared/seeds/000_eb6fcf1d185bb3ea.txt`, the table after Figure 3).
 *
 *   SEED_TABLE.rows.Int2[SEED_TABLE.eps.indexOf(0.35)]; // 0.555
 *   seedValue('int2-adv', 0.4); // 0.62
 */

/** The rows of Table 1 (MNIST, Small), in the paper's order. */
export const SEED_ROWS = [
  'Normal',
  'Adv',
  'TRADES',
  'IG-Norm',
  'IG-Norm-Sum',
  'Int-one-class',
  'Int',
  'Int-Adv',
  'Int2',
  'Int2-Adv',
] as const;

/** A row of the seed's Table 1 (Boopathy et al.): a method's PGD-200 accuracy per eps as the paper prints it. */
export type SeedRow = (typeof SEED_ROWS)[number];

/** Table 1, MNIST Small: PGD-200 accuracy per method (rows) and L-inf budget (columns, pixels in [0, 1]). */
export const SEED_TABLE: {
  citation: string;
  data: string;
  examples: number;
  eps: readonly number[];
  rows: Readonly<Record<SeedRow, readonly number[]>>;
} = {
  citation:
    'Boopathy et al., "Proper Network Interpretability Helps Adversarial Robustness in Classification", ICML 2020, Table 1 (MNIST, Small; 200-step PGD accuracy)',
  data: 'MNIST test set',
  examples: 200,
  eps: [0, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4],
  rows: {
    Normal: [1.0, 0.53, 0.045, 0.0, 0.0, 0.0, 0.0],
    Adv: [0.98, 0.96, 0.94, 0.925, 0.89, 0.01, 0.0],
    TRADES: [0.97, 0.97, 0.955, 0.93, 0.885, 0.0, 0.0],
    'IG-Norm': [0.985, 0.95, 0.895, 0.41, 0.005, 0.0, 0.0],
    'IG-Norm-Sum': [0.975, 0.955, 0.935, 0.91, 0.88, 0.115, 0.0],
    'Int-one-class': [0.975, 0.635, 0.33, 0.14, 0.125, 0.115, 0.08],
    Int: [0.95, 0.93, 0.905, 0.84, 0.79, 0.18, 0.14],
    'Int-Adv': [0.935, 0.945, 0.905, 0.88, 0.855, 0.355, 0.175],
    Int2: [0.95, 0.945, 0.935, 0.89, 0.845, 0.555, 0.385],
    'Int2-Adv': [0.955, 0.925, 0.915, 0.88, 0.84, 0.655, 0.62],
  },
};

/** The seed row each zoo method is compared with; null where the paper has none (underfit, fgsm, pgd-l2). */
export const SEED_ROW_OF: Readonly<Record<string, SeedRow | null>> = {
  normal: 'Normal',
  underfit: null,
  fgsm: null,
  'pgd-linf': 'Adv',
  'pgd-l2': null,
  trades: 'TRADES',
  'ig-norm': 'IG-Norm',
  'ig-norm-sum': 'IG-Norm-Sum',
  'int-one-class': 'Int-one-class',
  int: 'Int',
  'int-adv': 'Int-Adv',
  int2: 'Int2',
  'int2-adv': 'Int2-Adv',
};

/** The paper's accuracy for a zoo method at `eps`; null when it has no such row or column. */
export function seedValue(method: string, eps: number): number | null {
  const row = SEED_ROW_OF[method];
  if (!row) return null;
  const j = SEED_TABLE.eps.findIndex((e) => Math.abs(e - eps) < 1e-9);
  return j < 0 ? null : SEED_TABLE.rows[row][j];
}
