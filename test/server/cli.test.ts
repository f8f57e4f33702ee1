/**
 * `advlens serve` from the command line: loopback by default, a warning on stderr for another
 * address, the address on stdout, a clean exit on SIGINT, and a one-line error for a bad port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { advlens, BIN, ROOT } from '../cli/helpers.ts';
import { isLoopback } from '../../src/cli/commands/serve.ts';

test('isLoopback', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1']) assert.equal(isLoopback(h), false, h);
});

/** Starts `advlens serve ARGS`; answers its first stdout line, its stderr so far, and a stop function. */
async function serve(args: string[]) {
  const p = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1' },
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    p.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      p.once('exit', (code) => resolve(code));
      p.kill('SIGINT');
    });
  return { line, err: () => err, stop };
}

test('serve listens on loopback by default and stops on SIGINT', async () => {
  const s = await serve([]);
  try {
    const m = /^advlens explorer: http:\/\/localhost:(\d+)\/ /.exec(s.line);
    assert.ok(m, s.line);
    const r = await fetch(`http://127.0.0.1:${m[1]}/api/health`);
    assert.equal(((await r.json()) as { ok: boolean }).ok, true);
    assert.doesNotMatch(s.err(), /warning/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('serve on another address warns on stderr', async () => {
  const s = await serve(['--host', '0.0.0.0']);
  try {
    assert.match(s.err(), /warning: listening on 0\.0\.0\.0, not loopback: anyone who reaches this address/);
  } finally {
    await s.stop();
  }
});

test('a bad port is one line and exit 2', () => {
  const r = advlens(['serve', '--port', '99999']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), "advlens: --port is a port number from 0 to 65535 (got '99999')");
});
