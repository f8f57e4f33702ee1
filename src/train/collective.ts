/**
 * A blocking all-reduce between the worker threads of one data-parallel training step, over a
 * SharedArrayBuffer: what synchronised batch normalisation needs in the middle of a forward or
 * backward pass, where nothing can await (tfjs kernels are synchronous).
 *
 * Layout: an Int32 header [arrived, generation, aborted] then two sets of float64 slots, one slot of
 * `maxLength` values per rank in each. allReduce(v), the i-th call: each rank writes v into its slot
 * of set i mod 2, waits at a barrier until every rank has, and sums that set's slots in rank order
 * into v (so every rank gets the same bits). One barrier a call: a rank can write set i mod 2 again
 * only at call i + 2, after passing the barrier of call i + 1, which every rank reaches only once it
 * has read call i's sums (a second barrier per call, before anyone may write again, did the same at
 * twice the synchronisations: 114 a ResNet-20 step instead of 57). The barrier counts arrivals; the
 * last to arrive resets the count, bumps the generation and wakes the others (Atomics.wait: worker
 * threads and Node's main thread only, not a browser's main thread).
 *
 * A rank that fails calls abort(): every rank waiting, or arriving later, throws instead of waiting.
 * A wait also gives up after `timeoutMs` (a rank that died without aborting).
 *
 *   const buf = collectiveBuffer(2, 1024);               // in the main thread, sent to both workers
 *   const c = joinCollective(buf, rank, 2);              // in worker `rank`
 *   c.allReduce(sums);                                   // sums now holds both workers' sums
 */

const HEADER = 4; // Int32 values: arrived, generation, aborted, (padding to 16 bytes)

/** The shared buffer of an all-reduce among `size` ranks of vectors up to `maxLength` values. */
export function collectiveBuffer(size: number, maxLength: number): SharedArrayBuffer {
  if (!Number.isInteger(size) || size < 1) throw new Error(`collective of ${size} ranks`);
  if (!Number.isInteger(maxLength) || maxLength < 1)
    throw new Error(`collective slots of ${maxLength} values`);
  // 8 bytes for the length, then the two sets of slots.
  const buf = new SharedArrayBuffer(HEADER * 4 + 8 + 2 * size * maxLength * 8);
  new Float64Array(buf, HEADER * 4, 1)[0] = maxLength;
  return buf;
}

export interface Collective {
  readonly rank: number;
  readonly size: number;
  /** Replaces v, on every rank, by the sum over ranks (in rank order) of each rank's v; all ranks pass the same length. */
  allReduce(v: Float64Array): void;
  /** Makes every rank's current and next wait throw (call it when this rank fails mid-step). */
  abort(): void;
  /** How many all-reduces this rank has done (for tests and checks). */
  readonly calls: number;
}

/** Rank `rank` of the all-reduce on `buf` ({@link collectiveBuffer}). */
export function joinCollective(
  buf: SharedArrayBuffer,
  rank: number,
  size: number,
  timeoutMs = 120_000,
): Collective {
  const head = new Int32Array(buf, 0, HEADER);
  const maxLength = new Float64Array(buf, HEADER * 4, 1)[0];
  const slots = new Float64Array(buf, HEADER * 4 + 8, 2 * size * maxLength);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new Error(`rank ${rank} of ${size}`);
  let calls = 0;
  const failed = () => new Error('another training worker failed during this step; the step is abandoned');
  const barrier = () => {
    if (Atomics.load(head, 2)) throw failed();
    const gen = Atomics.load(head, 1);
    if (Atomics.add(head, 0, 1) === size - 1) {
      Atomics.store(head, 0, 0);
      Atomics.add(head, 1, 1);
      Atomics.notify(head, 1);
      return;
    }
    const until = Date.now() + timeoutMs;
    while (Atomics.load(head, 1) === gen) {
      if (Atomics.load(head, 2)) throw failed();
      const left = until - Date.now();
      if (left <= 0)
        throw new Error(
          `training worker ${rank} waited ${timeoutMs / 1000} s for the others at a batch-norm synchronisation; one has stopped`,
        );
      Atomics.wait(head, 1, gen, left);
    }
    if (Atomics.load(head, 2)) throw failed();
  };
  return {
    rank,
    size,
    get calls() {
      return calls;
    },
    allReduce(v) {
      if (v.length > maxLength)
        throw new Error(`all-reduce of ${v.length} values; the collective holds ${maxLength} per rank`);
      const set = (calls & 1) * size * maxLength;
      calls++;
      if (size === 1) return;
      slots.set(v, set + rank * maxLength);
      barrier();
      for (let i = 0; i < v.length; i++) {
        let s = 0;
        for (let r = 0; r < size; r++) s += slots[set + r * maxLength + i];
        v[i] = s;
      }
    },
    abort() {
      Atomics.store(head, 2, 1);
      Atomics.add(head, 1, 1);
      Atomics.notify(head, 1);
    },
  };
}

let active: Collective | null = null;

/** The collective the batch-norm kernels synchronise through while a sharded step runs in this thread (null: none). */
export function activeCollective(): Collective | null {
  return active;
}

/** Sets (or with null clears) {@link activeCollective}; returns the previous one. */
export function setActiveCollective(c: Collective | null): Collective | null {
  const was = active;
  active = c;
  return was;
}
