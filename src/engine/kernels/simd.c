// Memory-bound kernels of advlens' wasm backend, built into the same module as winograd.c (see
// there): max pooling and its gradient, ReLU's gradient, and a bias added along the last axis.
// NHWC; four channels at a time with WebAssembly SIMD128, the rest one by one.
#include "vec.h"
typedef unsigned long size_t;
// In the native build for AVX-512 (WIDE16, vec.h) the batch-norm passes below take 8 or 16 channels
// a vector before their 4-channel loops. Channels are lanes, each channel's float64 sum still adds
// the rows in the same order and each float32 value has the same operations: same bits.

// Max-pool gradient (MaxPoolGrad), x and dx [N][H][W][C], dy [N][OH][OW][C]: each output's gradient
// goes to the first maximum of its window (row-major scan with a running maximum that only a
// strictly greater value replaces, so NaN never wins and a window of only NaN and -Infinity sends
// nothing), the window at (oh * SH - top, ow * SW - left) of KH x KW clipped to the image; windows
// in row-major order add into dx. Four channels at a time, the rest one by one. A full 2x2 window
// that cannot overlap another (strides >= 2) is written without reading dx, and dx is not zeroed
// first when such windows tile the image exactly (MNIST's pools: most of the time goes to memory).
static inline v128_t andnot(v128_t a, v128_t b) { return wasm_v128_andnot(a, b); }
// The rows (or columns) [*lo, *hi) of window i: from i * S - pad, K long, clipped to [0, n).
static inline void clip(int i, int S, int pad, int K, int n, int *lo, int *hi) {
  int a = i * S - pad, b = a + K;
  *lo = a < 0 ? 0 : a;
  *hi = b > n ? n : b;
}

__attribute__((export_name("maxpool_grad"))) void maxpool_grad(const float *x, const float *dy, float *dx, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int SH, int SW, int top, int left) {
  int disjoint2 = KH == 2 && KW == 2 && SH >= 2 && SW >= 2;
  int tiles = disjoint2 && SH == 2 && SW == 2 && top == 0 && left == 0 && OH * 2 == H && OW * 2 == W;
  if (!tiles) __builtin_memset(dx, 0, (size_t)N * H * W * C * sizeof(float));
  int C4 = C & ~3;
  const float *g = dy;
  v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  for (int n = 0; n < N; n++)
    for (int i = 0; i < OH; i++) {
      int r0, r1, c0, c1;
      clip(i, SH, top, KH, H, &r0, &r1);
      for (int j = 0; j < OW; j++, g += C) {
        clip(j, SW, left, KW, W, &c0, &c1);
        if (r0 >= r1 || c0 >= c1) continue;
        const float *xb = x + ((n * H + r0) * W + c0) * C;
        float *db = dx + ((n * H + r0) * W + c0) * C;
        int rows = r1 - r0, cols = c1 - c0;
        int k = 0;
        if (disjoint2 && rows == 2 && cols == 2) {
          int o1 = C, o2 = W * C, o3 = W * C + C;
          for (; k < C4; k += 4) {
            v128_t a0 = wasm_v128_load(xb + k), a1 = wasm_v128_load(xb + o1 + k);
            v128_t a2 = wasm_v128_load(xb + o2 + k), a3 = wasm_v128_load(xb + o3 + k);
            v128_t g0 = wasm_f32x4_gt(a0, ninf), m = wasm_v128_bitselect(a0, ninf, g0);
            v128_t g1 = wasm_f32x4_gt(a1, m);
            m = wasm_v128_bitselect(a1, m, g1);
            v128_t g2 = wasm_f32x4_gt(a2, m);
            m = wasm_v128_bitselect(a2, m, g2);
            v128_t g3 = wasm_f32x4_gt(a3, m);
            // The last replacement wins: element t gets dy when it replaced and no later one did.
            v128_t d = wasm_v128_load(g + k);
            v128_t d3 = wasm_v128_and(d, g3), rest = andnot(d, g3);
            v128_t d2 = wasm_v128_and(rest, g2);
            rest = andnot(rest, g2);
            v128_t d1 = wasm_v128_and(rest, g1);
            rest = andnot(rest, g1);
            wasm_v128_store(db + k, wasm_v128_and(rest, g0));
            wasm_v128_store(db + o1 + k, d1);
            wasm_v128_store(db + o2 + k, d2);
            wasm_v128_store(db + o3 + k, d3);
          }
        } else {
          for (; k < C4; k += 4) {
            v128_t m = ninf, at = wasm_i32x4_splat(-1);
            for (int r = 0, t = 0; r < rows; r++)
              for (int q = 0; q < cols; q++, t++) {
                v128_t v = wasm_v128_load(xb + (r * W + q) * C + k);
                v128_t gt = wasm_f32x4_gt(v, m);
                m = wasm_v128_bitselect(v, m, gt);
                at = wasm_v128_bitselect(wasm_i32x4_splat(t), at, gt);
              }
            v128_t d = wasm_v128_load(g + k);
            for (int r = 0, t = 0; r < rows; r++)
              for (int q = 0; q < cols; q++, t++) {
                float *o = db + (r * W + q) * C + k;
                v128_t hit = wasm_i32x4_eq(at, wasm_i32x4_splat(t));
                wasm_v128_store(o, wasm_f32x4_add(wasm_v128_load(o), wasm_v128_and(d, hit)));
              }
          }
        }
        for (; k < C; k++) {
          float m = -__builtin_inff();
          int at = -1;
          for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++) {
              int o = (r * W + q) * C + k;
              if (xb[o] > m) {
                m = xb[o];
                at = o;
              }
            }
          if (disjoint2 && rows == 2 && cols == 2) {
            for (int r = 0; r < 2; r++)
              for (int q = 0; q < 2; q++) db[(r * W + q) * C + k] = 0;
          }
          if (at >= 0) db[at] += g[k];
        }
      }
    }
}

