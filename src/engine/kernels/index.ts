/**
 * Kernels the stock TensorFlow.js wasm backend (4.22) lacks on the paths this project uses
 * (training, attacks, explanations), plus replacements for stock kernels that are wrong or slow there,
 * registered for 'wasm'. Each is tested against the cpu backend (test/engine/kernels*.test.ts);
 * `npx tsx bench/find-missing-kernels.ts` lists what is missing.
 */
import * as tf from '@tensorflow/tfjs-core';
// The stock kernels must be registered before ours, so that ours can see (and replace) them.
import '@tensorflow/tfjs-backend-wasm';
import { add } from './add.ts';
import { batchMatMul } from './batchMatMul.ts';
import { multiply, realDiv, sub } from './binary.ts';
import { greater, maximum, minimum, select } from './compare.ts';
import { fusedBatchNorm } from './batchNorm.ts';
import { mean } from './mean.ts';
import { conv2dBackpropFilter } from './conv2dBackpropFilter.ts';
import { conv2d, fusedConv2d } from './conv2d.ts';
import { conv2dBackpropInput } from './conv2dBackpropInput.ts';
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from './depthwiseConv2dBackprop.ts';
import { cast, identity } from './identity.ts';
import { gatherV2 } from './gather.ts';
import { maxPool } from './maxPool.ts';
import { maxPoolGrad } from './maxPoolGrad.ts';
import { ensureFusedReluGrad, RELU_GRAD, reluGradKernel } from '../reluGrad.ts';
import {
  ensureFusedLeakyReluGrad,
  LEAKY_RELU_GRAD,
  leakyReluGradKernel,
  leakyReluKernel,
} from '../leakyRelu.ts';
import { sign } from './sign.ts';
import { sum } from './sum.ts';
import { tile } from './tile.ts';
import { unsortedSegmentSum } from './unsortedSegmentSum.ts';
import { stockKernels } from './wasmCalls.ts';
import { installUnneededGradSkip } from '../unneededGrads.ts';
import { installTypedArrayTidy } from '../tidyResult.ts';
import { installEarlyGradFree } from '../earlyGradFree.ts';
import { ensureFastMeanGrad } from '../meanGrad.ts';
import { ensureFastTileGradient } from '../tileGrad.ts';
import { BATCH_NORM_GRAD, batchNormGradKernel, ensureFastBatchNormGrad } from '../batchNormGrad.ts';
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  batchNormTrainGradKernel,
  batchNormTrainKernel,
  ensureFastBatchNormTraining,
} from '../batchNormTrain.ts';
import {
  CONV_BN_ACT,
  CONV_BN_ACT_GRAD,
  convBnActGradKernel,
  convBnActKernel,
  ensureConvBnActGrad,
} from '../convBnAct.ts';
import { CONV_ACT, convActKernel, ensureFastConvAct } from '../convAct.ts';

interface WasmKernel {
  kernelName: string;
  kernelFunc: tf.KernelFunc;
  /**
   * Why the stock kernel of this name is replaced; absent for kernels stock wasm lacks, which are
   * registered only where the installed tfjs does not have them.
   */
  replacesStock?: string;
}

