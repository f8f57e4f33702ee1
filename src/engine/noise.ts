/**
 * Seeded Gaussian noise for SmoothGrad, the same bits on every backend: the project's wasm module
 * computes it four values at a time (src/engine/kernels/noise.c, `gauss_noise`), and
 * {@link gaussNoiseJs} is the same computation in JavaScript, one float32 operation at a time
 * (Math.fround after each), for engines without WebAssembly SIMD and as the module's check.
 *
 * The algorithm: four xoshiro128** generators side by side (the 16 words of {@link noiseState}: lane
 * l's in words 4 l .. 4 l + 3, seeded by splitmix32 from one seed); each step draws a and b from every
 * lane, u = ((a >> 9) + 1/2) 2^-23 in (0, 1), v = (b >> 8) 2^-24 in [0, 1), and Box-Muller in float32:
 * r = sqrt(-2 log u), then r cos(2 pi v) for the four lanes and r sin(2 pi v) for the four, each times
 * sigma. log, cos and sin are Cephes' float32 polynomials (logf on [sqrt(1/2), sqrt(2)); sinf and
 * cosf on [-pi/4, pi/4] after quarter turns), accurate to a few float32 ulps: the noise is normal to
 * within what a float32 sample can show (checked by moments and a Kolmogorov-Smirnov test in
 * test/engine/noise.test.ts). It replaced `fillNormal` (double-precision Box-Muller in JavaScript),
 * whose 1.2 M values for eight 224x224 colour images took 37-43 ms, about 11% of a darknet tiny
 * gradient pass of those images; the module takes 2.5-3.3 ms (2026-12-06, `node --import tsx
 * bench/noise-speed.ts`).
 */
import { gaussNoiseModule, winogradReady } from './kernels/winograd.ts';
import { splitmix32, xoshiro128ss } from './rng.ts';

/** The 16-word generator state of `seed` (any finite number): splitmix32's first 16 outputs. */
export function noiseState(seed: number): Uint32Array {
  const sm = splitmix32(Math.floor(seed) | 0);
  const out = Uint32Array.from({ length: 16 }, () => sm());
  // xoshiro128** must not start from all zeros (splitmix32 makes that practically impossible).
  for (let l = 0; l < 4; l++)
    if (!(out[4 * l] | out[4 * l + 1] | out[4 * l + 2] | out[4 * l + 3])) out[4 * l] = 1;
  return out;
}

/** out = sigma * standard normal noise drawn from `seed` (module where loaded, else JavaScript; same bits). */
export function gaussNoise(out: Float32Array, seed: number, sigma: number): void {
  const state = noiseState(seed);
  if (winogradReady()) gaussNoiseModule(out, state, sigma);
  else gaussNoiseJs(out, state, sigma);
}

const f = Math.fround;
const bits = new Uint32Array(1);
const float = new Float32Array(bits.buffer);
// The module's float32 constants (clang rounds each decimal literal to float32 once; the test
// checks that these equal the module's results bit for bit).
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const SQRT_HALF = f(0.707106781186547524);
const LOG_C1 = f(-2.1219444e-4);
const LOG_C2 = f(0.693359375);
const PI_2 = f(1.57079632679489661923);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);

// The polynomials' coefficients as constants (unrolled below: V8 keeps them in registers).
const [P0, P1, P2, P3, P4, P5, P6, P7, P8] = LOG_P;
const [S0, S1, S2] = SIN_P;
const [C0, C1, C2] = COS_P;

/** Natural log of u in (0, 1) as noise.c's log4 computes it. */
function logf(u: number): number {
  float[0] = u;
  const b = bits[0];
  let e = (b >>> 23) - 126;
  bits[0] = (b & 0x807fffff) | 0x3f000000;
  const m = float[0];
  const small = m < SQRT_HALF;
  if (small) e -= 1;
  let x = f(f(m + (small ? m : 0)) - 1);
  const z = f(x * x);
  let p = f(f(P0 * x) + P1);
  p = f(f(p * x) + P2);
  p = f(f(p * x) + P3);
  p = f(f(p * x) + P4);
  p = f(f(p * x) + P5);
  p = f(f(p * x) + P6);
  p = f(f(p * x) + P7);
  p = f(f(p * x) + P8);
  let y = f(f(x * z) * p);
  y = f(y + f(e * LOG_C1));
  y = f(y + f(z * -0.5));
  x = f(x + y);
  return f(x + f(e * LOG_C2));
}

/**
 * out = sigma * standard normal noise, as noise.c's `gauss_noise` computes it from `state` (16 words,
 * advanced in place), one float32 operation at a time.
 */
export function gaussNoiseJs(out: Float32Array, state: Uint32Array, sigma: number): void {
  const sg = f(sigma);
  const a = new Uint32Array(4);
  const b = new Uint32Array(4);
  const step = new Float32Array(8);
  for (let i = 0; i < out.length; i += 8) {
    for (let l = 0; l < 4; l++) a[l] = xoshiro128ss(state, 4 * l);
    for (let l = 0; l < 4; l++) b[l] = xoshiro128ss(state, 4 * l);
    for (let l = 0; l < 4; l++) {
      const u = f(f((a[l] >>> 9) + 0.5) * 2 ** -23);
      const v = f((b[l] >>> 8) * 2 ** -24);
      const r = f(Math.sqrt(f(logf(u) * -2)));
      const w = f(v * 4);
      const k = Math.floor(f(w + 0.5));
      const x = f(f(w - k) * PI_2);
      const z = f(x * x);
      let sp = f(f(S0 * z) + S1);
      sp = f(f(sp * z) + S2);
      const sn = f(f(f(sp * z) * x) + x);
      let cp = f(f(C0 * z) + C1);
      cp = f(f(cp * z) + C2);
      const cs = f(f(f(f(cp * z) * z) - f(z * 0.5)) + 1);
      const q = k & 3;
      let c = q & 1 ? sn : cs;
      let sv = q & 1 ? cs : sn;
      if ((q + 1) & 2) c = -c;
      if (q & 2) sv = -sv;
      step[l] = f(r * c) * sg;
      step[l + 4] = f(r * sv) * sg;
    }
    if (i + 8 <= out.length) out.set(step, i);
    else for (let j = 0; i + j < out.length; j++) out[i + j] = step[j];
  }
}
