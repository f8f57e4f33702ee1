/**
 * The seed's published numbers for the CIFAR-10 studies, copied from the seed document
 * (`../shared/seeds/000_eb6fcf1d185bb3ea.txt`; test/zoo/study.test.ts checks every value against it):
 * - Boopathy et al. (ICML 2020) Table 1, block "CIFAR-10, WResnet": 200-step PGD accuracy at
 *   eps 0, 2, 4, 6, 8, 9, 10 /255 (200 test images, so multiples of 1/200);
 * - Boopathy et al. Table 2, "CIFAR-10, Small": accuracy under the unforeseen attacks of Kang et al.
 *   (2019), Gabor, Snow, JPEG L-inf, JPEG L2, JPEG L1, at the budgets of ALGORITHMS.md section 1;
 * - Zhang & Zhu (ICML 2019), the AT-CNN table: ResNet-18 accuracy (%) on Caltech-256 and TinyImageNet,
 *   clean and stylised (the slides show saturation and patch shuffling only as figures, no numbers).
 *
 *   SEED_CIFAR_PGD.rows.Int2[SEED_CIFAR_PGD.eps255.indexOf(8)]; // 0.29
 */

/** Table 1, CIFAR-10 WResnet: PGD-200 accuracy per method and budget (eps in /255). */
export const SEED_CIFAR_PGD = {
  citation:
    'Boopathy et al., "Proper Network Interpretability Helps Adversarial Robustness in Classification", ICML 2020, Table 1 (CIFAR-10, WResnet; 200-step PGD accuracy)',
  examples: 200,
  eps255: [0, 2, 4, 6, 8, 9, 10],
  rows: {
    Normal: [0.765, 0.25, 0.07, 0.06, 0.06, 0.06, 0.06],
    Adv: [0.72, 0.605, 0.485, 0.33, 0.17, 0.145, 0.085],
    TRADES: [0.765, 0.61, 0.46, 0.295, 0.17, 0.14, 0.1],
    'Int-one-class': [0.685, 0.505, 0.36, 0.19, 0.065, 0.04, 0.025],
    Int: [0.735, 0.63, 0.485, 0.365, 0.27, 0.24, 0.21],
    'Int-Adv': [0.665, 0.585, 0.51, 0.385, 0.32, 0.3, 0.28],
    Int2: [0.69, 0.595, 0.465, 0.36, 0.29, 0.245, 0.22],
    'Int2-Adv': [0.68, 0.585, 0.485, 0.405, 0.335, 0.31, 0.285],
  } as Readonly<Record<string, readonly number[]>>,
} as const;

/** The unforeseen attacks of Table 2, in the paper's column order. */
export const SEED_UNFORESEEN_ATTACKS = ['gabor', 'snow', 'jpeg-linf', 'jpeg-l2', 'jpeg-l1'] as const;

/** Table 2, CIFAR-10 Small: accuracy per method under each unforeseen attack. */
export const SEED_UNFORESEEN = {
  citation:
    'Boopathy et al., ICML 2020, Table 2 (CIFAR-10, Small; accuracy under the unforeseen attacks of Kang et al. 2019)',
  examples: 200,
  columns: ['Gabor', 'Snow', 'JPEG L-inf', 'JPEG L2', 'JPEG L1'],
  rows: {
    Normal: [0.125, 0.0, 0.0, 0.03, 0.0],
    Adv: [0.19, 0.115, 0.46, 0.38, 0.23],
    TRADES: [0.22, 0.085, 0.425, 0.3, 0.07],
    'IG-Norm': [0.155, 0.015, 0.0, 0.0, 0.0],
    'IG-Norm-Sum': [0.185, 0.11, 0.48, 0.375, 0.215],
    Int: [0.16, 0.105, 0.44, 0.345, 0.26],
    'Int-Adv': [0.15, 0.12, 0.34, 0.31, 0.235],
    Int2: [0.13, 0.115, 0.44, 0.365, 0.295],
    'Int2-Adv': [0.11, 0.135, 0.36, 0.315, 0.26],
  } as Readonly<Record<string, readonly number[]>>,
} as const;

/** The AT-CNN table: accuracy (%) clean and stylised on Caltech-256 and TinyImageNet, ResNet-18. */
export const SEED_ATCNN = {
  citation:
    'Zhang & Zhu, "Interpreting Adversarially Trained Convolutional Neural Networks", ICML 2019 (ResNet-18; accuracy %, clean and stylised)',
  datasets: ['Caltech-256', 'TinyImageNet'],
  /** Per row: [Caltech-256, Stylized Caltech-256, TinyImageNet, Stylized TinyImageNet]. */
  rows: {
    Standard: [83.32, 16.83, 72.02, 7.25],
    Underfit: [69.04, 9.75, 60.35, 7.16],
    'PGD-Linf: 8': [66.41, 19.75, 54.42, 18.81],
    'PGD-Linf: 4': [72.22, 21.1, 61.85, 20.51],
    'PGD-Linf: 2': [76.51, 21.89, 67.06, 19.25],
    'PGD-Linf: 1': [79.11, 22.07, 69.42, 18.31],
    'PGD-L2: 12': [65.24, 20.14, 53.44, 19.33],
    'PGD-L2: 8': [69.75, 21.62, 58.21, 20.42],
    'PGD-L2: 4': [74.12, 22.53, 64.24, 21.05],
    'FGSM: 8': [70.88, 21.23, 66.21, 15.07],
    'FGSM: 4': [73.91, 21.99, 63.43, 20.22],
  } as Readonly<Record<string, readonly number[]>>,
} as const;
