import { UserError } from '../errors.ts';
import type { Attack } from './types.ts';
import { fgsm } from './fgsm.ts';
import { pgd } from './pgd.ts';
import { minEps } from './minEps.ts';

export type { Attack, AttackOptions, AttackResult } from './types.ts';

/** Attacks by name: the CLI, the server and the web app use this registry, with no per-attack cases. */
export const ATTACKS: Record<string, Attack> = {
  fgsm,
  pgd: pgd,
  'pgd-linf': (m, b, o) => pgd(m, b, { ...o, norm: 'linf' }),
  'pgd-l2': (m, b, o) => pgd(m, b, { ...o, norm: 'l2' }),
  'min-eps': minEps,
};

/** Looks up an attack by name; a {@link UserError} naming the valid ones otherwise. */
export function attack(name: string): Attack {
  const a = ATTACKS[name];
  if (!a) throw new UserError(`unknown attack '${name}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
  return a;
}
