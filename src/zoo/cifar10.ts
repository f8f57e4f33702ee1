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
import type { ZooHeadline, ZooMethod } from './zoo.ts';

/** The CIFAR-10 zoo's headline: cifar10:test, PGD-200 at 8/255 (the budget of interest of its Table 1). */
export const CIFAR10_HEADLINE: ZooHeadline = { data: ['cifar10:test'], eps: 8 / 255, epsLabel: '8/255' };

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
 * The recipes the set is trained with (scripts/train-cifar10-zoo.sh runs them; each card records the
 * one used and, in its description, how it differs from the paper's): SGD with momentum, weight decay,
 * cosine schedule, shift and flip; 30 epochs for the standard model, 15 for PGD L-inf 8/255 (the
 * headline robust model), 10 for the other robust ones, 2 for underfit. The inner attack of L-inf
 * training (PGD members and the Int set) is FGSM from a random start with step 1.25 eps (Wong et al.
 * 2020); L2 takes 2 steps of 0.6 eps from a random start; the FGSM members are AT-CNN's plain FGSM.
 * IG-Norm and IG-Norm-Sum are fine-tuned instead (see CIFAR10_FINE_TUNED). `base(lr)`: the options
 * every member shares, at learning rate lr (0.05 from scratch).
 */
const base = (lr: number) =>
  `--batch-size 64 --optimizer sgd --lr ${lr} --momentum 0.9 --weight-decay 5e-4 --schedule cosine --augment shift:4,flip --seed 1`;
const fmt = (x: number) => String(Number(x.toPrecision(6)));

/**
 * Members fine-tuned from `cifar10-standard` (the Normal model) rather than trained from random
 * weights: IG-Norm and IG-Norm-Sum differentiate their penalty twice, about 3 s a step on one core
 * here, so ten epochs from scratch take 6.5 hours of two cores, longer than a session; a machine
 * replaced between sessions (2026-12-07) took their checkpoints at 5.4 epochs with it. Two epochs
 * from Normal fit one session.
 */
export const CIFAR10_FINE_TUNED: readonly string[] = ['ig-norm', 'ig-norm-sum'];
const fineTuned = (c: Cifar10Method) => CIFAR10_FINE_TUNED.includes(c.method);
/** The learning rate of a fine-tuned member's cosine schedule (a fifth of the from-scratch 0.05). */
const FINE_TUNE_LR = 0.01;

/** Epochs of member `c`'s recipe. */
export function cifar10Epochs(c: Cifar10Method): number {
  if (fineTuned(c)) return 2;
  if (c.method === 'standard') return 30;
  if (c.method === 'underfit') return 2;
  if (c.method === 'pgd-linf-8') return 15;
  return 10;
}

/** The `advlens train` options of member `c` beyond data, architecture and method. */
export function cifar10Recipe(c: Cifar10Method): string {
  const common = `--epochs ${cifar10Epochs(c)} ${base(fineTuned(c) ? FINE_TUNE_LR : 0.05)}`;
  if (c.eps === undefined) return common;
  if (c.objective === 'fgsm') return `--eps ${fmt(c.eps * 255)}/255 ${common}`;
  if (c.norm === 'l2')
    return `--norm l2 --eps ${fmt(c.eps)} --attack-steps 2 --attack-step-size ${fmt(0.6 * c.eps)} ${common}`;
  const e = c.eps * 255;
  return `${c.norm === 'linf' ? '--norm linf ' : ''}--eps ${fmt(e)}/255 --attack-steps 1 --attack-step-size ${fmt(1.25 * e)}/255 ${common}`;
}

/** How member `c`'s recipe differs from its paper's (written into the card's description). */
export function cifar10Description(c: Cifar10Method): string {
  const parts = [
    `cifar-cnn (0.29 M parameters, GAP head) in place of ${['standard', 'underfit'].includes(c.method) || c.method.startsWith('pgd') || c.method.startsWith('fgsm') ? 'the ResNet-18 of AT-CNN' : 'the Small CNN of the Int paper'}`,
    fineTuned(c)
      ? `fine-tuned from the Normal model (cifar10-standard, 30 epochs) for ${cifar10Epochs(c)} epochs of SGD with a cosine schedule from lr ${FINE_TUNE_LR}, where the paper trains from random weights for 100-200 (twice-differentiated penalty: ten epochs from scratch take 6.5 h of two cores here)`
      : `SGD with cosine schedule for ${cifar10Epochs(c)} epochs (the papers train 100-200)`,
  ];
  if (c.method === 'underfit') parts.push('the Underfit of AT-CNN: the standard recipe stopped early');
  if (c.eps !== undefined && c.objective !== 'fgsm')
    parts.push(
      c.norm === 'l2'
        ? `L2 budget ${fmt(c.eps / L2_SCALE)} at 224x224 scaled by 32/224 to ${fmt(c.eps)}; inner PGD 2 steps of 0.6 eps, not PGD-7/10`
        : 'inner attack FGSM from a random start with step 1.25 eps (Wong et al. 2020), not PGD-7/10',
    );
  return `CIFAR-10 ${c.display}. Differs from the paper: ${parts.join('; ')}.`;
}

/** The command that trains member `c` into `out`. */
export function cifar10TrainCommand(c: Cifar10Method, out: string): string {
  const init = fineTuned(c) ? ` --init ${out.replace(/[^/\\]*$/, '')}cifar10-standard` : '';
  return `advlens train --data cifar10:train --arch cifar-cnn --method ${c.objective} ${cifar10Recipe(c)}${init} --eval-data cifar10:test --description '${cifar10Description(c)}' --out ${out}`;
}
