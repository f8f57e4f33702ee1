/**
 * The pathway graph of a CNN: which layers hold neurons, and which weights connect them (Bluff, Das et
 * al., IEEE VIS 2020; ALGORITHMS.md section 6). A neuron is one channel of a *unit*; an edge is one
 * input channel -> output channel pair of a convolution or dense layer, or a channel passed unchanged
 * into a residual addition or a concatenation.
 *
 * How units and edges are found, for any tfjs layers model (sequential, residual, branchy):
 * - A unit is a mixing layer (Conv2D, Dense) or a merge (Add, Concatenate). Its neurons are read at the
 *   end of its *pointwise chain*: the layers that follow it one to one and keep every channel and
 *   position (batch norm, activations, dropout), so a conv followed by batch norm and a leaky ReLU has
 *   its neurons after the ReLU. Pooling, padding and global pooling end the chain.
 * - A mixing layer whose chain flows only into a merge is *absorbed* by it: its output channel j is
 *   channel j (Add) or offset + j (Concatenate) of the merge's unit. So in a ResNet block the second
 *   conv and the projection shortcut both draw edges into the block's output (after add and ReLU).
 * - The unit whose chain reaches the model's output (directly or through global pooling, as darknet's
 *   1x1 conv to the classes) is the *logits* unit: its neurons are the classes and their activation
 *   is the classifier's logit.
 * - Edges into a mixing layer M come from wherever M's input channels were last a unit's neurons,
 *   traced back through channel-preserving layers (pooling, padding, batch norm, activations, global
 *   pooling) and through concatenations (by channel offset). The weight is computed on M's actual
 *   input (after the pooling), so it is exactly what the convolution sees. Batch norm after M, like the
 *   bias, belongs to the target neuron: edges are taken before both.
 * - A Flatten before a dense layer keeps channels (channels last: index (y W + x) C + c is channel c), so
 *   the dense layer's edge from channel c sums its weights times the activations over every position.
 * - An identity edge carries channel c of a merge input that no mixing layer produced (a ResNet
 *   identity shortcut) to channel c (+ offset) of the merge's unit; its weight is the input channel's
 *   spatial max.
 * Layers that mix channels otherwise (Reshape, depthwise or separable convolutions, softmax
 * before the output) are refused with a {@link UserError}.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';

/** A layer of neurons. */
export interface PathwayLayer {
  /** The unit's layer name (the conv, dense, add or concatenate layer). */
  name: string;
  kind: 'conv' | 'dense' | 'add' | 'concat';
  /** The layer whose output holds the neurons (end of the pointwise chain); '' for the logits unit. */
  tap: string;
  channels: number;
  /** The model's output unit: neurons are classes, activation is the logit. */
  logits: boolean;
  /** Longest path from the input in units (the first convolutions are at depth 1). */
  depth: number;
}

/** The edges one layer's weights (or one merge input) carry from a source unit to a target unit. */
export interface Connection {
  /** Conv or dense layer whose kernel weighs the edges, or the merge layer for identity edges. */
  via: string;
  kind: 'conv' | 'dense' | 'identity';
  from: string;
  to: string;
  /** Layer whose output is `via`'s input (or the merge input), tapped to compute the edge weights. */
  input: string;
  /** Channels of `input` that come from `from` ... */
  inIndex: number[];
  /** ... and which channel of `from` each one is. */
  fromChannel: number[];
  /** Output channel j of `via` (or input channel c of an identity edge) is neuron toOffset + j of `to`. */
  toOffset: number;
  /** Channels `via` contributes: its output channels (conv, dense), or the merge input's channels (identity). */
  width: number;
}

/** A model's pathway graph: its neuron layers in order and the edges between them. */
export interface PathwayGraph {
  /** Units in topological order, input side first; the last is the logits unit. */
  layers: PathwayLayer[];
  connections: Connection[];
}

