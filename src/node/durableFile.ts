import fs from 'node:fs';

/**
 * Writes `data` to `file` and flushes it to the disk (fsync) before returning, so a rename that
 * publishes it afterwards can never publish a file whose bytes a power cut or a kill lost. `flag`
 * 'wx' creates the file exclusively (EEXIST when it exists).
 */
export function writeFileDurable(file: string, data: string | Uint8Array, flag: 'w' | 'wx' = 'w'): void {
  const fd = fs.openSync(file, flag);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a file already written (by someone else's writer) to the disk. */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Flushes a folder's entries (the renames and removals in it) to the disk. Some systems cannot
 * open a folder for this (Windows); there renames are already durable and nothing is done.
 */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // EISDIR/EPERM/EINVAL where folders cannot be synced
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads `file` if it holds at most `max` bytes; returns its size instead when it is larger. */
export function readFileBounded(file: string, max: number): Uint8Array | { size: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size > max) return { size };
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}
