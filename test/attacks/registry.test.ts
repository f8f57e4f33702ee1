import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Command } from 'commander';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { ATTACKS, attack, attackFacts, registerAttack } from '../../src/attacks/index.ts';
import { explainer } from '../../src/explain/index.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { OptionError, resolveOptions, type OptionSpecs } from '../../src/options.ts';
import { addAttackOptions, attackOptionsFrom, type AttackCliOptions } from '../../src/cli/attackOptions.ts';
import { UserError } from '../../src/errors.ts';
import { toyAttack } from '../fixtures/toyAttack.ts';

await initNodeBackend('wasm');

// The one line that adds the toy attack; nothing else in the library or the CLI knows it.
registerAttack(toyAttack);

/** A tiny random classifier on 4x4x1 images with 3 classes. */
function tinyModel(): Classifier {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [4, 4, 1] }));
  m.add(tfl.layers.dense({ units: 3, kernelInitializer: 'glorotUniform' }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'tiny',
    architecture: 'tiny',
    modelType: 'layers',
    preprocess: plainPreprocess(4, 4, 1),
    labels: ['a', 'b', 'c'],
    output: 'logits',
    versions: {},
    created: '',
  });
}

const model = tinyModel();
const pixels = Array.from({ length: 2 * 16 }, (_, i) => ((i * 7) % 17) / 16); // in [0, 1]
const batch = { x: tf.tensor4d(pixels, [2, 4, 4, 1]), y: tf.tensor1d([0, 2], 'int32') };

/** A command with the generated attack flags, parsing `args` (errors thrown, not printed). */
function parse(args: string[]): AttackCliOptions {
  const cmd = addAttackOptions(new Command('attack').exitOverride().configureOutput({ writeErr: () => {} }));
  cmd.parse(args, { from: 'user' });
  return cmd.opts<AttackCliOptions>();
}

