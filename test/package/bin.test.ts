/**
 * bin/advlens.js runs the compiled CLI (dist/), except in a checkout whose sources changed after the
 * last build started (or that has no build), where it runs the sources through tsx: a stale build
 * never runs. Checked on a small fake checkout whose two `main`s say which one ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { explorerSourcesNewer, sourcesNewer } from '../../bin/sourcesNewer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('bin/advlens.js runs dist/ when it is fresh and the sources when they are newer or nothing is built', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-bin-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  for (const f of ['advlens.js', 'sourcesNewer.js'])
    fs.cpSync(path.join(ROOT, 'bin', f), path.join(dir, 'bin', f));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  write('package.json', '{"type":"module"}');
  write('tsconfig.json', '{}');
  write('dist/cli/main.js', 'export async function main(argv) { console.log("dist", argv.length); }\n');
  write(
    'src/cli/main.ts',
    'export async function main(argv: string[]): Promise<void> { console.log("src", argv.length); }\n',
  );
  write('src/engine/kernel.ts', 'export const k: number = 1;\n');
  const ran = () => {
    const r = spawnSync(process.execPath, [path.join(dir, 'bin/advlens.js'), 'a', 'b'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  /** Sets every file and folder of the fake checkout to `ms` ago, and the build stamp to now. */
  const build = (agoMs = 60_000) => {
    const then = new Date(Date.now() - agoMs);
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true }))
      if (!e.isSymbolicLink()) fs.utimesSync(path.join(e.parentPath, e.name), then, then);
    fs.utimesSync(path.join(dir, 'src'), then, then);
    write('dist/.build-stamp', `${Date.now()}\n`);
    // File times come from a coarse clock (a few ms behind Date.now()): edit only after it has passed.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  };

  assert.equal(ran(), 'src 4', 'nothing built: the sources run');
  build();
  assert.equal(ran(), 'dist 4', 'a fresh build runs');
  write('src/engine/kernel.ts', 'export const k: number = 2;\n');
  assert.equal(ran(), 'src 4', 'a source edited after the build: the sources run');
  build();
  fs.rmSync(path.join(dir, 'src/engine/kernel.ts'));
  assert.equal(ran(), 'src 4', 'a source deleted after the build: the sources run');
  build();
  write('tsconfig.json', '{"compilerOptions":{}}');
  assert.equal(ran(), 'src 4', 'the compiler options changed: the sources run');
  build();
  fs.rmSync(path.join(dir, 'src'), { recursive: true });
  fs.rmSync(path.join(dir, 'dist/.build-stamp'));
  assert.equal(ran(), 'dist 4', 'an installed package (no src/) always runs dist/');
});

test('`advlens serve` in a checkout rebuilds a stale dist/explorer first; the pack test sees explorer/ changes', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-bin-ui-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  for (const f of ['advlens.js', 'sourcesNewer.js'])
    fs.cpSync(path.join(ROOT, 'bin', f), path.join(dir, 'bin', f));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  write('package.json', '{"type":"module"}');
  write('tsconfig.json', '{}');
  write('dist/cli/main.js', 'export async function main(argv) { console.log("dist", argv.length); }\n');
  write(
    'src/cli/main.ts',
    'export async function main(argv: string[]): Promise<void> { console.log("src"); }\n',
  );
  // A one-page web app, bundled by the real Vite.
  write(
    'explorer/vite.config.ts',
    "import { fileURLToPath } from 'node:url';\nexport default { root: fileURLToPath(new URL('.', import.meta.url)), base: './', logLevel: 'warn' };\n",
  );
  write('explorer/index.html', '<!doctype html><title>ui</title><p>version one</p>\n');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(dir, 'bin/advlens.js'), ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { out: r.stdout.trim(), rebuilt: /rebuilding dist\/explorer/.test(r.stderr) };
  };
  const page = () => fs.readFileSync(path.join(dir, 'dist/explorer/index.html'), 'utf8');
  const root = pathToFileURL(`${dir}/`);
  const settle = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  /** Sets every file and folder of the fake checkout to a minute ago, and the build stamp to now. */
  const build = () => {
    const then = new Date(Date.now() - 60_000);
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true }))
      if (!e.isSymbolicLink()) fs.utimesSync(path.join(e.parentPath, e.name), then, then);
    write('dist/.build-stamp', `${Date.now()}\n`);
    settle();
  };

  build();
  assert.equal(sourcesNewer(root), true, 'no dist/explorer: the pack test builds');
  assert.deepEqual(run('list'), { out: 'dist 3', rebuilt: false }, 'other commands never build the UI');
  assert.deepEqual(run('serve', '--port', '0'), { out: 'dist 5', rebuilt: true }, 'no UI built: built first');
  assert.match(page(), /version one/);
  assert.equal(sourcesNewer(root), false);
  assert.deepEqual(run('serve'), { out: 'dist 3', rebuilt: false }, 'a fresh UI is served as it is');
  settle();
  write('explorer/index.html', '<!doctype html><title>ui</title><p>version two</p>\n');
  assert.equal(explorerSourcesNewer(root), true);
  assert.equal(sourcesNewer(root), true, 'an explorer/ edit: the pack test rebuilds');
  assert.deepEqual(run('serve'), { out: 'dist 3', rebuilt: true }, 'an explorer/ edit: rebuilt');
  assert.match(page(), /version two/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'dist')).sort(), ['.build-stamp', 'cli', 'explorer']);
  settle();
  // The web app bundles parts of the library: a src/ edit makes it stale too (and runs the sources).
  write(
    'src/cli/main.ts',
    'export async function main(argv: string[]): Promise<void> { console.log("src", 1); }\n',
  );
  assert.equal(explorerSourcesNewer(root), true);
  assert.deepEqual(run('serve'), { out: 'src 1', rebuilt: true });
  assert.deepEqual(run('serve'), { out: 'src 1', rebuilt: false });
});
