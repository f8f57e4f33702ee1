/**
 * Seeded randomness for everything the project draws: shuffles, augmentation, random starts,
 * noise. `Rng` is a small, fast, splittable generator (splitmix32 seeding a xoshiro128**), so a run
 * with the same seed draws the same numbers on every backend.
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** A 31-bit integer seed for tfjs random ops (`tf.randomUniform(..., seed)`) or a child Rng. */
  seed(): number;
  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<T>(a: T[]): T[];
  /** The generator's full state, to checkpoint and resume a run. */
  state(): number[];
}

/** splitmix32: a generator of 32-bit words from a 32-bit seed, used to seed xoshiro128** states. */
export function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

/** A generator seeded by `seed` (any finite number), or restored from a saved `state()`. */
export function createRng(seed: number | number[]): Rng {
  const s = new Uint32Array(4);
  if (Array.isArray(seed)) {
    if (seed.length !== 4) throw new Error('Rng state must have 4 words');
    s.set(seed.map((v) => v >>> 0));
  } else {
    const sm = splitmix32(Math.floor(seed) | 0);
    s.set([sm(), sm(), sm(), sm()]);
  }
  let spare: number | null = null;
  const nextU32 = (): number => xoshiro128ss(s, 0);
  const rng: Rng = {
    next: () => nextU32() / 4294967296,
    int: (n) => Math.floor((nextU32() / 4294967296) * n),
    normal: () => {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      let u = 0;
      while (u === 0) u = rng.next();
      const v = rng.next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    seed: () => nextU32() >>> 1,
    shuffle: (a) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
    state: () => Array.from(s),
  };
  return rng;
}

/**
 * One step of the xoshiro128** generator (Blackman & Vigna) whose four 32-bit state words are
 * s[o .. o + 3], updated in place; returns its 32-bit output. Shared by {@link createRng} and the
 * JavaScript copy of the noise kernel (engine/noise.ts), which runs four such states side by side.
 */
export function xoshiro128ss(s: Uint32Array, o: number): number {
  const s1 = s[o + 1];
  const m5 = Math.imul(s1, 5);
  const result = Math.imul((m5 << 7) | (m5 >>> 25), 9) >>> 0;
  const t = s1 << 9;
  const s2 = s[o + 2] ^ s[o];
  const s3 = s[o + 3] ^ s1;
  s[o] ^= s3;
  s[o + 1] = s1 ^ s2;
  s[o + 2] = s2 ^ t;
  s[o + 3] = (s3 << 11) | (s3 >>> 21);
  return result;
}
