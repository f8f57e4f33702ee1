/**
 * A minimal reader for tar archives (POSIX ustar, with GNU long names and pax `path` records), enough
 * to unpack dataset releases such as `cifar-10-binary.tar.gz`. Regular files and directories only;
 * links and devices are skipped, and no entry may escape the destination folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from './fsio.ts';

/** One archive member. */
export interface TarEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  type: 'file' | 'dir' | 'other';
  /** Contents of a file (a view into the archive bytes). */
  data: Uint8Array;
}

const BLOCK = 512;

function text(b: Uint8Array, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s : s.subarray(0, end));
}

function octal(b: Uint8Array, start: number, len: number): number {
  if (b[start] & 0x80) {
    // GNU base-256 for sizes past 8 GiB.
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const s = text(b, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/**
 * Parses the (already decompressed) bytes of a tar archive into its entries. Throws a
 * {@link UserError} naming `file` when a header checksum is wrong or an entry runs past the end.
 */
export function parseTar(bytes: Uint8Array, file: string): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= bytes.length) {
    const h = bytes.subarray(off, off + BLOCK);
    if (h.every((v) => v === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8))
      throw new UserError(`${file}: damaged tar header at byte ${off}; download it again`);
    const size = octal(h, 124, 12);
    const flag = String.fromCharCode(h[156] || 48);
    const prefix = text(h, 257, 6).startsWith('ustar') ? text(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100));
    longName = undefined;
    const start = off + BLOCK;
    if (start + size > bytes.length)
      throw new UserError(`${file}: truncated tar archive (entry ${name}); download it again`);
    const data = bytes.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      if (m) longName = m[1];
      continue;
    }
    if (flag === 'g') continue;
    name = name.replace(/^\.\//, '');
    out.push({ name, type: flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : 'other', data });
  }
  return out;
}

/**
 * Unpacks a `.tar.gz` (or plain `.tar`) file into `destDir`, each file written atomically.
 * Returns the paths written. Throws a {@link UserError} for a damaged archive or an entry that
 * would land outside `destDir`.
 */
export function extractTarGz(archive: string, destDir: string): string[] {
  let bytes: Uint8Array = fs.readFileSync(archive);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new UserError(`${archive} is a damaged gzip file (${(e as Error).message}); download it again`);
    }
  }
  const root = path.resolve(destDir);
  const written: string[] = [];
  for (const e of parseTar(bytes, archive)) {
    if (e.type === 'other') continue;
    const target = path.resolve(root, e.name);
    if (target !== root && !target.startsWith(root + path.sep)) {
      throw new UserError(
        `${archive}: entry ${e.name} would be written outside ${destDir}; refusing to unpack it`,
      );
    }
    if (e.type === 'dir') fs.mkdirSync(target, { recursive: true });
    else {
      writeFileAtomic(target, e.data);
      written.push(target);
    }
  }
  return written;
}
