/**
 * Skipping the convolution gradients nobody asked for.
 *
 * tfjs-layers runs every convolution without a fused activation (ResNet's and darknet's, whose batch
 * norm and activation are layers of their own) through `tf.fused.conv2d`, whose gradient is a
 * `customGrad`: when the engine backpropagates through it, its gradient function computes the
 * derivatives of *all* its inputs at once (input, filter, bias), and only then does the engine keep
 * those the gradient asked for. So every input gradient (an attack step, a SmoothGrad sample) also
 * computed each layer's filter gradient, a third of the pass, and threw it away; and a training step
 * computed the first layer's input gradient.
 *
 * The engine's backprop calls each tape node's `gradient` as a method of a copy of the node whose
 * `inputs` hold only the inputs on the path from the differentiated tensors (tfjs-core tape.ts,
 * `backpropagateGradients`). {@link installUnneededGradSkip} wraps the `gradient` of every node
 * without a registered gradient (the `customGrad` nodes; registered gradients are already lazy per
 * input) so that, while it runs, the shapes of the node's inputs that are *not* on the path are
 * known ({@link unneededInputShape}). The project's `Conv2DBackpropFilter` and `Conv2DBackpropInput`
 * kernels ask before computing: when the filter (input) they would produce has exactly the shape of
 * such an unneeded input of the node being differentiated, and of no input on the path, they return
 * zeros of that shape instead.
 * Zeros are safe: the engine discards that derivative unread (it is the derivative of an input off
 * the path). The check needs only shapes, so a gradient function that computed a filter gradient of
 * the same shape for some other, used purpose would be wrong; no tfjs op does (fused conv2d and
 * fused depthwise conv compute each derivative once, from its own input).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Per gradient function running (innermost last): the shapes of its node's inputs off and on the path. */
const stack: { off: number[][]; on: number[][] }[] = [];
let skipped = 0;

/**
 * Kernels with a registered gradient that computes every input's derivative in one pass (the
 * project's batch-norm gradient, engine/batchNormGrad.ts): while their gradient function runs, the
 * names of the node's inputs on the path are published ({@link inputsOnPath}), so that an input
 * gradient, which wants x's derivative alone, can skip the parameters'.
 */
const PATH_NAMED = new Set(['FusedBatchNorm', 'AdvlensConvBnAct']);
/** Per such gradient function running (innermost last): the names of its node's inputs on the path. */
const pathNames: Set<string>[] = [];

/**
 * The names of the inputs on the backprop path of the node whose gradient function runs now, for the
 * kernels of PATH_NAMED ('x', 'scale', ... for FusedBatchNorm); null elsewhere (then assume all).
 */
export function inputsOnPath(): ReadonlySet<string> | null {
  return pathNames[pathNames.length - 1] ?? null;
}

interface TapeNodeLike {
  inputs: Record<string, tf.Tensor>;
  gradient?: (this: TapeNodeLike | undefined, dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
}

interface EngineLike {
  addTapeNode: (...args: unknown[]) => void;
  state: { activeTape: TapeNodeLike[] | null };
  advlensUnneededGradSkip?: boolean;
}

/**
 * True when a derivative of `shape` is being computed inside a gradient function whose node has an
 * input of that shape off the backprop path (so the derivative will be discarded unread). Counts
 * the skips ({@link skippedGradients}).
 */
export function unneededInputShape(shape: readonly number[]): boolean {
  const top = stack[stack.length - 1];
  if (!top) return false;
  const same = (s: number[]) => s.length === shape.length && s.every((d, i) => d === shape[i]);
  // An input on the path with the same shape (x [3, 3, 16, 16] and a filter [3, 3, 16, 16]) could be
  // the one this derivative is for: then nothing is skipped.
  const hit = top.off.some(same) && !top.on.some(same);
  if (hit) skipped++;
  return hit;
}

/** How many derivatives {@link unneededInputShape} has let kernels skip so far (for tests). */
export function skippedGradients(): number {
  return skipped;
}

/**
 * Wraps the engine's `addTapeNode` once (idempotent) so that the gradient functions of nodes
 * without a registered gradient publish the shapes of their inputs off the path while they run.
 */
export function installUnneededGradSkip(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (engine.advlensUnneededGradSkip) return;
  engine.advlensUnneededGradSkip = true;
  const addTapeNode = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (...args: unknown[]) => {
    addTapeNode(...args);
    const [kernelName, inputs] = args as [string, Record<string, tf.Tensor>];
    // Registered gradients return one closure per input, which the engine calls only for inputs on
    // the path; those of PATH_NAMED are told which those are.
    const registered = tf.getGradient(kernelName) != null;
    if (registered && !PATH_NAMED.has(kernelName)) return;
    const tape = engine.state.activeTape;
    const node = tape?.[tape.length - 1];
    const gradient = node?.gradient;
    if (!node || !gradient || node.inputs !== inputs) return;
    if (registered) {
      node.gradient = function (this: TapeNodeLike | undefined, dys: tf.Tensor[]) {
        const on = this?.inputs ?? inputs;
        pathNames.push(new Set(Object.keys(on).filter((name) => on[name] != null)));
        try {
          return gradient.call(this, dys);
        } finally {
          pathNames.pop();
        }
      };
      return;
    }
    node.gradient = function (this: TapeNodeLike | undefined, dys: tf.Tensor[]) {
      const onPath = new Set(Object.values(this?.inputs ?? inputs));
      const all = Object.values(inputs).filter((t) => t != null);
      stack.push({
        off: all.filter((t) => !onPath.has(t)).map((t) => t.shape),
        on: all.filter((t) => onPath.has(t)).map((t) => t.shape),
      });
      try {
        return gradient.call(this, dys);
      } finally {
        stack.pop();
      }
    };
  };
}
