// Convolutions as matrix products over unrolled input patches, for the strided convolutions (and any
// other geometry) that Winograd does not take: the downsampling layers of a ResNet (3x3 and 1x1,
// stride 2). NHWC throughout; x [N][H][W][C], w [KH][KW][C][K] (= [P][K], P = KH*KW*C), dy and y
// [N][OH][OW][K]; input pixel of output (oh, ow) and filter tap (kh, kw): (oh*sh + kh - pt,
// ow*sw + kw - pl), zero outside the image. M = N*OH*OW output positions, processed a block of rows
// at a time so that each block's patches stay in cache:
//
//   forward        y [M][K]  = cols [M][P] . w [P][K]                          (im2col, then gemm)
//   input grad     dx       += col2im(dy [M][K] . w^T [K][P])                  (gemm, then col2im)
//   filter grad    dw [P][K] = sum over blocks of cols^T [P][T] . dy [T][K]    (im2col, then gemm_tn)
//
// Unlike XNNPACK's direct strided convolution (about 5 GMAC/s here) or the input gradient as a
// stride-1 convolution of dy with zeros inserted (4x the multiplications at stride 2), every
// multiplication counted is a real one, in the module's 4x8 register-blocked products.
// Built into winogradWasm.ts with winograd.c and simd.c by `npm run build:wasm`.
#include <wasm_simd128.h>
#include "gemm.h"

#define ROWS 32    // output positions per block (forward, input gradient)
#define ROWS_DW 64 // per block of the filter gradient (its products accumulate into dw)

#include "epilogue.h"

// The patches of output rows r0 .. r0 + T - 1 into cols [T][P] (rows P floats apart), C a multiple of 4.
static void im2col(const float *x, float *cols, int r0, int T, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw, int pt, int pl) {
  int P = KH * KW * C;
  v128_t zero = wasm_f32x4_splat(0);
  for (int r = 0; r < T; r++) {
    int row = r0 + r, n = row / (OH * OW), rem = row % (OH * OW), oh = rem / OW, ow = rem % OW;
    float *o = cols + r * P;
    for (int kh = 0; kh < KH; kh++) {
      int ih = oh * sh + kh - pt;
      for (int kw = 0; kw < KW; kw++, o += C) {
        int iw = ow * sw + kw - pl;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
          for (int c = 0; c < C; c += 4) wasm_v128_store(o + c, zero);
        } else {
          const float *s = x + ((n * H + ih) * W + iw) * C;
          for (int c = 0; c < C; c += 4) wasm_v128_store(o + c, wasm_v128_load(s + c));
        }
      }
    }
  }
}

// y = conv(x, w), then the epilogue e (epilogue.h: bias, batch norm, residual, activation; 0 for none)
// on each block's rows once they are written: K a multiple of 8, C of 4. cols: ROWS*P floats, tail:
// ROWS*K floats (the last block's rows when M is not a multiple of 4).
__attribute__((export_name("conv_gemm"))) void conv_gemm(const float *x, const float *w, float *y, float *cols, float *tail, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw, int pt, int pl, int K, const epi_t *e) {
  int P = KH * KW * C, M = N * OH * OW;
  for (int r0 = 0; r0 < M; r0 += ROWS) {
    int T = M - r0 < ROWS ? M - r0 : ROWS, T4 = (T + 3) & ~3;
    im2col(x, cols, r0, T, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl);
    for (int i = T * P; i < T4 * P; i++) cols[i] = 0;
    if (T4 == T) {
      gemm(cols, P, w, K, y + r0 * K, K, T, P, K);
    } else {
      gemm(cols, P, w, K, tail, K, T4, P, K);
      for (int i = 0; i < T * K; i++) y[r0 * K + i] = tail[i];
    }
    if (e) epi_pixels(y, r0, T, K, e);
  }
}

