/**
 * The one error type for user mistakes: a bad path, a bad option, a wrong image size, an unknown
 * dataset or architecture. The message names the value and the fix; the CLI prints it on one line
 * and exits with code 2. Internal errors stay ordinary `Error`s and keep their stack.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string) {
    super(message);
  }
}

/** Throws a {@link UserError} with `message` unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new UserError(typeof message === 'function' ? message() : message);
}