const MIXING = new Set(['Conv2D', 'Dense']);
const MERGE = new Set(['Add', 'Concatenate']);
/** One to one on channels and positions: these continue a unit's pointwise chain. */
const POINTWISE = new Set([
  'BatchNormalization',
  'Activation',
  'LeakyReLU',
  'ReLU',
  'ELU',
  'PReLU',
  'ThresholdedReLU',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);
/** Keep channels, change positions: traced through, but end a chain. */
const SPATIAL = new Set([
  'MaxPooling2D',
  'AveragePooling2D',
  'ZeroPadding2D',
  'Cropping2D',
  'UpSampling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
]);

type Layer = tfl.layers.Layer;

const cls = (l: Layer) => l.getClassName();
const isPointwise = (l: Layer) =>
  POINTWISE.has(cls(l)) && !(cls(l) === 'Activation' && (l.getConfig().activation as string) === 'softmax');
const inputsOf = (l: Layer): Layer[] => {
  const node = l.inboundNodes[0];
  return node ? node.inboundLayers : [];
};
const channelsOf = (l: Layer): number => {
  const s = l.outputShape as number[];
  return s[s.length - 1];
};

/** The units, connections and neuron taps of a layers model; a {@link UserError} for what it cannot follow. */
export function pathwayGraph(model: Classifier): PathwayGraph {
  if (!(model.model instanceof tfl.LayersModel))
    throw new UserError(
      'pathways need a tfjs layers model; this is a graph model: convert it with tensorflowjs_converter --output_format tfjs_layers_model',
    );
  const lm = model.model;
  const all = lm.layers;
  for (const l of all)
    if (l.inboundNodes.length > 1)
      throw new UserError(`layer '${l.name}' is applied more than once; pathways need each layer used once`);
  const consumers = new Map<Layer, Layer[]>();
  for (const l of all) for (const i of inputsOf(l)) consumers.set(i, [...(consumers.get(i) ?? []), l]);
  const outputLayer = (lm.outputs[0] as tfl.SymbolicTensor).sourceLayer as Layer;
  const next = (l: Layer): Layer | undefined => {
    const c = consumers.get(l) ?? [];
    return c.length === 1 ? c[0] : undefined;
  };

  // Pointwise chain of each mixing or merge layer; which layer belongs to which chain.
  const chainOf = new Map<Layer, Layer[]>();
  for (const l of all) {
    if (!MIXING.has(cls(l)) && !MERGE.has(cls(l))) continue;
    const chain = [l];
    for (let t = next(l); t && isPointwise(t) && chain[chain.length - 1] !== outputLayer; t = next(t))
      chain.push(t);
    chainOf.set(l, chain);
  }
  const absorbedBy = new Map<Layer, { merge: Layer; offset: number }>();
  for (const [l, chain] of chainOf) {
    if (!MIXING.has(cls(l))) continue;
    const end = chain[chain.length - 1];
    const m = end === outputLayer ? undefined : next(end);
    if (m && MERGE.has(cls(m))) absorbedBy.set(l, { merge: m, offset: mergeOffset(m, end) });
  }
  // The logits unit: its chain reaches the output, possibly through global pooling and softmax.
  let logitsUnit: Layer | undefined;
  for (const [l, chain] of chainOf) {
    if (absorbedBy.has(l)) continue;
    let t: Layer | undefined = chain[chain.length - 1];
    while (t && t !== outputLayer) {
      const n = next(t);
      t = n && (isPointwise(n) || cls(n).startsWith('Global') || cls(n) === 'Activation') ? n : undefined;
    }
    if (t === outputLayer) logitsUnit = l;
  }
  if (!logitsUnit)
    throw new UserError(
      `pathways need the model's output '${outputLayer.name}' (${cls(outputLayer)}) to come from a conv or dense layer through batch norm, activations or global pooling`,
    );

  const units = all.filter((l) => chainOf.has(l) && !absorbedBy.has(l));
  const unitOf = new Map<Layer, Layer>();
  for (const u of units) for (const t of chainOf.get(u)!) unitOf.set(t, u);

  /** Per channel of layer l's output: the unit and channel it was last, or null from the input. */
  const traceMemo = new Map<Layer, ({ unit: Layer; channel: number } | null)[]>();
  const trace = (l: Layer): ({ unit: Layer; channel: number } | null)[] => {
    const hit = traceMemo.get(l);
    if (hit) return hit;
    let r: ({ unit: Layer; channel: number } | null)[];
    const u = unitOf.get(l);
    if (u) r = Array.from({ length: channelsOf(l) }, (_, c) => ({ unit: u, channel: c }));
    else if (cls(l) === 'InputLayer') r = new Array(channelsOf(l)).fill(null);
    else if (SPATIAL.has(cls(l)) || isPointwise(l)) r = trace(inputsOf(l)[0]);
    else if (cls(l) === 'Flatten') {
      // channels last: flattened index (y * W + x) * C + c is channel c
      const src = trace(inputsOf(l)[0]);
      r = Array.from({ length: channelsOf(l) }, (_, i) => src[i % src.length]);
    } else
      throw new UserError(
        `pathways follow channels from layer to layer; '${l.name}' (${cls(l)}) mixes them in a way they cannot follow (supported: conv, dense, add, concatenate, flatten, batch norm, activations, pooling, padding)`,
      );
    traceMemo.set(l, r);
    return r;
  };

  const connections: Connection[] = [];
  const addConnections = (
    via: Layer,
    kind: Connection['kind'],
    input: Layer,
    to: Layer,
    toOffset: number,
  ) => {
    const src = trace(input);
    const bySource = new Map<Layer, { inIndex: number[]; fromChannel: number[] }>();
    src.forEach((s, i) => {
      if (!s) return;
      const e = bySource.get(s.unit) ?? { inIndex: [], fromChannel: [] };
      e.inIndex.push(i);
      e.fromChannel.push(s.channel);
      bySource.set(s.unit, e);
    });
    for (const [from, e] of bySource)
      connections.push({
        via: via.name,
        kind,
        from: from.name,
        to: to.name,
        input: input.name,
        ...e,
        toOffset,
        width: channelsOf(kind === 'identity' ? input : via),
      });
  };
  for (const l of all) {
    if (MIXING.has(cls(l))) {
      const a = absorbedBy.get(l);
      addConnections(
        l,
        cls(l) === 'Dense' ? 'dense' : 'conv',
        inputsOf(l)[0],
        a ? a.merge : l,
        a ? a.offset : 0,
      );
    } else if (MERGE.has(cls(l))) {
      for (const input of inputsOf(l)) {
        const producer = [...absorbedBy].find(([m, a]) => a.merge === l && chainOf.get(m)!.at(-1) === input);
        if (!producer) addConnections(l, 'identity', input, l, mergeOffset(l, input));
      }
    }
  }

  const depth = new Map<string, number>();
  for (const u of units) {
    const ins = connections.filter((c) => c.to === u.name).map((c) => depth.get(c.from) ?? 0);
    depth.set(u.name, 1 + Math.max(0, ...ins));
  }
  const layers: PathwayLayer[] = units.map((u) => ({
    name: u.name,
    kind: cls(u) === 'Conv2D' ? 'conv' : cls(u) === 'Dense' ? 'dense' : cls(u) === 'Add' ? 'add' : 'concat',
    tap: u === logitsUnit ? '' : chainOf.get(u)!.at(-1)!.name,
    channels: u === logitsUnit ? model.labels.length : channelsOf(chainOf.get(u)!.at(-1)!),
    logits: u === logitsUnit,
    depth: depth.get(u.name)!,
  }));
  // The logits unit last, whatever the layer order says.
  layers.sort((a, b) => Number(a.logits) - Number(b.logits));
  return { layers, connections };
}

/** Channel offset of `input` in merge `m`'s output (0 for Add). */
function mergeOffset(m: Layer, input: Layer): number {
  if (cls(m) === 'Add') return 0;
  const axis = m.getConfig().axis as number;
  const ins = inputsOf(m);
  const rank = (ins[0].outputShape as number[]).length;
  if (axis !== -1 && axis !== rank - 1)
    throw new UserError(
      `concatenation '${m.name}' joins along axis ${axis}; pathways need channel concatenation (axis -1)`,
    );
  let offset = 0;
  for (const i of ins) {
    if (i === input) return offset;
    offset += channelsOf(i);
  }
  throw new Error(`${input.name} is not an input of ${m.name}`);
}