// dx [N][H][W][C] = the input gradient of conv for dy: C a multiple of 4. The product's columns
// are P8 = P rounded up to a multiple of 8 (zero columns of wt past P, never read back). wt: K*P8
// floats (w transposed), cols: ROWS*P8, tail: ROWS*K.
__attribute__((export_name("conv_gemm_input_grad"))) void conv_gemm_input_grad(const float *dy, const float *w, float *dx, float *wt, float *cols, float *tail, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw, int pt, int pl, int K) {
  int P = KH * KW * C, P8 = (P + 7) & ~7, M = N * OH * OW;
  for (int k = 0; k < K; k++) {
    for (int p = 0; p < P; p++) wt[k * P8 + p] = w[p * K + k];
    for (int p = P; p < P8; p++) wt[k * P8 + p] = 0;
  }
  for (int i = 0, size = N * H * W * C; i < size; i += 4) wasm_v128_store(dx + i, wasm_f32x4_splat(0));
  for (int r0 = 0; r0 < M; r0 += ROWS) {
    int T = M - r0 < ROWS ? M - r0 : ROWS, T4 = (T + 3) & ~3;
    const float *src = dy + r0 * K;
    if (T4 != T) {
      for (int i = 0; i < T * K; i++) tail[i] = src[i];
      for (int i = T * K; i < T4 * K; i++) tail[i] = 0;
      src = tail;
    }
    gemm(src, K, wt, P8, cols, P8, T4, K, P8);
    // col2im: each row's P values go back to the pixels its patch came from.
    for (int r = 0; r < T; r++) {
      int row = r0 + r, n = row / (OH * OW), rem = row % (OH * OW), oh = rem / OW, ow = rem % OW;
      const float *s = cols + r * P8;
      for (int kh = 0; kh < KH; kh++) {
        int ih = oh * sh + kh - pt;
        for (int kw = 0; kw < KW; kw++, s += C) {
          int iw = ow * sw + kw - pl;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
          float *d = dx + ((n * H + ih) * W + iw) * C;
          for (int c = 0; c < C; c += 4) wasm_v128_store(d + c, wasm_f32x4_add(wasm_v128_load(d + c), wasm_v128_load(s + c)));
        }
      }
    }
  }
}

// dw [P][K] = the filter gradient of conv for x and dy: C a multiple of 4, K of 8. cols: ROWS_DW*P.
__attribute__((export_name("conv_gemm_filter_grad"))) void conv_gemm_filter_grad(const float *x, const float *dy, float *dw, float *cols, int N, int H, int W, int C, int OH, int OW, int KH, int KW, int sh, int sw, int pt, int pl, int K) {
  int P = KH * KW * C, M = N * OH * OW;
  for (int i = 0; i < P * K; i += 4) wasm_v128_store(dw + i, wasm_f32x4_splat(0));
  for (int r0 = 0; r0 < M; r0 += ROWS_DW) {
    int T = M - r0 < ROWS_DW ? M - r0 : ROWS_DW;
    im2col(x, cols, r0, T, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl);
    gemm_tn(cols, P, dy + r0 * K, K, dw, T, P, K);
  }
}

// w [KH][KW][C][K] -> out [KH][KW][K][C], out[a][b][o][i] = w[KH-1-a][KW-1-b][i][o]: the filter of an
// input gradient computed as a convolution (Conv2DBackpropInput). Transposed in 8x8 blocks so that
// both sides are read and written a cache line at a time.
__attribute__((export_name("flip_filter"))) void flip_filter(const float *w, float *out, int KH, int KW, int C, int K) {
  for (int a = 0; a < KH; a++)
    for (int b = 0; b < KW; b++) {
      const float *s = w + ((KH - 1 - a) * KW + (KW - 1 - b)) * C * K;
      float *d = out + (a * KW + b) * K * C;
      for (int i0 = 0; i0 < C; i0 += 8)
        for (int o0 = 0; o0 < K; o0 += 8) {
          int i1 = i0 + 8 < C ? i0 + 8 : C, o1 = o0 + 8 < K ? o0 + 8 : K;
          for (int i = i0; i < i1; i++)
            for (int o = o0; o < o1; o++) d[o * C + i] = s[i * K + o];
        }
    }
}
