/**
 * Helpers for the reliability corpus: hostile copies of a shipped model, a scratch folder, a small
 * PNG, and the assertion every case makes (exit 2, one line on stderr, nothing created).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../cli/helpers.ts';

export const SMALL_CNN = path.join(ROOT, 'models', 'mnist-small-cnn');

/** A fresh scratch folder (removed by the OS's tmp cleaning; tests remove what they can). */
export function scratch(prefix = 'advlens-rel-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A copy of mnist-small-cnn in `dir`, with `change` applied to its parsed model.json. */
export function hostileModel(
  dir: string,
  change: (json: {
    weightsManifest: { paths: string[]; weights: unknown[] }[];
    modelTopology: unknown;
  }) => void = () => {},
  opts: { card?: boolean } = {},
): string {
  const m = path.join(dir, 'model');
  fs.mkdirSync(m, { recursive: true });
  for (const f of ['model.json', 'weights.bin', 'advlens.json']) {
    if (f === 'advlens.json' && opts.card === false) continue;
    fs.copyFileSync(path.join(SMALL_CNN, f), path.join(m, f));
  }
  const json = JSON.parse(fs.readFileSync(path.join(m, 'model.json'), 'utf8'));
  change(json);
  fs.writeFileSync(path.join(m, 'model.json'), JSON.stringify(json));
  return m;
}

/** A 28x28 grey PNG (a valid image), written once per call. */
export function digitPng(dir: string, name = 'digit.png'): string {
  // A minimal uncompressed-deflate PNG would need zlib here; sharp is simpler and is a dependency.
  const file = path.join(dir, name);
  fs.copyFileSync(GREY_PNG, file);
  return file;
}

/** A 28x28 grey PNG, made once (test/reliability/fixtures.ts writes it at import). */
export const GREY_PNG = path.join(scratch('advlens-rel-png-'), 'grey.png');
{
  const sharp = (await import('sharp')).default;
  const px = Buffer.alloc(28 * 28);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 256;
  await sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(GREY_PNG);
}

/** Asserts a user error as the CLI shows it: exit 2 and exactly one line on stderr matching `re`. */
export function assertOneLine(r: { code: number | null; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 2, `exit code ${r.code}; stderr:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `stderr has ${lines.length} lines:\n${r.stderr}`);
  assert.match(lines[0], /^advlens/);
  assert.match(lines[0], re);
}

/** Every path under `dir` (relative), to check that nothing was created. */
export function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}
