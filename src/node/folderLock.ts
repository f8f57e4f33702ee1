import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { fsyncDir, writeFileDurable } from './durableFile.ts';

/** The lock file a writer holds in the folder it writes. */
export const LOCK_FILE = '.advlens.lock';

/** Who holds a lock: the content of the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

/** A held lock; `release` removes the lock file (it is also removed when the process exits). */
export interface FolderLock {
  file: string;
  release(): void;
}

/** Whether process `pid` of this machine is running (EPERM: it is, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return Number.isSafeInteger(h.pid) && typeof h.host === 'string'
      ? { pid: h.pid!, host: h.host, since: String(h.since) }
      : null;
  } catch {
    return null;
  }
}

/**
 * A lock file whose content is unreadable for this long is a writer that died while creating it
 * (only where the file system has no hard links, see {@link createWithContent}) or a damaged one.
 */
const CREATING_MS = 10_000;

/**
 * Creates `file` exclusively with `content` already in it (EEXIST when it exists), so a reader never
 * sees it empty: the content is written and synced to a temporary file of this process, which is
 * then hard-linked to `file`. Where the file system has no hard links, falls back to an exclusive
 * create followed by the write (a reader may then meet the file empty for a moment).
 */
function createWithContent(file: string, content: string): void {
  const tmp = `${file}.new-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  writeFileDurable(tmp, content, 'wx');
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
    writeFileDurable(file, content, 'wx');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Writes one line on stderr (the default warning of {@link lockFolder}). */
const stderrLine = (line: string): void => void process.stderr.write(line + '\n');

/**
 * Locks folder `dir` (which must exist) for this process: creates `dir/.advlens.lock` exclusively,
 * holding this process's pid. A lock whose process is dead (a run killed with -9) is stale: it is
 * taken over, and `warn` (default: stderr) gets one line naming it; a live one is refused with a
 * {@link UserError} naming its pid.
 */
export function lockFolder(dir: string, warn: (line: string) => void = stderrLine): FolderLock {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      createWithContent(file, JSON.stringify(me) + '\n');
      fsyncDir(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e;
    }
    const holder = readHolder(file);
    let stale: boolean;
    if (holder) stale = holder.host === me.host && !alive(holder.pid);
    else {
      let age = Infinity;
      try {
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch {
        // removed meanwhile: try again
      }
      stale = age > CREATING_MS;
    }
    if (!stale) {
      const who = holder
        ? `process ${holder.pid}${holder.host === me.host ? '' : ` on ${holder.host}`}, since ${holder.since}`
        : 'a process whose lock file cannot be read yet';
      throw new UserError(
        `${dir} is being written by another run (${who}); wait for it to end or use another output folder (if that process is gone, delete ${file})`,
      );
    }
    // Take the stale lock aside under a name of our own, so two processes that both found it stale
    // cannot both remove a fresh lock: only one rename succeeds, the other finds it gone.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readHolder(aside);
    if (moved && holder && moved.pid !== holder.pid) {
      // It was replaced by a live writer between our read and the rename: put it back.
      try {
        fs.linkSync(aside, file);
      } catch {
        // someone else holds a lock again; the next attempt reports it
      }
    } else
      warn(
        holder
          ? `warning: ${file} was left by process ${holder.pid} (since ${holder.since}), which is no longer running; taking the lock over`
          : `warning: ${file} was left unfinished by a process that died while creating it; taking the lock over`,
      );
    fs.rmSync(aside, { force: true });
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, release };
}
