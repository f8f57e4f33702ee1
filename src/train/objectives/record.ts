/**
 * A training objective's record: its factory, its options described as data ({@link OptionSpecs})
 * and its facts (inner attack, needs a CAM head, ...). The registry (index.ts) holds one per method.
 *
 *   const pgd = OBJECTIVES['pgd'];
 *   pgd.facts.innerAttack; // 'pgd-ce'
 *   const objective = pgd.create({ eps: 0.1 });
 */
import type { Objective } from './index.ts';
import { resolveOptions, type OptionSpecs, type Resolved } from '../../options.ts';

/** What the loop, the pool and the CLI need to know about an objective, beyond running it. */
export interface ObjectiveFacts {
  /** The inner maximisation it runs: none, FGSM, PGD on the CE, PGD on TRADES' KL, or on Int's CAM discrepancy. */
  innerAttack: 'none' | 'fgsm' | 'pgd-ce' | 'pgd-kl' | 'pgd-cam-discrepancy';
  /** It needs a model with a CAM head (a GAP + dense head named in the card: gap-cnn, resnet). */
  needsCam: boolean;
  /** Its loss differentiates an input gradient again (second-order gradients). */
  secondOrder: boolean;
}

/** One training objective, described: `create` checks its options (defaults filled in) and builds it. */
export interface ObjectiveRecord<O extends object = object> {
  /** The registry name (`int2-adv`). */
  name: string;
  /** One line: the method and its paper. */
  summary: string;
  options: OptionSpecs<O>;
  facts: ObjectiveFacts;
  /** Builds the objective; a {@link UserError} naming a bad option or one it does not take. */
  create(options: O): Objective;
}

/** Makes an objective record from `make`, which receives its options checked with defaults filled in. */
export function defineObjective<O extends object, S extends OptionSpecs<O>>(d: {
  name: string;
  summary: string;
  options: S;
  facts: ObjectiveFacts;
  make: (options: Resolved<O, S>) => Objective;
}): ObjectiveRecord<O> & { options: S } {
  const method = { kind: 'training method', name: d.name } as const;
  return {
    name: d.name,
    summary: d.summary,
    options: d.options,
    facts: d.facts,
    create: (options) => d.make(resolveOptions<O, S>(method, d.options, options, true)),
  };
}