/** The project's wasm kernels: what each computes and how is in its file. */
export const WASM_KERNELS: WasmKernel[] = [
  // Weight gradient of every convolution (training): one XNNPACK conv of x^T with dy^T.
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilter },
  // Depthwise / separable convolutions (MobileNet-like user models): training and input gradients.
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseConv2dBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseConv2dBackpropInput },
  // Gradient of tf.gather (embedding-like lookups, per-sample selections).
  { kernelName: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSum },
  // ReLU's gradient in one pass (engine/reluGrad.ts re-registers Relu's gradient to use it).
  { kernelName: RELU_GRAD, kernelFunc: reluGradKernel },
  // Leaky ReLU's gradient in one pass (engine/leakyRelu.ts re-registers LeakyRelu's gradient to use it).
  { kernelName: LEAKY_RELU_GRAD, kernelFunc: leakyReluGradKernel },
  // Batch norm's gradient in one pass (engine/batchNormGrad.ts re-registers FusedBatchNorm's gradient to use it).
  { kernelName: BATCH_NORM_GRAD, kernelFunc: batchNormGradKernel },
  // Training-mode batch norm and its gradient (engine/batchNormTrain.ts patches tfjs-layers' layer to use them).
  { kernelName: BATCH_NORM_TRAIN, kernelFunc: batchNormTrainKernel as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_TRAIN_GRAD, kernelFunc: batchNormTrainGradKernel as unknown as tf.KernelFunc },
  // A layers model's conv / batch norm (/ add) / activation as one kernel at inference, and its
  // gradient's one pass (engine/convBnAct.ts; models/fusedInference.ts runs models through it).
  { kernelName: CONV_BN_ACT, kernelFunc: convBnActKernel },
  { kernelName: CONV_BN_ACT_GRAD, kernelFunc: convBnActGradKernel as unknown as tf.KernelFunc },
  // A layers model's Conv2D with its ReLU under one gradient tape as one kernel (engine/convAct.ts
  // patches tfjs-layers' layer to use it; its gradient takes only the inputs the tape needs).
  { kernelName: CONV_ACT, kernelFunc: convActKernel },
  {
    kernelName: 'LeakyRelu',
    kernelFunc: leakyReluKernel,
    replacesStock:
      "float32 leaky ReLU (darknet) in one SIMD pass of the project's module, bit for bit the stock result (other dtypes: stock)",
  },
  {
    kernelName: 'MaxPool',
    kernelFunc: maxPool,
    replacesStock:
      "float32 max pooling in the project's module, about 2x XNNPACK's on the MNIST pools, NaN skipped as on cpu (other dtypes: stock)",
  },
  {
    kernelName: 'Add',
    kernelFunc: add,
    replacesStock:
      "a bias added along the last axis (unfused in gradient mode) in the project's module, about 2x the stock broadcast (other cases: stock)",
  },
  {
    kernelName: 'Multiply',
    kernelFunc: multiply,
    replacesStock:
      "a float32 tensor times a vector along its last axis (batch norm's scale, forward and gradient) in the project's module, 2-5x the stock broadcast (other cases: stock)",
  },
  {
    kernelName: 'Sub',
    kernelFunc: sub,
    replacesStock:
      "a float32 tensor minus a vector along its last axis, or the reverse (batch norm's mean in training mode) in the project's module (other cases: stock)",
  },
  {
    kernelName: 'RealDiv',
    kernelFunc: realDiv,
    replacesStock:
      "a float32 tensor divided by a vector along its last axis, or the reverse, in the project's module (other cases: stock)",
  },
  {
    kernelName: 'Greater',
    kernelFunc: greater,
    replacesStock:
      "float32 a > b with a scalar or equal-shaped operand in one loop; stock indexes every element through the broadcast (~8 ns an element: max pooling's second order in IG-Norm) (other cases: stock)",
  },
  {
    kernelName: 'Maximum',
    kernelFunc: maximum,
    replacesStock:
      'float32 maximum of equal shapes or with a single value in one SIMD pass; stock indexes every element through the broadcast (~10 ns an element: the L-inf projection of every PGD step) (other cases: stock)',
  },
  {
    kernelName: 'Minimum',
    kernelFunc: minimum,
    replacesStock:
      'float32 minimum of equal shapes or with a single value in one SIMD pass, as Maximum (other cases: stock)',
  },
  {
    kernelName: 'Select',
    kernelFunc: select,
    replacesStock:
      'tf.where of equal-shaped float32 operands in one loop, about 5x the stock kernel (other cases: stock)',
  },
  {
    kernelName: 'FusedBatchNorm',
    kernelFunc: fusedBatchNorm,
    replacesStock:
      "batch norm with per-channel statistics in one SIMD pass of the project's module, about 20x the stock element-by-element loop (other cases: stock)",
  },
  {
    kernelName: 'Mean',
    kernelFunc: mean,
    replacesStock:
      "float32 mean over leading axes (batch norm's moments in training mode) read once, as Sum; stock transposes first (other cases: stock)",
  },
  {
    kernelName: 'MaxPoolGrad',
    kernelFunc: maxPoolGrad,
    replacesStock:
      "stock wasm MaxPoolGrad sends the gradient of windows whose max is <= 0 to the wrong element; ours scans each window in the project's module",
  },
  {
    kernelName: 'Conv2D',
    kernelFunc: conv2d,
    replacesStock:
      "3x3 stride-1 'same' convolutions (channels multiples of 4 and 8) by Winograd F(2x2, 3x3), 1.5-2x faster than XNNPACK's; other cases: stock",
  },
  {
    kernelName: 'FusedConv2D',
    kernelFunc: fusedConv2d,
    replacesStock:
      'the same convolutions as Conv2D with a bias and a linear/ReLU/ReLU6/leaky ReLU activation (layers models at inference); other cases: stock',
  },
  {
    kernelName: 'Conv2DBackpropInput',
    kernelFunc: conv2dBackpropInput,
    replacesStock: 'stock wasm Conv2DBackpropInput is a plain loop, about 10x slower than XNNPACK',
  },
  {
    kernelName: 'Sign',
    kernelFunc: sign,
    replacesStock:
      'stock wasm Sign returns 0 for |x| < ~1e-6, which masks the small gradients of confident models',
  },
  {
    kernelName: 'GatherV2',
    kernelFunc: gatherV2,
    replacesStock:
      'stock wasm GatherV2 takes ~100 ns an element; SmoothGrad and IG gather their images for every batch of samples. Ours copies whole slices (batchDims > 0: stock)',
  },
  {
    kernelName: 'Tile',
    kernelFunc: tile,
    replacesStock: "stock wasm Tile takes ~100 ns an element; batch norm's gradient tiles full activations",
  },
  {
    kernelName: 'Sum',
    kernelFunc: sum,
    replacesStock:
      'stock wasm Sum over leading axes (bias gradients) transposes the input first; ours reads it once (other cases: stock)',
  },
  {
    kernelName: 'Identity',
    kernelFunc: identity,
    replacesStock:
      'stock wasm Identity copies the buffer; the engine clones every tensor saved for a gradient. Ours shares it (ref-counted)',
  },
  {
    kernelName: 'BatchMatMul',
    kernelFunc: batchMatMul,
    replacesStock:
      'stock wasm BatchMatMul with a transposed operand (every dense layer gradient) is a plain loop; ours transposes it and uses XNNPACK (other cases: stock)',
  },
  {
    kernelName: 'Cast',
    kernelFunc: cast,
    replacesStock:
      'stock wasm Cast copies on a cast to the same dtype (the gradient of clone); ours shares (other casts: stock)',
  },
];

