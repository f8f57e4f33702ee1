import { UserError } from '../errors.ts';
import type { Attack } from './types.ts';
import { fgsm } from './fgsm.ts';
import { pgd } from './pgd.ts';
import { minEps } from './minEps.ts';
import { jpegL1, jpegL2, jpegLinf } from './jpeg.ts';
import { snow } from './snow.ts';
import { gabor } from './gabor.ts';
import { aai } from './aai.ts';

export type { Attack, AttackOptions, AttackResult } from './types.ts';

/** Attacks by name: the CLI, the server and the web app use this registry, with no per-attack cases. */
export const ATTACKS: Record<string, Attack> = {
  fgsm,
  pgd: pgd,
  'pgd-linf': (m, b, o) => pgd(m, b, { ...o, norm: 'linf' }),
  'pgd-l2': (m, b, o) => pgd(m, b, { ...o, norm: 'l2' }),
  'min-eps': minEps,
  'jpeg-linf': jpegLinf,
  'jpeg-l2': jpegL2,
  'jpeg-l1': jpegL1,
  snow,
  gabor,
  aai,
};

/** What evaluation needs to know about an attack, beyond running it. */
export interface AttackInfo {
  /** The norm of x' - x the budget bounds, when it bounds one (the sanity checks probe these). */
  norm: 'linf' | 'l2' | null;
  /** Several gradient steps (an unbounded budget should then reach ~0% accuracy). */
  iterative: boolean;
  /** eps = 0 returns the images unchanged (false for snow, whose base transform brightens them). */
  identityAtZero: boolean;
  /** The attack aims to change predictions (false for aai, which keeps them and moves the explanation). */
  targetsAccuracy?: boolean;
  /** A reasonable budget for MNIST-like data in [0,1] pixel units, shown in help and docs. */
  exampleEps: string;
}

export const ATTACK_INFO: Record<string, AttackInfo> = {
  fgsm: { norm: 'linf', iterative: false, identityAtZero: true, exampleEps: '0.1' },
  pgd: { norm: 'linf', iterative: true, identityAtZero: true, exampleEps: '0.1' },
  'pgd-linf': { norm: 'linf', iterative: true, identityAtZero: true, exampleEps: '0.1' },
  'pgd-l2': { norm: 'l2', iterative: true, identityAtZero: true, exampleEps: '2' },
  'min-eps': { norm: null, iterative: true, identityAtZero: true, exampleEps: '0.5 (upper bound)' },
  'jpeg-linf': { norm: null, iterative: true, identityAtZero: true, exampleEps: '0.25/255' },
  'jpeg-l2': { norm: null, iterative: true, identityAtZero: true, exampleEps: '8/255' },
  'jpeg-l1': { norm: null, iterative: true, identityAtZero: true, exampleEps: '256/255' },
  snow: { norm: null, iterative: true, identityAtZero: false, exampleEps: '2' },
  gabor: { norm: null, iterative: true, identityAtZero: true, exampleEps: '400/255' },
  aai: { norm: null, iterative: true, identityAtZero: true, targetsAccuracy: false, exampleEps: '0.1' },
};

/** Looks up an attack by name; a {@link UserError} naming the valid ones otherwise. */
export function attack(name: string): Attack {
  const a = ATTACKS[name];
  if (!a) throw new UserError(`unknown attack '${name}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
  return a;
}

/** What evaluation needs to know about attack `name` (norm, iterative, ...); a {@link UserError} for unknown names. */
export function attackFacts(name: string): AttackInfo {
  const f = ATTACK_INFO[name];
  if (!f) throw new UserError(`unknown attack '${name}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
  return f;
}
