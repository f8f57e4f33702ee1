// Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016) for advlens' wasm `Conv2D` (src/engine/kernels/conv2d.ts): NHWC, 3x3
// filter, stride 1, one pixel of zero padding on every side (so 'same'), channels in multiples of
// 4 and 8. Per 2x2 output tile: V = B^T d B (4x4 input patch), M = sum_c V_c * U_c with
// U = G g G^T (the filter, transformed once per call), Y = A^T M A; the 16 channel sums are 16
// matrix products [tiles x C] x [C x K], done TB tiles at a time so that the blocks stay in cache.
// 36 multiplications per tile and channel pair become 16 (2.25x fewer). WebAssembly SIMD128.
// Built into src/engine/kernels/winogradWasm.ts by `npm run build:wasm` (clang --target=wasm32).
#include <wasm_simd128.h>
typedef unsigned long size_t;
#include "gemm.h"
#include "epilogue.h"

// The per-channel vectors of an epilogue for the channels k .. of one vector (those it has), and the
// epilogue on one vector v of them (res: the residual at them, or 0).
#define DEFINE_EPILOGUE(V)                                                                          \
  typedef struct {                                                                                 \
    V##_t b, m, s, r, o;                                                                           \
  } V##_epi_k;                                                                                     \
  static inline V##_epi_k V##_epi_load(const epi_t *e, int k) {                                     \
    V##_epi_k c;                                                                                   \
    V##_t z = V##_splat(0);                                                                        \
    c.b = e->bias ? V##_load(e->bias + k) : z;                                                     \
    c.m = e->m ? V##_load(e->m + k) : z;                                                           \
    c.s = e->m ? V##_load(e->s + k) : z;                                                           \
    c.r = e->m ? V##_load(e->r + k) : z;                                                           \
    c.o = e->m ? V##_load(e->o + k) : z;                                                           \
    return c;                                                                                      \
  }                                                                                                \
  static inline V##_t V##_epi_apply(V##_t v, const epi_t *e, const V##_epi_k *c, const float *res) { \
    if (e->bias) v = V##_add(v, c->b);                                                             \
    if (e->m) v = V##_add(c->o, V##_div(V##_mul(V##_sub(v, c->m), c->s), c->r));                   \
    if (res) v = V##_add(v, V##_load(res));                                                        \
    if (e->act == 1) v = V##_pmax(v, V##_splat(0));                                                \
    else if (e->act == 2) v = V##_pmin(V##_pmax(v, V##_splat(0)), V##_splat(6));                  \
    else if (e->act == 3) v = V##_leaky(v, V##_splat(e->alpha));                                   \
    return v;                                                                                      \
  }
DEFINE_EPILOGUE(v4)
#ifdef WIDE16
DEFINE_EPILOGUE(v16)
#endif
#ifdef WIDE8
DEFINE_EPILOGUE(v8)
#endif
typedef v4_epi_k epi_k;
#define epi_load v4_epi_load
#define epi_apply v4_epi_apply

// The module has no data and imports its memory: the wasm backend's own (so that kernels work on
// tensors in place, without copies) or, where that cannot be had, a memory of its own. The caller
// passes every buffer, scratch included, and sets the stack pointer (exported) into memory it owns.

// Filter transform: w [3][3][C][K] -> U [16][C][K], U = G g G^T.
__attribute__((export_name("filter_transform"))) void filter_transform(const float *w, float *U, int C, int K) {
  // Four output channels at a time (K is a multiple of 8): the same operations, lane by lane.
  v128_t half = wasm_f32x4_splat(0.5f);
  for (int c = 0; c < C; c++)
    for (int k = 0; k < K; k += 4) {
      v128_t g[3][3], t[4][3], u[4][4];
      for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) g[i][j] = wasm_v128_load(w + ((i * 3 + j) * C + c) * K + k);
      for (int j = 0; j < 3; j++) {
        t[0][j] = g[0][j];
        t[1][j] = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_add(g[0][j], g[1][j]), g[2][j]));
        t[2][j] = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_sub(g[0][j], g[1][j]), g[2][j]));
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; i++) {
        u[i][0] = t[i][0];
        u[i][1] = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_add(t[i][0], t[i][1]), t[i][2]));
        u[i][2] = wasm_f32x4_mul(half, wasm_f32x4_add(wasm_f32x4_sub(t[i][0], t[i][1]), t[i][2]));
        u[i][3] = t[i][2];
      }
      for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) wasm_v128_store(U + ((i * 4 + j) * C + c) * K + k, u[i][j]);
    }
}

#define TB 32  // tiles per block
#define PAD 16 // floats between the filter gradient's point rows (see conv_filter_grad)

