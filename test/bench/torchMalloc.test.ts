import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AVX2_ISA_ENV,
  cpuVectorFlags,
  PYTHON,
  runTorch,
  STEADY_MALLOC_ENV,
  torchEnv,
} from '../../bench/suite/torch.ts';

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

test('torchEnv: avx2 caps oneDNN at AVX2; native clears an inherited cap; malloc unaffected', () => {
  const was = process.env.DNNL_MAX_CPU_ISA;
  process.env.DNNL_MAX_CPU_ISA = 'SSE41';
  try {
    const capped = torchEnv('steady', 'avx2');
    assert.equal(capped.DNNL_MAX_CPU_ISA, 'AVX2');
    assert.equal(capped.ATEN_CPU_CAPABILITY, 'avx2');
    assert.equal(capped.MALLOC_MMAP_THRESHOLD_, String(32 * 2 ** 20));
    const native = torchEnv('stock', 'native');
    for (const k of Object.keys(AVX2_ISA_ENV)) assert.equal(native[k], undefined, k);
    assert.equal(native.MALLOC_MMAP_THRESHOLD_, undefined);
    assert.equal(torchEnv('steady').DNNL_MAX_CPU_ISA, undefined);
  } finally {
    if (was === undefined) delete process.env.DNNL_MAX_CPU_ISA;
    else process.env.DNNL_MAX_CPU_ISA = was;
  }
});

test('runTorch hands the ISA cap to the Python process', (t) => {
  if (!fs.existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (Debian package python3)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-torchisa-'));
  const script = path.join(dir, 'fake_ref.py');
  // Reports 2 when started with oneDNN capped at AVX2, 1 when the variable is unset.
  fs.writeFileSync(
    script,
    [
      'import json, os',
      "v = {'AVX2': 2}.get(os.environ.get('DNNL_MAX_CPU_ISA', ''), 1)",
      "print(json.dumps({'engine': 'fake', 'threads': 1, 'batch': 8, 'images_per_s': {'isa': v}}))",
    ].join('\n'),
  );
  try {
    const capped = runTorch(script, 1, 8, 0, 'steady', 'avx2');
    assert.ok(capped.ok, capped.ok ? '' : capped.reason);
    assert.deepEqual(capped.run.imagesPerSec, { isa: 2 });
    const native = runTorch(script, 1, 8, 0, 'steady', 'native');
    assert.ok(native.ok);
    assert.deepEqual(native.run.imagesPerSec, { isa: 1 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cpuVectorFlags reads the flags line of /proc/cpuinfo', (t) => {
  if (!fs.existsSync('/proc/cpuinfo')) return t.skip('/proc/cpuinfo is missing (not Linux)');
  const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  const flags = cpuVectorFlags();
  for (const f of flags) assert.ok(line.split(/\s+/).includes(f), f);
  assert.equal(flags.includes('avx512f'), /(^|\s)avx512f(\s|$)/.test(line));
});

test('npm run bench --torch-isa with an unknown mode: one line, exit 2', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--torch-isa', 'avx512'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim(), "bench: --torch-isa takes native or avx2 (got 'avx512')");
});