// Max pool (MaxPool), y [N][OH][OW][C] from x [N][H][W][C]: the maximum of each window (at
// (oh * SH - top, ow * SW - left), KH x KW, clipped to the image) by the same scan as the gradient,
// a running maximum from -Infinity that only a strictly greater value replaces (so NaN is skipped,
// as on tfjs' cpu backend; a window of only NaN gives -Infinity).
__attribute__((export_name("maxpool"))) void maxpool(const float *x, float *y, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int SH, int SW, int top, int left) {
  int C4 = C & ~3;
  float *o = y;
  v128_t ninf = wasm_f32x4_splat(-__builtin_inff());
  for (int n = 0; n < N; n++)
    for (int i = 0; i < OH; i++) {
      int r0, r1, c0, c1;
      clip(i, SH, top, KH, H, &r0, &r1);
      for (int j = 0; j < OW; j++, o += C) {
        clip(j, SW, left, KW, W, &c0, &c1);
        const float *xb = x + ((n * H + r0) * W + c0) * C;
        int rows = r1 - r0, cols = c1 - c0;
        int k = 0;
        if (rows == 2 && cols == 2) {
          const float *x1 = xb + C, *x2 = xb + W * C, *x3 = xb + W * C + C;
          for (; k < C4; k += 4) {
            v128_t m = ninf, v;
            v = wasm_v128_load(xb + k);
            m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
            v = wasm_v128_load(x1 + k);
            m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
            v = wasm_v128_load(x2 + k);
            m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
            v = wasm_v128_load(x3 + k);
            m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
            wasm_v128_store(o + k, m);
          }
        } else {
          for (; k < C4; k += 4) {
            v128_t m = ninf;
            for (int r = 0; r < rows; r++)
              for (int q = 0; q < cols; q++) {
                v128_t v = wasm_v128_load(xb + (r * W + q) * C + k);
                m = wasm_v128_bitselect(v, m, wasm_f32x4_gt(v, m));
              }
            wasm_v128_store(o + k, m);
          }
        }
        for (; k < C; k++) {
          float m = -__builtin_inff();
          for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++) {
              float v = xb[(r * W + q) * C + k];
              if (v > m) m = v;
            }
          o[k] = m;
        }
      }
    }
}