// V = B^T d B for tiles t0 .. t0 + T - 1 (rows T .. Tp - 1 repeat the last tile when
// `repeat`, else are zero), d the 4x4 patch at (2 ty - 1, 2 tx - 1), zeros outside the image.
// Point p of tile t goes to V + t * ts + p * ps: [tile][point][C] (ts = 16 C, ps = C) for the
// forward's products, [point][tile][C] (ts = C, ps = Tp C) for the filter gradient's, whose loop runs
// over the tiles of one point (rows 16 C apart would be a power-of-two stride: cache conflicts).
static void input_transform(const float *x, float *V, int ts, int ps, int t0, int T, int Tp, int N, int H, int W, int C, int repeat) {
  int th = (H + 1) / 2, tw = (W + 1) / 2;
  (void)N;
  for (int t = 0; t < Tp; t++) {
    if (t >= T && !repeat) {
      for (int p = 0; p < 16; p++)
        for (int c = 0; c < C; c += 4) wasm_v128_store(V + t * ts + p * ps + c, wasm_f32x4_splat(0));
      continue;
    }
    int tile = t0 + (t < T ? t : T - 1);
    int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;
    int y0 = ty * 2 - 1, x0 = tx * 2 - 1;
    // Tiles wholly inside the image (most of them) load without bounds checks: the patch's rows
    // start at p0 .. p3, its columns C floats apart.
    int inside = y0 >= 0 && y0 + 3 < H && x0 >= 0 && x0 + 3 < W;
    const float *p0 = x + ((n * H + (inside ? y0 : 0)) * W + (inside ? x0 : 0)) * C;
    const float *p1 = p0 + W * C, *p2 = p1 + W * C, *p3 = p2 + W * C;
    int C2 = 2 * C, C3 = 3 * C;
    for (int c = 0; c < C; c += 4) {
      v128_t d[4][4];
      if (inside) {
        d[0][0] = wasm_v128_load(p0 + c); d[0][1] = wasm_v128_load(p0 + C + c); d[0][2] = wasm_v128_load(p0 + C2 + c); d[0][3] = wasm_v128_load(p0 + C3 + c);
        d[1][0] = wasm_v128_load(p1 + c); d[1][1] = wasm_v128_load(p1 + C + c); d[1][2] = wasm_v128_load(p1 + C2 + c); d[1][3] = wasm_v128_load(p1 + C3 + c);
        d[2][0] = wasm_v128_load(p2 + c); d[2][1] = wasm_v128_load(p2 + C + c); d[2][2] = wasm_v128_load(p2 + C2 + c); d[2][3] = wasm_v128_load(p2 + C3 + c);
        d[3][0] = wasm_v128_load(p3 + c); d[3][1] = wasm_v128_load(p3 + C + c); d[3][2] = wasm_v128_load(p3 + C2 + c); d[3][3] = wasm_v128_load(p3 + C3 + c);
      } else
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++) {
            int yy = y0 + i, xx = x0 + j;
            d[i][j] = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? wasm_v128_load(x + ((n * H + yy) * W + xx) * C + c) : wasm_f32x4_splat(0);
          }
      v128_t bt[4][4];
      for (int j = 0; j < 4; j++) {
        bt[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
        bt[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
        bt[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
        bt[3][j] = wasm_f32x4_sub(d[1][j], d[3][j]);
      }
      float *v = V + t * ts + c;
      for (int i = 0; i < 4; i++) {
        wasm_v128_store(v + (i * 4 + 0) * ps, wasm_f32x4_sub(bt[i][0], bt[i][2]));
        wasm_v128_store(v + (i * 4 + 1) * ps, wasm_f32x4_add(bt[i][1], bt[i][2]));
        wasm_v128_store(v + (i * 4 + 2) * ps, wasm_f32x4_sub(bt[i][2], bt[i][1]));
        wasm_v128_store(v + (i * 4 + 3) * ps, wasm_f32x4_sub(bt[i][1], bt[i][3]));
      }
    }
  }
}

// x [N][H][W][C], U [16][C][K] -> y [N][H][W][K]; work: scratch of TB*(16*(C+K)+2*PAD) floats.
__attribute__((export_name("conv"))) void conv(const float *x, const float *U, float *y, float *work, int N, int H, int W, int C, int K, const epi_t *e) {
  int th = (H + 1) / 2, tw = (W + 1) / 2;
  int tiles = N * th * tw;
  const int has_e = e != 0;
  const epi_t E = has_e ? *e : (epi_t){0};
  // Tiles 16 C (16 K) floats apart plus one cache line, as in conv_filter_grad.
  int tsv = 16 * C + PAD, tsm = 16 * K + PAD;
  float *V = work;               // [TB][16][C]
  float *Mo = work + TB * tsv;   // [TB][16][K]
  for (int t0 = 0; t0 < tiles; t0 += TB) {
    int T = tiles - t0 < TB ? tiles - t0 : TB;
    int Tp = (T + 3) & ~3;
    input_transform(x, V, tsv, C, t0, T, Tp, N, H, W, C, 1);
    for (int p = 0; p < 16; p++) gemm(V + p * C, tsv, U + p * C * K, K, Mo + p * K, tsm, Tp, C, K);
    // output transform
    for (int t = 0; t < T; t++) {
      int tile = t0 + t;
      int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;
      for (int k = 0; k < K; k += 4) {
        epi_k ec = epi_load(&E, k);
        v128_t m[4][4];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) m[i][j] = wasm_v128_load(Mo + t * tsm + (i * 4 + j) * K + k);
        v128_t a[2][4];
        for (int j = 0; j < 4; j++) {
          a[0][j] = wasm_f32x4_add(wasm_f32x4_add(m[0][j], m[1][j]), m[2][j]);
          a[1][j] = wasm_f32x4_sub(wasm_f32x4_sub(m[1][j], m[2][j]), m[3][j]);
        }
        for (int i = 0; i < 2; i++) {
          v128_t o0 = wasm_f32x4_add(wasm_f32x4_add(a[i][0], a[i][1]), a[i][2]);
          v128_t o1 = wasm_f32x4_sub(wasm_f32x4_sub(a[i][1], a[i][2]), a[i][3]);
          int yy = ty * 2 + i, xx = tx * 2;
          if (yy < H) {
            size_t at = (size_t)((n * H + yy) * W + xx) * K + k;
            if (has_e) {
              o0 = epi_apply(o0, &E, &ec, E.res ? E.res + at : 0);
              if (xx + 1 < W) o1 = epi_apply(o1, &E, &ec, E.res ? E.res + at + K : 0);
            }
            wasm_v128_store(y + at, o0);
            if (xx + 1 < W) wasm_v128_store(y + at + K, o1);
          }
        }
      }
    }
  }
}

// The filter gradient of conv: dw [3][3][C][K] = sum over tiles of G^T [(B^T d B) . (A dY A^T)] G,
// x [N][H][W][C], dy [N][H][W][K]; dU [16][C][K] and work (16*(TB*(C+K)+2*PAD) floats) are scratch. Each
// block is transformed point-major ([16][T][C], [16][T][K]) so that the products read it contiguously.
__attribute__((export_name("conv_filter_grad"))) void conv_filter_grad(const float *x, const float *dy, float *dw, float *dU, float *work, int N, int H, int W, int C, int K) {
  int th = (H + 1) / 2, tw = (W + 1) / 2;
  int tiles = N * th * tw;
  // The points' rows are T C (T K) floats apart plus one cache line: a power of two apart, the 16
  // streams the transforms write would share a few cache sets.
  float *V = work;                         // [16][T][C], points T * C + PAD apart
  float *D = work + 16 * (TB * C + PAD);   // [16][T][K], points T * K + PAD apart
  for (int i = 0; i < 16 * C * K; i++) dU[i] = 0;
  for (int t0 = 0; t0 < tiles; t0 += TB) {
    int T = tiles - t0 < TB ? tiles - t0 : TB;
    int psv = T * C + PAD, psd = T * K + PAD;
    input_transform(x, V, C, psv, t0, T, T, N, H, W, C, 0);
    // D = A dY A^T, A = [[1,0],[1,1],[1,-1],[0,-1]]; outputs outside the image are zero.
    for (int t = 0; t < T; t++) {
      int tile = t0 + t;
      int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;
      int y0 = ty * 2, x0 = tx * 2;
      for (int k = 0; k < K; k += 4) {
        v128_t g[2][2];
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 2; j++) {
            int yy = y0 + i, xx = x0 + j;
            g[i][j] = (yy < H && xx < W) ? wasm_v128_load(dy + ((n * H + yy) * W + xx) * K + k) : wasm_f32x4_splat(0);
          }
        v128_t a[4][2];
        for (int j = 0; j < 2; j++) {
          a[0][j] = g[0][j];
          a[1][j] = wasm_f32x4_add(g[0][j], g[1][j]);
          a[2][j] = wasm_f32x4_sub(g[0][j], g[1][j]);
          a[3][j] = wasm_f32x4_neg(g[1][j]);
        }
        float *d = D + t * K + k;
        int ps = psd;
        for (int i = 0; i < 4; i++) {
          wasm_v128_store(d + (i * 4 + 0) * ps, a[i][0]);
          wasm_v128_store(d + (i * 4 + 1) * ps, wasm_f32x4_add(a[i][0], a[i][1]));
          wasm_v128_store(d + (i * 4 + 2) * ps, wasm_f32x4_sub(a[i][0], a[i][1]));
          wasm_v128_store(d + (i * 4 + 3) * ps, wasm_f32x4_neg(a[i][1]));
        }
      }
    }
    for (int p = 0; p < 16; p++) gemm_tn(V + p * psv, C, D + p * psd, K, dU + p * C * K, T, C, K);
  }
  // dw = G^T dU G, G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],[0,0,1]].
  for (int c = 0; c < C; c++)
    for (int k = 0; k < K; k++) {
      float u[4][4], s[3][4];
      for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) u[i][j] = dU[((i * 4 + j) * C + c) * K + k];
      for (int j = 0; j < 4; j++) {
        s[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
        s[1][j] = 0.5f * (u[1][j] - u[2][j]);
        s[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
      }
      for (int i = 0; i < 3; i++) {
        dw[((i * 3 + 0) * C + c) * K + k] = s[i][0] + 0.5f * (s[i][1] + s[i][2]);
        dw[((i * 3 + 1) * C + c) * K + k] = 0.5f * (s[i][1] - s[i][2]);
        dw[((i * 3 + 2) * C + c) * K + k] = 0.5f * (s[i][1] + s[i][2]) + s[i][3];
      }
    }
}


// Direct 3x3 'same' convolutions with one input or one output channel (a first layer on grey images
// and its input gradient), where Winograd's channel products are too thin and XNNPACK is slow.
// y [N][H][W][K] = conv of x [N][H][W][1] by w [3][3][1][K], K a multiple of 4.
// One pixel's outputs of conv_c1: o [K] from its 3x3 neighbourhood v (zeros outside the image).
static inline void conv_c1_pixel(const float *v, const float *w, float *o, int K) {
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (int t = 0; t < 9; t++) {
      v128_t s = wasm_f32x4_splat(v[t]);
      const float *f = w + t * K + k;
      a0 = MADD(a0, s, wasm_v128_load(f));
      a1 = MADD(a1, s, wasm_v128_load(f + 4));
      a2 = MADD(a2, s, wasm_v128_load(f + 8));
      a3 = MADD(a3, s, wasm_v128_load(f + 12));
    }
    wasm_v128_store(o + k, a0);
    wasm_v128_store(o + k + 4, a1);
    wasm_v128_store(o + k + 8, a2);
    wasm_v128_store(o + k + 12, a3);
  }
  for (; k < K; k += 4) {
    v128_t a0 = wasm_f32x4_splat(0);
    for (int t = 0; t < 9; t++) a0 = MADD(a0, wasm_f32x4_splat(v[t]), wasm_v128_load(w + t * K + k));
    wasm_v128_store(o + k, a0);
  }
}

