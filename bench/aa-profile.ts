/**
 * CPU seconds per AutoAttack stage on one zoo cell (issue 17's speed work): the first --count test
 * images, one batch, AutoAttack standard L-inf with seed 0, each stage timed in CPU seconds
 * (process.cpuUsage, user + system) and wall seconds; with --dump, the adversarial images, brokenBy
 * and per-stage results are written to a JSON file so two builds can be compared.
 *
 *   nice -n 10 node --import tsx bench/aa-profile.ts --model mnist-int2 --eps 0.3 --count 10 \
 *     [--data mnist:test] [--data-dir ../shared/data] [--seed 0] [--dump OUT.json] [--micro]
 *     [--parts apgd-t,square] [--targets 9] [--queries 5000] [--offset 0]
 *
 * --micro also times one forward pass and one input gradient at batch sizes 1, 9, 10, 90 and 100.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { loadClassifier } from '../src/node/models.ts';
import { loadDataset } from '../src/node/loadData.ts';
import { getBatch } from '../src/data/dataset.ts';
import { AUTOATTACK_PARTS, autoattack } from '../src/attacks/autoattack.ts';

const args = process.argv.slice(2);
const arg = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const name = arg('model', 'mnist-int2')!;
const eps = Number(arg('eps', '0.3'));
const count = Number(arg('count', '10'));
const seed = Number(arg('seed', '0'));
const offset = Number(arg('offset', '0'));
const dump = arg('dump');
const spec = arg('data', 'mnist:test')!;
const parts = arg('parts')?.split(',');
const nTargetClasses = Number(arg('targets', '9'));
const queries = Number(arg('queries', '5000'));

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

await initNodeBackend('wasm');
const data = await loadDataset(spec, { limit: offset + count, dataDir: arg('data-dir', '../shared/data') });
const batch = getBatch(
  data,
  Array.from({ length: count }, (_, i) => offset + i),
);
const model = await loadClassifier(`models/${name}`);

if (args.includes('--micro')) {
  for (const n of [1, 9, 10, 90, 100]) {
    const x = tf.tidy(
      () => tf.tile(tf.slice(batch.x, [0, 0, 0, 0], [1, -1, -1, -1]), [n, 1, 1, 1]) as tf.Tensor4D,
    );
    const reps = Math.max(5, Math.round(200 / n));
    const time = (f: () => void) => {
      f();
      const c0 = cpu();
      for (let r = 0; r < reps; r++) f();
      return ((cpu() - c0) / reps) * 1000;
    };
    const fwd = time(() => tf.tidy(() => model.logits(x).dataSync()));
    const grad = time(() =>
      tf.tidy(() =>
        tf
          .grad((v: tf.Tensor) => tf.sum(model.logits(v as tf.Tensor4D)))(x)
          .dataSync(),
      ),
    );
    console.log(JSON.stringify({ batch: n, forwardMs: +fwd.toFixed(3), gradMs: +grad.toFixed(3) }));
    x.dispose();
  }
}

// Each part wrapped to measure its CPU time.
const stageCpu: Record<string, number> = {};
for (const k of Object.keys(AUTOATTACK_PARTS)) {
  const f = AUTOATTACK_PARTS[k];
  AUTOATTACK_PARTS[k] = (m, b, o) => {
    const c0 = cpu();
    const r = f(m, b, o);
    stageCpu[k] = (stageCpu[k] ?? 0) + cpu() - c0;
    return r;
  };
}
const before = tf.memory().numTensors;
const c0 = cpu();
const t0 = Date.now();
const r = autoattack(model, batch, { eps, seed, nTargetClasses, queries, ...(parts ? { parts } : {}) });
const total = cpu() - c0;
const summary = (
  r.options as {
    summary: {
      stages: { attack: string; broken: number; robustAccuracyAfter: number; seconds: number }[];
      robustAccuracy: number;
    };
  }
).summary;
console.log(
  JSON.stringify({
    model: name,
    eps,
    count,
    robustAccuracy: summary.robustAccuracy,
    cpuSeconds: +total.toFixed(2),
    wallSeconds: (Date.now() - t0) / 1000,
    stages: summary.stages.map((s) => ({
      attack: s.attack,
      broken: s.broken,
      after: s.robustAccuracyAfter,
      cpu: +(stageCpu[s.attack] ?? 0).toFixed(2),
      wall: s.seconds,
    })),
  }),
);
if (dump)
  fs.writeFileSync(
    dump,
    JSON.stringify({
      brokenBy: r.metrics!.brokenBy,
      stages: summary.stages,
      xAdv: Array.from(r.xAdv.dataSync()),
    }),
  );
tf.dispose([r.xAdv, r.logits]);
if (tf.memory().numTensors !== before) console.log(`leak: ${tf.memory().numTensors - before} tensors`);