// ReLU's gradient, out[i] = dy[i] * step(x[i]) with step 1 for x > 0, 0 for x <= 0 and NaN for NaN,
// as tfjs' mul(dy, step(x)) (so Infinity * 0 and NaN in dy give NaN there too).
__attribute__((export_name("relu_grad"))) void relu_grad(const float *dy, const float *x, float *out, int n) {
  v128_t zero = wasm_f32x4_splat(0), one = wasm_f32x4_splat(1);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t s = wasm_v128_and(one, wasm_f32x4_gt(v, zero));                  // 1 or 0
    s = wasm_v128_bitselect(v, s, wasm_f32x4_ne(v, v));                      // NaN stays
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(dy + i), s));
  }
  for (; i < n; i++) {
    float v = x[i];
    float s = v > 0 ? 1.0f : v != v ? v : 0.0f;
    out[i] = dy[i] * s;
  }
}

// out [rows][K] = x [rows][K] + b [K] (a bias added along the last axis), K >= 1.
__attribute__((export_name("add_bias"))) void add_bias(const float *x, const float *b, float *out, int rows, int K) {
  int K4 = K & ~3;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * K;
    float *o = out + (size_t)r * K;
    int k = 0;
    for (; k < K4; k += 4) wasm_v128_store(o + k, wasm_f32x4_add(wasm_v128_load(xr + k), wasm_v128_load(b + k)));
    for (; k < K; k++) o[k] = xr[k] + b[k];
  }
}

// acc[0..3] += (a + b) + (c + d) lane by lane in float64: four rows' float32 values (four channels
// each) promoted and added in this order, the float64 accumulation sum_rows and sq_dev_sum_rows share.
static inline void add_rows4_f64(double *acc, v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t lo = wasm_f64x2_add(wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(a), wasm_f64x2_promote_low_f32x4(b)),
                             wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(c), wasm_f64x2_promote_low_f32x4(d)));
  a = wasm_i32x4_shuffle(a, a, 2, 3, 2, 3);
  b = wasm_i32x4_shuffle(b, b, 2, 3, 2, 3);
  c = wasm_i32x4_shuffle(c, c, 2, 3, 2, 3);
  d = wasm_i32x4_shuffle(d, d, 2, 3, 2, 3);
  v128_t hi = wasm_f64x2_add(wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(a), wasm_f64x2_promote_low_f32x4(b)),
                             wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(c), wasm_f64x2_promote_low_f32x4(d)));
  wasm_v128_store(acc, wasm_f64x2_add(wasm_v128_load(acc), lo));
  wasm_v128_store(acc + 2, wasm_f64x2_add(wasm_v128_load(acc + 2), hi));
}

#ifdef WIDE16
// add_rows4_f64 for eight channels: acc[0..7] += (a + b) + (c + d) in float64.
static inline void add_rows8_f64(double *acc, __m256 a, __m256 b, __m256 c, __m256 d) {
  __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_cvtps_pd(a), _mm512_cvtps_pd(b)), _mm512_add_pd(_mm512_cvtps_pd(c), _mm512_cvtps_pd(d)));
  _mm512_storeu_pd(acc, _mm512_add_pd(_mm512_loadu_pd(acc), s));
}
#endif

// out [inner] = sum over rows of x [outer][inner] (a sum over leading axes: bias gradients), added in
// float64 (acc [inner], scratch) four rows at a time and rounded to float32 once.
__attribute__((export_name("sum_rows"))) void sum_rows(const float *x, float *out, double *acc, int outer, int inner) {
  for (int j = 0; j < inner; j++) acc[j] = 0;
  int i = 0;
  int in4 = inner & ~3;
  for (; i + 4 <= outer; i += 4) {
    const float *r0 = x + (size_t)i * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
    int j = 0;
#ifdef WIDE16
    for (; j + 8 <= in4; j += 8) add_rows8_f64(acc + j, _mm256_loadu_ps(r0 + j), _mm256_loadu_ps(r1 + j), _mm256_loadu_ps(r2 + j), _mm256_loadu_ps(r3 + j));
#endif
    for (; j < in4; j += 4) {
      v128_t a = wasm_v128_load(r0 + j), b = wasm_v128_load(r1 + j), c = wasm_v128_load(r2 + j), d = wasm_v128_load(r3 + j);
      add_rows4_f64(acc + j, a, b, c, d);
    }
    for (; j < inner; j++) acc[j] += ((double)r0[j] + (double)r1[j]) + ((double)r2[j] + (double)r3[j]);
  }
  for (; i < outer; i++) {
    const float *r = x + (size_t)i * inner;
    for (int j = 0; j < inner; j++) acc[j] += r[j];
  }
  for (int j = 0; j < inner; j++) out[j] = (float)acc[j];
}