// y [N][H][W][K] = conv of x [N][H][W][1] by w [3][3][1][K], K a multiple of 4. Two horizontally
// adjacent pixels at a time: each output is still its own chain of 9 multiply-adds in tap order (the
// same bits as one pixel at a time), but two pixels' chains run side by side, which hides the
// multiply-add latency that bound the one-pixel loop, and share the filter loads.
__attribute__((export_name("conv_c1"))) void conv_c1(const float *x, const float *w, float *y, int N, int H, int W, int K) {
  for (int n = 0; n < N; n++)
    for (int i = 0; i < H; i++) {
      // The 3x3 neighbourhoods (zeros outside the image) of pixels j and j + 1.
      float v[2][9];
      float *o = y + (size_t)((n * H + i) * W) * K;
      int j = 0;
      for (; j + 2 <= W; j += 2, o += 2 * K) {
        for (int p = 0; p < 2; p++)
          for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
              int yy = i + a - 1, xx = j + p + b - 1;
              v[p][a * 3 + b] = yy < 0 || yy >= H || xx < 0 || xx >= W ? 0.0f : x[(n * H + yy) * W + xx];
            }
        int k = 0;
        for (; k + 16 <= K; k += 16) {
          v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
          for (int t = 0; t < 9; t++) {
            v128_t s = wasm_f32x4_splat(v[0][t]), u = wasm_f32x4_splat(v[1][t]);
            const float *f = w + t * K + k;
            v128_t f0 = wasm_v128_load(f), f1 = wasm_v128_load(f + 4), f2 = wasm_v128_load(f + 8), f3 = wasm_v128_load(f + 12);
            a0 = MADD(a0, s, f0); a1 = MADD(a1, s, f1); a2 = MADD(a2, s, f2); a3 = MADD(a3, s, f3);
            b0 = MADD(b0, u, f0); b1 = MADD(b1, u, f1); b2 = MADD(b2, u, f2); b3 = MADD(b3, u, f3);
          }
          wasm_v128_store(o + k, a0); wasm_v128_store(o + k + 4, a1);
          wasm_v128_store(o + k + 8, a2); wasm_v128_store(o + k + 12, a3);
          wasm_v128_store(o + K + k, b0); wasm_v128_store(o + K + k + 4, b1);
          wasm_v128_store(o + K + k + 8, b2); wasm_v128_store(o + K + k + 12, b3);
        }
        for (; k < K; k += 4) {
          v128_t a0 = wasm_f32x4_splat(0), b0 = a0;
          for (int t = 0; t < 9; t++) {
            v128_t f = wasm_v128_load(w + t * K + k);
            a0 = MADD(a0, wasm_f32x4_splat(v[0][t]), f);
            b0 = MADD(b0, wasm_f32x4_splat(v[1][t]), f);
          }
          wasm_v128_store(o + k, a0);
          wasm_v128_store(o + K + k, b0);
        }
      }
      if (j < W) {
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 3; b++) {
            int yy = i + a - 1, xx = j + b - 1;
            v[0][a * 3 + b] = yy < 0 || yy >= H || xx < 0 || xx >= W ? 0.0f : x[(n * H + yy) * W + xx];
          }
        conv_c1_pixel(v[0], w, o, K);
      }
    }
}

// One output of conv_k1 at (n, i, j), skipping the taps outside the image.
static inline float conv_k1_pixel(const float *x, const float *w, int n, int i, int j, int H, int W, int C) {
  v128_t acc = wasm_f32x4_splat(0);
  for (int a = 0; a < 3; a++) {
    int yy = i + a - 1;
    if (yy < 0 || yy >= H) continue;
    for (int b = 0; b < 3; b++) {
      int xx = j + b - 1;
      if (xx < 0 || xx >= W) continue;
      const float *p = x + ((size_t)(n * H + yy) * W + xx) * C;
      const float *f = w + (a * 3 + b) * C;
      for (int c = 0; c < C; c += 4) acc = MADD(acc, wasm_v128_load(p + c), wasm_v128_load(f + c));
    }
  }
  return wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3);
}

// y [N][H][W][1] = conv of x [N][H][W][C] by w [3][3][C][1], C a multiple of 4. Each output is one
// chain of multiply-adds (taps in order, 4 channels a step) then the sum of its 4 lanes; four
// horizontally adjacent interior pixels (no column tap outside the image) run their chains side by
// side, in the same order each, so the bits are those of one pixel at a time while the latency of
// the chain, which bound that loop, is hidden four times over.
__attribute__((export_name("conv_k1"))) void conv_k1(const float *x, const float *w, float *y, int N, int H, int W, int C) {
  for (int n = 0; n < N; n++)
    for (int i = 0; i < H; i++) {
      float *yr = y + (size_t)(n * H + i) * W;
      int j = 0;
      if (W > 0) yr[0] = conv_k1_pixel(x, w, n, i, 0, H, W, C);
      for (j = 1; j + 4 <= W - 1; j += 4) {
        v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
        for (int a = 0; a < 3; a++) {
          int yy = i + a - 1;
          if (yy < 0 || yy >= H) continue;
          for (int b = 0; b < 3; b++) {
            const float *p = x + ((size_t)(n * H + yy) * W + j + b - 1) * C;
            const float *f = w + (a * 3 + b) * C;
            for (int c = 0; c < C; c += 4) {
              v128_t fv = wasm_v128_load(f + c);
              a0 = MADD(a0, wasm_v128_load(p + c), fv);
              a1 = MADD(a1, wasm_v128_load(p + C + c), fv);
              a2 = MADD(a2, wasm_v128_load(p + 2 * C + c), fv);
              a3 = MADD(a3, wasm_v128_load(p + 3 * C + c), fv);
            }
          }
        }
        yr[j] = wasm_f32x4_extract_lane(a0, 0) + wasm_f32x4_extract_lane(a0, 1) + wasm_f32x4_extract_lane(a0, 2) + wasm_f32x4_extract_lane(a0, 3);
        yr[j + 1] = wasm_f32x4_extract_lane(a1, 0) + wasm_f32x4_extract_lane(a1, 1) + wasm_f32x4_extract_lane(a1, 2) + wasm_f32x4_extract_lane(a1, 3);
        yr[j + 2] = wasm_f32x4_extract_lane(a2, 0) + wasm_f32x4_extract_lane(a2, 1) + wasm_f32x4_extract_lane(a2, 2) + wasm_f32x4_extract_lane(a2, 3);
        yr[j + 3] = wasm_f32x4_extract_lane(a3, 0) + wasm_f32x4_extract_lane(a3, 1) + wasm_f32x4_extract_lane(a3, 2) + wasm_f32x4_extract_lane(a3, 3);
      }
      for (; j < W; j++) yr[j] = conv_k1_pixel(x, w, n, i, j, H, W, C);
    }
}