const ours = new Set<tf.KernelFunc>(WASM_KERNELS.map((k) => k.kernelFunc));

/**
 * Registers the project's kernels on the 'wasm' backend and returns their names. Idempotent; a
 * missing-kernel implementation is skipped when the installed tfjs already has that kernel, and a
 * replacement unregisters the stock kernel first. Safe to call before the backend is initialised.
 */
export function registerWasmKernels(): string[] {
  ensureFusedReluGrad();
  ensureFusedLeakyReluGrad();
  ensureFastMeanGrad();
  // The Mean gradient above broadcasts by Tile; batch norm under a second tape differentiates it.
  ensureFastTileGradient();
  ensureFastBatchNormGrad();
  ensureFastBatchNormTraining();
  ensureConvBnActGrad();
  ensureFastConvAct();
  installUnneededGradSkip();
  installTypedArrayTidy();
  installEarlyGradFree();
  const names: string[] = [];
  for (const k of WASM_KERNELS) {
    const existing = tf.getKernel(k.kernelName, 'wasm');
    if (existing && ours.has(existing.kernelFunc)) {
      names.push(k.kernelName);
      continue;
    }
    if (existing && !k.replacesStock) continue;
    if (existing) {
      stockKernels.set(k.kernelName, existing);
      tf.unregisterKernel(k.kernelName, 'wasm');
    }
    tf.registerKernel({ kernelName: k.kernelName, backendName: 'wasm', kernelFunc: k.kernelFunc });
    names.push(k.kernelName);
  }
  return names;
}

/**
 * Undoes {@link registerWasmKernels}: unregisters the project's kernels (all, or those named in
 * `only`) and puts back the stock ones they replaced (for comparisons and for
 * `bench/find-missing-kernels.ts`). Returns the names.
 */
export function restoreStockWasmKernels(only?: string[]): string[] {
  const names: string[] = [];
  for (const k of WASM_KERNELS) {
    if (only && !only.includes(k.kernelName)) continue;
    const existing = tf.getKernel(k.kernelName, 'wasm');
    if (!existing || !ours.has(existing.kernelFunc)) continue;
    tf.unregisterKernel(k.kernelName, 'wasm');
    names.push(k.kernelName);
    const old = stockKernels.get(k.kernelName);
    if (!old) continue;
    tf.registerKernel(old);
    // A stock kernel registered after the backend started has not run its setup (its C++ binding).
    const backend = tf.engine().registry['wasm'];
    if (backend && old.setupFunc) old.setupFunc(backend);
  }
  return names;
}
