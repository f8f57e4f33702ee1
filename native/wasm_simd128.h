// The WebAssembly SIMD128 intrinsics that src/engine/kernels/*.c use, for a native build of the same
// sources (scripts/build-native.mjs puts this directory first on the include path, so their
// `#include <wasm_simd128.h>` finds this file). Each is written with clang's generic vectors to give,
// lane by lane, exactly what the WebAssembly instruction gives (IEEE single precision, round to
// nearest, no flush of subnormals; the build passes -ffp-contract=off so that no multiply and add are
// fused behind the sources' back): a native kernel's outputs are bit for bit the module's.
#ifndef ADVLENS_WASM_SIMD128_NATIVE_H
#define ADVLENS_WASM_SIMD128_NATIVE_H
#include <stdint.h>
#include <string.h>
#include <math.h>

typedef int32_t v128_t __attribute__((vector_size(16), aligned(16)));
typedef float advlens_f32x4 __attribute__((vector_size(16), aligned(16)));
typedef double advlens_f64x2 __attribute__((vector_size(16), aligned(16)));
typedef uint32_t advlens_u32x4 __attribute__((vector_size(16), aligned(16)));
typedef int16_t advlens_i16x8 __attribute__((vector_size(16), aligned(16)));
typedef uint16_t advlens_u16x8 __attribute__((vector_size(16), aligned(16)));
typedef int8_t advlens_i8x16 __attribute__((vector_size(16), aligned(16)));
typedef uint8_t advlens_u8x16 __attribute__((vector_size(16), aligned(16)));

#define WF(v) ((advlens_f32x4)(v))
#define WI(v) ((v128_t)(v))
#define ADVLENS_INLINE static inline __attribute__((always_inline))

ADVLENS_INLINE v128_t wasm_v128_load(const void *p) { v128_t v; memcpy(&v, p, 16); return v; }
ADVLENS_INLINE void wasm_v128_store(void *p, v128_t v) { memcpy(p, &v, 16); }

ADVLENS_INLINE v128_t wasm_f32x4_splat(float x) { advlens_f32x4 v = {x, x, x, x}; return WI(v); }
ADVLENS_INLINE v128_t wasm_i32x4_splat(int32_t x) { return (v128_t){x, x, x, x}; }
ADVLENS_INLINE v128_t wasm_i8x16_splat(int8_t x) { return WI(((advlens_i8x16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})); }
ADVLENS_INLINE v128_t wasm_u32x4_make(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return WI(((advlens_u32x4){a, b, c, d})); }
#define wasm_f32x4_extract_lane(v, i) (WF(v)[i])
#define wasm_u32x4_extract_lane(v, i) (((advlens_u32x4)(v))[i])

ADVLENS_INLINE v128_t wasm_f32x4_add(v128_t a, v128_t b) { return WI(WF(a) + WF(b)); }
ADVLENS_INLINE v128_t wasm_f32x4_sub(v128_t a, v128_t b) { return WI(WF(a) - WF(b)); }
ADVLENS_INLINE v128_t wasm_f32x4_mul(v128_t a, v128_t b) { return WI(WF(a) * WF(b)); }
ADVLENS_INLINE v128_t wasm_f32x4_div(v128_t a, v128_t b) { return WI(WF(a) / WF(b)); }
ADVLENS_INLINE v128_t wasm_f32x4_neg(v128_t a) { return a ^ wasm_i32x4_splat((int32_t)0x80000000u); }
ADVLENS_INLINE v128_t wasm_f32x4_abs(v128_t a) { return a & wasm_i32x4_splat(0x7fffffff); }
ADVLENS_INLINE v128_t wasm_f32x4_sqrt(v128_t a) {
  advlens_f32x4 f = WF(a);
  return WI(((advlens_f32x4){sqrtf(f[0]), sqrtf(f[1]), sqrtf(f[2]), sqrtf(f[3])}));
}
ADVLENS_INLINE v128_t wasm_f32x4_floor(v128_t a) {
  advlens_f32x4 f = WF(a);
  return WI(((advlens_f32x4){floorf(f[0]), floorf(f[1]), floorf(f[2]), floorf(f[3])}));
}
// pmin / pmax: b < a ? b : a and a < b ? b : a (NaN and -0/+0 as the WebAssembly definition).
ADVLENS_INLINE v128_t wasm_f32x4_pmin(v128_t a, v128_t b) { v128_t m = WF(b) < WF(a); return (b & m) | (a & ~m); }
ADVLENS_INLINE v128_t wasm_f32x4_pmax(v128_t a, v128_t b) { v128_t m = WF(a) < WF(b); return (b & m) | (a & ~m); }