// dst [pixels][to] = the first `to` channels of each pixel of src [pixels][from] (the outputs of a
// convolution whose filter was padded with zero channels: conv2d.ts, paddedOutputs).
__attribute__((export_name("take_channels"))) void take_channels(const float *src, float *dst, int pixels, int from, int to) {
  for (int q = 0; q < pixels; q++)
    for (int j = 0; j < to; j++) dst[(size_t)q * to + j] = src[(size_t)q * from + j];
}

// The epilogue of a fused convolution (AdvlensConvBnAct, src/engine/convBnAct.ts), per output value v
// of channel k at pixel q, each step only where its pointer is set: v + bias[k]; batch norm
// o[k] + ((v - m[k]) * s[k]) / r[k] (r = sqrt(variance + epsilon), as FusedBatchNorm); v + res[q][k]
// (a residual: Add); then the activation (0 linear, 1 ReLU, 2 ReLU6, 3 leaky ReLU). The operations, in
// order, of the layers it replaces (FusedConv2D's bias, FusedBatchNorm, Add, Relu / LeakyRelu), so the
// same bits (epi_apply, at the top of this file; epi_t: epilogue.h). The convolutions apply it to each
// output in registers before its store; epi_pixels applies it to `count` pixels from q0 of y
// [pixels][K] (K a multiple of 4) in place: conv4's flat outputs, conv_gemm's blocks, the pass below.
// It reads a copy of *ep, whose fields cannot alias y's stores, so the tests on them leave the loops.
void epi_pixels(float *y, int q0, int count, int K, const epi_t *ep) {
  const epi_t e = *ep;
  for (int q = q0; q < q0 + count; q++)
    for (int k = 0; k < K; k += 4) {
      epi_k c = epi_load(&e, k);
      float *o = y + (size_t)q * K + k;
      wasm_v128_store(o, epi_apply(wasm_v128_load(o), &e, &c, e.res ? e.res + (size_t)q * K + k : 0));
    }
}

// The epilogue as a pass of its own: y = epilogue(src) (src may be y).
__attribute__((export_name("epilogue"))) void epilogue(const float *src, float *y, int pixels, int K, const epi_t *e) {
  if (src != y) __builtin_memcpy(y, src, (size_t)pixels * K * sizeof(float));
  epi_pixels(y, 0, pixels, K, e);
}

// The gradient of that epilogue (batch norm set, no bias) for an input gradient, per value: g = dy
// through the activation, read from its output y (ReLU: dy * step(y), NaN kept, as relu_grad; leaky
// ReLU with alpha > 0: y > 0 ? dy : dy * alpha, as leaky_relu_grad, since y > 0 exactly where its
// input is), g into dv when set (the residual's gradient), and dz = (g * ri) * s (ri = 1 /
// sqrt(variance + epsilon): batch norm's input gradient, as bn_grad). K a multiple of 4.
__attribute__((export_name("epilogue_grad"))) void epilogue_grad(const float *dy, const float *y, const float *ri, const float *s, float *dv, float *dz, int pixels, int K, int act, float alpha) {
  v128_t zero = wasm_f32x4_splat(0), one = wasm_f32x4_splat(1), a = wasm_f32x4_splat(alpha);
  for (int q = 0; q < pixels; q++) {
    const float *g0 = dy + (size_t)q * K, *yr = y + (size_t)q * K;
    float *vo = dv ? dv + (size_t)q * K : 0, *zo = dz + (size_t)q * K;
    for (int k = 0; k < K; k += 4) {
      v128_t g = wasm_v128_load(g0 + k);
      if (act == 1) {
        v128_t v = wasm_v128_load(yr + k);
        v128_t st = wasm_v128_and(one, wasm_f32x4_gt(v, zero));
        st = wasm_v128_bitselect(v, st, wasm_f32x4_ne(v, v));
        g = wasm_f32x4_mul(g, st);
      } else if (act == 3) {
        g = wasm_v128_bitselect(g, wasm_f32x4_mul(g, a), wasm_f32x4_gt(wasm_v128_load(yr + k), zero));
      }
      if (vo) wasm_v128_store(vo + k, g);
      wasm_v128_store(zo + k, wasm_f32x4_mul(wasm_f32x4_mul(g, wasm_v128_load(ri + k)), wasm_v128_load(s + k)));
    }
  }
}