test('a registered toy attack runs by name, with its defaults, and its result is x + eps clipped', () => {
  const before = tf.memory().numTensors;
  assert.ok(Object.hasOwn(ATTACKS, 'toy'));
  const r = attack('toy')(model, batch, { eps: 0.25 });
  const got = r.xAdv.dataSync();
  pixels.forEach((v, i) => assert.ok(Math.abs(got[i] - Math.min(1, v + 0.25)) < 1e-6, `pixel ${i}`));
  assert.deepEqual(r.options, { attack: 'toy', eps: 0.25, direction: 'up', scale: 1 });
  const down = attack('toy')(model, batch, { eps: 0.25, direction: 'down', scale: 0.5 } as never);
  const d = down.xAdv.dataSync();
  pixels.forEach((v, i) => assert.ok(Math.abs(d[i] - Math.max(0, v - 0.125)) < 1e-6, `pixel ${i}`));
  tf.dispose([r.xAdv, r.logits, down.xAdv, down.logits]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test("the toy attack's facts are read by name", () => {
  const f = attackFacts('toy');
  assert.equal(f.norm, 'linf');
  assert.equal(f.iterative, false);
  assert.equal(f.identityAtZero, true);
  assert.equal(f.targetsAccuracy, true);
  assert.equal(f.targeted, false);
  assert.equal(f.findsMinimumEps, false);
  assert.equal(f.exampleEps, '0.1');
  assert.throws(() => attackFacts('nope'), /unknown attack 'nope'; use one of .*toy/);
});

test("the toy attack's options are validated from its specs, naming the option and the attack", () => {
  const run = (o: object) => () => toyAttack.run(model, batch, o as never);
  assert.throws(run({ eps: 0.1, direction: 'left' }), {
    message: "attack 'toy': unknown direction 'left'; use one of up, down (option 'direction')",
  });
  assert.throws(run({ eps: 0.1, scale: 2 }), {
    message: "attack 'toy': option 'scale' must be a number >= 0 and <= 1 (got 2)",
  });
  assert.throws(run({ eps: -1 }), { message: "attack 'toy': option 'eps' must be a number >= 0 (got -1)" });
  assert.throws(
    run({}),
    (e: Error) => e instanceof OptionError && e.option === 'eps' && /required/.test(e.message),
  );
  // Options of other attacks (one options object for several attacks) are ignored.
  const r = toyAttack.run(model, batch, { eps: 0, steps: 3 } as never);
  assert.deepEqual(Array.from(r.xAdv.dataSync()), Array.from(batch.x.dataSync()));
  tf.dispose([r.xAdv, r.logits]);
});

test('the generated CLI flags and help include the toy attack, and parse into its options', () => {
  const help = addAttackOptions(new Command('attack')).helpInformation();
  assert.match(help, /--direction <kind>\s+toy: which way every pixel moves \(default up\)/);
  assert.match(help, /--scale <s>\s+toy: fraction of eps every pixel moves \(default 1\)/);
  // One --steps for every attack: AutoAttack's APGD and FAB parts take it too (autoAttackStages).
  assert.match(
    help.replace(/\s+/g, ' '),
    /--steps <n> attack iterations, one value for every attack given; with --attack autoattack it also sets the iterations of its APGD and FAB parts \(Square takes --queries\) \(default: 40 for pgd,/,
  );
  const o = parse(['--direction', 'down', '--scale', '1/2', '--steps', '3']);
  assert.deepEqual(attackOptionsFrom(o, model), { direction: 'down', scale: 0.5, steps: 3, seed: 0 });
  assert.throws(
    () => parse(['--scale', '2']),
    (e: Error) => e instanceof UserError && /^--scale must be a number >= 0 and <= 1/.test(e.message),
  );
  assert.throws(() => parse(['--direction', 'left']), /Allowed choices are up, down/);
  assert.deepEqual(attackOptionsFrom(parse(['--target', 'b']), model), { seed: 0, target: 1 });
});

test('built-in attacks: defaults applied, out-of-range options refused with the option and attack named', () => {
  const r = attack('pgd-linf')(model, batch, { eps: 0.1, steps: 2 });
  assert.equal(r.options.stepSize, 0.01);
  assert.equal(r.options.restarts, 0);
  assert.equal(r.options.loss, 'ce');
  tf.dispose([r.xAdv, r.logits]);
  const l2 = attack('pgd-l2')(model, batch, { eps: 1, steps: 1 });
  assert.equal(l2.options.stepSize, 0.2, 'eps/5');
  tf.dispose([l2.xAdv, l2.logits]);
  assert.throws(() => attack('pgd-linf')(model, batch, { eps: 0.1, steps: 0 }), {
    message: "attack 'pgd-linf': option 'steps' must be an integer >= 1 (got 0)",
  });
  assert.throws(() => attack('min-eps')(model, batch, { eps: 0.1, rounds: 1.5 } as never), {
    message: "attack 'min-eps': option 'rounds' must be an integer >= 1 (got 1.5)",
  });
  assert.throws(() => attack('fgsm')(model, batch, { eps: 0.1, loss: 'mse' as 'ce' }), {
    message: "attack 'fgsm': unknown loss 'mse'; use one of ce, cw (option 'loss')",
  });
  assert.throws(
    () => attack('aai')(model, batch, { eps: 0.1, target: 1 }),
    /attack 'aai': option 'target' must be absent/,
  );
  // --steps 0 passes the CLI's loosest range (the unforeseen attacks start there) and pgd refuses it.
  assert.equal(parse(['--steps', '0']).steps, 0);
  assert.throws(() => parse(['--steps', '-1']), /--steps must be an integer >= 0/);
});

test('explainers and training objectives validate their options the same way', () => {
  assert.throws(() => explainer('smoothgrad')(model, batch, { samples: 0 }), {
    message: "explainer 'smoothgrad': option 'samples' must be an integer >= 1 (got 0)",
  });
  assert.throws(
    () => explainer('integrated-gradients')(model, batch, { baseline: 'noise' as 'zeros' }),
    /explainer 'integrated-gradients': option 'baseline' must be/,
  );
  assert.throws(() => makeObjective('trades', { eps: -1 }), {
    message: "training method 'trades': option 'eps' must be a number >= 0 (got -1)",
  });
  assert.throws(
    () => makeObjective('int', { gamma: 'big' }),
    /training method 'int': option 'gamma' must be a number >= 0 \(got 'big'\)/,
  );
  assert.deepEqual(makeObjective('fgsm', { eps: 0.2 }).options, { eps: 0.2, epsRamp: [0.02, 0.1] });
});

test('resolveOptions fills constant defaults only, keeps given values and leaves computed defaults to the method', () => {
  interface O {
    n?: number;
    flag?: boolean;
    step?: number;
  }
  const specs = {
    n: { type: 'number', integer: true, min: 1, default: 3, doc: 'n' },
    flag: { type: 'boolean', default: false, doc: 'flag' },
    step: { type: 'number', min: 0, exclusiveMin: true, defaultText: 'n/10', doc: 'step' },
  } satisfies OptionSpecs<O>;
  const m = { kind: 'attack', name: 't' } as const;
  assert.deepEqual(resolveOptions<O, typeof specs>(m, specs, {}), { n: 3, flag: false });
  assert.deepEqual(resolveOptions<O, typeof specs>(m, specs, { n: 5, step: 0.5, other: 1 } as O), {
    n: 5,
    flag: false,
    step: 0.5,
  });
  assert.throws(
    () => resolveOptions<O, typeof specs>(m, specs, { step: 0 }),
    /option 'step' must be a number > 0 \(got 0\)/,
  );
  assert.throws(
    () => resolveOptions<O, typeof specs>(m, specs, { flag: 1 } as never),
    /option 'flag' must be true or false/,
  );
  assert.throws(() => resolveOptions<O, typeof specs>(m, specs, { other: 1 } as O, true), {
    message: "attack 't' does not use option 'other'; it takes n, flag, step",
  });
});
