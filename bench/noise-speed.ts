/**
 * Time of SmoothGrad's noise for one pass of darknet tiny's benchmark (8 images of 224x224x3, 1.2 M
 * values; src/engine/noise.ts): the module's path where it is loaded, and with `--js` the JavaScript
 * copy (the same bits). Median of 20 passes after 10 warm-up passes (V8 compiles the module's code
 * in tiers).
 *
 *   node --import tsx bench/noise-speed.ts [--js]
 */
import { initNodeBackend } from '../src/node/backend.ts';
import { gaussNoise, gaussNoiseJs, noiseState } from '../src/engine/noise.ts';

await initNodeBackend('wasm');
const js = process.argv.includes('--js');
const per = 224 * 224 * 3;
const y = new Float32Array(per * 8);
const t: number[] = [];
for (let r = 0; r < 30; r++) {
  const t0 = performance.now();
  for (let b = 0; b < 8; b++) {
    const out = y.subarray(b * per, (b + 1) * per);
    if (js) gaussNoiseJs(out, noiseState(b + r), 0.15);
    else gaussNoise(out, b + r, 0.15);
  }
  t.push(performance.now() - t0);
}
const median = t.slice(10).sort((a, b) => a - b)[10];
console.log(
  `${js ? 'JavaScript copy' : 'gaussNoise'}: ${median.toFixed(2)} ms for 8 images of 224x224x3 (median of 20)`,
);