// The filter gradient of conv_c1 (one input channel): dw [3][3][1][K] with dw[a][b][k] = sum over
// n, i, j of x[n][i + a - 1][j + b - 1] * dy[n][i][j][k] (zeros outside the image), K a multiple of
// 4. One filter row (a) and 16 (or 4) outputs at a time, accumulated over every pixel in registers.
__attribute__((export_name("conv_c1_filter_grad"))) void conv_c1_filter_grad(const float *x, const float *dy, float *dw, int N, int H, int W, int K) {
  for (int a = 0; a < 3; a++) {
    int k = 0;
    for (; k + 16 <= K; k += 16) {
      v128_t z = wasm_f32x4_splat(0);
      v128_t s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z, s20 = z, s21 = z, s22 = z, s23 = z;
      for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++) {
          int yy = i + a - 1;
          if (yy < 0 || yy >= H) continue;
          const float *xr = x + (n * H + yy) * W;
          const float *d = dy + ((size_t)(n * H + i) * W) * K + k;
          for (int j = 0; j < W; j++, d += K) {
            v128_t v0 = wasm_f32x4_splat(j > 0 ? xr[j - 1] : 0.0f), v1 = wasm_f32x4_splat(xr[j]);
            v128_t v2 = wasm_f32x4_splat(j + 1 < W ? xr[j + 1] : 0.0f);
            v128_t d0 = wasm_v128_load(d), d1 = wasm_v128_load(d + 4), d2 = wasm_v128_load(d + 8), d3 = wasm_v128_load(d + 12);
            s00 = MADD(s00, v0, d0); s01 = MADD(s01, v0, d1);
            s02 = MADD(s02, v0, d2); s03 = MADD(s03, v0, d3);
            s10 = MADD(s10, v1, d0); s11 = MADD(s11, v1, d1);
            s12 = MADD(s12, v1, d2); s13 = MADD(s13, v1, d3);
            s20 = MADD(s20, v2, d0); s21 = MADD(s21, v2, d1);
            s22 = MADD(s22, v2, d2); s23 = MADD(s23, v2, d3);
          }
        }
      float *o = dw + (a * 3) * K + k;
      wasm_v128_store(o, s00); wasm_v128_store(o + 4, s01); wasm_v128_store(o + 8, s02); wasm_v128_store(o + 12, s03);
      o += K;
      wasm_v128_store(o, s10); wasm_v128_store(o + 4, s11); wasm_v128_store(o + 8, s12); wasm_v128_store(o + 12, s13);
      o += K;
      wasm_v128_store(o, s20); wasm_v128_store(o + 4, s21); wasm_v128_store(o + 8, s22); wasm_v128_store(o + 12, s23);
    }
    for (; k < K; k += 4) {
      v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0;
      for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++) {
          int yy = i + a - 1;
          if (yy < 0 || yy >= H) continue;
          const float *xr = x + (n * H + yy) * W;
          const float *d = dy + ((size_t)(n * H + i) * W) * K + k;
          for (int j = 0; j < W; j++, d += K) {
            v128_t dv = wasm_v128_load(d);
            s0 = MADD(s0, wasm_f32x4_splat(j > 0 ? xr[j - 1] : 0.0f), dv);
            s1 = MADD(s1, wasm_f32x4_splat(xr[j]), dv);
            s2 = MADD(s2, wasm_f32x4_splat(j + 1 < W ? xr[j + 1] : 0.0f), dv);
          }
        }
      wasm_v128_store(dw + (a * 3) * K + k, s0);
      wasm_v128_store(dw + (a * 3 + 1) * K + k, s1);
      wasm_v128_store(dw + (a * 3 + 2) * K + k, s2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Winograd F(4x4, 3x3) (Lavin and Gray 2016, points 0, 1, -1, 2, -2 and infinity): 4x4 output tiles
// from 6x6 input patches, Y = A^T [(G g G^T) . (B^T d B)] A, 36 channel products per tile instead of
// the 64 of four F(2x2, 3x3) tiles (2.25 multiplications per output and channel pair, against 4;
// 9 directly). The matrices:
//
//   B^T = [ 4  0 -5  0  1  0 ]    G = [  1/4     0     0  ]    A^T = [ 1  1  1  1  1  0 ]
//         [ 0 -4 -4  1  1  0 ]        [ -1/6  -1/6  -1/6  ]          [ 0  1 -1  2 -2  0 ]
//         [ 0  4 -4 -1  1  0 ]        [ -1/6   1/6  -1/6  ]          [ 0  1  1  4  4  0 ]
//         [ 0 -2 -1  2  1  0 ]        [ 1/24  1/12   1/6  ]          [ 0  1 -1  8 -8  1 ]
//         [ 0  2 -1 -2  1  0 ]        [ 1/24 -1/12   1/6  ]
//         [ 0  4  0 -5  0  1 ]        [  0      0     1   ]
//
// Unlike F(2x2)'s, an output's transforms here touch the whole 6x6 patch, not only its own 3x3
// neighbourhood: where the neighbourhood is zero the exact sum cancels, but float32 leaves ~1e-7,
// and sign-based attacks (FGSM) then move pixels whose gradient is exactly zero. conv4 therefore
// writes such outputs (flat neighbourhoods, zero ones among them) by a direct sum, as a direct
// convolution gives. Non-finite values would likewise spread
// over a patch (Inf - Inf): conv4 refuses inputs with any (returns 1) and the caller uses F(2x2).
// Outputs with equal neighbourhoods are bit for bit equal only where the whole 6x6 patch is constant
// (see BT6), not on a flat background beside a stroke as in F(2x2), so max-pool ties would break
// differently from cpu and PyTorch: conv4 computes outputs with flat neighbourhoods directly instead
// (see there).

// The layout of F(4x4)'s filter transform: rows of K floats LDU4(K) apart, its 36 points
// POINT4(C, K) apart. Both padded: rows or points a power of two apart (K = 512: 2 KB; C K floats)
// would share a few cache sets, and the transform's 36 write streams or the products' column reads
// would evict each other (measured: darknet's 64 -> 512 layer at 14x14 took 2x F(2x2)'s time).
#define LDU4(K) ((K) + 4)
#define POINT4(C, K) ((C) * LDU4(K) + PAD)

// Filter transform: w [3][3][C][K] -> U [36][C][K] (laid out as above), U = G g G^T, four output
// channels at a time (K a multiple of 8). Returns 1 if w has a value that is not finite (U is then
// of no use).
__attribute__((export_name("filter_transform4"))) int filter_transform4(const float *w, float *U, int C, int K) {
  int ldu = LDU4(K), ps = POINT4(C, K);
  v128_t q4 = wasm_f32x4_splat(0.25f), s6 = wasm_f32x4_splat(1.0f / 6.0f), s12 = wasm_f32x4_splat(1.0f / 12.0f);
  v128_t s24 = wasm_f32x4_splat(1.0f / 24.0f), inf = wasm_f32x4_splat(__builtin_inff());
  v128_t finite = wasm_i32x4_splat(-1);
  for (int c = 0; c < C; c++)
    for (int k = 0; k < K; k += 4) {
      v128_t g[3][3], t[6][3];
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
          g[i][j] = wasm_v128_load(w + ((i * 3 + j) * C + c) * K + k);
          finite = wasm_v128_and(finite, wasm_f32x4_lt(wasm_f32x4_abs(g[i][j]), inf));
        }
#define G6(a, b, d, o)                                                                         \
  do {                                                                                         \
    v128_t s_ = wasm_f32x4_add(a, d), p_ = wasm_f32x4_add(wasm_f32x4_mul(s24, a), wasm_f32x4_mul(s6, d)); \
    v128_t r_ = wasm_f32x4_mul(s12, b);                                                        \
    o[0] = wasm_f32x4_mul(q4, a);                                                              \
    o[1] = wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_add(s_, b)));                          \
    o[2] = wasm_f32x4_neg(wasm_f32x4_mul(s6, wasm_f32x4_sub(s_, b)));                          \
    o[3] = wasm_f32x4_add(p_, r_);                                                             \
    o[4] = wasm_f32x4_sub(p_, r_);                                                             \
    o[5] = d;                                                                                  \
  } while (0)
      for (int j = 0; j < 3; j++) {
        v128_t col[6];
        G6(g[0][j], g[1][j], g[2][j], col);
        for (int i = 0; i < 6; i++) t[i][j] = col[i];
      }
      for (int i = 0; i < 6; i++) {
        v128_t u[6];
        G6(t[i][0], t[i][1], t[i][2], u);
        for (int j = 0; j < 6; j++) wasm_v128_store(U + (i * 6 + j) * ps + c * ldu + k, u[j]);
      }
#undef G6
    }
  return !wasm_i32x4_all_true(finite);
}

// The rows of B^T applied to six values: r = B^T d, written so that six equal values give exact zeros
// in every row but r[1] (differences of equal values): on a constant patch (a flat background, a
// padded border) V then has one nonzero point and the 16 outputs come out bit for bit equal, as a
// direct convolution gives them. Max pooling picks the first of equal values; with unequal roundings
// it routed gradients elsewhere (the PyTorch cross-check's MNIST backgrounds).
//
// Every product is by a power of two, hence exact, so MADD (a fused multiply-add in the FMA build)
// rounds once where a multiply and an add would also have rounded once: the same bits in both
// builds, four to six fewer instructions in the FMA one. Written with subtractions as additions of
// negated products (x - y and x + (-y) round alike, zeros' signs included).
#define BT6(V, d0, d1, d2, d3, d4, d5, r)                                                          \
  do {                                                                                             \
    V##_t four = V##_splat(4.0f), m4 = V##_splat(-4.0f);                                           \
    V##_t two = V##_splat(2.0f), m2 = V##_splat(-2.0f);                                            \
    V##_t t1 = V##_madd(d4, m4, d2); /* d4 - 4 d2 */                                               \
    V##_t t2 = V##_madd(d3, m4, d1); /* d3 - 4 d1 */                                               \
    V##_t t3 = V##_sub(d4, d2);                                                                    \
    V##_t s31 = V##_sub(d3, d1);                                                                   \
    r[0] = V##_madd(t3, four, V##_sub(d0, d2)); /* 4 (d0 - d2) + (d4 - d2) */                      \
    r[1] = V##_add(t1, t2);                                                                        \
    r[2] = V##_sub(t1, t2);                                                                        \
    r[3] = V##_madd(t3, two, s31); /* t3 + 2 (d3 - d1) */                                          \
    r[4] = V##_madd(t3, m2, s31);  /* t3 - 2 (d3 - d1) */                                          \
    r[5] = V##_madd(V##_sub(d5, d3), m4, s31); /* 4 (d1 - d3) - (d3 - d5) */                       \
  } while (0)

