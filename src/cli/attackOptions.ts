import { Option, type Command } from 'commander';
import type { AttackOptions } from '../attacks/index.ts';
import { ATTACKS } from '../attacks/index.ts';
import { classIndex, type Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { nonNegativeInt, parseNumber, positiveInt, positiveNumber } from './options.ts';

/** Attack options as commander parses them. */
export interface AttackCliOptions {
  steps?: number;
  stepSize?: number;
  randomStart?: boolean;
  restarts?: number;
  loss?: 'ce' | 'cw';
  target?: string;
  seed: number;
  earlyStop?: boolean;
  rounds?: number;
  kappa?: number;
}

/** Adds the options every attack understands (each attack ignores those it has no use for). */
export function addAttackOptions(cmd: Command): Command {
  return cmd
    .option('--steps <n>', 'attack iterations (default: per attack; pgd 40)', nonNegativeInt('--steps'))
    .option(
      '--step-size <alpha>',
      'step size, a number or fraction (default: pgd-linf 0.01, pgd-l2 eps/5)',
      positiveNumber('--step-size'),
    )
    .option('--random-start', 'start from a random point in the ball')
    .option(
      '--restarts <n>',
      'extra random restarts; the worst case per example is kept',
      nonNegativeInt('--restarts'),
    )
    .addOption(
      new Option('--loss <kind>', 'loss to ascend: cross-entropy or CW logit margin').choices(['ce', 'cw']),
    )
    .option(
      '--target <class>',
      "targeted attack toward this class (a name from the model's labels, or an index)",
    )
    .option('--early-stop', 'stop moving an example once the attack has succeeded on it')
    .option('--rounds <n>', 'min-eps: bisection rounds', positiveInt('--rounds'))
    .option(
      '--kappa <margin>',
      'min-eps: logit margin that counts as success',
      positiveNumber('--kappa', true),
    )
    .option('--seed <n>', 'seed for random starts and random attacks', nonNegativeInt('--seed'), 0);
}

/** The library options from the command line; the target resolved against the model's labels. */
export function attackOptionsFrom(o: AttackCliOptions, model: Classifier): Omit<AttackOptions, 'eps'> {
  const out: Omit<AttackOptions, 'eps'> & { rounds?: number; kappa?: number } = { seed: o.seed };
  if (o.steps !== undefined) out.steps = o.steps;
  if (o.stepSize !== undefined) out.stepSize = o.stepSize;
  if (o.randomStart) out.randomStart = true;
  if (o.restarts !== undefined) out.restarts = o.restarts;
  if (o.loss) out.loss = o.loss;
  if (o.earlyStop) out.earlyStop = true;
  if (o.target !== undefined) out.target = classIndex(model, o.target);
  if (o.rounds !== undefined) out.rounds = o.rounds;
  if (o.kappa !== undefined) out.kappa = o.kappa;
  return out;
}

/** `fgsm,pgd-linf` or repeated flags -> checked attack names. */
export function parseAttackList(v: string, prev: string[] = []): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!ATTACKS[n])
      throw new UserError(`unknown attack '${n}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
  return [...prev, ...names];
}

/** `0,0.1,8/255` -> budgets, each a number >= 0. */
export function parseEpsList(v: string, prev: number[] = []): number[] {
  const out = v.split(',').map((s) => {
    const n = parseNumber(s);
    if (n === null || !Number.isFinite(n) || n < 0)
      throw new UserError(
        `--eps takes numbers >= 0 or fractions like 8/255, comma-separated (got '${s.trim()}')`,
      );
    return n;
  });
  return [...new Set([...prev, ...out])];
}
