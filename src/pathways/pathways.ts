/**
 * Bluff's activation pathways for any CNN (Das et al., "Bluff: Interactively Deciphering Adversarial
 * Attacks on Deep Neural Networks", IEEE VIS 2020; ALGORITHMS.md section 6): benign images of the
 * original class, benign images of the target class, and the original images attacked toward the target
 * at growing strengths; per image set the median spatial-max activation of every neuron and its
 * within-layer percentile; Bluff's groups (both / original / target / exploited) and vulnerability per
 * layer; and the median edge influences between the neurons of the groups, benign and per strength.
 * The result is plain JSON (format `advlens-pathways/2`; format.ts reads /1 too), which the report and
 * the explorer draw.
 *
 * Without target images, the target group rests on the attacked images at the strongest strength where
 * any image reached the target (they are classified as the target): `target.source` says which.
 *
 *   const r = pathways(model, { original: x7 }, { original: 7, target: 1, strengths: [0.5, 1, 2] });
 *   r.groups.conv2.exploited;  r.success.map((s) => s.succeeded);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { pathwayGraph, type Connection, type PathwayLayer } from './graph.ts';
import { channelScores, importance, pickRows } from './neurons.ts';
import {
  GROUP_DEFAULTS,
  neuronGroups,
  vulnerability,
  type GroupOptions,
  type NeuronGroups,
} from './groups.ts';
import { edgeMedians, edgeScores, selectEdges, type NeuronSelection } from './edges.ts';
import { attackSweep, SWEEP_DEFAULTS, type SweepOptions, type SweepStrength } from './sweep.ts';

/** The version of `pathways.json` (2: the shared provenance, `measuredAt` for /1's `created`; format.ts). */
export const PATHWAYS_FORMAT = 'advlens-pathways/2';

/** Options of `pathways`: classes, attack, strengths, steps, which attacked images to keep, k, batch size, seed. */
export interface PathwaysOptions extends SweepOptions, GroupOptions {
  /** Original class index. */
  original: number;
  /** Target class index of the attack. */
  target: number;
  /**
   * The attack sweep already computed (one entry per strength, in order; the caller keeps and
   * disposes its tensors): the pathways then rest on it instead of attacking. A server computes the
   * strengths one by one this way and publishes the pathways of the strengths done so far.
   */
  sweep?: SweepStrength[];
}

/** Median activations and within-layer percentiles of one image set (NaN as null: no image). */
export interface SetImportance {
  median: (number | null)[];
  percentile: (number | null)[];
}

/** Median influences of the edges of one connection between neurons of the groups. */
export interface EdgeGroup {
  via: string;
  kind: Connection['kind'];
  from: string;
  to: string;
  /** [from channel, to channel] per edge. */
  pairs: [number, number][];
  original: (number | null)[];
  target: (number | null)[];
  /** Per strength, per edge. */
  attacked: (number | null)[][];
}

/** The whole pathways computation: images, success per strength, layers, neurons, groups, edges, timings. */
export interface PathwaysResult {
  format: typeof PATHWAYS_FORMAT;
  original: { index: number; label: string; images: number };
  target: {
    index: number;
    label: string;
    images: number;
    /** What the target group rests on: benign target images, or the attacked images at a strength. */
    source: 'images' | { attackedAt: number } | 'none';
  };
  attack: {
    name: string;
    strengths: number[];
    steps: number;
    stepFraction: number;
    keep: 'successful' | 'all';
    seed: number;
  };
  /** Per strength: images attacked, how many reached the target, how many the pathways rest on. */
  success: { strength: number; attempted: number; succeeded: number; kept: number }[];
  layers: PathwayLayer[];
  groupOptions: Required<GroupOptions>;
  neurons: Record<string, { original: SetImportance; target: SetImportance; attacked: SetImportance[] }>;
  groups: Record<string, NeuronGroups>;
  /** Per layer, per channel: sum_s |pct_s - pct_original| / s. */
  vulnerability: Record<string, number[]>;
  edges: EdgeGroup[];
  /** Milliseconds per stage. */
  timings: Record<string, number>;
}

const finite = (v: ArrayLike<number>) => Array.from(v, (x) => (Number.isFinite(x) ? x : null));

/** The neurons drawn in the graph per layer: the groups' union; the logits unit keeps the two classes. */
export function graphNeurons(r: Pick<PathwaysResult, 'layers' | 'groups'>): NeuronSelection {
  const keep: NeuronSelection = {};
  for (const l of r.layers) {
    const g = r.groups[l.name];
    keep[l.name] = [...new Set([...g.both, ...g.original, ...g.target, ...g.exploited])];
  }
  return keep;
}

/**
 * Computes the pathways of `images.original` (of class `o.original`, [N, H, W, C] in [0, 1]) attacked
 * toward `o.target`, with `images.target` (benign images of the target class) when given. Leaves no
 * tensor behind.
 */