ADVLENS_INLINE v128_t wasm_f32x4_eq(v128_t a, v128_t b) { return WF(a) == WF(b); }
ADVLENS_INLINE v128_t wasm_f32x4_ne(v128_t a, v128_t b) { return WF(a) != WF(b); }
ADVLENS_INLINE v128_t wasm_f32x4_lt(v128_t a, v128_t b) { return WF(a) < WF(b); }
ADVLENS_INLINE v128_t wasm_f32x4_gt(v128_t a, v128_t b) { return WF(a) > WF(b); }
ADVLENS_INLINE v128_t wasm_i32x4_eq(v128_t a, v128_t b) { return a == b; }
ADVLENS_INLINE v128_t wasm_i32x4_ne(v128_t a, v128_t b) { return a != b; }

ADVLENS_INLINE v128_t wasm_v128_and(v128_t a, v128_t b) { return a & b; }
ADVLENS_INLINE v128_t wasm_v128_or(v128_t a, v128_t b) { return a | b; }
ADVLENS_INLINE v128_t wasm_v128_xor(v128_t a, v128_t b) { return a ^ b; }
ADVLENS_INLINE v128_t wasm_v128_andnot(v128_t a, v128_t b) { return a & ~b; }
ADVLENS_INLINE v128_t wasm_v128_bitselect(v128_t a, v128_t b, v128_t m) { return (a & m) | (b & ~m); }
ADVLENS_INLINE int wasm_v128_any_true(v128_t a) { return (a[0] | a[1] | a[2] | a[3]) != 0; }
ADVLENS_INLINE int wasm_i32x4_all_true(v128_t a) { return a[0] != 0 && a[1] != 0 && a[2] != 0 && a[3] != 0; }

ADVLENS_INLINE v128_t wasm_i32x4_add(v128_t a, v128_t b) { return WI((advlens_u32x4)a + (advlens_u32x4)b); }
ADVLENS_INLINE v128_t wasm_i32x4_sub(v128_t a, v128_t b) { return WI((advlens_u32x4)a - (advlens_u32x4)b); }
ADVLENS_INLINE v128_t wasm_i32x4_mul(v128_t a, v128_t b) { return WI((advlens_u32x4)a * (advlens_u32x4)b); }
// Shift counts are taken modulo 32, as in WebAssembly.
ADVLENS_INLINE v128_t wasm_i32x4_shl(v128_t a, uint32_t n) { advlens_u32x4 s = {n & 31, n & 31, n & 31, n & 31}; return WI((advlens_u32x4)a << s); }
ADVLENS_INLINE v128_t wasm_u32x4_shr(v128_t a, uint32_t n) { advlens_u32x4 s = {n & 31, n & 31, n & 31, n & 31}; return WI((advlens_u32x4)a >> s); }

#define wasm_i32x4_shuffle(a, b, i0, i1, i2, i3) ((v128_t)__builtin_shufflevector((v128_t)(a), (v128_t)(b), i0, i1, i2, i3))

