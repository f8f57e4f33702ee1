/**
 * SmoothGrad's Gaussian noise (src/engine/noise.ts, src/engine/kernels/noise.c): the module's output
 * (both builds) equals the JavaScript copy bit for bit; each value is checked against Box-Muller in
 * double precision on the same uniforms, drawn here by an independent xoshiro128**; and a million
 * values pass moment, tail, correlation and Kolmogorov-Smirnov checks against the standard normal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initNodeBackend } from '../../src/node/backend.ts';
import { gaussNoiseModule, relaxedSimdAvailable, setWinogradFma } from '../../src/engine/kernels/winograd.ts';
import { gaussNoise, gaussNoiseJs, noiseState } from '../../src/engine/noise.ts';

await initNodeBackend('wasm');

const CASES: [number, number, number][] = [
  [0, 1, 1],
  [7, 8, 0.15],
  [123456789, 9, 0.3721],
  [-5, 1000, 1],
  [42, 224 * 224 * 3, 0.15],
];

test("the module (plain and FMA builds) writes the JavaScript copy's bits, and advances the state alike", () => {
  const builds = relaxedSimdAvailable() ? [false, true] : [false];
  try {
    for (const fma of builds) {
      setWinogradFma(fma);
      for (const [seed, count, sigma] of CASES) {
        const sm = noiseState(seed);
        const sj = noiseState(seed);
        const m = new Float32Array(count + 3).fill(9);
        const j = new Float32Array(count);
        gaussNoiseModule(m.subarray(0, count), sm, sigma);
        gaussNoiseJs(j, sj, sigma);
        const mb = new Uint32Array(m.buffer, 0, count);
        const jb = new Uint32Array(j.buffer);
        const diff = mb.findIndex((v, i) => v !== jb[i]);
        assert.equal(diff, -1, `fma ${fma}, seed ${seed}, count ${count}: first difference at ${diff}`);
        assert.deepEqual([...m.subarray(count)], [9, 9, 9], 'nothing written past the end');
        assert.deepEqual([...sm], [...sj], 'state advanced alike');
      }
    }
  } finally {
    setWinogradFma(true);
  }
});

test('each value is Box-Muller of its uniforms to float32 accuracy (an independent double-precision computation)', () => {
  const count = 40000;
  const sigma = 0.25;
  const out = new Float32Array(count);
  gaussNoise(out, 2024, sigma);
  // The generators of noiseState(2024), stepped here in plain JavaScript.
  const s = Array.from(noiseState(2024));
  const next = (l: number) => {
    const o = 4 * l;
    const r = Math.imul(rotl(Math.imul(s[o + 1], 5), 7), 9) >>> 0;
    const t = s[o + 1] << 9;
    s[o + 2] ^= s[o];
    s[o + 3] ^= s[o + 1];
    s[o + 1] ^= s[o + 2];
    s[o] ^= s[o + 3];
    s[o + 2] ^= t;
    s[o + 3] = rotl(s[o + 3], 11);
    for (let i = o; i < o + 4; i++) s[i] >>>= 0;
    return r;
  };
  let worst = 0;
  for (let i = 0; i < count; i += 8) {
    const a = [0, 1, 2, 3].map(next);
    const b = [0, 1, 2, 3].map(next);
    for (let l = 0; l < 4; l++) {
      const u = ((a[l] >>> 9) + 0.5) / 2 ** 23;
      const v = (b[l] >>> 8) / 2 ** 24;
      const r = Math.sqrt(-2 * Math.log(u));
      const want = [r * Math.cos(2 * Math.PI * v) * sigma, r * Math.sin(2 * Math.PI * v) * sigma];
      for (const [k, w] of want.entries()) {
        // Float32 relative accuracy of r and of the angle (|x| up to ~5.6 sigma: 1e-6 of it).
        const err = Math.abs(out[i + l + 4 * k] - w) / (1e-7 + Math.abs(r) * sigma);
        worst = Math.max(worst, err);
      }
    }
  }
  assert.ok(worst < 1e-6, `largest error ${worst} of r sigma`);
});

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Standard normal CDF (erf by Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

test('a million values are standard normal: moments, tails, lag and lane correlations, Kolmogorov-Smirnov', () => {
  const n = 1 << 20;
  const x = new Float32Array(n);
  gaussNoise(x, 99, 1);
  let m = 0;
  for (const v of x) m += v;
  m /= n;
  let v2 = 0;
  let v4 = 0;
  let tail = 0;
  let lag1 = 0;
  let lane = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - m;
    v2 += d * d;
    v4 += d ** 4;
    if (Math.abs(x[i]) > 3) tail++;
    if (i + 1 < n) lag1 += x[i] * x[i + 1];
    // A lane's cosine value against its sine partner (same u, v).
    if (i % 8 < 4) lane += x[i] * x[i + 4];
  }
  const variance = v2 / n;
  // Standard errors: mean 0.001, variance 0.0014, kurtosis 0.0048, tail 0.00005, correlations 0.001 / 0.0014.
  assert.ok(Math.abs(m) < 0.005, `mean ${m}`);
  assert.ok(Math.abs(variance - 1) < 0.007, `variance ${variance}`);
  assert.ok(Math.abs(v4 / n / variance ** 2 - 3) < 0.025, `kurtosis ${v4 / n / variance ** 2}`);
  assert.ok(Math.abs(tail / n - 0.0026998) < 0.00025, `P(|x| > 3) ${tail / n}`);
  assert.ok(Math.abs(lag1 / (n - 1)) < 0.005, `lag-1 correlation ${lag1 / (n - 1)}`);
  assert.ok(Math.abs(lane / (n / 2)) < 0.007, `cos-sin pair correlation ${lane / (n / 2)}`);
  const sorted = Float64Array.from(x).sort();
  let d = 0;
  for (let i = 0; i < n; i++) {
    const p = phi(sorted[i]);
    d = Math.max(d, Math.abs(p - i / n), Math.abs((i + 1) / n - p));
  }
  // Critical value at 1%: 1.63 / sqrt(n) = 0.0016.
  assert.ok(d < 1.63 / Math.sqrt(n), `Kolmogorov-Smirnov D ${d}`);
});

test('gaussNoise: one seed gives one sequence (any length is a prefix of a longer one); seeds differ', () => {
  const long = new Float32Array(100);
  const short = new Float32Array(37);
  gaussNoise(long, 5, 0.5);
  gaussNoise(short, 5, 0.5);
  assert.deepEqual([...short], [...long.subarray(0, 37)]);
  const other = new Float32Array(100);
  gaussNoise(other, 6, 0.5);
  assert.ok(other.some((v, i) => v !== long[i]));
  const scaled = new Float32Array(100);
  gaussNoise(scaled, 5, 1);
  assert.ok(scaled.every((v, i) => Math.abs(v * 0.5 - long[i]) <= 1e-6 * Math.abs(v)));
});
