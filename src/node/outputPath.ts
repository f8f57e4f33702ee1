/**
 * Output paths checked before any work starts: a command that will write a folder or a file calls
 * {@link checkOutputDir} or {@link checkOutputFile} right after parsing its options, so a bad `--out`
 * costs the user one line and exit 2, not a finished run, a hang on procfs or empty folders left behind.
 * Nothing is created here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';

/** Longest file-name component (bytes) on Linux and macOS file systems. */
export const NAME_MAX = 255;
/** Longest path (bytes) the Linux kernel accepts. */
export const PATH_MAX = 4096;

/** Pseudo file systems that are never a place for results (writing there hangs or fails oddly). */
const PSEUDO = ['/proc', '/sys', '/dev'];

function under(p: string, root: string): boolean {
  return p === root || p.startsWith(root + path.sep);
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** The real path of `p`, resolving its links (and those of its parents); `p` itself when a link dangles. */
function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Checks everything about `p` that does not depend on what is there: length limits and pseudo file
 * systems. Returns the absolute path.
 */
function checkPathText(p: string, what: string): string {
  if (typeof p !== 'string' || p.trim() === '') throw new UserError(`${what} is empty; give a path`);
  if (p.includes('\0')) throw new UserError(`${what} contains a NUL byte; give a plain path`);
  const abs = path.resolve(p);
  if (Buffer.byteLength(abs) > PATH_MAX)
    throw new UserError(
      `${what} is ${Buffer.byteLength(abs)} bytes long, over the ${PATH_MAX}-byte path limit; choose a shorter path`,
    );
  for (const part of abs.split(path.sep)) {
    if (Buffer.byteLength(part) > NAME_MAX)
      throw new UserError(
        `${what} has a name of ${Buffer.byteLength(part)} bytes ('${part.slice(0, 24)}...'), over the ${NAME_MAX}-byte limit; choose a shorter name`,
      );
  }
  for (const root of PSEUDO) {
    if (under(abs, root) || under(real(abs), root))
      throw new UserError(
        `${what} ${p} is under ${root}, a system pseudo file system; choose a folder on disk`,
      );
  }
  return abs;
}

/**
 * Walks up from `abs` to the nearest path that exists, refusing a dangling symbolic link or a file
 * on the way, and checks that it is a folder the process can write in.
 */
function checkAncestors(abs: string, p: string, what: string): void {
  let dir = path.dirname(abs);
  for (;;) {
    const st = lstat(dir);
    if (st) {
      if (st.isSymbolicLink() && !fs.existsSync(dir))
        throw new UserError(
          `${what} ${p} goes through ${dir}, a symbolic link to nothing (${fs.readlinkSync(dir)}); fix the link or choose another path`,
        );
      if (!fs.statSync(dir).isDirectory())
        throw new UserError(`${what} ${p} goes through ${dir}, which is a file; choose another path`);
      try {
        fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw new UserError(
          `${what} ${p} cannot be created: ${dir} is not writable; choose a folder you can write to`,
        );
      }
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Checks that `p` can become an output folder, before any work: not under /proc, /sys or /dev; not a
 * file; not a symbolic link to nothing; no name over 255 bytes and at most 4096 bytes in all; and the
 * folder itself (when it exists) or its nearest existing parent writable. `what` names the option
 * in messages (`--out`). Throws a one-line {@link UserError}; creates nothing. Returns the absolute path.
 */
export function checkOutputDir(p: string, what = '--out'): string {
  const abs = checkPathText(p, what);
  const st = lstat(abs);
  if (st?.isSymbolicLink() && !fs.existsSync(abs))
    throw new UserError(
      `${what} ${p} is a symbolic link to nothing (${fs.readlinkSync(abs)}); fix the link or choose another folder`,
    );
  if (st) {
    const target = fs.statSync(abs);
    if (!target.isDirectory())
      throw new UserError(`${what} ${p} is a file, not a folder; choose another ${what}`);
    try {
      fs.accessSync(abs, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      throw new UserError(`${what} ${p} is not writable; choose a folder you can write to`);
    }
  }
  checkAncestors(abs, p, what);
  return abs;
}

/**
 * Like {@link checkOutputDir} for an output file (`zoo table --out FILE`): `p` must not be a folder
 * or a dangling link, and its folder must exist or be creatable and writable. An existing file is
 * allowed (it is replaced atomically) unless `overwrite` is false.
 */
export function checkOutputFile(p: string, what = '--out', overwrite = true): string {
  const abs = checkPathText(p, what);
  const st = lstat(abs);
  if (st?.isSymbolicLink() && !fs.existsSync(abs))
    throw new UserError(
      `${what} ${p} is a symbolic link to nothing (${fs.readlinkSync(abs)}); fix the link or choose another file`,
    );
  if (st) {
    if (fs.statSync(abs).isDirectory()) throw new UserError(`${what} ${p} is a folder; give a file name`);
    if (!overwrite) throw new UserError(`${what} ${p} already exists; remove it or choose another name`);
  }
  checkAncestors(abs, p, what);
  return abs;
}
