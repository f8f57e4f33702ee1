import { UserError } from '../errors.ts';
import { parseNumber } from '../options.ts';

/** Parses a positive integer option; one-line {@link UserError} otherwise. */
export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1)
      throw new UserError(`${name} must be a positive integer (got '${v}')`);
    return n;
  };
}

/** Parses a non-negative integer option. */
export function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 0)
      throw new UserError(`${name} must be a non-negative integer (got '${v}')`);
    return n;
  };
}

/** Parses a number or a fraction like `8/255`, requiring it to be > 0 (or >= 0 with `allowZero`). */
export function positiveNumber(name: string, allowZero = false) {
  return (v: string): number => {
    const n = parseNumber(v);
    if (n === null || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new UserError(
        `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number or fraction like 8/255 (got '${v}')`,
      );
    }
    return n;
  };
}

/** Parses a number in [0, 1] (a fraction like 1/2 too). */
export function unitInterval(name: string) {
  return (v: string): number => {
    const n = parseNumber(v);
    if (n === null || !Number.isFinite(n) || n < 0 || n > 1)
      throw new UserError(`${name} must be a number from 0 to 1 (got '${v}')`);
    return n;
  };
}

export { parseNumber } from '../options.ts';

/** Options every command that touches data accepts. */
export interface DataOptions {
  dataDir?: string;
  limit?: number;
}
