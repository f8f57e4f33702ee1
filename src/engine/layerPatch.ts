/**
 * What the engine's patches of tfjs share: how many gradient tapes are recording (tfjs' internal
 * `engine.state.gradientDepth`), and replacing a tfjs-layers layer class's `call` (batch norm in
 * training, engine/batchNormTrain.ts; a convolution with its ReLU under a tape, engine/convAct.ts).
 * Both read tfjs internals (4.22): re-check them on a tfjs upgrade.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';

/** How many gradient tapes are recording the kernels that run now (0: none; 2: a gradient of a gradient). */
export function gradientDepth(): number {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth;
}

/** Whether an outer gradient is recording the kernels that run now (a gradient of this gradient). */
export function outerTapeOn(): boolean {
  return gradientDepth() > 0;
}

/** A layer's `call`, with the layer as `this`. */
export type LayerCall<L> = (
  this: L,
  inputs: tf.Tensor | tf.Tensor[],
  kwargs: Record<string, unknown>,
) => tf.Tensor | tf.Tensor[];

/**
 * Replaces the `call` of tfjs-layers' registered class `className` by `wrap(stock)` (stock: the call
 * it had, own or inherited). Returns false, changing nothing, where the class is not registered.
 */
export function patchLayerCall<L>(className: string, wrap: (stock: LayerCall<L>) => LayerCall<L>): boolean {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  const proto = entry?.[0]?.prototype as unknown as { call?: LayerCall<L> } | undefined;
  if (!proto?.call) return false;
  proto.call = wrap(proto.call);
  return true;
}
