import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/advlens.js', import.meta.url));
/** `../shared` beside the repository: real data and models; tests that need it skip without it. */
export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const hasShared = (rel = ''): boolean => fs.existsSync(SHARED + rel);

/** Runs the advlens CLI and returns its exit code and output. */
export function advlens(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...opts.env },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
