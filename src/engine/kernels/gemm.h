// The two register-blocked matrix products of the module's kernels (winograd.c, patches.c): 4 rows by
// 8 columns of the result in eight SIMD accumulators. Included by each file that uses them.
#ifndef ADVLENS_GEMM_H
#define ADVLENS_GEMM_H
#include "vec.h"


// The last four columns of gemm when K is 4 more than a multiple of 8 (Mo, U: at that column): eight
// rows at a time (then four), so that eight accumulators hide the multiply-add latency. Each value is
// the same chain over c as in the 4x8 blocks, so the same bits.
static void gemm_cols4(const float *V, int ldv, const float *U, int ldu, float *Mo, int ldm, int T, int C) {
  int t = 0;
  for (; t + 8 <= T; t += 8) {
    const float *a = V + t * ldv;
    v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    const float *b = U;
    for (int c = 0; c < C; c++, b += ldu) {
      v128_t b0 = wasm_v128_load(b);
      c0 = MADD(c0, wasm_f32x4_splat(a[c]), b0);
      c1 = MADD(c1, wasm_f32x4_splat(a[ldv + c]), b0);
      c2 = MADD(c2, wasm_f32x4_splat(a[2 * ldv + c]), b0);
      c3 = MADD(c3, wasm_f32x4_splat(a[3 * ldv + c]), b0);
      c4 = MADD(c4, wasm_f32x4_splat(a[4 * ldv + c]), b0);
      c5 = MADD(c5, wasm_f32x4_splat(a[5 * ldv + c]), b0);
      c6 = MADD(c6, wasm_f32x4_splat(a[6 * ldv + c]), b0);
      c7 = MADD(c7, wasm_f32x4_splat(a[7 * ldv + c]), b0);
    }
    float *o = Mo + t * ldm;
    wasm_v128_store(o, c0); wasm_v128_store(o + ldm, c1); wasm_v128_store(o + 2 * ldm, c2); wasm_v128_store(o + 3 * ldm, c3);
    o += 4 * ldm;
    wasm_v128_store(o, c4); wasm_v128_store(o + ldm, c5); wasm_v128_store(o + 2 * ldm, c6); wasm_v128_store(o + 3 * ldm, c7);
  }
  for (; t < T; t += 4) {
    const float *a = V + t * ldv;
    v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
    const float *b = U;
    for (int c = 0; c < C; c++, b += ldu) {
      v128_t b0 = wasm_v128_load(b);
      c0 = MADD(c0, wasm_f32x4_splat(a[c]), b0);
      c1 = MADD(c1, wasm_f32x4_splat(a[ldv + c]), b0);
      c2 = MADD(c2, wasm_f32x4_splat(a[2 * ldv + c]), b0);
      c3 = MADD(c3, wasm_f32x4_splat(a[3 * ldv + c]), b0);
    }
    float *o = Mo + t * ldm;
    wasm_v128_store(o, c0); wasm_v128_store(o + ldm, c1); wasm_v128_store(o + 2 * ldm, c2); wasm_v128_store(o + 3 * ldm, c3);
  }
}

#if defined(WIDE16) || defined(WIDE8)
// Mo[t .. t + R)[k .. k + L NV) for one block of R rows, NV registers of L = V##_LANES columns per row
// (the last register's lanes past `last` masked, where the width has masks): R * NV accumulators, 8
// or more so that the multiply-adds' latency is hidden.
#define GEMM_BLOCK(V, R, NV)                                                                       \
  static inline void V##_block##R##x##NV(const float *a0, int ldv, const float *U, int ldu, float *o, int ldm, int C, V##_tail last) { \
    V##_t acc[R][NV];                                                                              \
    for (int i = 0; i < R; i++) for (int v = 0; v < NV; v++) acc[i][v] = V##_splat(0);             \
    const float *b = U;                                                                            \
    for (int c = 0; c < C; c++, b += ldu) {                                                        \
      V##_t bv[NV];                                                                                \
      for (int v = 0; v < NV; v++) bv[v] = v + 1 < NV ? V##_load(b + V##_LANES * v) : V##_load_tail(last, b + V##_LANES * v); \
      for (int i = 0; i < R; i++) {                                                                \
        V##_t x = V##_splat(a0[i * ldv + c]);                                                      \
        for (int v = 0; v < NV; v++) acc[i][v] = V##_madd(acc[i][v], x, bv[v]);                    \
      }                                                                                            \
    }                                                                                              \
    for (int i = 0; i < R; i++)                                                                    \
      for (int v = 0; v < NV; v++) {                                                               \
        if (v + 1 < NV) V##_store(o + i * ldm + V##_LANES * v, acc[i][v]);                         \
        else V##_store_tail(o + i * ldm + V##_LANES * v, last, acc[i][v]);                         \
      }                                                                                            \
  }
#endif