// The rows of A^T applied to six values: o = A^T m (products by powers of two: MADD as in BT6).
#define AT6(V, m0, m1, m2, m3, m4, m5, o)                                                       \
  do {                                                                                          \
    V##_t s12 = V##_add(m1, m2), d12 = V##_sub(m1, m2);                                         \
    V##_t s34 = V##_add(m3, m4), d34 = V##_sub(m3, m4);                                         \
    o[0] = V##_add(V##_add(m0, s12), s34);                                                      \
    o[1] = V##_madd(d12, V##_splat(2.0f), d34);                                                 \
    o[2] = V##_madd(s12, V##_splat(4.0f), s34);                                                 \
    o[3] = V##_add(V##_madd(d12, V##_splat(8.0f), d34), m5);                                    \
  } while (0)

// V = B^T d B for tiles t0 .. t0 + T - 1 (rows T .. Tp - 1 repeat the last tile), d the 6x6 patch at
// (4 ty - 1, 4 tx - 1), zeros outside the image; point p of tile t at V + t * ts + p * ps
// ([tile][point][C] for the forward: ts = 36 C, ps = C; [point][tile][C] for the filter gradient).
// VL channels a vector (V: v4 or v16), C a multiple of VL.
#define DEFINE_INPUT_TRANSFORM4(NAME, V, VL)                                                        \
  static void NAME(const float *x, float *Vt, int ts, int ps, int t0, int T, int Tp, int H, int W, int C) { \
    int th = (H + 3) / 4, tw = (W + 3) / 4;                                                        \
    V##_t zero = V##_splat(0);                                                                     \
    for (int t = 0; t < Tp; t++) {                                                                 \
      int tile = t0 + (t < T ? t : T - 1);                                                         \
      int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;                    \
      int y0 = ty * 4 - 1, x0 = tx * 4 - 1;                                                        \
      int inside = y0 >= 0 && y0 + 5 < H && x0 >= 0 && x0 + 5 < W;                                 \
      const float *base = x + ((n * H + (inside ? y0 : 0)) * W + (inside ? x0 : 0)) * C;           \
      for (int c = 0; c < C; c += VL) {                                                            \
        V##_t bt[6][6];                                                                            \
        for (int j = 0; j < 6; j++) {                                                              \
          int xx = x0 + j;                                                                         \
          V##_t d[6];                                                                              \
          if (inside)                                                                              \
            for (int i = 0; i < 6; i++) d[i] = V##_load(base + (i * W + j) * C + c);               \
          else                                                                                     \
            for (int i = 0; i < 6; i++) {                                                          \
              int yy = y0 + i;                                                                     \
              d[i] = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? V##_load(x + ((n * H + yy) * W + xx) * C + c) : zero; \
            }                                                                                      \
          V##_t col[6];                                                                            \
          BT6(V, d[0], d[1], d[2], d[3], d[4], d[5], col);                                         \
          for (int i = 0; i < 6; i++) bt[i][j] = col[i];                                           \
        }                                                                                          \
        float *v = Vt + t * ts + c;                                                                \
        for (int i = 0; i < 6; i++) {                                                              \
          V##_t row[6];                                                                            \
          BT6(V, bt[i][0], bt[i][1], bt[i][2], bt[i][3], bt[i][4], bt[i][5], row);                 \
          for (int j = 0; j < 6; j++) V##_store(v + (i * 6 + j) * ps, row[j]);                     \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }
DEFINE_INPUT_TRANSFORM4(input_transform4_v4, v4, 4)
#ifdef WIDE16
DEFINE_INPUT_TRANSFORM4(input_transform4_v16, v16, 16)
#endif
#ifdef WIDE8
DEFINE_INPUT_TRANSFORM4(input_transform4_v8, v8, 8)
#endif
static void input_transform4(const float *x, float *V, int ts, int ps, int t0, int T, int Tp, int H, int W, int C) {
#ifdef WIDE16
  if (C % 16 == 0) {
    input_transform4_v16(x, V, ts, ps, t0, T, Tp, H, W, C);
    return;
  }
#endif
#ifdef WIDE8
  if (C % 8 == 0) {
    input_transform4_v8(x, V, ts, ps, t0, T, Tp, H, W, C);
    return;
  }
#endif
  input_transform4_v4(x, V, ts, ps, t0, T, Tp, H, W, C);
}

// The sums over filter taps that flat neighbourhoods need (see conv4): S [16][C][K], entry m the sum
// of w [3][3][C][K] over the taps inside the image when mask m has these sides outside: bit 0 the
// row above, 1 the row below, 2 the column left, 3 the column right. Taps in a fixed order. Masks
// with both rows (columns) outside occur only on maps one pixel high (wide): skipped otherwise.
__attribute__((export_name("tap_sums"))) void tap_sums(const float *w, float *S, int C, int K, int H, int W) {
  for (int m = 0; m < 16; m++) {
    if ((H > 1 && (m & 3) == 3) || (W > 1 && (m & 12) == 12)) continue;
    for (int i = 0; i < C * K; i += 4) {
      v128_t acc = wasm_f32x4_splat(0);
      for (int a = 0; a < 3; a++) {
        if ((a == 0 && (m & 1)) || (a == 2 && (m & 2))) continue;
        for (int b = 0; b < 3; b++) {
          if ((b == 0 && (m & 4)) || (b == 2 && (m & 8))) continue;
          acc = wasm_f32x4_add(acc, wasm_v128_load(w + (a * 3 + b) * C * K + i));
        }
      }
      wasm_v128_store(S + m * C * K + i, acc);
    }
  }
}

// Pixel flags of conv4: bit 1 equal to the pixel on its right in every channel (-0 equals 0), bit 2
// equal to the pixel below.
#define EQ_RIGHT 2
#define EQ_DOWN 4

// x [N][H][W][C], U [36][C][K] (filter_transform4's layout) -> y [N][H][W][K], TB4 tiles per block (a
// multiple of 4); S: tap_sums of the filter; work: scratch of TB4*(36*(C+K)+2*PAD) floats, flags:
// N*H*W bytes. Returns 1, having written nothing, if x has a value that is not finite.
//
// An output whose neighbourhood's pixels inside the image are all equal (flat: a uniform background)
// is written as sum_c v[c] * S[mask][c][K], v that pixel value: outputs with equal neighbourhoods are
// then bit for bit equal, as in a direct convolution (max-pool ties break as on cpu and in PyTorch),
// and an all-zero neighbourhood gives an exact zero (sign-based attacks move no pixel whose
// gradient is exactly zero).
__attribute__((export_name("conv4"))) int conv4(const float *x, const float *U, const float *S, float *y, float *work, unsigned char *flags, int N, int H, int W, int C, int K, int TB4, const epi_t *e) {
  int pixels = N * H * W;
  // The epilogue (a copy: its fields cannot alias y's stores), applied to each output before its store.
  const int has_e = e != 0;
  const epi_t E = has_e ? *e : (epi_t){0};
  v128_t zero = wasm_f32x4_splat(0);
  // Finite: v * 0 is a zero for every finite v and NaN for infinities and NaN, so the sum stays a zero
  // exactly when every value is finite. One pass over x, before any flag.
  {
    v128_t z0 = zero, z1 = zero;
    int n4 = pixels * C, i = 0;
#ifdef WIDE16
    {
      __m512 w0 = _mm512_setzero_ps(), w1 = w0, wz = w0;
      for (; i + 32 <= n4; i += 32) {
        w0 = _mm512_add_ps(w0, _mm512_mul_ps(_mm512_loadu_ps(x + i), wz));
        w1 = _mm512_add_ps(w1, _mm512_mul_ps(_mm512_loadu_ps(x + i + 16), wz));
      }
      // Whether a NaN arose is all that is read: fold the lanes into z0.
      __m512 w = _mm512_add_ps(w0, w1);
      __m256 h = _mm256_add_ps(_mm512_castps512_ps256(w), _mm512_extractf32x8_ps(w, 1));
      z0 = (v128_t)_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    }
#endif
    for (; i + 8 <= n4; i += 8) {
      z0 = wasm_f32x4_add(z0, wasm_f32x4_mul(wasm_v128_load(x + i), zero));
      z1 = wasm_f32x4_add(z1, wasm_f32x4_mul(wasm_v128_load(x + i + 4), zero));
    }
    for (; i < n4; i += 4) z0 = wasm_f32x4_add(z0, wasm_f32x4_mul(wasm_v128_load(x + i), zero));
    v128_t z = wasm_f32x4_add(z0, z1);
    if (!wasm_i32x4_all_true(wasm_f32x4_eq(z, z))) return 1;
  }
  // The flags, row by row (a division per pixel cost more than the comparisons at 16 channels). A
  // pixel that differs from both neighbours in its first four channels (the common case) is done.
  for (int q = 0, row = 0, col = 0; q < pixels; q++) {
    const float *p = x + q * C;
    int right = col + 1 < W, down = row + 1 < H;
    v128_t v = wasm_v128_load(p);
    v128_t ner = right ? wasm_f32x4_ne(v, wasm_v128_load(p + C)) : zero;
    v128_t ned = down ? wasm_f32x4_ne(v, wasm_v128_load(p + W * C)) : zero;
    int eqr = right && !wasm_v128_any_true(ner), eqd = down && !wasm_v128_any_true(ned);
    int c = 4;
#ifdef WIDE16
    // The rest sixteen channels at a time (the same verdicts: all equal or not).
    for (; (eqr || eqd) && c + 16 <= C; c += 16) {
      __m512 u = _mm512_loadu_ps(p + c);
      if (eqr) eqr = !_mm512_cmp_ps_mask(u, _mm512_loadu_ps(p + C + c), _CMP_NEQ_UQ);
      if (eqd) eqd = !_mm512_cmp_ps_mask(u, _mm512_loadu_ps(p + W * C + c), _CMP_NEQ_UQ);
    }
#endif
    for (; (eqr || eqd) && c < C; c += 4) {
      v = wasm_v128_load(p + c);
      if (eqr) eqr = !wasm_v128_any_true(wasm_f32x4_ne(v, wasm_v128_load(p + C + c)));
      if (eqd) eqd = !wasm_v128_any_true(wasm_f32x4_ne(v, wasm_v128_load(p + W * C + c)));
    }
    flags[q] = (eqr ? EQ_RIGHT : 0) | (eqd ? EQ_DOWN : 0);
    if (++col == W) {
      col = 0;
      if (++row == H) row = 0;
    }
  }
  int th = (H + 3) / 4, tw = (W + 3) / 4;
  int tiles = N * th * tw;
  int tsv = 36 * C + PAD, tsm = 36 * K + PAD;
  float *V = work;             // [TB4][36][C]
  float *Mo = work + TB4 * tsv; // [TB4][36][K]
  for (int t0 = 0; t0 < tiles; t0 += TB4) {
    int T = tiles - t0 < TB4 ? tiles - t0 : TB4;
    int Tp = (T + 3) & ~3;
    input_transform4(x, V, tsv, C, t0, T, Tp, H, W, C);
    for (int p = 0; p < 36; p++) gemm(V + p * C, tsv, U + p * POINT4(C, K), LDU4(K), Mo + p * K, tsm, Tp, C, K);
    for (int t = 0; t < T; t++) {
      int tile = t0 + t;
      int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;
      // Which of the tile's 16 outputs are in the image and which have flat neighbourhoods: each
      // in-image row of the 3x3 window equal along its in-image columns, and those rows equal down the
      // centre column (always in the image). flat[i][j] is 1 + the mask of sides outside, 0 if not flat.
      int in[4][4], flat[4][4], any_flat = 0;
      const unsigned char *fl = flags + n * H * W;
      // A tile whose 16 outputs are in the image, none at the last column, and none of whose pixels
      // is equal to its right neighbour (most tiles) has no flat output: every one fails the quick
      // reject below, which reads exactly these 16 flags. Four 4-byte reads instead of 16 passes.
      int interior = ty * 4 + 4 <= H && tx * 4 + 4 < W && W > 1;
      unsigned any_right = 0;
      if (interior)
        for (int i = 0; i < 4; i++) {
          unsigned row4;
          __builtin_memcpy(&row4, fl + (ty * 4 + i) * W + tx * 4, 4);
          any_right |= row4;
        }
      // every: all 16 outputs are stored from the transform (no test per output below).
      const int every = interior && !(any_right & (EQ_RIGHT * 0x01010101u));
      if (every) {
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++) in[i][j] = 1, flat[i][j] = 0;
      } else
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
          int yy = ty * 4 + i, xx = tx * 4 + j;
          in[i][j] = yy < H && xx < W;
          flat[i][j] = 0;
          if (!in[i][j]) continue;
          // Quick reject (most outputs): the centre row's pixels must be equal, the centre's right (or,
          // at the last column, left) neighbour among them.
          if (W > 1 && !(fl[yy * W + (xx + 1 < W ? xx : xx - 1)] & EQ_RIGHT)) continue;
          int r0 = yy > 0 ? yy - 1 : yy, r1 = yy + 1 < H ? yy + 1 : yy;
          int c0 = xx > 0 ? xx - 1 : xx, c1 = xx + 1 < W ? xx + 1 : xx;
          int ok = 1;
          for (int a = r0; ok && a <= r1; a++) {
            for (int b = c0; b < c1; b++) ok &= (fl[a * W + b] & EQ_RIGHT) != 0;
            if (a < r1) ok &= (fl[a * W + xx] & EQ_DOWN) != 0;
          }
          if (ok) {
            flat[i][j] = 1 + ((yy == 0) | ((yy + 1 == H) << 1) | ((xx == 0) << 2) | ((xx + 1 == W) << 3));
            any_flat = 1;
          }
        }
      const float *mt = Mo + t * tsm;
      int k = 0;
#define OUTPUT4(V, VL)                                                                               \
      for (; k + VL <= K; k += VL) {                                                               \
        V##_epi_k ec = V##_epi_load(&E, k);                                                        \
        V##_t a[4][6];                                                                             \
        for (int j = 0; j < 6; j++) {                                                              \
          V##_t m[6], o[4];                                                                        \
          for (int i = 0; i < 6; i++) m[i] = V##_load(mt + (i * 6 + j) * K + k);                  \
          AT6(V, m[0], m[1], m[2], m[3], m[4], m[5], o);                                           \
          for (int i = 0; i < 4; i++) a[i][j] = o[i];                                              \
        }                                                                                          \
        for (int i = 0; i < 4; i++) {                                                              \
          V##_t o[4];                                                                              \
          AT6(V, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], o);                         \
          for (int j = 0; j < 4; j++)                                                              \
            if (every || (in[i][j] && !flat[i][j])) {                                              \
              size_t at = (size_t)((n * H + ty * 4 + i) * W + tx * 4 + j) * K + k;                 \
              V##_store(y + at, has_e ? V##_epi_apply(o[j], &E, &ec, E.res ? E.res + at : 0) : o[j]); \
            }                                                                                      \
        }                                                                                          \
      }
#ifdef WIDE16
      OUTPUT4(v16, 16)
#endif
#ifdef WIDE8
      OUTPUT4(v8, 8)
#endif
      OUTPUT4(v4, 4)
#undef OUTPUT4
      if (any_flat)
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++) {
            if (!flat[i][j]) continue;
            int q = (n * H + ty * 4 + i) * W + tx * 4 + j;
            const float *v = x + q * C, *Sm = S + (flat[i][j] - 1) * C * K;
            float *o = y + q * K;
            for (int k = 0; k < K; k += 4) {
              v128_t acc = zero;
              for (int c = 0; c < C; c++) acc = MADD(acc, wasm_f32x4_splat(v[c]), wasm_v128_load(Sm + c * K + k));
              wasm_v128_store(o + k, acc);
            }
            if (has_e) epi_pixels(y, q, 1, K, &E);
          }
    }
  }
  return 0;
}

