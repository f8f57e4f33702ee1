import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON, runTorch, STEADY_MALLOC_ENV, torchEnv } from '../../bench/suite/torch.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('torchEnv: steady sets glibc malloc thresholds; stock clears them even when inherited', () => {
  const was = process.env.MALLOC_TRIM_THRESHOLD_;
  process.env.MALLOC_TRIM_THRESHOLD_ = '12345';
  try {
    const steady = torchEnv('steady');
    assert.equal(steady.MALLOC_MMAP_THRESHOLD_, String(32 * 2 ** 20));
    assert.equal(steady.MALLOC_TRIM_THRESHOLD_, String(2 ** 30));
    const stock = torchEnv('stock');
    for (const k of Object.keys(STEADY_MALLOC_ENV)) assert.equal(stock[k], undefined, k);
    assert.equal(stock.PATH, process.env.PATH);
  } finally {
    if (was === undefined) delete process.env.MALLOC_TRIM_THRESHOLD_;
    else process.env.MALLOC_TRIM_THRESHOLD_ = was;
  }
});

test('runTorch hands the malloc environment to the Python process', (t) => {
  if (!fs.existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (Debian package python3)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-torchenv-'));
  const script = path.join(dir, 'fake_ref.py');
  // A stand-in for torch_ref.py that reports the thresholds it was started with as its "rates".
  fs.writeFileSync(
    script,
    [
      'import json, os',
      "e = lambda k: float(os.environ.get(k, '-1'))",
      "print(json.dumps({'engine': 'fake', 'threads': 1, 'batch': 8, 'images_per_s': {",
      "  'mmap': e('MALLOC_MMAP_THRESHOLD_'), 'trim': e('MALLOC_TRIM_THRESHOLD_')}}))",
    ].join('\n'),
  );
  try {
    const steady = runTorch(script, 1, 8, 0, 'steady');
    assert.ok(steady.ok, steady.ok ? '' : steady.reason);
    assert.deepEqual(steady.run.imagesPerSec, { mmap: 32 * 2 ** 20, trim: 2 ** 30 });
    const stock = runTorch(script, 1, 8, 0, 'stock');
    assert.ok(stock.ok);
    assert.deepEqual(stock.run.imagesPerSec, { mmap: -1, trim: -1 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run bench --torch-malloc with an unknown mode: one line, exit 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--torch-malloc', 'fast'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), "bench: --torch-malloc takes steady or stock (got 'fast')");
});
