/**
 * Robust accuracy of zoo models under AutoAttack's parts and the ensemble (issue 17), one process:
 *
 *   node --import tsx bench/autoattack-measure.ts --models mnist-int2,mnist-pgd-linf --eps 0.3 \
 *     --count 100 --attacks apgd-ce,apgd-t [--ensemble standard] [--data mnist:test] [--data-dir ../shared/data]
 *
 * Each attack in --attacks runs alone on all --count images (seed 0); --ensemble runs that AutoAttack
 * version. Prints one JSON line per (model, attack) with the robust accuracy and the seconds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { loadClassifier } from '../src/node/models.ts';
import { loadDataset } from '../src/node/loadData.ts';
import { getBatch } from '../src/data/dataset.ts';
import { AUTOATTACK_PARTS, autoattack, type AutoAttackVersion } from '../src/attacks/autoattack.ts';

const args = process.argv.slice(2);
const arg = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const models = (arg('models') ?? 'mnist-int2,mnist-pgd-linf').split(',');
const eps = Number(arg('eps', '0.3'));
const count = Number(arg('count', '100'));
const attacks = (arg('attacks') ?? 'apgd-ce,apgd-t').split(',').filter(Boolean);
const ensemble = arg('ensemble') as AutoAttackVersion | undefined;
const spec = arg('data', 'mnist:test')!;

await initNodeBackend('wasm');
const data = await loadDataset(spec, { limit: count, dataDir: arg('data-dir', '../shared/data') });
const batch = getBatch(
  data,
  Array.from({ length: data.size }, (_, i) => i),
);
for (const name of models) {
  const model = await loadClassifier(`models/${name}`);
  const runs: [string, () => ReturnType<typeof autoattack>][] = attacks.map((a) => [
    a,
    () => AUTOATTACK_PARTS[a](model, batch, { eps }),
  ]);
  if (ensemble)
    runs.push([
      `autoattack-${ensemble}`,
      () => autoattack(model, batch, { eps, version: ensemble } as never),
    ]);
  for (const [attack, run] of runs) {
    const t0 = Date.now();
    const r = run();
    const robust = r.success.filter((s) => !s).length / r.success.length;
    const summary = (r.options as { summary?: unknown }).summary;
    console.log(
      JSON.stringify({
        model: name,
        data: spec,
        count: data.size,
        eps,
        attack,
        robustAccuracy: robust,
        seconds: (Date.now() - t0) / 1000,
        summary,
      }),
    );
    tf.dispose([r.xAdv, r.logits]);
  }
}