// The rows of A applied to four values (A = A^T's transpose, 6x4, of F(4x4, 3x3)): o = A g.
#define A6(V, g0, g1, g2, g3, o)                                                                   \
  do {                                                                                             \
    V##_t e_ = V##_add(g0, g2), f_ = V##_add(g1, g3);                                              \
    V##_t e2_ = V##_madd(g0, V##_splat(4.0f), g2);                                                 \
    V##_t f2_ = V##_madd(V##_mul(V##_splat(2.0f), g1), V##_splat(8.0f), g3);                       \
    o[0] = g0;                                                                                     \
    o[1] = V##_add(e_, f_);                                                                        \
    o[2] = V##_sub(e_, f_);                                                                        \
    o[3] = V##_add(e2_, f2_);                                                                      \
    o[4] = V##_sub(e2_, f2_);                                                                      \
    o[5] = g3;                                                                                     \
  } while (0)

// The filter gradient by F(4x4, 3x3)'s transforms: dw [3][3][C][K] = sum over 4x4 tiles of
// G^T [(B^T d B) . (A dY A^T)] G, d the 6x6 patch of x at (4 ty - 1, 4 tx - 1), dY the 4x4 block of dy
// at (4 ty, 4 tx) (zeros outside the image): F(3x3, 4x4), whose matrices are F(4x4, 3x3)'s with A and
// G swapped. 36 products per tile and channel pair where F(2x2)'s conv_filter_grad takes 16 per 2x2
// tile (64 per 4x4). dU [36][C][K] and work (36*(TB*(C+K)+2*PAD) floats) are scratch.
__attribute__((export_name("conv_filter_grad4"))) void conv_filter_grad4(const float *x, const float *dy, float *dw, float *dU, float *work, int N, int H, int W, int C, int K) {
  int th = (H + 3) / 4, tw = (W + 3) / 4;
  int tiles = N * th * tw;
  float *V = work;                         // [36][T][C], points T * C + PAD apart
  float *D = work + 36 * (TB * C + PAD);   // [36][T][K], points T * K + PAD apart
  for (int i = 0; i < 36 * C * K; i++) dU[i] = 0;
  for (int t0 = 0; t0 < tiles; t0 += TB) {
    int T = tiles - t0 < TB ? tiles - t0 : TB;
    int psv = T * C + PAD, psd = T * K + PAD;
    input_transform4(x, V, C, psv, t0, T, T, H, W, C);
    for (int t = 0; t < T; t++) {
      int tile = t0 + t;
      int n = tile / (th * tw), r = tile % (th * tw), ty = r / tw, tx = r % tw;
      int y0 = ty * 4, x0 = tx * 4;
      int inside = y0 + 3 < H && x0 + 3 < W;
      int k = 0;
#define DY_TRANSFORM4(V, VL)                                                                         \
      for (; k + VL <= K; k += VL) {                                                               \
        V##_t g[4][4];                                                                             \
        for (int i = 0; i < 4; i++)                                                                \
          for (int j = 0; j < 4; j++) {                                                            \
            int yy = y0 + i, xx = x0 + j;                                                          \
            g[i][j] = (inside || (yy < H && xx < W)) ? V##_load(dy + ((n * H + yy) * W + xx) * K + k) : V##_splat(0); \
          }                                                                                        \
        V##_t a[6][4];                                                                             \
        for (int j = 0; j < 4; j++) {                                                              \
          V##_t col[6];                                                                            \
          A6(V, g[0][j], g[1][j], g[2][j], g[3][j], col);                                          \
          for (int i = 0; i < 6; i++) a[i][j] = col[i];                                            \
        }                                                                                          \
        float *d = D + t * K + k;                                                                  \
        for (int i = 0; i < 6; i++) {                                                              \
          V##_t row[6];                                                                            \
          A6(V, a[i][0], a[i][1], a[i][2], a[i][3], row);                                          \
          for (int j = 0; j < 6; j++) V##_store(d + (i * 6 + j) * psd, row[j]);                    \
        }                                                                                          \
      }
#ifdef WIDE16
      DY_TRANSFORM4(v16, 16)
#endif
#ifdef WIDE8
      DY_TRANSFORM4(v8, 8)
#endif
      DY_TRANSFORM4(v4, 4)
#undef DY_TRANSFORM4
    }
    for (int p = 0; p < 36; p++) gemm_tn(V + p * psv, C, D + p * psd, K, dU + p * C * K, T, C, K);
  }
  // dw = G^T dU G, G the 6x3 of F(4x4, 3x3): columns [1/4, -1/6, -1/6, 1/24, 1/24, 0],
  // [0, -1/6, 1/6, 1/12, -1/12, 0], [0, -1/6, -1/6, 1/6, 1/6, 1].
  const float g6[6][3] = {{0.25f, 0.0f, 0.0f},
                          {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                          {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                          {1.0f / 24, 1.0f / 12, 1.0f / 6},
                          {1.0f / 24, -1.0f / 12, 1.0f / 6},
                          {0.0f, 0.0f, 1.0f}};
  for (int c = 0; c < C; c++)
    for (int k = 0; k < K; k++) {
      float u[6][6], sm[3][6];
      for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) u[i][j] = dU[((i * 6 + j) * C + c) * K + k];
      for (int r = 0; r < 3; r++)
        for (int j = 0; j < 6; j++) {
          float acc = 0;
          for (int i = 0; i < 6; i++) acc += g6[i][r] * u[i][j];
          sm[r][j] = acc;
        }
      for (int r = 0; r < 3; r++)
        for (int q = 0; q < 3; q++) {
          float acc = 0;
          for (int j = 0; j < 6; j++) acc += sm[r][j] * g6[j][q];
          dw[((r * 3 + q) * C + c) * K + k] = acc;
        }
    }
}