// out [rows][K] = x [rows][K] op b [K] (a vector along the last axis), or b op x with `swap`.
// op: 0 add, 1 subtract, 2 multiply, 3 divide. One IEEE float32 operation per element, as the stock
// kernels' broadcast, so the results are the same bit for bit.
#define BCAST_LOOP(VOP, SOP)                                                                    \
  for (int r = 0; r < rows; r++) {                                                              \
    const float *xr = x + (size_t)r * K;                                                        \
    float *o = out + (size_t)r * K;                                                             \
    int k = 0;                                                                                  \
    if (swap) {                                                                                 \
      for (; k < K4; k += 4) wasm_v128_store(o + k, VOP(wasm_v128_load(b + k), wasm_v128_load(xr + k))); \
      for (; k < K; k++) o[k] = b[k] SOP xr[k];                                                 \
    } else {                                                                                    \
      for (; k < K4; k += 4) wasm_v128_store(o + k, VOP(wasm_v128_load(xr + k), wasm_v128_load(b + k))); \
      for (; k < K; k++) o[k] = xr[k] SOP b[k];                                                 \
    }                                                                                           \
  }
__attribute__((export_name("bcast_last"))) void bcast_last(const float *x, const float *b, float *out, int rows, int K, int op, int swap) {
  int K4 = K & ~3;
  switch (op) {
    case 0: BCAST_LOOP(wasm_f32x4_add, +) break;
    case 1: BCAST_LOOP(wasm_f32x4_sub, -) break;
    case 2: BCAST_LOOP(wasm_f32x4_mul, *) break;
    default: BCAST_LOOP(wasm_f32x4_div, /) break;
  }
}

// Batch normalisation with given statistics, channels last: out = o[k] + ((x - m[k]) * s[k]) / r[k]
// for x [rows][K], where r = sqrtf(variance + epsilon) per channel (computed by the caller).
__attribute__((export_name("batch_norm"))) void batch_norm(const float *x, const float *m, const float *s, const float *r, const float *o, float *out, int rows, int K) {
  int K4 = K & ~3;
  for (int i = 0; i < rows; i++) {
    const float *xr = x + (size_t)i * K;
    float *y = out + (size_t)i * K;
    int k = 0;
#ifdef WIDE16
    for (; k + 16 <= K4; k += 16) {
      __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + k), _mm512_loadu_ps(m + k)), _mm512_loadu_ps(s + k));
      _mm512_storeu_ps(y + k, _mm512_add_ps(_mm512_loadu_ps(o + k), _mm512_div_ps(t, _mm512_loadu_ps(r + k))));
    }
#endif
    for (; k < K4; k += 4) {
      v128_t t = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + k), wasm_v128_load(m + k)), wasm_v128_load(s + k));
      wasm_v128_store(y + k, wasm_f32x4_add(wasm_v128_load(o + k), wasm_f32x4_div(t, wasm_v128_load(r + k))));
    }
    for (; k < K; k++) y[k] = o[k] + ((xr[k] - m[k]) * s[k]) / r[k];
  }
}

// Leaky ReLU: out = x < 0 ? alpha * x : x (NaN stays NaN), float32 alpha, as the stock kernel.
__attribute__((export_name("leaky_relu"))) void leaky_relu(const float *x, float *out, int n, float alpha) {
  v128_t a = wasm_f32x4_splat(alpha), z = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    wasm_v128_store(out + i, wasm_v128_bitselect(wasm_f32x4_mul(v, a), v, wasm_f32x4_lt(v, z)));
  }
  for (; i < n; i++) out[i] = x[i] < 0 ? alpha * x[i] : x[i];
}

