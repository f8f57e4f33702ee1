/**
 * Backpropagation that frees each intermediate gradient as soon as it has been used.
 *
 * tfjs-core 4.22's `engine.gradients` walks the tape backwards keeping a map from each tensor to its
 * accumulated gradient, and frees nothing until the whole backward pass ends (its tidy). So during
 * the pass every intermediate gradient stays alive beside every saved activation: a gradient pass
 * holds about twice the activations. On darknet tiny at batch 8 (224x224) that is 580 MiB of live
 * buffers at the peak, 280 MiB of them activations, the rest gradients of layers already done
 * (measured with a malloc hook, 2026-12-05); the wasm heap then grows to 680 MiB and never shrinks.
 *
 * Here a tensor's gradient is freed once the node that produced the tensor has been differentiated:
 * the tape is walked in reverse order, so by then every consumer of the tensor has added its part and
 * nothing reads the gradient again. The same moment frees the tensors that node's kernel saved for
 * its gradient (the layer's activations, which only that gradient reads), so that the pass, arriving
 * at the first layers, no longer holds the activations of the layers it has done: darknet tiny at
 * batch 8 held 330 MiB of buffers at its first layer's batch-norm gradient, 78 MiB once the deeper
 * layers' activations went (2026-12-06). A gradient tensor can be held under several tensors at once
 * (a gradient function may return its dy unchanged, as the identity's does), so each is counted and
 * freed when the last holder lets go. Never freed here: the seed (the caller's dy, or the ones the engine
 * makes), and the gradients returned for `xs`. The operations, their order and so every value are the
 * engine's own: only the moment buffers are freed changes.
 *
 * Only the outermost gradient computation is replaced. Inside another gradient's recording (a
 * gradient of a gradient: the Int and IG-Norm objectives), the backward pass is itself recorded on the
 * outer tape, which must keep its intermediate tensors; there the engine's own `gradients` runs.
 *
 * `ADVLENS_EARLY_GRAD_FREE=0` in the environment (or {@link setEarlyGradFree}(false)) turns it off.
 */
import * as tf from '@tensorflow/tfjs-core';

interface Node {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineLike {
  state: { gradientDepth: number; activeTape: Node[] | null };
  gradients: (
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ) => { value: tf.Tensor; grads: tf.Tensor[] };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  advlensEarlyGradFree?: boolean;
}

/**
 * The nodes of `tape` on a path from one of `xs` to `y`, in tape order, each a copy whose `inputs`
 * keep only the inputs that depend on `xs` (the only ones whose gradient is needed).
 */
export function pathNodes(tape: Node[], xs: tf.Tensor[], y: tf.Tensor): Node[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape)
    if (Object.values(node.inputs).some((t) => t != null && fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  const toY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    nodeToY.add(node.id);
    for (const t of Object.values(node.inputs)) if (t != null) toY.add(t.id);
  }
  return tape
    .filter((n) => nodeFromX.has(n.id) && nodeToY.has(n.id))
    .map((n) => ({
      ...n,
      inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => t != null && fromX.has(t.id))),
    }));
}

let enabled = !(typeof process !== 'undefined' && process.env?.ADVLENS_EARLY_GRAD_FREE === '0');

/** Turns the early freeing on or off (off: the engine's own backprop); returns the previous setting. */
export function setEarlyGradFree(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

let freeSaved = true;

/**
 * Whether the activations a node saved for its gradient are freed as soon as that gradient has run
 * (on by default; off: they stay to the end of the pass, as in the engine's own); returns the
 * previous setting. For measurements and tests.
 */
export function setEarlySavedFree(on: boolean): boolean {
  const was = freeSaved;
  freeSaved = on;
  return was;
}

/** Installs the early-freeing backprop on the engine (idempotent). */
export function installEarlyGradFree(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (engine.advlensEarlyGradFree) return;
  engine.advlensEarlyGradFree = true;
  const original = engine.gradients.bind(engine);
  engine.gradients = (f, xs, dy, allowNoGradients = false) => {
    // Inside another tape (a gradient of a gradient) the engine's own, which keeps everything.
    if (!enabled || engine.state.gradientDepth > 0) return original(f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32')
      throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const nodes = pathNodes(engine.state.activeTape ?? [], xs, y);
    if (!allowNoGradients && nodes.length === 0)
      throw new Error(
        'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
      );
    return engine.tidy('backward', () => {
      const grad = new Map<number, tf.Tensor>();
      const holders = new Map<tf.Tensor, number>();
      const seed = dy ?? tf.ones(y.shape);
      const wanted = new Set(xs.map((x) => x.id));
      const hold = (id: number, g: tf.Tensor) => {
        grad.set(id, g);
        holders.set(g, (holders.get(g) ?? 0) + 1);
      };
      const free = (g: tf.Tensor) => {
        if (g !== seed && !holders.get(g)) g.dispose();
      };
      const release = (id: number) => {
        const g = grad.get(id);
        if (!g) return;
        grad.delete(id);
        holders.set(g, holders.get(g)! - 1);
        free(g);
      };
      hold(y.id, seed);
      for (let i = nodes.length - 1; i >= 0; i--) {
        const node = nodes[i];
        if (node.gradient == null)
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const fns = node.gradient(node.outputs.map((o) => grad.get(o.id) ?? null));
        for (const [name, x] of Object.entries(node.inputs)) {
          if (!(name in fns))
            throw new Error(
              `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(fns)}.`,
            );
          const dx = engine.tidy(() => fns[name]());
          if (dx.dtype !== 'float32')
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
            );
          if (!tf.util.arraysEqual(dx.shape, x.shape))
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          const cur = grad.get(x.id);
          if (cur == null) hold(x.id, dx);
          else {
            const sum = tf.add(cur, dx);
            release(x.id);
            hold(x.id, sum);
            free(dx);
          }
        }
        // Every consumer of this node's outputs came later on the tape and is done: their gradients
        // are complete and read by nothing else.
        for (const o of node.outputs) if (!wanted.has(o.id)) release(o.id);
        // The tensors this node's kernel saved for its gradient (kept clones of its inputs and
        // outputs: the activations of the layer) are read by that gradient alone, which has run.
        if (freeSaved) for (const t of node.saved ?? []) t.dispose();
      }
      const grads = xs.map((x) => grad.get(x.id)!);
      // As the engine does at the outermost level: the tape and the tensors its nodes saved go.
      for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
      return { value: y, grads };
    });
  };
}
