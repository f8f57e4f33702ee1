/**
 * The attack registry: one record per attack ({@link AttackRecord}: its function, options described
 * as data, facts). The CLI, the server and the web app find attacks here by name, with no
 * per-attack cases; adding an attack is one new file that exports a record and one line below (or
 * {@link registerAttack} from outside the library).
 *
 *   attack('pgd-linf')(model, batch, { eps: 0.1 });
 *   attackFacts('pgd-l2').norm; // 'l2'
 */
import { UserError } from '../errors.ts';
import type { Attack, AttackArgs } from './types.ts';
import type { AttackFacts, AttackRecord } from './record.ts';
import { fgsmAttack } from './fgsm.ts';
import { pgdAttack, pgdL2Attack, pgdLinfAttack } from './pgd.ts';
import { minEpsAttack } from './minEps.ts';
import { jpegL1Attack, jpegL2Attack, jpegLinfAttack } from './jpeg.ts';
import { snowAttack } from './snow.ts';
import { gaborAttack } from './gabor.ts';
import { aaiAttack } from './aai.ts';
import { apgdCeAttack, apgdDlrAttack, apgdTAttack } from './apgd.ts';
import { squareAttack } from './square.ts';
import { fabAttack, fabTAttack } from './fab.ts';
import { autoattackAttack } from './autoattack.ts';

export type { Attack, AttackArgs, AttackOptions, AttackResult } from './types.ts';
export { defineAttack, COMMON_SPECS, type AttackFacts, type AttackRecord } from './record.ts';

/** Attack records by name, in the order help lists them. */
export const ATTACKS: Record<string, AttackRecord> = {};

/**
 * Adds an attack to the registry under `record.name` (a record made with `defineAttack`); an
 * attack of that name is replaced. From then on `attack(name)`, `attackFacts(name)` and the CLI's
 * flags know it.
 */
export function registerAttack<O extends object>(record: AttackRecord<O>): void {
  ATTACKS[record.name] = record;
}

registerAttack(fgsmAttack);
registerAttack(pgdAttack);
registerAttack(pgdLinfAttack);
registerAttack(pgdL2Attack);
registerAttack(minEpsAttack);
registerAttack(jpegLinfAttack);
registerAttack(jpegL2Attack);
registerAttack(jpegL1Attack);
registerAttack(snowAttack);
registerAttack(gaborAttack);
registerAttack(aaiAttack);
registerAttack(apgdCeAttack);
registerAttack(apgdDlrAttack);
registerAttack(apgdTAttack);
registerAttack(squareAttack);
registerAttack(fabTAttack);
registerAttack(fabAttack);
registerAttack(autoattackAttack);

/** The record of attack `name`; a {@link UserError} naming the valid ones otherwise. */
export function attackRecord(name: string): AttackRecord {
  const r = Object.hasOwn(ATTACKS, name) ? ATTACKS[name] : undefined;
  if (!r) throw new UserError(`unknown attack '${name}'; use one of ${Object.keys(ATTACKS).join(', ')}`);
  return r;
}

/**
 * Attack `name` as a function of one options object shared by several attacks: it reads the
 * options it declares (checked, defaults filled in) and ignores the others. A {@link UserError}
 * for unknown names.
 */
export function attack(name: string): Attack<AttackArgs> {
  const r = attackRecord(name);
  return (model, batch, options) => r.run(model, batch, options);
}

/** What evaluation needs to know about attack `name` (norm, iterative, ...); a {@link UserError} for unknown names. */
export function attackFacts(name: string): AttackFacts {
  return attackRecord(name).facts;
}

/** @deprecated Read {@link attackFacts}; kept while callers move. */
export type AttackInfo = AttackFacts;

/** @deprecated The facts of every registered attack by name; read {@link attackFacts} instead. */
export const ATTACK_INFO: Record<string, AttackFacts> = new Proxy({} as Record<string, AttackFacts>, {
  get: (_, name) =>
    typeof name === 'string' && Object.hasOwn(ATTACKS, name) ? ATTACKS[name].facts : undefined,
  has: (_, name) => typeof name === 'string' && Object.hasOwn(ATTACKS, name),
  ownKeys: () => Object.keys(ATTACKS),
  getOwnPropertyDescriptor: (_, name) =>
    typeof name === 'string' && Object.hasOwn(ATTACKS, name)
      ? { enumerable: true, configurable: true, value: ATTACKS[name].facts }
      : undefined,
});