#ifdef WIDE16
// The native build for a processor with AVX-512 (scripts/build-native.mjs): the same products 16
// columns to a register. Each value is still the chain acc = 0; acc = MADD(acc, a[c], b[c]) over
// c = 0 .. C - 1 in order (columns are lanes, and lanes never mix), so the bits are the 4-lane
// loops' below; the last columns of a row (K % 16) go through masked loads and stores.
#define v16_LANES 16
typedef __mmask16 v16_tail;
#define v16_load_tail(m, p) _mm512_maskz_loadu_ps((m), (p))
#define v16_store_tail(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))

GEMM_BLOCK(v16, 4, 1)
GEMM_BLOCK(v16, 4, 2)
GEMM_BLOCK(v16, 4, 4)
GEMM_BLOCK(v16, 8, 1)
GEMM_BLOCK(v16, 8, 2)

// Rows eight at a time where the columns are few (K <= 32: 8 x 16 or 8 x 32 accumulators), else
// four at a time by 64 columns; the last columns (K % 16) masked.
static void gemm(const float *V, int ldv, const float *U, int ldu, float *Mo, int ldm, int T, int C, int K) {
  int t = 0;
  if (K <= 32)
    for (; t + 8 <= T; t += 8) {
      const float *a0 = V + t * ldv;
      float *o = Mo + t * ldm;
      int k = 0;
      for (; k + 32 <= K; k += 32) v16_block8x2(a0, ldv, U + k, ldu, o + k, ldm, C, 0xffff);
      for (; k < K; k += 16) {
        int n = K - k < 16 ? K - k : 16;
        v16_block8x1(a0, ldv, U + k, ldu, o + k, ldm, C, (__mmask16)((1u << n) - 1));
      }
    }
  for (; t < T; t += 4) {
    const float *a0 = V + t * ldv;
    float *o = Mo + t * ldm;
    int k = 0;
    for (; k + 64 <= K; k += 64) v16_block4x4(a0, ldv, U + k, ldu, o + k, ldm, C, 0xffff);
    for (; k + 32 <= K; k += 32) v16_block4x2(a0, ldv, U + k, ldu, o + k, ldm, C, 0xffff);
    for (; k < K; k += 16) {
      int n = K - k < 16 ? K - k : 16;
      v16_block4x1(a0, ldv, U + k, ldu, o + k, ldm, C, (__mmask16)((1u << n) - 1));
    }
  }
}

// dU [C][K] += V^T [C][Tp] x D [Tp][K]: 4 rows of dU by 32 columns (masked past K), the chain over t
// in order, then one addition into dU, as below.
static void gemm_tn(const float *V, int ldv, const float *D, int ldd, float *dU, int Tp, int C, int K) {
  for (int c = 0; c < C; c += 4)
    for (int k = 0; k < K; k += 32) {
      int n0 = K - k < 16 ? K - k : 16, n1 = K - k - 16 < 0 ? 0 : K - k - 16 < 16 ? K - k - 16 : 16;
      __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
      __m512 acc[4][2];
      for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
      for (int t = 0; t < Tp; t++) {
        const float *a = V + t * ldv + c;
        const float *b = D + t * ldd + k;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        for (int i = 0; i < 4; i++) {
          __m512 x = _mm512_set1_ps(a[i]);
          acc[i][0] = v16_madd(acc[i][0], x, b0);
          acc[i][1] = v16_madd(acc[i][1], x, b1);
        }
      }
      for (int i = 0; i < 4; i++) {
        float *o = dU + (c + i) * K + k;
        _mm512_mask_storeu_ps(o, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), acc[i][0]));
        _mm512_mask_storeu_ps(o + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), acc[i][1]));
      }
    }
}
#elif defined(WIDE8)
// The native build for a processor with AVX2 and FMA but not AVX-512: the same products 8 columns to
// a register (the same per-value chains, as above); the last four columns of a row (K % 8 == 4) go
// to gemm_cols4.
// Its rows are whole (K % 8 == 4 goes to gemm_cols4): the tail is a plain load and store.
#define v8_LANES 8
typedef int v8_tail;
#define v8_load_tail(m, p) ((void)(m), _mm256_loadu_ps(p))
#define v8_store_tail(p, m, v) ((void)(m), _mm256_storeu_ps((p), (v)))

GEMM_BLOCK(v8, 4, 1)
GEMM_BLOCK(v8, 4, 2)

static void gemm(const float *V, int ldv, const float *U, int ldu, float *Mo, int ldm, int T, int C, int K) {
  int K8 = K & ~7;
  if (K8 < K) gemm_cols4(V, ldv, U + K8, ldu, Mo + K8, ldm, T, C);
  for (int t = 0; t < T; t += 4) {
    const float *a0 = V + t * ldv;
    float *o = Mo + t * ldm;
    int k = 0;
    for (; k + 16 <= K8; k += 16) v8_block4x2(a0, ldv, U + k, ldu, o + k, ldm, C, 0);
    for (; k < K8; k += 8) v8_block4x1(a0, ldv, U + k, ldu, o + k, ldm, C, 0);
  }
}

