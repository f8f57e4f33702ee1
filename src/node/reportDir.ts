import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';

/**
 * Builds a report folder under a temporary name and swaps it in whole when `finish` is called, so an
 * error half way never leaves a half-written report under the final name.
 */
export function reportDir(finalDir: string) {
  const final = path.resolve(finalDir);
  if (fs.existsSync(final) && !fs.statSync(final).isDirectory())
    throw new UserError(`${finalDir} is a file, not a folder; choose another output folder`);
  const tmp = `${final}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  return {
    /** Path of a file inside the report being built. */
    file(rel: string): string {
      const p = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      return p;
    },
    write(rel: string, data: string | Uint8Array): void {
      fs.writeFileSync(this.file(rel), data);
    },
    finish(): string {
      const old = `${final}.old-${process.pid}`;
      if (fs.existsSync(final)) fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fs.rmSync(old, { recursive: true, force: true });
      return final;
    },
    abort(): void {
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