ADVLENS_INLINE v128_t wasm_f32x4_convert_i32x4(v128_t a) { return WI(__builtin_convertvector(a, advlens_f32x4)); }
// Saturating truncation: NaN -> 0, out of range -> INT32_MIN / INT32_MAX.
ADVLENS_INLINE int32_t advlens_trunc_sat(float f) {
  if (f != f) return 0;
  if (f >= 2147483648.0f) return INT32_MAX;
  if (f < -2147483648.0f) return INT32_MIN;
  return (int32_t)f;
}
ADVLENS_INLINE v128_t wasm_i32x4_trunc_sat_f32x4(v128_t a) {
  advlens_f32x4 f = WF(a);
  return (v128_t){advlens_trunc_sat(f[0]), advlens_trunc_sat(f[1]), advlens_trunc_sat(f[2]), advlens_trunc_sat(f[3])};
}
ADVLENS_INLINE v128_t wasm_f64x2_promote_low_f32x4(v128_t a) {
  advlens_f32x4 f = WF(a);
  return WI(((advlens_f64x2){(double)f[0], (double)f[1]}));
}
ADVLENS_INLINE v128_t wasm_f64x2_add(v128_t a, v128_t b) { return WI((advlens_f64x2)a + (advlens_f64x2)b); }

ADVLENS_INLINE int16_t advlens_sat16(int32_t x) { return x > 32767 ? 32767 : x < -32768 ? -32768 : (int16_t)x; }
ADVLENS_INLINE int8_t advlens_sat8(int16_t x) { return x > 127 ? 127 : x < -128 ? -128 : (int8_t)x; }
ADVLENS_INLINE v128_t wasm_i16x8_narrow_i32x4(v128_t a, v128_t b) {
  advlens_i16x8 r;
  for (int i = 0; i < 4; i++) { r[i] = advlens_sat16(a[i]); r[i + 4] = advlens_sat16(b[i]); }
  return WI(r);
}
ADVLENS_INLINE v128_t wasm_i8x16_narrow_i16x8(v128_t a, v128_t b) {
  advlens_i16x8 x = (advlens_i16x8)a, y = (advlens_i16x8)b;
  advlens_i8x16 r;
  for (int i = 0; i < 8; i++) { r[i] = advlens_sat8(x[i]); r[i + 8] = advlens_sat8(y[i]); }
  return WI(r);
}
ADVLENS_INLINE v128_t wasm_u16x8_extend_low_u8x16(v128_t a) {
  advlens_u8x16 x = (advlens_u8x16)a;
  advlens_u16x8 r;
  for (int i = 0; i < 8; i++) r[i] = x[i];
  return WI(r);
}
ADVLENS_INLINE v128_t wasm_u16x8_extend_high_u8x16(v128_t a) {
  advlens_u8x16 x = (advlens_u8x16)a;
  advlens_u16x8 r;
  for (int i = 0; i < 8; i++) r[i] = x[i + 8];
  return WI(r);
}
ADVLENS_INLINE v128_t wasm_u32x4_extend_low_u16x8(v128_t a) {
  advlens_u16x8 x = (advlens_u16x8)a;
  return WI(((advlens_u32x4){x[0], x[1], x[2], x[3]}));
}
ADVLENS_INLINE v128_t wasm_u32x4_extend_high_u16x8(v128_t a) {
  advlens_u16x8 x = (advlens_u16x8)a;
  return WI(((advlens_u32x4){x[4], x[5], x[6], x[7]}));
}

// relaxed SIMD's f32x4.relaxed_madd as V8 computes it where the processor has FMA: a * b + c rounded once.
#if defined(__FMA__)
#include <immintrin.h>
ADVLENS_INLINE v128_t advlens_relaxed_madd(v128_t a, v128_t b, v128_t c) {
  return WI(_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c));
}
#else
ADVLENS_INLINE v128_t advlens_relaxed_madd(v128_t a, v128_t b, v128_t c) {
  advlens_f32x4 x = WF(a), y = WF(b), z = WF(c);
  return WI(((advlens_f32x4){fmaf(x[0], y[0], z[0]), fmaf(x[1], y[1], z[1]), fmaf(x[2], y[2], z[2]), fmaf(x[3], y[3], z[3])}));
}
#endif
#define __builtin_wasm_relaxed_madd_f32x4(a, b, c) advlens_relaxed_madd((a), (b), (c))

#endif