// Leaky ReLU's gradient in one pass: out = x > 0 ? dy : dy * alpha (x <= 0 or NaN: dy * alpha), as
// tfjs' where(greater(x, 0), dy, mul(dy, alpha)).
__attribute__((export_name("leaky_relu_grad"))) void leaky_relu_grad(const float *dy, const float *x, float *out, int n, float alpha) {
  v128_t a = wasm_f32x4_splat(alpha), z = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t d = wasm_v128_load(dy + i);
    wasm_v128_store(out + i, wasm_v128_bitselect(d, wasm_f32x4_mul(d, a), wasm_f32x4_gt(wasm_v128_load(x + i), z)));
  }
  for (; i < n; i++) out[i] = x[i] > 0 ? dy[i] : dy[i] * alpha;
}

// Batch norm's gradient in one pass (AdvlensBatchNormGrad), x, dy and dx [rows][K], per channel m
// (the mean), r (1 / sqrt(variance + epsilon)) and s (the scale): dx = (dy * r) * s, as tfjs'
// gradient rounds it, and the two sums the other derivatives need, in float64: acc[k] = sum dy,
// acc[K + k] = sum dy * (x - m) (the product in float32). K a multiple of 4. With x = 0 (an input
// gradient, where no parameter's derivative is wanted) only dx: dy is read, x and m are not, acc unused.
__attribute__((export_name("bn_grad"))) void bn_grad(const float *x, const float *dy, const float *m, const float *r, const float *s, float *dx, double *acc, int rows, int K) {
  if (!x) {
    for (int i = 0; i < rows; i++) {
      const float *g = dy + (size_t)i * K;
      float *o = dx + (size_t)i * K;
      for (int k = 0; k < K; k += 4)
        wasm_v128_store(o + k, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(g + k), wasm_v128_load(r + k)), wasm_v128_load(s + k)));
    }
    return;
  }
  double *s1 = acc, *s2 = acc + K;
  for (int k = 0; k < 2 * K; k++) acc[k] = 0;
  for (int i = 0; i < rows; i++) {
    const float *xr = x + (size_t)i * K, *g = dy + (size_t)i * K;
    float *o = dx + (size_t)i * K;
    for (int k = 0; k < K; k += 4) {
      v128_t d = wasm_v128_load(g + k);
      wasm_v128_store(o + k, wasm_f32x4_mul(wasm_f32x4_mul(d, wasm_v128_load(r + k)), wasm_v128_load(s + k)));
      v128_t p = wasm_f32x4_mul(d, wasm_f32x4_sub(wasm_v128_load(xr + k), wasm_v128_load(m + k)));
      v128_t dh = wasm_i32x4_shuffle(d, d, 2, 3, 2, 3), ph = wasm_i32x4_shuffle(p, p, 2, 3, 2, 3);
      wasm_v128_store(s1 + k, wasm_f64x2_add(wasm_v128_load(s1 + k), wasm_f64x2_promote_low_f32x4(d)));
      wasm_v128_store(s1 + k + 2, wasm_f64x2_add(wasm_v128_load(s1 + k + 2), wasm_f64x2_promote_low_f32x4(dh)));
      wasm_v128_store(s2 + k, wasm_f64x2_add(wasm_v128_load(s2 + k), wasm_f64x2_promote_low_f32x4(p)));
      wasm_v128_store(s2 + k + 2, wasm_f64x2_add(wasm_v128_load(s2 + k + 2), wasm_f64x2_promote_low_f32x4(ph)));
    }
  }
}

