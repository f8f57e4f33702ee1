/**
 * An attack's record: its function, its options described as data ({@link OptionSpecs}) and its
 * facts, what evaluation, the pool and the CLI need to know about it without testing its name.
 * The registry (index.ts) holds one record per attack; {@link defineAttack} makes one.
 *
 *   export const toyAttack = defineAttack<ToyOptions, typeof TOY_OPTIONS>({
 *     name: 'toy', summary: 'adds eps to every pixel', options: TOY_OPTIONS, facts: {...}, attack: (model, batch, o) => ...,
 *   });
 *   registerAttack(toyAttack); attack('toy')(model, batch, { eps: 0.1 });
 */
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { AttackResult } from './types.ts';
import {
  resolveOptions,
  type BooleanSpec,
  type ChoiceSpec,
  type NumberSpec,
  type OptionSpecs,
  type Resolved,
  type ValueSpec,
} from '../options.ts';

/** What evaluation needs to know about an attack, beyond running it. */
export interface AttackFacts {
  /** The norm of x' - x the budget bounds, when it bounds one (the sanity checks probe these). */
  norm: 'linf' | 'l2' | null;
  /** Several gradient steps (an unbounded budget should then reach ~0% accuracy). */
  iterative: boolean;
  /**
   * It reads only the model's scores, never its gradients (Square): gradient masking does not stop
   * it, and with a small query budget it may be weaker than one gradient step, so the check that an
   * iterative attack beats FGSM does not apply to it.
   */
  gradientFree: boolean;
  /** eps = 0 returns the images unchanged (false for snow, whose base transform brightens them). */
  identityAtZero: boolean;
  /** The attack aims to change predictions (false for aai, which keeps them and moves the explanation). */
  targetsAccuracy: boolean;
  /** It takes a `target` class (a targeted attack). */
  targeted: boolean;
  /** It searches the smallest successful budget per example and reports it (`epsPerExample`). */
  findsMinimumEps: boolean;
  /** It needs the model's CAM head (a GAP + dense head named in the card). */
  needsCam: boolean;
  /** A reasonable budget for MNIST-like data in [0,1] pixel units, shown in help and docs. */
  exampleEps: string;
  /** The unit of eps when it is not [0,1] pixels (the unforeseen attacks' own units). */
  epsUnits?: string;
}

/** The same in short: the facts that are usually false may be left out of {@link defineAttack}. */
export type AttackFactsInput = Pick<AttackFacts, 'norm' | 'iterative' | 'exampleEps'> & Partial<AttackFacts>;

/**
 * One attack, described: `run` validates its options against `options` (defaults filled in, a
 * {@link OptionError} naming the option otherwise) and runs it; options it does not declare are
 * ignored, so one options object can serve several attacks.
 */
export interface AttackRecord<O extends object = object> {
  /** The registry name (`pgd-linf`). */
  name: string;
  /** One line: the method and its paper. */
  summary: string;
  /** Every option the attack reads, with type, default, range and doc. */
  options: OptionSpecs<O>;
  facts: AttackFacts;
  /** Runs the attack (caller owns the result's tensors). */
  run(model: Classifier, batch: Batch, options: O): AttackResult;
}

/**
 * Makes an attack record from the algorithm `attack`, which receives its options checked and with
 * their defaults filled in (`Resolved`). Give both type parameters: the options type and
 * `typeof` the specs.
 */
export function defineAttack<O extends object, S extends OptionSpecs<O>>(d: {
  name: string;
  summary: string;
  options: S;
  facts: AttackFactsInput;
  attack: (model: Classifier, batch: Batch, options: Resolved<O, S>) => AttackResult;
}): AttackRecord<O> & { options: S } {
  const method = { kind: 'attack', name: d.name } as const;
  return {
    name: d.name,
    summary: d.summary,
    options: d.options,
    facts: {
      identityAtZero: true,
      targetsAccuracy: true,
      targeted: 'target' in d.options,
      findsMinimumEps: false,
      needsCam: false,
      gradientFree: false,
      ...d.facts,
    },
    run: (model, batch, options) => d.attack(model, batch, resolveOptions<O, S>(method, d.options, options)),
  };
}

/** Specs of the options most attacks share; an attack takes the ones it reads. */
export const COMMON_SPECS = {
  eps: {
    type: 'number',
    min: 0,
    required: true,
    doc: 'perturbation budget in [0,1] pixel units (L-inf) or L2 norm of the [0,1] image',
    metavar: 'budget',
  },
  norm: {
    type: 'choice',
    choices: ['linf', 'l2'],
    default: 'linf',
    doc: 'norm of the ball: linf (sign steps) or l2 (normalised steps)',
  },
  steps: { type: 'number', integer: true, min: 1, doc: 'attack iterations', metavar: 'n' },
  stepSize: { type: 'number', min: 0, exclusiveMin: true, doc: 'step size alpha', metavar: 'alpha' },
  randomStart: { type: 'boolean', default: false, doc: 'start from a random point in the ball' },
  restarts: {
    type: 'number',
    integer: true,
    min: 0,
    default: 0,
    doc: 'extra random restarts; the worst case per example is kept',
    metavar: 'n',
  },
  target: {
    type: 'value',
    expects: 'a class index >= 0, or one per image',
    check: (v) =>
      (typeof v === 'number' && Number.isInteger(v) && v >= 0) ||
      (Array.isArray(v) && v.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0)),
    doc: 'targeted attack toward this class; untargeted when absent',
    metavar: 'class',
  },
  loss: {
    type: 'choice',
    choices: ['ce', 'cw'],
    default: 'ce',
    doc: 'loss to ascend: cross-entropy or CW logit margin',
    metavar: 'kind',
  },
  earlyStop: {
    type: 'boolean',
    default: false,
    doc: 'stop moving an example once the attack has succeeded on it',
  },
  seed: {
    type: 'number',
    integer: true,
    min: 0,
    default: 0,
    doc: 'seed for random starts and random attacks',
    metavar: 'n',
  },
} satisfies {
  eps: NumberSpec;
  norm: ChoiceSpec<'linf' | 'l2'>;
  steps: NumberSpec;
  stepSize: NumberSpec;
  randomStart: BooleanSpec;
  restarts: NumberSpec;
  target: ValueSpec<number | number[]>;
  loss: ChoiceSpec<'ce' | 'cw'>;
  earlyStop: BooleanSpec;
  seed: NumberSpec;
};
