// Gaussian noise for SmoothGrad, built into the same module as winograd.c (see there). Four
// xoshiro128** generators side by side (one per SIMD lane, seeded by the caller), Box-Muller in
// float32 with Cephes' logf and sinf/cosf polynomials (Moshier, Cephes Math Library). Every step is a
// single IEEE float32 operation (no fused multiply-adds, even in the module's FMA build), so
// src/engine/noise.ts's JavaScript copy of it (each operation rounded with Math.fround) gives the same
// bits on every backend.
#include <wasm_simd128.h>
typedef unsigned long size_t;

// One step of four xoshiro128** generators: state s[0..3], lane l the generator of words
// s[0][l], s[1][l], s[2][l], s[3][l]; returns each lane's 32-bit result.
static inline v128_t xoshiro4(v128_t *s) {
  v128_t m5 = wasm_i32x4_mul(s[1], wasm_i32x4_splat(5));
  v128_t rot = wasm_v128_or(wasm_i32x4_shl(m5, 7), wasm_u32x4_shr(m5, 25));
  v128_t result = wasm_i32x4_mul(rot, wasm_i32x4_splat(9));
  v128_t t = wasm_i32x4_shl(s[1], 9);
  s[2] = wasm_v128_xor(s[2], s[0]);
  s[3] = wasm_v128_xor(s[3], s[1]);
  s[1] = wasm_v128_xor(s[1], s[2]);
  s[0] = wasm_v128_xor(s[0], s[3]);
  s[2] = wasm_v128_xor(s[2], t);
  s[3] = wasm_v128_or(wasm_i32x4_shl(s[3], 11), wasm_u32x4_shr(s[3], 21));
  return result;
}

#define F(c) wasm_f32x4_splat(c)
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul

// Natural logarithm of u in (0, 1), normal floats (Cephes logf: u = m 2^e, m in [sqrt(1/2), sqrt(2)),
// a degree-8 polynomial in m - 1).
static inline v128_t log4(v128_t u) {
  v128_t bits = u;
  v128_t e = wasm_i32x4_sub(wasm_u32x4_shr(bits, 23), wasm_i32x4_splat(126));
  v128_t m = wasm_v128_or(wasm_v128_and(bits, wasm_i32x4_splat(0x807fffff)), wasm_i32x4_splat(0x3f000000));
  v128_t small = wasm_f32x4_lt(m, F(0.707106781186547524f));
  e = wasm_i32x4_add(e, small); // -1 where m < sqrt(1/2)
  v128_t x = SUB(ADD(m, wasm_v128_and(m, small)), F(1.0f));
  v128_t ef = wasm_f32x4_convert_i32x4(e);
  v128_t z = MUL(x, x);
  v128_t p = F(7.0376836292e-2f);
  p = ADD(MUL(p, x), F(-1.1514610310e-1f));
  p = ADD(MUL(p, x), F(1.1676998740e-1f));
  p = ADD(MUL(p, x), F(-1.2420140846e-1f));
  p = ADD(MUL(p, x), F(1.4249322787e-1f));
  p = ADD(MUL(p, x), F(-1.6668057665e-1f));
  p = ADD(MUL(p, x), F(2.0000714765e-1f));
  p = ADD(MUL(p, x), F(-2.4999993993e-1f));
  p = ADD(MUL(p, x), F(3.3333331174e-1f));
  v128_t y = MUL(MUL(x, z), p);
  y = ADD(y, MUL(ef, F(-2.12194440e-4f)));
  y = ADD(y, MUL(z, F(-0.5f)));
  x = ADD(x, y);
  return ADD(x, MUL(ef, F(0.693359375f)));
}

// cos and sin of 2 pi v, v in [0, 1): w = 4 v split into the nearest quarter turn k and f in
// [-1/2, 1/2], the Cephes polynomials at f pi/2 in [-pi/4, pi/4], then the quarter turns.
static inline void sincos4(v128_t v, v128_t *c, v128_t *s) {
  v128_t w = MUL(v, F(4.0f));
  v128_t k = wasm_f32x4_floor(ADD(w, F(0.5f)));
  v128_t x = MUL(SUB(w, k), F(1.57079632679489661923f));
  v128_t z = MUL(x, x);
  v128_t sp = F(-1.9515295891e-4f);
  sp = ADD(MUL(sp, z), F(8.3321608736e-3f));
  sp = ADD(MUL(sp, z), F(-1.6666654611e-1f));
  v128_t sn = ADD(MUL(MUL(sp, z), x), x);
  v128_t cp = F(2.443315711809948e-5f);
  cp = ADD(MUL(cp, z), F(-1.388731625493765e-3f));
  cp = ADD(MUL(cp, z), F(4.166664568298827e-2f));
  v128_t cs = ADD(SUB(MUL(MUL(cp, z), z), MUL(z, F(0.5f))), F(1.0f));
  v128_t q = wasm_v128_and(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(3));
  v128_t one = wasm_i32x4_splat(1), two = wasm_i32x4_splat(2), sign = wasm_i32x4_splat((int)0x80000000);
  v128_t swap = wasm_i32x4_eq(wasm_v128_and(q, one), one);
  v128_t cneg = wasm_v128_and(wasm_i32x4_eq(wasm_v128_and(wasm_i32x4_add(q, one), two), two), sign);
  v128_t sneg = wasm_v128_and(wasm_i32x4_eq(wasm_v128_and(q, two), two), sign);
  *c = wasm_v128_xor(wasm_v128_bitselect(sn, cs, swap), cneg);
  *s = wasm_v128_xor(wasm_v128_bitselect(cs, sn, swap), sneg);
}

