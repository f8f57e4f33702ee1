import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, provenance } from '../../src/report/provenance.ts';
import { VERSION } from '../../src/version.ts';

test('provenance: the command first, the caller fields in order, then seconds, versions and time', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');
  const p = provenance(
    'advlens eval --model m',
    { model: { name: 'm' }, eps: [0, 0.1] },
    { seconds: 2.5, now },
  );
  assert.deepEqual(Object.keys(p), ['command', 'model', 'eps', 'seconds', 'versions', 'measuredAt']);
  assert.equal(p.command, 'advlens eval --model m');
  assert.deepEqual(p.eps, [0, 0.1]);
  assert.equal(p.seconds, 2.5);
  assert.equal(p.measuredAt, '2026-01-02T03:04:05.000Z');
  assert.equal(p.versions.advlens, VERSION);
  assert.ok(p.versions.tfjs && p.versions.node, JSON.stringify(p.versions));
});

test('provenance: no seconds unless measured; a library call has command null', () => {
  const p = provenance(null, { a: 1 });
  assert.equal(p.command, null);
  assert.ok(!('seconds' in p));
  assert.ok(Math.abs(Date.parse(p.measuredAt) - Date.now()) < 60_000);
});

test('commandLine joins the arguments after advlens', () => {
  assert.equal(commandLine(['eval', '--model', 'x']), 'advlens eval --model x');
});
