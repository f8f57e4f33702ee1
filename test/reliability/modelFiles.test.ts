/**
 * A model folder from the internet is untrusted input: its weight manifest, its card and its
 * labels.json. Each case runs the CLI as a user would (`advlens predict`) and expects one line and
 * exit code 2, or the stated warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { advlens } from '../cli/helpers.ts';
import { assertOneLine, digitPng, hostileModel, scratch, SMALL_CNN } from './fixtures.ts';

const tmp = scratch();
const png = digitPng(tmp);
const predict = (model: string) => advlens(['predict', '--model', model, '--image', png]);

test('a manifest path outside the model folder is refused', () => {
  const m = hostileModel(path.join(tmp, 'passwd'), (j) => {
    j.weightsManifest[0].paths = ['../../../../../../../../etc/passwd'];
  });
  assertOneLine(predict(m), /outside the model folder/);
});

test('an absolute manifest path is refused', () => {
  const m = hostileModel(path.join(tmp, 'absolute'), (j) => {
    j.weightsManifest[0].paths = [path.join(SMALL_CNN, 'weights.bin')];
  });
  assertOneLine(predict(m), /outside the model folder/);
});

test('a manifest path to /dev/zero is refused without reading it', () => {
  const m = hostileModel(path.join(tmp, 'zero'), (j) => {
    j.weightsManifest[0].paths = ['../../../../../../../../dev/zero'];
  });
  const t0 = Date.now();
  const r = predict(m);
  assertOneLine(r, /outside the model folder/);
  assert.ok(Date.now() - t0 < 60_000, 'answered at once, not after reading /dev/zero');
});

test('a weight file that is a symbolic link out of the model folder is refused', () => {
  const m = hostileModel(path.join(tmp, 'linkout'));
  fs.rmSync(path.join(m, 'weights.bin'));
  fs.symlinkSync(path.join(SMALL_CNN, 'weights.bin'), path.join(m, 'weights.bin'));
  assertOneLine(predict(m), /outside the model folder/);
});

test('a weight file that is a link to a device inside the folder is refused as not a regular file', () => {
  // A device node inside the folder is what a link to /dev/zero resolves to; both are refused.
  const m = hostileModel(path.join(tmp, 'linkzero'));
  fs.rmSync(path.join(m, 'weights.bin'));
  fs.symlinkSync('/dev/zero', path.join(m, 'weights.bin'));
  assertOneLine(predict(m), /outside the model folder|not a regular file/);
});

test('a weight shard longer than the manifest declares is read only up to the declared bytes', () => {
  const m = hostileModel(path.join(tmp, 'long'));
  fs.appendFileSync(path.join(m, 'weights.bin'), Buffer.alloc(1 << 20, 7));
  const r = predict(m);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, predict(SMALL_CNN).stdout);
});

test('a manifest declaring more bytes than its files hold is refused as truncated', () => {
  const m = hostileModel(path.join(tmp, 'huge'), (j) => {
    (j.weightsManifest[0].weights[0] as { shape: number[] }).shape = [100000, 100000, 100, 1];
  });
  assertOneLine(predict(m), /truncated/);
});

test('a manifest weight with a malformed shape is refused', () => {
  const m = hostileModel(path.join(tmp, 'shape'), (j) => {
    (j.weightsManifest[0].weights[0] as { shape: unknown }).shape = [3, -3, 'x'];
  });
  assertOneLine(predict(m), /weightsManifest/);
});

test('a card that contradicts the model (32x32x3 against 28x28x1) is one clear line', () => {
  const m = hostileModel(path.join(tmp, 'card'));
  const cardFile = path.join(m, 'advlens.json');
  const card = JSON.parse(fs.readFileSync(cardFile, 'utf8'));
  card.preprocess = { ...card.preprocess, height: 32, width: 32, channels: 3 };
  fs.writeFileSync(cardFile, JSON.stringify(card));
  assertOneLine(predict(m), /card .* says input 32x32x3 but the model takes 28x28x1/);
});

test('a card whose labels do not match the outputs is one clear line', () => {
  const m = hostileModel(path.join(tmp, 'cardlabels'));
  const cardFile = path.join(m, 'advlens.json');
  const card = JSON.parse(fs.readFileSync(cardFile, 'utf8'));
  card.labels = ['a', 'b', 'c'];
  fs.writeFileSync(cardFile, JSON.stringify(card));
  assertOneLine(predict(m), /names 3 classes but the model has 10 outputs/);
});

test('a card with a malformed field is one clear line naming it', () => {
  const m = hostileModel(path.join(tmp, 'cardbad'));
  const cardFile = path.join(m, 'advlens.json');
  const card = JSON.parse(fs.readFileSync(cardFile, 'utf8'));
  card.preprocess.channels = 'rgb';
  fs.writeFileSync(cardFile, JSON.stringify(card));
  assertOneLine(predict(m), /preprocess\.channels/);
});

const labelCases: [string, unknown, RegExp][] = [
  ['shorter than the outputs', ['zero', 'one', 'two'], /holds 3 labels but the model has 10 outputs/],
  [
    'with an index out of range',
    Array.from({ length: 10 }, (_, i) => ({ index: i === 9 ? 12 : i, name: `n${i}` })),
    /index 12, outside 0\.\.9/,
  ],
  [
    'with a duplicated index',
    Array.from({ length: 10 }, (_, i) => ({ index: i === 9 ? 3 : i, name: `n${i}` })),
    /index 3 is given twice/,
  ],
  [
    'with a negative index',
    Array.from({ length: 10 }, (_, i) => ({ index: i === 0 ? -1 : i, name: `n${i}` })),
    /index -1, outside/,
  ],
  ['that is not a list', { zero: 0 }, /not an array/],
];
for (const [what, labels, re] of labelCases) {
  test(`a labels.json ${what} is a clear error, not 'class 3'`, () => {
    const m = hostileModel(path.join(tmp, `labels-${what.replace(/\W+/g, '-')}`), undefined, {
      card: false,
    });
    fs.writeFileSync(path.join(m, 'labels.json'), JSON.stringify(labels));
    assertOneLine(predict(m), re);
  });
}

test('a labels.json of {index, name} in any order names the classes by index', () => {
  const m = hostileModel(path.join(tmp, 'labels-ok'), undefined, { card: false });
  const names = Array.from({ length: 10 }, (_, i) => `digit-${i}`);
  const shuffled = names.map((name, index) => ({ index, name })).reverse();
  fs.writeFileSync(path.join(m, 'labels.json'), JSON.stringify(shuffled));
  const r = predict(m);
  assert.equal(r.code, 0, r.stderr);
  const top = /digit-(\d)/.exec(r.stdout);
  assert.ok(top, r.stdout);
  // Same class as the card's model predicts for the same image, under its index's name.
  const ref = predict(SMALL_CNN).stdout;
  assert.match(ref, new RegExp(`\\b${top[1]}\\b`));
});

test('an unknown layer type gives a message that is not cut off', () => {
  const m = hostileModel(path.join(tmp, 'unknown-layer'), (j) => {
    const t = j.modelTopology as { config: { layers: { class_name: string }[] } };
    t.config.layers[0].class_name = 'FancyConv';
  });
  const r = predict(m);
  assertOneLine(r, /layer type 'FancyConv'.*convert the model to standard layers/);
  assert.doesNotMatch(r.stderr, /following reasons:\s*$/);
});

test('NaN weights load with a clear warning', () => {
  const m = hostileModel(path.join(tmp, 'nan'));
  const w = fs.readFileSync(path.join(m, 'weights.bin'));
  w.writeFloatLE(NaN, 0);
  fs.writeFileSync(path.join(m, 'weights.bin'), w);
  const r = predict(m);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => /warning/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /NaN or infinite weights \(conv1\/kernel/);
});