export function pathways(
  model: Classifier,
  images: { original: tf.Tensor4D; target?: tf.Tensor4D },
  o: PathwaysOptions,
): PathwaysResult {
  const K = model.labels.length;
  for (const [what, c] of [
    ['original', o.original],
    ['target', o.target],
  ] as const)
    if (!Number.isInteger(c) || c < 0 || c >= K)
      throw new UserError(`${what} class ${c} is outside 0..${K - 1}`);
  if (o.original === o.target)
    throw new UserError(`the target class must differ from the original class (${o.original})`);
  if (images.original.shape[0] === 0)
    throw new UserError('no image of the original class to attack; give some');
  const d = { ...SWEEP_DEFAULTS, ...o, ...(o.sweep && { strengths: o.sweep.map((s) => s.strength) }) };
  const go: Required<GroupOptions> = {
    k: o.k ?? GROUP_DEFAULTS.k,
    exploitedPerStrength: o.exploitedPerStrength ?? Math.floor((o.k ?? GROUP_DEFAULTS.k) / 2),
  };
  const graph = pathwayGraph(model);
  const timings: Record<string, number> = {};
  const clock = (stage: string, t0: number) => (timings[stage] = Math.round(performance.now() - t0));

  let t0 = performance.now();
  const sweep = o.sweep ?? attackSweep(model, images.original, o.target, o);
  clock('attack', t0);
  try {
    t0 = performance.now();
    const bs = d.batchSize;
    const scoresOrig = channelScores(model, graph.layers, images.original, bs);
    const scoresTarget = images.target ? channelScores(model, graph.layers, images.target, bs) : undefined;
    const scoresAtt = sweep.map((s) => channelScores(model, graph.layers, s.x, bs));
    const strongest = [...sweep.keys()]
      .reverse()
      .find((s) => sweep[s].succeeded > 0 && sweep[s].kept.length > 0);
    const targetSource: PathwaysResult['target']['source'] = images.target
      ? 'images'
      : strongest === undefined
        ? 'none'
        : { attackedAt: sweep[strongest].strength };

    const neurons: PathwaysResult['neurons'] = {};
    const groups: PathwaysResult['groups'] = {};
    const vuln: PathwaysResult['vulnerability'] = {};
    const nOrig = images.original.shape[0];
    const nTarget = images.target
      ? images.target.shape[0]
      : strongest === undefined
        ? 0
        : positions(sweep[strongest]).length;
    for (const l of graph.layers) {
      const c = l.channels;
      const impO = importance(scoresOrig[l.name], nOrig, c);
      const impT = scoresTarget
        ? importance(scoresTarget[l.name], nTarget, c)
        : strongest === undefined
          ? importance(new Float32Array(0), 0, c)
          : importance(pickRows(scoresAtt[strongest][l.name], c, positions(sweep[strongest])), nTarget, c);
      const impA = sweep.map((s, k) => importance(scoresAtt[k][l.name], s.kept.length, c));
      const set = (i: typeof impO): SetImportance => ({
        median: finite(i.median),
        percentile: finite(i.percentile),
      });
      neurons[l.name] = { original: set(impO), target: set(impT), attacked: impA.map(set) };
      groups[l.name] = l.logits
        ? {
            both: [],
            original: [o.original],
            target: [o.target],
            exploited: [],
            exploitedAt: sweep.map(() => []),
          }
        : neuronGroups(
            impO.median,
            impT.median,
            impA.map((a) => a.median),
            go,
          );
      vuln[l.name] = Array.from(
        vulnerability(
          impO.percentile,
          impA.map((a) => a.percentile),
          d.strengths,
        ),
      );
    }
    clock('activations', t0);

    t0 = performance.now();
    const lists = selectEdges(graph, graphNeurons({ layers: graph.layers, groups }));
    const medians = (x: tf.Tensor4D | undefined, n: number) => {
      if (!x || n === 0) return lists.map((l) => new Array(l.pairs.length).fill(null) as null[]);
      const s = edgeScores(model, graph, lists, x, bs);
      return lists.map((l, k) => finite(edgeMedians(s[k], n, l.pairs.length)));
    };
    const eOrig = medians(images.original, nOrig);
    let eTarget: (number | null)[][];
    if (images.target) eTarget = medians(images.target, nTarget);
    else if (strongest === undefined) eTarget = medians(undefined, 0);
    else {
      const pos = positions(sweep[strongest]);
      const xt = tf.tidy(() => tf.gather(sweep[strongest].x, tf.tensor1d(pos, 'int32'), 0) as tf.Tensor4D);
      eTarget = medians(xt, pos.length);
      xt.dispose();
    }
    const eAtt = sweep.map((s) => medians(s.x, s.kept.length));
    const edges: EdgeGroup[] = lists.map((l, k) => ({
      ...l,
      original: eOrig[k],
      target: eTarget[k],
      attacked: eAtt.map((e) => e[k]),
    }));
    clock('edges', t0);

    return {
      format: PATHWAYS_FORMAT,
      original: { index: o.original, label: model.labels[o.original], images: nOrig },
      target: {
        index: o.target,
        label: model.labels[o.target],
        images: images.target ? nTarget : 0,
        source: targetSource,
      },
      attack: {
        name: d.attack,
        strengths: d.strengths,
        steps: d.steps,
        stepFraction: d.stepFraction,
        keep: d.keep,
        seed: d.seed,
      },
      success: sweep.map((s) => ({
        strength: s.strength,
        attempted: s.attempted,
        succeeded: s.succeeded,
        kept: s.kept.length,
      })),
      layers: graph.layers,
      groupOptions: go,
      neurons,
      groups,
      vulnerability: vuln,
      edges,
      timings,
    };
  } finally {
    if (!o.sweep) tf.dispose(sweep.map((s) => s.x));
  }
}

/** Positions, among a strength's kept images, of those that reached the target. */
function positions(s: { kept: number[]; success: boolean[] }): number[] {
  return s.kept.flatMap((img, p) => (s.success[img] ? [p] : []));
}