// dU [C][K] += V^T [C][Tp] x D [Tp][K] (C multiple of 4, K of 8): 4 rows by 16 (then 8) columns.
static void gemm_tn(const float *V, int ldv, const float *D, int ldd, float *dU, int Tp, int C, int K) {
  for (int c = 0; c < C; c += 4) {
    int k = 0;
    for (; k + 16 <= K; k += 16) {
      __m256 acc[4][2];
      for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
      for (int t = 0; t < Tp; t++) {
        const float *a = V + t * ldv + c;
        const float *b = D + t * ldd + k;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int i = 0; i < 4; i++) {
          __m256 x = _mm256_set1_ps(a[i]);
          acc[i][0] = v8_madd(acc[i][0], x, b0);
          acc[i][1] = v8_madd(acc[i][1], x, b1);
        }
      }
      for (int i = 0; i < 4; i++) {
        float *o = dU + (c + i) * K + k;
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[i][0]));
        _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), acc[i][1]));
      }
    }
    for (; k < K; k += 8) {
      __m256 acc[4];
      for (int i = 0; i < 4; i++) acc[i] = _mm256_setzero_ps();
      for (int t = 0; t < Tp; t++) {
        const float *a = V + t * ldv + c;
        __m256 b0 = _mm256_loadu_ps(D + t * ldd + k);
        for (int i = 0; i < 4; i++) acc[i] = v8_madd(acc[i], _mm256_set1_ps(a[i]), b0);
      }
      for (int i = 0; i < 4; i++) {
        float *o = dU + (c + i) * K + k;
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[i]));
      }
    }
  }
}
#else
// GEMM: Mo[T][K] = V[T][C] x U[C][K] for T rows (a multiple of 4), K a multiple of 4 (of 8 but where a
// caller says otherwise: the last four columns go to gemm_cols4); the rows of V, U and Mo are ldv, ldu
// and ldm floats apart (the transforms keep a tile's points together).
static void gemm(const float *V, int ldv, const float *U, int ldu, float *Mo, int ldm, int T, int C, int K) {
  int K8 = K & ~7;
  if (K8 < K) gemm_cols4(V, ldv, U + K8, ldu, Mo + K8, ldm, T, C);
  for (int t = 0; t < T; t += 4) {
    const float *a0 = V + (t + 0) * ldv, *a1 = V + (t + 1) * ldv, *a2 = V + (t + 2) * ldv, *a3 = V + (t + 3) * ldv;
    for (int k = 0; k < K8; k += 8) {
      v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      const float *b = U + k;
      for (int c = 0; c < C; c++) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        b += ldu;
        v128_t x0 = wasm_f32x4_splat(a0[c]), x1 = wasm_f32x4_splat(a1[c]), x2 = wasm_f32x4_splat(a2[c]), x3 = wasm_f32x4_splat(a3[c]);
        c00 = MADD(c00, x0, b0); c01 = MADD(c01, x0, b1);
        c10 = MADD(c10, x1, b0); c11 = MADD(c11, x1, b1);
        c20 = MADD(c20, x2, b0); c21 = MADD(c21, x2, b1);
        c30 = MADD(c30, x3, b0); c31 = MADD(c31, x3, b1);
      }
      float *o = Mo + t * ldm + k;
      wasm_v128_store(o, c00); wasm_v128_store(o + 4, c01); o += ldm;
      wasm_v128_store(o, c10); wasm_v128_store(o + 4, c11); o += ldm;
      wasm_v128_store(o, c20); wasm_v128_store(o + 4, c21); o += ldm;
      wasm_v128_store(o, c30); wasm_v128_store(o + 4, c31);
    }
  }
}

// dU_p [C][K] += V_p^T [C][Tp] x D_p [Tp][K] (C multiple of 4, K of 8); rows ldv and ldd apart.
static void gemm_tn(const float *V, int ldv, const float *D, int ldd, float *dU, int Tp, int C, int K) {
  for (int c = 0; c < C; c += 4)
    for (int k = 0; k < K; k += 8) {
      v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int t = 0; t < Tp; t++) {
        const float *a = V + t * ldv + c;
        const float *b = D + t * ldd + k;
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        v128_t x0 = wasm_f32x4_splat(a[0]), x1 = wasm_f32x4_splat(a[1]), x2 = wasm_f32x4_splat(a[2]), x3 = wasm_f32x4_splat(a[3]);
        c00 = MADD(c00, x0, b0); c01 = MADD(c01, x0, b1);
        c10 = MADD(c10, x1, b0); c11 = MADD(c11, x1, b1);
        c20 = MADD(c20, x2, b0); c21 = MADD(c21, x2, b1);
        c30 = MADD(c30, x3, b0); c31 = MADD(c31, x3, b1);
      }
      float *o = dU + c * K + k;
      wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), c00)); wasm_v128_store(o + 4, wasm_f32x4_add(wasm_v128_load(o + 4), c01)); o += K;
      wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), c10)); wasm_v128_store(o + 4, wasm_f32x4_add(wasm_v128_load(o + 4), c11)); o += K;
      wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), c20)); wasm_v128_store(o + 4, wasm_f32x4_add(wasm_v128_load(o + 4), c21)); o += K;
      wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), c30)); wasm_v128_store(o + 4, wasm_f32x4_add(wasm_v128_load(o + 4), c31));
    }
}

#endif

#endif