// Box-Muller's radius from 32 random bits a: u = ((a >> 9) + 1/2) 2^-23 in (0, 1), sqrt(-2 log u).
static inline v128_t radius4(v128_t a) {
  v128_t u = MUL(ADD(wasm_f32x4_convert_i32x4(wasm_u32x4_shr(a, 9)), F(0.5f)), F(1.0f / 8388608.0f));
  return wasm_f32x4_sqrt(MUL(log4(u), F(-2.0f)));
}

// A uniform in [0, 1) from 32 random bits b: (b >> 8) 2^-24.
static inline v128_t uniform24(v128_t b) { return MUL(wasm_f32x4_convert_i32x4(wasm_u32x4_shr(b, 8)), F(1.0f / 16777216.0f)); }

// out[0, count) = sigma * N(0, 1) noise. state: 16 words, lane l's generator in words 4 l .. 4 l + 3
// (advanced in place). Each step draws a and b from every lane, u = ((a >> 9) + 1/2) 2^-23 in (0, 1),
// v = (b >> 8) 2^-24 in [0, 1), r = sqrt(-2 log u), and writes the four r cos(2 pi v) and then the four
// r sin(2 pi v), each times sigma; a last partial step writes what fits.
__attribute__((export_name("gauss_noise"))) void gauss_noise(float *out, int count, unsigned *state, float sigma) {
  v128_t s[4];
  for (int w = 0; w < 4; w++)
    s[w] = wasm_u32x4_make(state[w], state[4 + w], state[8 + w], state[12 + w]);
  v128_t sg = F(sigma);
  // Two steps per iteration when 16 values fit: their dependency chains (the polynomials are long
  // ones) overlap in the processor (eight 224x224 colour images: 2.5-3.3 ms against 3.7-4.1 ms one
  // step at a time, 2026-12-06).
  int i = 0;
  for (; i + 16 <= count; i += 16) {
    v128_t a0 = xoshiro4(s), b0 = xoshiro4(s), a1 = xoshiro4(s), b1 = xoshiro4(s);
    v128_t c0, s0, c1, s1;
    v128_t r0 = radius4(a0), r1 = radius4(a1);
    sincos4(uniform24(b0), &c0, &s0);
    sincos4(uniform24(b1), &c1, &s1);
    wasm_v128_store(out + i, MUL(MUL(r0, c0), sg));
    wasm_v128_store(out + i + 4, MUL(MUL(r0, s0), sg));
    wasm_v128_store(out + i + 8, MUL(MUL(r1, c1), sg));
    wasm_v128_store(out + i + 12, MUL(MUL(r1, s1), sg));
  }
  for (; i < count; i += 8) {
    v128_t a = xoshiro4(s), b = xoshiro4(s);
    v128_t c, sn;
    v128_t r = radius4(a);
    sincos4(uniform24(b), &c, &sn);
    v128_t n0 = MUL(MUL(r, c), sg), n1 = MUL(MUL(r, sn), sg);
    if (i + 8 <= count) {
      wasm_v128_store(out + i, n0);
      wasm_v128_store(out + i + 4, n1);
    } else {
      float tmp[8];
      wasm_v128_store(tmp, n0);
      wasm_v128_store(tmp + 4, n1);
      for (int j = 0; i + j < count; j++) out[i + j] = tmp[j];
    }
  }
  for (int w = 0; w < 4; w++) {
    state[w] = wasm_u32x4_extract_lane(s[w], 0);
    state[4 + w] = wasm_u32x4_extract_lane(s[w], 1);
    state[8 + w] = wasm_u32x4_extract_lane(s[w], 2);
    state[12 + w] = wasm_u32x4_extract_lane(s[w], 3);
  }
}
