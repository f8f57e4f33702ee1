import type { Command } from 'commander';
import type { AttackOptions } from '../attacks/index.ts';
import { ATTACKS } from '../attacks/index.ts';
import { classIndex, type Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { parseNumber } from './options.ts';
import { addMethodOptions, methodOptionsFrom, type FlagOverride } from './methodOptions.ts';

/** Attack options as commander parses them: one key per generated flag (see methodOptions.ts). */
export interface AttackCliOptions {
  target?: string;
  seed: number;
  [flag: string]: unknown;
}

/**
 * How the attack flags depart from the generated ones: commands take --eps lists; --target is a
 * label; --steps says that one value serves every attack given, AutoAttack's parts included.
 */
const ATTACK_FLAGS: Record<string, FlagOverride> = {
  eps: { skip: true },
  steps: {
    doc: 'attack iterations, one value for every attack given; with --attack autoattack it also sets the iterations of its APGD and FAB parts (Square takes --queries)',
  },
  target: {
    raw: true,
    doc: "targeted attack toward this class (a name from the model's labels, or an index)",
  },
  seed: { default: 0 },
};

/** Adds the options of every registered attack, one flag per option (each attack ignores the others). */
export function addAttackOptions(cmd: Command): Command {
  return addMethodOptions(cmd, Object.values(ATTACKS), ATTACK_FLAGS);
}

/** The library options from the command line; the target resolved against the model's labels. */
export function attackOptionsFrom(
  o: AttackCliOptions,
  model: Classifier,
): Omit<AttackOptions, 'eps'> & Record<string, unknown> {
  const out: Omit<AttackOptions, 'eps'> & Record<string, unknown> = {
    ...methodOptionsFrom<AttackOptions>(o, Object.values(ATTACKS), ATTACK_FLAGS),
  };
  if (o.target !== undefined) out.target = classIndex(model, o.target);
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
