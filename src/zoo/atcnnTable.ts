/**
 * Zhang & Zhu's (ICML 2019) AT-CNN table as a zoo table definition (zoo/study.ts): the AT-CNN set of
 * the CIFAR-10 zoo as rows; clean, stylised, saturated and patch-shuffled test images as columns; the
 * seed's Caltech-256 and TinyImageNet numbers (clean and stylised) beside; the findings of issue 20,
 * computed from the numbers.
 *
 *   atcnnDef().columns.map((c) => c.key); // ['clean', 'stylized', 'saturate:1', ..., 'shuffle:8']
 */
import { SEED_ATCNN } from './studySeed.ts';
import { CIFAR10_METHODS } from './cifar10.ts';
import { compareAll } from './findings.ts';
import type { FindingDef, SeedSet, StudyColumn, StudyDef } from './study.ts';

/** AT-CNN's saturation levels and patch-shuffle grid sizes (ALGORITHMS.md section 5). */
export const SATURATION_LEVELS = [1, 2, 4, 8, 16, 64, 1024];
export const SHUFFLE_SIZES = [2, 4, 8];
/** The saturation levels at which the "keeps more on saturated images" finding is checked. */
export const STRONG_SATURATION = [8, 16, 64, 1024];

const ATCNN_MEMBERS = CIFAR10_METHODS.filter((m) =>
  ['standard', 'underfit', 'pgd', 'fgsm'].some((k) => m.method === k || m.method.startsWith(`${k}-`)),
);
/** The adversarially trained members of the AT-CNN set. */
export const ATCNN_ADVERSARIAL = ATCNN_MEMBERS.filter((m) => m.adversarial).map((m) => m.method);

function atcnnFindings(): FindingDef[] {
  const at = ATCNN_ADVERSARIAL;
  const col = (key: string, label: string) => [{ key, label }];
  return [
    {
      id: 'at-lose-clean',
      statement:
        "Adversarial training costs clean accuracy: every AT model's clean accuracy is below Standard's",
      reads: 'value',
      columns: ['clean'],
      check: (get, fmt) => compareAll(get, at, 'standard', col('clean', 'clean'), 'below', fmt),
    },
    {
      id: 'at-keep-stylized',
      statement:
        "AT models keep more on stylised images (less reliance on texture): every AT model's stylised accuracy is above Standard's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt) => compareAll(get, at, 'standard', col('stylized', 'stylised'), 'above', fmt),
    },
    {
      id: 'underfit-not-stylized',
      statement:
        "The stylised gain is not lower clean accuracy alone: Underfit's stylised accuracy is below every AT model's",
      reads: 'value',
      columns: ['stylized'],
      check: (get, fmt) => compareAll(get, at, 'underfit', col('stylized', 'stylised'), 'above', fmt),
    },
    {
      id: 'at-keep-saturated',
      statement: `AT models keep more on saturated images: at saturation levels ${STRONG_SATURATION.join(', ')}, every AT model's accuracy on the images it classifies right when clean is above Standard's`,
      reads: 'conditional',
      columns: STRONG_SATURATION.map((p) => `saturate:${p}`),
      check: (get, fmt) =>
        compareAll(
          get,
          at,
          'standard',
          STRONG_SATURATION.map((p) => ({ key: `saturate:${p}`, label: `saturation ${p}` })),
          'above',
          fmt,
        ),
    },
    {
      id: 'at-lose-shuffled',
      statement: `AT models lose more on patch-shuffled images (more reliance on shape): at shuffle sizes ${SHUFFLE_SIZES.join(', ')}, every AT model's accuracy on the images it classifies right when clean is below Standard's`,
      reads: 'conditional',
      columns: SHUFFLE_SIZES.map((k) => `shuffle:${k}`),
      check: (get, fmt) =>
        compareAll(
          get,
          at,
          'standard',
          SHUFFLE_SIZES.map((k) => ({ key: `shuffle:${k}`, label: `shuffle ${k}` })),
          'below',
          fmt,
        ),
    },
  ];
}

/** The AT-CNN table: clean, stylised, each saturation level, each shuffle size. */
export function atcnnDef(): StudyDef {
  const columns: StudyColumn[] = [
    { key: 'clean', label: 'clean', kind: 'clean' },
    { key: 'stylized', label: 'stylised', kind: 'stylized' },
    ...SATURATION_LEVELS.map((p): StudyColumn => ({
      key: `saturate:${p}`,
      label: `sat ${p}`,
      kind: 'transform',
      transform: 'saturate',
      param: p,
    })),
    ...SHUFFLE_SIZES.map((k): StudyColumn => ({
      key: `shuffle:${k}`,
      label: `shuffle ${k}`,
      kind: 'transform',
      transform: 'shuffle',
      param: k,
    })),
  ];
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
    findings: atcnnFindings(),
    defaultLimit: 2000,
    unit: 'percent',
    setup:
      "Each cell: accuracy on the transformed images / AT-CNN's second accuracy (of the images the model classifies right when clean, the share still right), in %. Saturation p: v' = sign(2v-1)|2v-1|^(2/p)/2 + 1/2 (p = 2 is the identity); shuffle k: a k x k grid of patches permuted at random (seeded); stylised: the stylised copy of the test set made once by `advlens stylize` (--stylized-data), its images paired with the clean ones by the index in their file names (a folder named otherwise gives the plain accuracy only).",
  };
}
