// Vector operations by name, so that the kernels' hot loops (gemm.h's products, F(4x4)'s transforms
// and the epilogue in winograd.c) are written once for several widths: v4, WebAssembly SIMD128 (the
// module, and every build's fallback), and in the native build (scripts/build-native.mjs) v16 with
// AVX-512 (WIDE16) or else v8 with AVX2 and FMA (WIDE8), used where the channels come in sixteens or
// eights. Channels are lanes: each value gets the same operations in the same order at any width
// (same bits). V##_madd is acc + a * b: two roundings, or one where the build has ADVLENS_FMA.
#ifndef ADVLENS_VEC_H
#define ADVLENS_VEC_H
#include <wasm_simd128.h>

// acc + a * b: two instructions, or one fused multiply-add where the module is built with
// ADVLENS_FMA (relaxed SIMD's f32x4.relaxed_madd).
#ifdef ADVLENS_FMA
#define MADD(acc, a, b) __builtin_wasm_relaxed_madd_f32x4((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

typedef v128_t v4_t;
#define v4_load wasm_v128_load
#define v4_store wasm_v128_store
#define v4_splat wasm_f32x4_splat
#define v4_add wasm_f32x4_add
#define v4_sub wasm_f32x4_sub
#define v4_mul wasm_f32x4_mul
#define v4_div wasm_f32x4_div
#define v4_madd MADD
#define v4_pmax wasm_f32x4_pmax
#define v4_pmin wasm_f32x4_pmin
// v > 0 ? v : v * a (NaN: v * a), leaky ReLU as the module's bitselect computes it.
#define v4_leaky(v, a) wasm_v128_bitselect(v, wasm_f32x4_mul(v, a), wasm_f32x4_gt(v, wasm_f32x4_splat(0)))
#if defined(ADVLENS_NATIVE) && defined(__AVX512F__)
#include <immintrin.h>
#define WIDE16 1
typedef __m512 v16_t;
#define v16_load _mm512_loadu_ps
#define v16_store _mm512_storeu_ps
#define v16_splat _mm512_set1_ps
#define v16_add _mm512_add_ps
#define v16_sub _mm512_sub_ps
#define v16_mul _mm512_mul_ps
#define v16_div _mm512_div_ps
#ifdef ADVLENS_FMA
#define v16_madd(acc, a, b) _mm512_fmadd_ps((a), (b), (acc))
#else
#define v16_madd(acc, a, b) _mm512_add_ps((acc), _mm512_mul_ps((a), (b)))
#endif
// pmax: a < b ? b : a; pmin: b < a ? b : a (ordered comparisons: NaN keeps a), as wasm's.
static inline __m512 v16_pmax(__m512 a, __m512 b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), a, b); }
static inline __m512 v16_pmin(__m512 a, __m512 b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(b, a, _CMP_LT_OQ), a, b); }
static inline __m512 v16_leaky(__m512 v, __m512 a) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(v, a), v);
}
#elif defined(ADVLENS_NATIVE) && defined(__AVX2__) && defined(__FMA__)
// Without AVX-512: v8, AVX2, where the channels come in eights.
#include <immintrin.h>
#define WIDE8 1
typedef __m256 v8_t;
#define v8_load _mm256_loadu_ps
#define v8_store _mm256_storeu_ps
#define v8_splat _mm256_set1_ps
#define v8_add _mm256_add_ps
#define v8_sub _mm256_sub_ps
#define v8_mul _mm256_mul_ps
#define v8_div _mm256_div_ps
#ifdef ADVLENS_FMA
#define v8_madd(acc, a, b) _mm256_fmadd_ps((a), (b), (acc))
#else
#define v8_madd(acc, a, b) _mm256_add_ps((acc), _mm256_mul_ps((a), (b)))
#endif
// blendv takes b where the mask's sign bit is set: pmax a < b ? b : a, pmin b < a ? b : a.
static inline __m256 v8_pmax(__m256 a, __m256 b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
static inline __m256 v8_pmin(__m256 a, __m256 b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(b, a, _CMP_LT_OQ)); }
static inline __m256 v8_leaky(__m256 v, __m256 a) {
  return _mm256_blendv_ps(_mm256_mul_ps(v, a), v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
}
#endif

#endif
