/**
 * Zhang & Zhu's (ICML 2019) AT-CNN table as a zoo table definition (zoo/study.ts): the AT-CNN set of
 * the CIFAR-10 zoo as rows; clean, stylised, saturated and patch-shuffled test images as columns; the
 * seed's Caltech-256 and TinyImageNet numbers (clean and stylised) beside; the findings of issue 20,
 * computed from the numbers. `atcnnDef('mnist')` is the same table on the MNIST zoo (zoo/zoo.ts):
 * AT-CNN's methods that the zoo has (standard = its normal gap-cnn, underfit, PGD L-inf, PGD L2,
 * FGSM) and its other robust members as extra rows, saturation and shuffling only (grid sizes 2, 4
 * and 7, which divide 28), no stylised column and no seed numbers (the seed has none on MNIST).
 *
 *   atcnnDef().columns.map((c) => c.key); // ['clean', 'stylized', 'saturate:1', ..., 'shuffle:8']
 *   atcnnDef('mnist').columns.map((c) => c.key); // ['clean', 'saturate:1', ..., 'shuffle:7']
 */
import { SEED_ATCNN } from './studySeed.ts';
import { CIFAR10_METHODS } from './cifar10.ts';
import { ZOO_METHODS } from './zoo.ts';
import { compareAll } from './findings.ts';
import type { FindingDef, SeedSet, StudyColumn, StudyDef } from './study.ts';

/** AT-CNN's saturation levels and patch-shuffle grid sizes (ALGORITHMS.md section 5). */
export const SATURATION_LEVELS = [1, 2, 4, 8, 16, 64, 1024];
export const SHUFFLE_SIZES = [2, 4, 8];
/** The grid sizes on 28x28 MNIST: 2, 4 and 7 divide 28 (7 stands for AT-CNN's 8, which does not). */
export const MNIST_SHUFFLE_SIZES = [2, 4, 7];
/** The saturation levels at which the "keeps more on saturated images" finding is checked. */
export const STRONG_SATURATION = [8, 16, 64, 1024];

const ATCNN_MEMBERS = CIFAR10_METHODS.filter((m) =>
  ['standard', 'underfit', 'pgd', 'fgsm'].some((k) => m.method === k || m.method.startsWith(`${k}-`)),
);
/** The adversarially trained members of the AT-CNN set. */
export const ATCNN_ADVERSARIAL = ATCNN_MEMBERS.filter((m) => m.adversarial).map((m) => m.method);

/** The MNIST zoo's members that are AT-CNN's methods: standard (the zoo's normal), underfit, AT ones. */
const MNIST_ATCNN = ['normal', 'underfit', 'pgd-linf', 'pgd-l2', 'fgsm'];
/** The adversarially trained ones among them: the AT group of the MNIST table's findings. */
export const MNIST_ATCNN_ADVERSARIAL = ['pgd-linf', 'pgd-l2', 'fgsm'];

/** Who the findings compare: the AT group, Standard and Underfit; the shuffle sizes; stylised or not. */
interface FindingGroups {
  at: string[];
  standard: string;
  underfit: string;
  shuffle: number[];
  stylized: boolean;
}

function atcnnFindings(g: FindingGroups): FindingDef[] {
  const { at, standard } = g;
  const col = (key: string, label: string) => [{ key, label }];
  const stylized: FindingDef[] = [
    {
      id: 'at-keep-stylized',
      statement:
        "AT models keep more on stylised images (less reliance on texture): every AT model's stylised accuracy is above Standard's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt, size) =>
        compareAll(get, at, standard, col('stylized', 'stylised'), 'above', fmt, size),
    },
    {
      id: 'underfit-not-stylized',
      statement:
        "The stylised gain is not lower clean accuracy alone: Underfit's stylised accuracy is below every AT model's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt, size) =>
        compareAll(get, at, g.underfit, col('stylized', 'stylised'), 'above', fmt, size),
    },
  ];
  return [
    {
      id: 'at-lose-clean',
      statement:
        "Adversarial training costs clean accuracy: every AT model's clean accuracy is below Standard's",
      reads: 'value',
      columns: ['clean'],
      check: (get, fmt, size) => compareAll(get, at, standard, col('clean', 'clean'), 'below', fmt, size),
    },
    ...(g.stylized ? stylized : []),
    {
      id: 'at-keep-saturated',
      statement: `AT models keep more on saturated images: at saturation levels ${STRONG_SATURATION.join(', ')}, every AT model's accuracy on the images it classifies right when clean is above Standard's`,
      reads: 'conditional',
      columns: STRONG_SATURATION.map((p) => `saturate:${p}`),
      check: (get, fmt, size) =>
        compareAll(
          get,
          at,
          standard,
          STRONG_SATURATION.map((p) => ({ key: `saturate:${p}`, label: `saturation ${p}` })),
          'above',
          fmt,
          size,
        ),
    },
    {
      id: 'at-lose-shuffled',
      statement: `AT models lose more on patch-shuffled images (more reliance on shape): at shuffle sizes ${g.shuffle.join(', ')}, every AT model's accuracy on the images it classifies right when clean is below Standard's`,
      reads: 'conditional',
      columns: g.shuffle.map((k) => `shuffle:${k}`),
      check: (get, fmt, size) =>
        compareAll(
          get,
          at,
          standard,
          g.shuffle.map((k) => ({ key: `shuffle:${k}`, label: `shuffle ${k}` })),
          'below',
          fmt,
          size,
        ),
    },
  ];
}

