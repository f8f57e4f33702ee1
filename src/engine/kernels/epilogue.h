// The epilogue of a fused convolution (winograd.c's epi_pixels, used by patches.c too): the pointers
// of its per-channel bias, batch-norm mean, scale, sqrt(variance + epsilon) and offset, a residual
// of the output's shape (each 0 when absent), the activation (0 linear, 1 ReLU, 2 ReLU6, 3 leaky
// ReLU) and leaky ReLU's slope. 32 bytes, as src/engine/kernels/winograd.ts writes it.
#ifndef ADVLENS_EPILOGUE_H
#define ADVLENS_EPILOGUE_H
typedef struct {
  const float *bias, *m, *s, *r, *o, *res;
  int act;
  float alpha;
} epi_t;

void epi_pixels(float *y, int q0, int count, int K, const epi_t *e);
#endif
