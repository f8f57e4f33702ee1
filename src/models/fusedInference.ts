/**
 * Running a layers model at inference with its conv -> batch norm (-> add) (-> activation) chains as
 * single kernels (engine/convBnAct.ts: the convolution applies batch norm, the residual and the
 * activation to its outputs while they are in cache, and its gradient is one pass before the
 * convolution's input gradient).
 *
 * {@link fusedInference} walks a functional tfjs-layers model's graph once and returns a function
 * that runs it so: each chain as one `AdvlensConvBnAct`, every other layer through its own `apply`
 * (inference mode). A chain is a `Conv2D` (channels last, no activation of its own, output channels a
 * multiple of 4, no dilation) whose output goes only to a `BatchNormalization` over the last axis; then, where the
 * batch norm's output goes only to it, an `Add` of two tensors of one shape (the other operand is the
 * residual), and then, where the output so far goes only to it, a ReLU (`Activation('relu')` or a
 * `ReLU` layer without a ceiling) or a `LeakyReLU` with a positive slope. Nothing inside a chain may be
 * a model output. The weights and statistics are read from the layers' variables on every call, so
 * training between calls is seen.
 *
 * Results are the layer-by-layer ones bit for bit, values and gradients (test/engine/convBnAct.test.ts
 * on ResNet-8, cifar-cnn and a darknet-like model): the kernel performs the same float32 operations
 * in the same order. Models it cannot walk (nested or shared layers, several inputs) or
 * that have no such chain get null: the caller runs `model.apply`. Models with several outputs (the
 * tap models of `Classifier.taps`) are planned alike; a chain never takes in a layer whose output is
 * a model output.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CONV_BN_ACT, type ConvBnActAttrs, type FusedActivation } from '../engine/convBnAct.ts';
import { winogradReady } from '../engine/kernels/winograd.ts';
import { gradientDepth } from '../engine/layerPatch.ts';

/** The parts of tfjs-layers' internals read here (public in the JavaScript, not in the types). */
interface NodeLike {
  inputTensors: tfl.SymbolicTensor[];
  outputTensors: tfl.SymbolicTensor[];
}
interface LayerLike {
  name: string;
  inboundNodes: NodeLike[];
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}
interface VariableLike {
  read(): tf.Tensor;
}
interface ConvLike extends LayerLike {
  kernel: VariableLike;
  bias: VariableLike | null;
}
interface BatchNormLike extends LayerLike {
  gamma: VariableLike | null;
  beta: VariableLike | null;
  movingMean: VariableLike;
  movingVariance: VariableLike;
}

interface Chain {
  conv: ConvLike;
  bn: BatchNormLike;
  /** The residual's symbolic tensor id, when an Add is in the chain. */
  residual: number | null;
  activation: FusedActivation;
  alpha: number;
  /** The layers after the convolution that the chain takes in (the last one's position runs it). */
  absorbed: LayerLike[];
  input: number;
  output: number;
}

type Step = { kind: 'layer'; layer: LayerLike; inputs: number[]; outputs: number[] } | { kind: 'chain'; chain: Chain };

/** Runs a planned model on x at inference: its outputs, in order (one for a classifier); the caller owns them. */
export type FusedRun = (x: tf.Tensor) => tf.Tensor[];

let enabled = !(typeof process !== 'undefined' && process.env?.ADVLENS_FUSED_INFERENCE === '0');

/**
 * Turns fused inference on (the default) or off (every model layer by layer; the environment
 * variable ADVLENS_FUSED_INFERENCE=0 starts with it off). Returns the previous setting.
 */
export function setFusedInference(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/**
 * Whether plans from {@link fusedInference} can run now: switched on, the backend has the kernel, and
 * at most one gradient tape records (under two, a gradient of a gradient, models run layer by layer:
 * the fused kernel's gradient is not itself differentiated).
 */
export function fusedInferenceOn(): boolean {
  const depth = gradientDepth();
  return enabled && depth <= 1 && winogradReady() && tf.getKernel(CONV_BN_ACT, tf.getBackend()) != null;
}

/** How many chains a plan runs fused (for tests and `--json` diagnostics), by plan. */
const chainCounts = new WeakMap<FusedRun, number>();

/** The number of fused chains in a plan. */
export function fusedChains(run: FusedRun): number {
  return chainCounts.get(run) ?? 0;
}

const pair = (v: unknown): [number, number] =>
  Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];

/**
 * A plan that runs `model` at inference with its conv / batch norm (/ add) (/ activation) chains as
 * one kernel each, or null when it has none or cannot be walked here.
 */