// Batch norm in training mode (src/engine/batchNormTrain.ts). The variance's sum as the Mean of
// Square(x - m) adds it: acc [inner] = sum over the rows of x [outer][inner] of (x - m)^2, each
// difference and square in float32, the sum in float64 in sum_rows' order (so the same bits), out
// the sums rounded to float32 once; inner a multiple of 4.
__attribute__((export_name("sq_dev_sum_rows"))) void sq_dev_sum_rows(const float *x, const float *m, float *out, double *acc, int outer, int inner) {
  for (int j = 0; j < inner; j++) acc[j] = 0;
  int i = 0;
#define SQD(p) (dv = wasm_f32x4_sub(wasm_v128_load(p + j), wasm_v128_load(m + j)), wasm_f32x4_mul(dv, dv))
  for (; i + 4 <= outer; i += 4) {
    const float *r0 = x + (size_t)i * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
    int j = 0;
#ifdef WIDE16
#define SQD8(p) (dw = _mm256_sub_ps(_mm256_loadu_ps(p + j), _mm256_loadu_ps(m + j)), _mm256_mul_ps(dw, dw))
    for (; j + 8 <= inner; j += 8) {
      __m256 dw;
      __m256 a = SQD8(r0), b = SQD8(r1), c = SQD8(r2), d = SQD8(r3);
      add_rows8_f64(acc + j, a, b, c, d);
    }
#undef SQD8
#endif
    for (; j < inner; j += 4) {
      v128_t dv;
      v128_t a = SQD(r0), b = SQD(r1), c = SQD(r2), d = SQD(r3);
      add_rows4_f64(acc + j, a, b, c, d);
    }
  }
#undef SQD
  for (; i < outer; i++) {
    const float *r = x + (size_t)i * inner;
    for (int j = 0; j < inner; j++) {
      float dv = r[j] - m[j];
      acc[j] += dv * dv;
    }
  }
  for (int j = 0; j < inner; j++) out[j] = (float)acc[j];
}

// The sums of batch norm's training-mode gradient, in float64 over the rows of x, dy [rows][K]:
// acc[k] = sum dy, acc[K + k] = sum dy * (x - m), acc[2K + k] = sum (x - m) (differences and
// products in float32). K a multiple of 4.
__attribute__((export_name("bn_sums"))) void bn_sums(const float *x, const float *dy, const float *m, double *acc, int rows, int K) {
  double *s1 = acc, *s2 = acc + K, *s0 = acc + 2 * K;
  for (int k = 0; k < 3 * K; k++) acc[k] = 0;
  for (int i = 0; i < rows; i++) {
    const float *xr = x + (size_t)i * K, *g = dy + (size_t)i * K;
    int k = 0;
#ifdef WIDE16
    for (; k + 8 <= K; k += 8) {
      __m256 d = _mm256_loadu_ps(g + k);
      __m256 e = _mm256_sub_ps(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(m + k));
      __m256 p = _mm256_mul_ps(d, e);
      _mm512_storeu_pd(s1 + k, _mm512_add_pd(_mm512_loadu_pd(s1 + k), _mm512_cvtps_pd(d)));
      _mm512_storeu_pd(s2 + k, _mm512_add_pd(_mm512_loadu_pd(s2 + k), _mm512_cvtps_pd(p)));
      _mm512_storeu_pd(s0 + k, _mm512_add_pd(_mm512_loadu_pd(s0 + k), _mm512_cvtps_pd(e)));
    }
#endif
    for (; k < K; k += 4) {
      v128_t d = wasm_v128_load(g + k);
      v128_t e = wasm_f32x4_sub(wasm_v128_load(xr + k), wasm_v128_load(m + k));
      v128_t p = wasm_f32x4_mul(d, e);
      v128_t dh = wasm_i32x4_shuffle(d, d, 2, 3, 2, 3), ph = wasm_i32x4_shuffle(p, p, 2, 3, 2, 3), eh = wasm_i32x4_shuffle(e, e, 2, 3, 2, 3);
      wasm_v128_store(s1 + k, wasm_f64x2_add(wasm_v128_load(s1 + k), wasm_f64x2_promote_low_f32x4(d)));
      wasm_v128_store(s1 + k + 2, wasm_f64x2_add(wasm_v128_load(s1 + k + 2), wasm_f64x2_promote_low_f32x4(dh)));
      wasm_v128_store(s2 + k, wasm_f64x2_add(wasm_v128_load(s2 + k), wasm_f64x2_promote_low_f32x4(p)));
      wasm_v128_store(s2 + k + 2, wasm_f64x2_add(wasm_v128_load(s2 + k + 2), wasm_f64x2_promote_low_f32x4(ph)));
      wasm_v128_store(s0 + k, wasm_f64x2_add(wasm_v128_load(s0 + k), wasm_f64x2_promote_low_f32x4(e)));
      wasm_v128_store(s0 + k + 2, wasm_f64x2_add(wasm_v128_load(s0 + k + 2), wasm_f64x2_promote_low_f32x4(eh)));
    }
  }
}

