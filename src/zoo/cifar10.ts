/**
 * The CIFAR-10 zoo: one `cifar-cnn` per training method of the two CIFAR-10 studies of the seed, one
 * folder per member, `<models>/cifar10-<method>/`, shared where a method is the same model in both:
 * - the AT-CNN set (Zhang & Zhu, ICML 2019): standard, underfit, PGD L-inf at 8, 4, 2 and 1 /255,
 *   PGD L2 at the paper's 12, 8 and 4 scaled from 224x224 to 32x32 (the L2 norm of a perturbation of
 *   the same size per pixel scales with the side: x 32/224 = 1/7, so 12/7, 8/7 and 4/7; the folders
 *   keep the paper's numbers), FGSM at 8 and 4 /255;
 * - the Int set (Boopathy et al., ICML 2020): Normal is `cifar10-standard`, Adv is
 *   `cifar10-pgd-linf-8`, and trades, ig-norm, ig-norm-sum, int-one-class, int, int-adv, int2,
 *   int2-adv have their own folders.
 * No file access: src/node/zoo.ts reads the cards.
 *
 *   CIFAR10_ZOO.methods.map((m) => m.folder); // ['cifar10-standard', 'cifar10-underfit', ...]
 */
import type { ZooMethod } from './zoo.ts';

/** A CIFAR-10 member: a zoo method with the budget its training used (pixels in [0, 1]). */
export interface Cifar10Method extends ZooMethod {
  /** The training budget: L-inf for pgd-linf/fgsm and the Int set, L2 for pgd-l2. */
  eps?: number;
  /** Adversarially trained (the AT-CNN study's "AT-CNN" group). */
  adversarial: boolean;
}

const m = (
  method: string,
  display: string,
  objective: string,
  o: { norm?: 'linf' | 'l2'; eps?: number; adversarial?: boolean } = {},
): Cifar10Method => ({
  method,
  folder: `cifar10-${method}`,
  display,
  objective,
  ...(o.norm ? { norm: o.norm } : {}),
  ...(o.eps !== undefined ? { eps: o.eps } : {}),
  adversarial: o.adversarial ?? o.eps !== undefined,
});

/** L2 budgets of AT-CNN at 224x224 and their scaling to 32x32 (x 32/224). */
export const L2_SCALE = 32 / 224;

/** The CIFAR-10 zoo's members, the AT-CNN set first, then the Int set's own members. */
export const CIFAR10_METHODS: readonly Cifar10Method[] = [
  m('standard', 'Standard', 'normal'),
  m('underfit', 'Underfit', 'underfit'),
  ...[8, 4, 2, 1].map((e) => m(`pgd-linf-${e}`, `PGD-Linf: ${e}`, 'pgd', { norm: 'linf', eps: e / 255 })),
  ...[12, 8, 4].map((e) => m(`pgd-l2-${e}`, `PGD-L2: ${e}`, 'pgd', { norm: 'l2', eps: e * L2_SCALE })),
  ...[8, 4].map((e) => m(`fgsm-${e}`, `FGSM: ${e}`, 'fgsm', { eps: e / 255 })),
  ...(
    [
      ['trades', 'TRADES'],
      ['ig-norm', 'IG-Norm'],
      ['ig-norm-sum', 'IG-Norm-Sum'],
      ['int-one-class', 'Int-one-class'],
      ['int', 'Int'],
      ['int-adv', 'Int-Adv'],
      ['int2', 'Int2'],
      ['int2-adv', 'Int2-Adv'],
    ] as const
  ).map(([k, d]) => m(k, d, k, { eps: 8 / 255 })),
];

/**
 * Suggested recipes (the lead's background runs decide; each card records the one used): the
 * standard model's SGD recipe, and for the robust ones the inner attack of Wong et al. (2020) style
 * short PGD with a random start.
 */
const BASE =
  '--epochs 30 --batch-size 64 --optimizer sgd --lr 0.05 --momentum 0.9 --weight-decay 5e-4 --schedule cosine --augment shift:4,flip --seed 1';
const fmt = (x: number) => String(Number(x.toPrecision(6)));

/** The `advlens train` options of member `c` beyond data, architecture and method. */
export function cifar10Recipe(c: Cifar10Method): string {
  if (c.method === 'underfit') return BASE.replace('--epochs 30', '--epochs 3');
  if (c.eps === undefined) return BASE;
  if (c.objective === 'fgsm') return `--eps ${fmt(c.eps * 255)}/255 ${BASE}`;
  if (c.norm === 'l2')
    return `--norm l2 --eps ${fmt(c.eps)} --attack-steps 7 --attack-step-size ${fmt(c.eps / 4)} ${BASE}`;
  return `--eps ${fmt(c.eps * 255)}/255 --attack-steps 7 --attack-step-size ${fmt((c.eps * 255) / 4)}/255 ${BASE}`;
}

/** The command that trains member `c` into `out`. */
export function cifar10TrainCommand(c: Cifar10Method, out: string): string {
  return `advlens train --data cifar10:train --arch cifar-cnn --method ${c.objective} ${cifar10Recipe(c)} --eval-data cifar10:test --out ${out}`;
}