export function fusedInference(model: tfl.LayersModel): FusedRun | null {
  const layers = model.layers as unknown as LayerLike[];
  if (model.inputs.length !== 1) return null;
  const uses = new Map<number, number>();
  const consumerOf = new Map<number, LayerLike>();
  for (const l of layers) {
    if (l instanceof tfl.LayersModel) return null; // nested model
    if (l.getClassName() === 'InputLayer') continue;
    if (l.inboundNodes.length !== 1) return null; // shared or unused layer
    for (const t of l.inboundNodes[0].inputTensors) {
      uses.set(t.id, (uses.get(t.id) ?? 0) + 1);
      consumerOf.set(t.id, l);
    }
  }
  const outputIds = model.outputs.map((t) => t.id);
  for (const id of outputIds) uses.set(id, (uses.get(id) ?? 0) + 1);
  const only = (id: number) => (uses.get(id) === 1 ? consumerOf.get(id) : undefined);
  const out = (l: LayerLike) => l.inboundNodes[0].outputTensors;

  const chains = new Map<LayerLike, Chain>(); // by the last layer it takes in
  const taken = new Set<LayerLike>();
  for (const l of layers) {
    if (l.getClassName() !== 'Conv2D') continue;
    const c = l as ConvLike;
    const cc = c.getConfig();
    const node = c.inboundNodes[0];
    if (
      node.inputTensors.length !== 1 ||
      out(c).length !== 1 ||
      cc.dataFormat !== 'channelsLast' ||
      cc.activation !== 'linear' ||
      (cc.padding !== 'same' && cc.padding !== 'valid') ||
      Number(cc.filters) % 4 !== 0 ||
      // tfjs has no gradient for dilated convolutions; they stay layers of their own.
      pair(cc.dilationRate).some((d) => d !== 1) ||
      out(c)[0].shape.length !== 4
    )
      continue;
    const bn = only(out(c)[0].id) as BatchNormLike | undefined;
    if (!bn || bn.getClassName() !== 'BatchNormalization' || taken.has(bn)) continue;
    const bc = bn.getConfig();
    if (bc.axis !== -1 && bc.axis !== 3) continue;
    const chain: Chain = {
      conv: c,
      bn,
      residual: null,
      activation: 'linear',
      alpha: 0,
      absorbed: [bn],
      input: node.inputTensors[0].id,
      output: out(bn)[0].id,
    };
    const next = only(chain.output);
    if (next && !taken.has(next) && next.getClassName() === 'Add') {
      const ins = next.inboundNodes[0].inputTensors;
      const other = ins.find((t) => t.id !== chain.output);
      const same = (t: tfl.SymbolicTensor) => t.shape.join() === out(bn)[0].shape.join();
      if (ins.length === 2 && other && ins.every(same) && same(out(next)[0])) {
        chain.residual = other.id;
        chain.absorbed.push(next);
        chain.output = out(next)[0].id;
      }
    }
    const act = only(chain.output);
    if (act && !taken.has(act)) {
      const ac = act.getConfig();
      const cls = act.getClassName();
      let a: { activation: FusedActivation; alpha: number } | null = null;
      if (cls === 'Activation' && ac.activation === 'relu') a = { activation: 'relu', alpha: 0 };
      else if (cls === 'ReLU' && ac.maxValue == null) a = { activation: 'relu', alpha: 0 };
      else if (cls === 'LeakyReLU' && Number(ac.alpha) > 0) a = { activation: 'leakyrelu', alpha: Number(ac.alpha) };
      if (a) {
        chain.activation = a.activation;
        chain.alpha = a.alpha;
        chain.absorbed.push(act);
        chain.output = out(act)[0].id;
      }
    }
    for (const t of chain.absorbed) taken.add(t);
    chains.set(chain.absorbed[chain.absorbed.length - 1], chain);
  }
  if (chains.size === 0) return null;
  const convs = new Set([...chains.values()].map((ch) => ch.conv as LayerLike));
  const steps: Step[] = [];
  for (const l of layers) {
    if (l.getClassName() === 'InputLayer') continue;
    const chain = chains.get(l);
    if (chain) steps.push({ kind: 'chain', chain });
    else if (!taken.has(l) && !convs.has(l))
      steps.push({
        kind: 'layer',
        layer: l,
        inputs: l.inboundNodes[0].inputTensors.map((t) => t.id),
        outputs: out(l).map((t) => t.id),
      });
  }
  const inputId = model.inputs[0].id;
  const run: FusedRun = (x) =>
    tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[inputId, x]]);
      const get = (id: number) => {
        const v = values.get(id);
        if (!v) throw new Error(`fused inference: tensor ${id} is not computed yet (graph order)`);
        return v;
      };
      for (const s of steps) {
        if (s.kind === 'chain') {
          values.set(s.chain.output, runChain(s.chain, get(s.chain.input), s.chain.residual == null ? null : get(s.chain.residual)));
          continue;
        }
        const ins = s.inputs.map(get);
        const res = s.layer.apply(ins.length === 1 ? ins[0] : ins, { training: false });
        const outs = Array.isArray(res) ? res : [res];
        s.outputs.forEach((id, i) => values.set(id, outs[i]));
      }
      return outputIds.map(get);
    });
  chainCounts.set(run, chains.size);
  return run;
}

/** One chain as `AdvlensConvBnAct` on x (and the residual). */
function runChain(ch: Chain, x: tf.Tensor, residual: tf.Tensor | null): tf.Tensor {
  const cc = ch.conv.getConfig();
  const bc = ch.bn.getConfig();
  const filter = ch.conv.kernel.read();
  const k = filter.shape[3] as number;
  const inputs: tf.NamedTensorMap = {
    x,
    filter,
    bias: ch.conv.bias ? ch.conv.bias.read() : tf.zeros([k]),
    mean: ch.bn.movingMean.read(),
    variance: ch.bn.movingVariance.read(),
    scale: ch.bn.gamma ? ch.bn.gamma.read() : tf.ones([k]),
    offset: ch.bn.beta ? ch.bn.beta.read() : tf.zeros([k]),
  };
  if (residual) inputs['residual'] = residual;
  const attrs: ConvBnActAttrs = {
    strides: pair(cc.strides),
    pad: cc.padding as 'same' | 'valid',
    dilations: pair(cc.dilationRate),
    varianceEpsilon: Number(bc.epsilon),
    activation: ch.activation,
    alpha: ch.alpha,
    hasBias: ch.conv.bias != null,
  };
  return tf.engine().runKernel(CONV_BN_ACT, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