// dx [rows][K] = (dy * a + (x - m) * b) + c, per channel coefficients a, b, c [K] (float32). K a
// multiple of 4.
__attribute__((export_name("bn_train_dx"))) void bn_train_dx(const float *x, const float *dy, const float *m, const float *a, const float *b, const float *c, float *dx, int rows, int K) {
  for (int i = 0; i < rows; i++) {
    const float *xr = x + (size_t)i * K, *g = dy + (size_t)i * K;
    float *o = dx + (size_t)i * K;
    int k = 0;
#ifdef WIDE16
    for (; k + 16 <= K; k += 16) {
      __m512 e = _mm512_sub_ps(_mm512_loadu_ps(xr + k), _mm512_loadu_ps(m + k));
      __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(g + k), _mm512_loadu_ps(a + k)), _mm512_mul_ps(e, _mm512_loadu_ps(b + k)));
      _mm512_storeu_ps(o + k, _mm512_add_ps(v, _mm512_loadu_ps(c + k)));
    }
#endif
    for (; k < K; k += 4) {
      v128_t e = wasm_f32x4_sub(wasm_v128_load(xr + k), wasm_v128_load(m + k));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(g + k), wasm_v128_load(a + k)), wasm_f32x4_mul(e, wasm_v128_load(b + k)));
      wasm_v128_store(o + k, wasm_f32x4_add(v, wasm_v128_load(c + k)));
    }
  }
}

// out[i] = x[i] > s (swap: s > x[i]) as bytes 0 / 1 (Greater against a scalar; NaN compares false).
__attribute__((export_name("greater_scalar"))) void greater_scalar(const float *x, float s, unsigned char *out, int n, int swap) {
  v128_t sv = wasm_f32x4_splat(s), one = wasm_i8x16_splat(1);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t m[4];
    for (int j = 0; j < 4; j++) {
      v128_t v = wasm_v128_load(x + i + 4 * j);
      m[j] = swap ? wasm_f32x4_gt(sv, v) : wasm_f32x4_gt(v, sv);
    }
    v128_t b = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(m[0], m[1]), wasm_i16x8_narrow_i32x4(m[2], m[3]));
    wasm_v128_store(out + i, wasm_v128_and(b, one));
  }
  for (; i < n; i++) out[i] = swap ? (s > x[i]) : (x[i] > s);
}

// out[i] = x[i] > y[i] as bytes 0 / 1 (Greater of equal shapes).
__attribute__((export_name("greater_same"))) void greater_same(const float *x, const float *y, unsigned char *out, int n) {
  v128_t one = wasm_i8x16_splat(1);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t m[4];
    for (int j = 0; j < 4; j++) m[j] = wasm_f32x4_gt(wasm_v128_load(x + i + 4 * j), wasm_v128_load(y + i + 4 * j));
    v128_t b = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(m[0], m[1]), wasm_i16x8_narrow_i32x4(m[2], m[3]));
    wasm_v128_store(out + i, wasm_v128_and(b, one));
  }
  for (; i < n; i++) out[i] = x[i] > y[i];
}