/** Clean, stylised (when `stylized`), each saturation level, each shuffle size in `shuffle`. */
function atcnnColumns(stylized: boolean, shuffle: number[]): StudyColumn[] {
  return [
    { key: 'clean', label: 'clean', kind: 'clean' },
    ...(stylized ? [{ key: 'stylized', label: 'stylised', kind: 'stylized' } as const] : []),
    ...SATURATION_LEVELS.map((p): StudyColumn => ({
      key: `saturate:${p}`,
      label: `sat ${p}`,
      kind: 'transform',
      transform: 'saturate',
      param: p,
    })),
    ...shuffle.map((k): StudyColumn => ({
      key: `shuffle:${k}`,
      label: `shuffle ${k}`,
      kind: 'transform',
      transform: 'shuffle',
      param: k,
    })),
  ];
}

const CELL_TEXT =
  "Each cell: accuracy on the transformed images / AT-CNN's second accuracy (of the images the model classifies right when clean, the share still right), in %. Saturation p: v' = sign(2v-1)|2v-1|^(2/p)/2 + 1/2 (p = 2 is the identity); shuffle k: a k x k grid of patches permuted at random (seeded)";

/**
 * The AT-CNN table on the CIFAR-10 zoo (clean, stylised, each saturation level, each shuffle size),
 * or on the MNIST zoo with `zoo` 'mnist' (see the file comment).
 */
export function atcnnDef(zoo: 'cifar10' | 'mnist' = 'cifar10'): StudyDef {
  return zoo === 'mnist' ? mnistAtcnnDef() : cifarAtcnnDef();
}

function mnistAtcnnDef(): StudyDef {
  const display: Record<string, string> = { normal: 'Standard (Normal)' };
  const rows = [
    ...MNIST_ATCNN.map((k) => ZOO_METHODS.find((m) => m.method === k)!),
    ...ZOO_METHODS.filter((m) => !MNIST_ATCNN.includes(m.method)),
  ].map((m) => ({ member: m.method, display: display[m.method] ?? m.display, seedRow: null }));
  return {
    id: 'atcnn',
    zoo: 'mnist',
    title:
      "Shape versus texture on MNIST: the advlens MNIST zoo on saturated and patch-shuffled test digits (AT-CNN's tests, Zhang & Zhu, ICML 2019)",
    rows,
    columns: atcnnColumns(false, MNIST_SHUFFLE_SIZES),
    seeds: [],
    findings: atcnnFindings({
      at: MNIST_ATCNN_ADVERSARIAL,
      standard: 'normal',
      underfit: 'underfit',
      shuffle: MNIST_SHUFFLE_SIZES,
      stylized: false,
    }),
    defaultLimit: 2000,
    unit: 'percent',
    setup: `${CELL_TEXT}; on 28x28 digits the grids are 2, 4 and 7 (they divide 28; AT-CNN's 8 does not). The AT group of the findings is AT-CNN's methods: PGD L-inf, PGD L2 and FGSM at the zoo's budgets (L-inf 0.3, L2 2); the zoo's other robust members are extra rows, outside the findings. Stylisation is left out: the digits are grey strokes on black with no texture to replace, and the style networks need colour texture (they paint a painting's colours and brush strokes over the whole frame, background included), so a stylised column would measure the networks' paint rather than a shift from texture to shape; the two stylised findings are not tested here. The seed has no MNIST numbers.`,
  };
}

function cifarAtcnnDef(): StudyDef {
  const columns = atcnnColumns(true, SHUFFLE_SIZES);
  const sets = SEED_ATCNN.datasets.map((name, d): SeedSet => {
    const values: Record<string, Record<string, number>> = {};
    for (const [row, v] of Object.entries(SEED_ATCNN.rows))
      values[row] = { clean: v[2 * d] / 100, stylized: v[2 * d + 1] / 100 };
    return { name, citation: SEED_ATCNN.citation, examples: null, values };
  });
  return {
    id: 'atcnn',
    zoo: 'cifar10',
    title:
      'Shape versus texture: the advlens CIFAR-10 zoo on transformed test images, beside Zhang & Zhu (ICML 2019)',
    rows: ATCNN_MEMBERS.map((m) => ({ member: m.method, display: m.display, seedRow: m.display })),
    columns,
    seeds: sets,
    findings: atcnnFindings({
      at: ATCNN_ADVERSARIAL,
      standard: 'standard',
      underfit: 'underfit',
      shuffle: SHUFFLE_SIZES,
      stylized: true,
    }),
    defaultLimit: 2000,
    unit: 'percent',
    setup: `${CELL_TEXT}; stylised: the stylised copy of the test set made once by \`advlens stylize\` (--stylized-data), its images paired with the clean ones by the index in their file names (a folder named otherwise gives the plain accuracy only).`,
  };
}