// out[i] = c[i] ? t[i] : e[i] (Select of equal shapes; c bytes, nonzero true).
__attribute__((export_name("select_f32"))) void select_f32(const unsigned char *c, const float *t, const float *e, float *out, int n) {
  v128_t z = wasm_i32x4_splat(0);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t cb = wasm_v128_load(c + i);
    v128_t lo = wasm_u16x8_extend_low_u8x16(cb), hi = wasm_u16x8_extend_high_u8x16(cb);
    v128_t w[4] = {wasm_u32x4_extend_low_u16x8(lo), wasm_u32x4_extend_high_u16x8(lo), wasm_u32x4_extend_low_u16x8(hi), wasm_u32x4_extend_high_u16x8(hi)};
    for (int j = 0; j < 4; j++) {
      v128_t m = wasm_i32x4_ne(w[j], z);
      wasm_v128_store(out + i + 4 * j, wasm_v128_bitselect(wasm_v128_load(t + i + 4 * j), wasm_v128_load(e + i + 4 * j), m));
    }
  }
  for (; i < n; i++) out[i] = c[i] ? t[i] : e[i];
}

// Maximum and Minimum of float32 (op 0: max, 1: min) as the stock wasm kernels compute them, which
// return b where b > a (max) or b < a (min) and a otherwise: NaN in a gives NaN, NaN in b gives a,
// max(-0, 0) = -0 and max(0, -0) = 0; exactly f32x4.pmax(a, b) and f32x4.pmin(a, b). b is n values
// (equal shapes) or, with `scalar_b`, one value; with `scalar_a` a is the one value.
__attribute__((export_name("min_max"))) void min_max(const float *a, const float *b, float *out, int n, int op, int scalar_a, int scalar_b) {
  v128_t sa = wasm_f32x4_splat(scalar_a ? a[0] : 0.0f), sb = wasm_f32x4_splat(scalar_b ? b[0] : 0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t x = scalar_a ? sa : wasm_v128_load(a + i), y = scalar_b ? sb : wasm_v128_load(b + i);
    wasm_v128_store(out + i, op == 0 ? wasm_f32x4_pmax(x, y) : wasm_f32x4_pmin(x, y));
  }
  for (; i < n; i++) {
    float x = scalar_a ? a[0] : a[i], y = scalar_b ? b[0] : b[i];
    out[i] = op == 0 ? (y > x ? y : x) : (y < x ? y : x);
  }
}

// Sign of float32: 1 where x > 0, -1 where x < 0, else 0 (zeros of either sign and NaN), as sign.ts.
__attribute__((export_name("sign_f32"))) void sign_f32(const float *x, float *out, int n) {
  v128_t z = wasm_f32x4_splat(0.0f), one = wasm_f32x4_splat(1.0f), mone = wasm_f32x4_splat(-1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    wasm_v128_store(out + i, wasm_v128_or(wasm_v128_and(wasm_f32x4_gt(v, z), one), wasm_v128_and(wasm_f32x4_lt(v, z), mone)));
  }
  for (; i < n; i++) out[i] = x[i] > 0 ? 1.0f : x[i] < 0 ? -1.0f : 0.0f;
}

// Mean over the middle axes of x [N][P][C] (a global average pooling: P = H * W) as the stock wasm
// kernel computes it: per (n, c) a float32 sum of the P values in order, then one float32 division by
// P. out [N][C] holds the running sums, four channels a lane, pixel by pixel (so x is read once, in
// order), each lane its own channel's chain: the same bits.
__attribute__((export_name("mean_middle"))) void mean_middle(const float *x, float *out, int N, int P, int C) {
  int C4 = C & ~3;
  float fp = (float)P;
  v128_t d = wasm_f32x4_splat(fp);
  for (int n = 0; n < N; n++) {
    float *o = out + (size_t)n * C;
    for (int c = 0; c < C; c++) o[c] = 0.0f;
    const float *xn = x + (size_t)n * P * C;
    for (int p = 0; p < P; p++) {
      const float *xr = xn + (size_t)p * C;
      int c = 0;
      for (; c < C4; c += 4) wasm_v128_store(o + c, wasm_f32x4_add(wasm_v128_load(o + c), wasm_v128_load(xr + c)));
      for (; c < C; c++) o[c] = o[c] + xr[c];
    }
    int c = 0;
    for (; c < C4; c += 4) wasm_v128_store(o + c, wasm_f32x4_div(wasm_v128_load(o + c), d));
    for (; c < C; c++) o[c] = o[c] / fp;
  }
}
