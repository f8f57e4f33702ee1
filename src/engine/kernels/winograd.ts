/**
 * The project's WebAssembly module (winograd.c, SIMD128, embedded as base64 in winogradWasm.ts): the
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions ({@link winogradTile} picks one), their filter
 * gradients, direct 3x3 convolutions with one input or output channel, and the max-pool gradient.
 * The module has no memory of its own: {@link loadWinograd} instantiates it on the wasm backend's
 * memory, so that kernels read and write tensors in place (the arguments are views of the backend's
 * heap: their byte offsets are the pointers; scratch comes from the backend's malloc). Where that
 * memory cannot be had (a build that hides it, or a shared memory of the threaded backend), the
 * module gets a memory of its own and a call copies its inputs in and its outputs out (about 1 ms
 * per 5 MB). Compilation is asynchronous (browsers refuse
 * synchronous compilation of modules over 4 KB on the main thread); until it has finished, and
 * where WebAssembly SIMD is missing, {@link winogradReady} is false and the kernels use their
 * fallbacks (XNNPACK, or JavaScript for the pool gradient).
 *
 *   await loadWinograd(tf.backend());                // after tf.setBackend('wasm')
 *   conv3x3(x, [n, h, w, c], filter, k, undefined, y); // y: Float32Array [n, h, w, k]
 */
import type * as tf from '@tensorflow/tfjs-core';
import { WINOGRAD_WASM_BASE64, WINOGRAD_WASM_FMA_BASE64 } from './winogradWasm.ts';
import { bindNative, nativeAddons, nativeUnusable } from './native.ts';

/** A pool's geometry as winograd.c's pool functions take it (see {@link PoolGeometry}). */
type PoolArgs = [
  n: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
];

/** conv_filter_grad and conv_filter_grad4: (x, dy, dw, dU scratch, work scratch, n, h, w, c, k). */
type FilterGradExport = (
  x: number,
  dy: number,
  dw: number,
  du: number,
  work: number,
  n: number,
  h: number,
  w: number,
  c: number,
  k: number,
) => void;

/** A convolution's geometry as patches.c takes it: a pool's, then the output channels. */
type PatchArgs = [...PoolArgs, k: number];

export interface Exports {
  __stack_pointer: WebAssembly.Global;
  conv_gemm(
    x: number,
    w: number,
    y: number,
    cols: number,
    tail: number,
    ...rest: [...PatchArgs, epi: number]
  ): void;
  conv_gemm_input_grad(
    dy: number,
    w: number,
    dx: number,
    wt: number,
    cols: number,
    tail: number,
    ...g: PatchArgs
  ): void;
  conv_gemm_filter_grad(x: number, dy: number, dw: number, cols: number, ...g: PatchArgs): void;
  flip_filter(w: number, out: number, kh: number, kw: number, c: number, k: number): void;
  gauss_noise(out: number, count: number, state: number, sigma: number): void;
  filter_transform(w: number, u: number, c: number, k: number): void;
  filter_transform4(w: number, u: number, c: number, k: number): number;
  tap_sums(w: number, s: number, c: number, k: number, h: number, w2: number): void;
  conv4(
    x: number,
    u: number,
    s: number,
    y: number,
    work: number,
    flags: number,
    n: number,
    h: number,
    w: number,
    c: number,
    k: number,
    tb: number,
    epi: number,
  ): number;
  conv(
    x: number,
    u: number,
    y: number,
    work: number,
    n: number,
    h: number,
    w: number,
    c: number,
    k: number,
    epi: number,
  ): void;
  epilogue(src: number, y: number, pixels: number, k: number, epi: number): void;
  greater_scalar(x: number, s: number, out: number, n: number, swap: number): void;
  greater_same(x: number, y: number, out: number, n: number): void;
  select_f32(c: number, t: number, e: number, out: number, n: number): void;
  epilogue_grad(
    dy: number,
    y: number,
    ri: number,
    s: number,
    dv: number,
    dz: number,
    pixels: number,
    k: number,
    act: number,
    alpha: number,
  ): void;
  conv_c1(x: number, w: number, y: number, n: number, h: number, wd: number, k: number): void;
  conv_k1(x: number, w: number, y: number, n: number, h: number, wd: number, c: number): void;
  take_channels(src: number, dst: number, pixels: number, from: number, to: number): void;
  min_max(a: number, b: number, out: number, n: number, op: number, scalarA: number, scalarB: number): void;
  sign_f32(x: number, out: number, n: number): void;
  mean_middle(x: number, out: number, n: number, p: number, c: number): void;
  maxpool(x: number, y: number, ...g: PoolArgs): void;
  relu_grad(dy: number, x: number, out: number, n: number): void;
  sum_rows(x: number, out: number, acc: number, outer: number, inner: number): void;
  conv_c1_filter_grad(x: number, dy: number, dw: number, n: number, h: number, w: number, k: number): void;
  add_bias(x: number, b: number, out: number, rows: number, k: number): void;
  leaky_relu(x: number, out: number, n: number, alpha: number): void;
  leaky_relu_grad(dy: number, x: number, out: number, n: number, alpha: number): void;
  bcast_last(x: number, b: number, out: number, rows: number, k: number, op: number, swap: number): void;
  batch_norm(
    x: number,
    m: number,
    s: number,
    r: number,
    o: number,
    out: number,
    rows: number,
    k: number,
  ): void;
  maxpool_grad(x: number, dy: number, dx: number, ...g: PoolArgs): void;
  bn_grad(
    x: number,
    dy: number,
    m: number,
    r: number,
    s: number,
    dx: number,
    acc: number,
    rows: number,
    k: number,
  ): void;
  sq_dev_sum_rows(x: number, m: number, out: number, acc: number, outer: number, inner: number): void;
  bn_sums(x: number, dy: number, m: number, acc: number, rows: number, k: number): void;
  bn_train_dx(
    x: number,
    dy: number,
    m: number,
    a: number,
    b: number,
    c: number,
    dx: number,
    rows: number,
    k: number,
  ): void;
  conv_filter_grad: FilterGradExport;
  conv_filter_grad4: FilterGradExport;
}

/** Where a call's buffers live: the backend's heap (`inPlace`), or a memory of the module's own. */
interface Heap {
  memory: WebAssembly.Memory;
  inPlace: boolean;
  /** Scratch of `bytes` for the current call (16-byte aligned in the module's own memory). */
  alloc(bytes: number): number;
  /** Frees the current call's scratch. */
  release(): void;
  /** The top of STACK_BYTES the heap sets aside, for good, for the module's stack. */
  stackTop(): number;
}

/** The parts of the wasm backend's Emscripten module the module needs. */
interface BackendModule {
  asm?: { memory?: unknown };
  wasmMemory?: unknown;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

const STACK_BYTES = 65536;

let wino: Exports | null = null;
let heap: Heap | null = null;
/** The module's two builds: plain SIMD, and with fused multiply-adds (relaxed SIMD; null where the engine lacks it). */
let compiled: Promise<{ plain: WebAssembly.Module | null; fma: WebAssembly.Module | null }> | null = null;
/**
 * The instances on `heap`, one per build (fma null where that build is not available), and the
 * native addon's two builds bound to the same memory (null where it is not available, see native.ts).
 */
let instances: {
  plain: Exports;
  fma: Exports | null;
  native: { plain: Exports; fma: Exports } | null;
} | null = null;
let fmaWanted = true;
let nativeWanted = true;
let calls = 0;
let enabled = true;

/**
 * A minimal module holding one f32x4.relaxed_madd: `WebAssembly.validate` of it says whether this
 * engine runs relaxed SIMD (Chrome 114+, Firefox 120+, Node 22+; Node 20 with V8's
 * --experimental-wasm-relaxed-simd, which `initNodeBackend` sets).
 */
// prettier-ignore
export const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // three v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** Whether this engine validates relaxed SIMD (see {@link RELAXED_SIMD_PROBE}). */
export function relaxedSimdAvailable(): boolean {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Uses the module's build with fused multiply-adds (relaxed SIMD's f32x4.relaxed_madd in the
 * matrix products and other multiply-accumulate loops; the default where the engine has relaxed
 * SIMD) or the plain one. A fused multiply-add rounds once where the plain build rounds twice, so
 * results differ from the plain build's by float rounding (relative 1e-7 to 1e-6), and between
 * machines with and without FMA hardware (where the engine may compute it unfused). Takes effect at
 * once when the module is loaded (both builds are instantiated), else at {@link loadWinograd}.
 * Returns whether the fused build is now in use (false where the engine lacks it).
 */
export function setWinogradFma(on: boolean): boolean {
  fmaWanted = on;
  choose();
  return winogradFma();
}

/**
 * Uses the native build of the kernels (Node, where scripts/build-native.mjs built them for this
 * processor: see native.ts; the default there) or the WebAssembly module. Both give the same bits;
 * the native one runs with the processor's full vector width. Returns whether native is now in use.
 */
export function setWinogradNative(on: boolean): boolean {
  nativeWanted = on;
  choose();
  return winogradNative();
}

/** Whether the kernels in use are the native build. */
export function winogradNative(): boolean {
  const n = instances?.native;
  return wino !== null && !!n && (wino === n.plain || wino === n.fma);
}

/** Picks the build the settings ask for among those loaded. */
function choose(): void {
  if (!instances) return;
  const { plain, fma, native } = instances;
  const useFma = fmaWanted && fma !== null;
  const next = nativeWanted && native ? (useFma ? native.fma : native.plain) : useFma ? fma : plain;
  // The transform cache holds the module's own results: start afresh with the other build.
  if (next !== wino) transforms.length = 0;
  wino = next;
}

/** Whether the module in use is the build with fused multiply-adds. */
export function winogradFma(): boolean {
  return wino !== null && (instances?.fma === wino || instances?.native?.fma === wino);
}

/** How many kernels (convolutions, pool gradients) the module has computed in this thread (for tests and benchmarks). */
export function winogradCalls(): number {
  return calls;
}

/** Tiles per block in winograd.c: TB for F(2x2, 3x3), TB4 for F(4x4, 3x3). */
const TILES_PER_BLOCK = 32;
const TILES_PER_BLOCK_4 = 16;
/** Floats in F(4x4)'s filter transform of [3, 3, c, k] (winograd.c's LDU4 and POINT4: padded rows and points). */
const transform4Floats = (c: number, k: number) => 36 * (c * (k + 4) + POINT_PAD);
/** Floats between the filter gradient's point rows in winograd.c (PAD). */
const POINT_PAD = 16;

function bytes(base64: string): Uint8Array {
  const s = atob(base64);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** The wasm backend's memory and allocator, when `backend` is one that shows them (not shared). */
function backendHeap(backend: unknown): Heap | null {
  const mod = (backend as { wasm?: BackendModule } | undefined)?.wasm;
  const memory = mod?.asm?.memory ?? mod?.wasmMemory;
  if (!mod || !(memory instanceof WebAssembly.Memory) || typeof mod._malloc !== 'function') return null;
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) return null;
  const taken: number[] = [];
  return {
    memory,
    inPlace: true,
    // Emscripten's _malloc returns an i32: a block above 2 GiB of the heap (which grows to 4 GiB)
    // comes back negative, so `>>> 0` (as tfjs-backend-wasm does for its own buffers).
    alloc(n) {
      const p = mod._malloc(Math.max(n, 1)) >>> 0;
      if (!p) throw new Error(`the wasm backend could not allocate ${n} bytes`);
      taken.push(p);
      return p;
    },
    release() {
      for (const p of taken.splice(0)) mod._free(p);
    },
    stackTop() {
      const p = mod._malloc(STACK_BYTES) >>> 0;
      if (!p) throw new Error('the wasm backend could not allocate a stack');
      return ((p + STACK_BYTES) & ~15) >>> 0;
    },
  };
}

/** A memory of the module's own: the stack below STACK_BYTES, each call's scratch above it. */
function ownHeap(): Heap {
  const memory = new WebAssembly.Memory({ initial: 2 });
  let top = STACK_BYTES;
  return {
    memory,
    inPlace: false,
    alloc(n) {
      const p = ((top + 15) & ~15) >>> 0;
      const have = memory.buffer.byteLength;
      if (p + n > have) memory.grow(Math.ceil((p + n - have) / 65536));
      top = p + n;
      return p;
    },
    release() {
      top = STACK_BYTES;
    },
    stackTop: () => STACK_BYTES,
  };
}

/**
 * Compiles the module (once) and instantiates it on the memory of `backend` (a wasm backend,
 * `tf.backend()`), or on a memory of its own when the backend's cannot be used, when none is given
 * and the module has none yet, or with `ownMemory` (for tests of the copying path). Resolves to
 * whether the module is usable (false without WebAssembly SIMD). Calling it again for the same
 * memory does nothing.
 */
export async function loadWinograd(backend?: unknown, opts: { ownMemory?: boolean } = {}): Promise<boolean> {
  compiled ??= (async () => {
    const compile = (b64: string) => WebAssembly.compile(bytes(b64) as BufferSource).catch(() => null);
    const plain = await compile(WINOGRAD_WASM_BASE64);
    return { plain, fma: plain && relaxedSimdAvailable() ? await compile(WINOGRAD_WASM_FMA_BASE64) : null };
  })();
  const mods = await compiled;
  if (!mods.plain) return false;
  const shared = opts.ownMemory ? null : backendHeap(backend);
  if (wino && heap) {
    if (shared && heap.memory === shared.memory) return true;
    if (!shared && (opts.ownMemory ? !heap.inPlace : backend === undefined)) return true;
  }
  const h = shared ?? ownHeap();
  const instantiate = async (mod: WebAssembly.Module) => {
    const instance = await WebAssembly.instantiate(mod, { env: { memory: h.memory } });
    const x = instance.exports as unknown as Exports;
    // The stack (winograd.c's few locals that do not fit in registers) in memory set aside for it.
    x.__stack_pointer.value = h.stackTop();
    return x;
  };
  const plain = await instantiate(mods.plain);
  const fma = mods.fma ? await instantiate(mods.fma) : null;
  const addons = nativeAddons();
  let native: { plain: Exports; fma: Exports } | null = null;
  try {
    if (addons)
      native = {
        plain: bindNative(addons.plain, h.memory, plain),
        fma: bindNative(addons.fma, h.memory, plain),
      };
  } catch (e) {
    // An addon without one of the module's functions (a build of older sources): the module runs.
    nativeUnusable((e as Error).message);
  }
  instances = { plain, fma, native };
  heap = h;
  transforms.length = 0;
  wino = null;
  choose();
  return true;
}

/** Whether {@link loadWinograd} has finished and the module works here (and is not switched off). */
export function winogradReady(): boolean {
  return wino !== null && enabled;
}

/**
 * Switches the module off (the kernels take their fallbacks: stock XNNPACK, or JavaScript for
 * MaxPoolGrad) or on again, for tests and benchmarks that compare both paths.
 */
export function setWinogradEnabled(on: boolean): void {
  enabled = on;
}

/** The shapes the module computes: 3x3 filter, channels in multiples of 4 (in) and 8 (out). */
export function winogradFits(c: number, k: number): boolean {
  return c > 0 && k > 0 && c % 4 === 0 && k % 8 === 0;
}

/**
 * Whether a convolution's geometry is the one the module computes: a 3x3 filter, stride 1, no
 * dilation, one pixel of zero padding on every side, so the output has the input's size.
 */
export function isSame3x3(info: {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  padInfo: { top: number; bottom: number; left: number; right: number };
}): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top === 1 &&
    p.bottom === 1 &&
    p.left === 1 &&
    p.right === 1 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth
  );
}

/** The activations {@link conv3x3} can apply after the bias (FusedConv2D's, but prelu and the rest). */
export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'leakyrelu'] as const;

/**
 * What a convolution applies to its outputs, in this order: a bias [k] added to every output pixel;
 * batch normalisation with given statistics (`bn`: per channel the mean m, scale s, r = sqrt(variance +
 * epsilon) and offset o: o + ((v - m) * s) / r, as `FusedBatchNorm`); a residual of the output's size
 * added (as `Add`); then an activation (leaky ReLU with slope `alpha`). The same operations in the
 * same order as the separate kernels, so the same bits; applied to each block of outputs as soon as
 * it is written, while it is in cache (src/engine/kernels/epilogue.h).
 */
export interface Epilogue {
  bias?: Float32Array;
  bn?: { m: Float32Array; s: Float32Array; r: Float32Array; o: Float32Array };
  residual?: Float32Array;
  activation: (typeof ACTIVATIONS)[number];
  alpha?: number;
}

/** Whether an epilogue changes anything (a linear one without bias, batch norm or residual does not). */
export function epilogueActs(e: Epilogue | null | undefined): e is Epilogue {
  return e != null && (e.bias != null || e.bn != null || e.residual != null || e.activation !== 'linear');
}

/** The arrays of an epilogue, in the order {@link writeEpilogue} takes their pointers. */
export function epilogueArrays(e: Epilogue | undefined): Float32Array[] {
  if (!e) return [];
  const a: Float32Array[] = [];
  if (e.bias) a.push(e.bias);
  if (e.bn) a.push(e.bn.m, e.bn.s, e.bn.r, e.bn.o);
  if (e.residual) a.push(e.residual);
  return a;
}

/** Bytes of the module's epi_t (epilogue.h). */
export const EPILOGUE_BYTES = 32;

/**
 * Writes the module's epi_t for `e` at byte `at` of the heap (scratch of {@link EPILOGUE_BYTES}),
 * given the pointers of {@link epilogueArrays}(e) in that order; returns `at`.
 */
export function writeEpilogue(e: Epilogue, ptrs: number[], at: number): number {
  const v = new Int32Array(heap!.memory.buffer, at, 8);
  let i = 0;
  v[0] = e.bias ? ptrs[i++] : 0;
  for (let j = 1; j <= 4; j++) v[j] = e.bn ? ptrs[i++] : 0;
  v[5] = e.residual ? ptrs[i++] : 0;
  v[6] = ACTIVATIONS.indexOf(e.activation);
  new Float32Array(heap!.memory.buffer, at, 8)[7] = e.alpha ?? 0;
  return at;
}

/** Checks an epilogue's sizes against an output of `pixels` x `k` values. */
export function checkEpilogue(what: string, e: Epilogue, pixels: number, k: number): void {
  if (k % 4 !== 0) throw new Error(`${what}: an epilogue needs k a multiple of 4`);
  if (e.bias && e.bias.length !== k) throw new Error(`${what}: the bias needs one value per output channel`);
  if (e.bn && [e.bn.m, e.bn.s, e.bn.r, e.bn.o].some((a) => a.length !== k))
    throw new Error(`${what}: batch norm needs one value per output channel`);
  if (e.residual && e.residual.length !== pixels * k)
    throw new Error(`${what}: the residual differs from the output in size`);
  if (ACTIVATIONS.indexOf(e.activation) < 0) throw new Error(`${what}: unknown activation ${e.activation}`);
}

/** An epilogue applied to y [pixels, k] in place, as a pass of its own. */
export function epilogueModule(y: Float32Array, k: number, e: Epilogue): void {
  const pixels = y.length / k;
  checkEpilogue('epilogueModule', e, pixels, k);
  const arrays = epilogueArrays(e);
  // y in and out: the same pointer where it is the backend's memory (in place), else copied both ways.
  callModule('epilogueModule', [...arrays, y], [y], [EPILOGUE_BYTES], (m, p, [ep]) =>
    m.epilogue(
      p[arrays.length],
      p[arrays.length + 1],
      pixels,
      k,
      writeEpilogue(e, p.slice(0, arrays.length), ep),
    ),
  );
}

/** dst [pixels, to] = the first `to` channels of each pixel of src [pixels, from] (to <= from). */
export function takeChannelsModule(src: Float32Array, from: number, dst: Float32Array, to: number): void {
  const pixels = src.length / from;
  if (!(to > 0 && to <= from) || !Number.isInteger(pixels) || dst.length !== pixels * to)
    throw new Error(
      `takeChannelsModule: ${src.length} values of ${from} channels into ${dst.length} of ${to}`,
    );
  callModule('takeChannelsModule', [src], [dst], [], (m, [sp, dp]) =>
    m.take_channels(sp, dp, pixels, from, to),
  );
}

/**
 * The gradient of an epilogue with batch norm (and no bias) for an input gradient, in one pass over
 * dy [pixels, k]: g = dy through the activation (read from the epilogue's output y: ReLU dy * step(y),
 * leaky ReLU (alpha > 0) y > 0 ? dy : dy * alpha), g into `dv` when given (the residual's gradient), and
 * dz = (g * ri) * s (ri = 1 / sqrt(variance + epsilon) per channel, s the scale): the bits of the
 * separate ReLU and batch-norm gradients.
 */
export function epilogueGradModule(
  dy: Float32Array,
  y: Float32Array,
  ri: Float32Array,
  s: Float32Array,
  activation: 'linear' | 'relu' | 'leakyrelu',
  alpha: number,
  dz: Float32Array,
  dv?: Float32Array,
): void {
  const k = ri.length;
  if (
    k === 0 ||
    k % 4 !== 0 ||
    dy.length % k !== 0 ||
    y.length !== dy.length ||
    dz.length !== dy.length ||
    s.length !== k
  )
    throw new Error(
      'epilogueGradModule: dy, y and dz must be whole rows of 4n channels, ri and s one value per channel',
    );
  if (dv && dv.length !== dy.length) throw new Error('epilogueGradModule: dv differs from dy in size');
  if (activation === 'leakyrelu' && !(alpha > 0))
    throw new Error('epilogueGradModule: leaky ReLU needs alpha > 0');
  const act = ACTIVATIONS.indexOf(activation);
  callModule('epilogueGradModule', [dy, y, ri, s], dv ? [dz, dv] : [dz], [], (m, p) =>
    m.epilogue_grad(p[0], p[1], p[2], p[3], dv ? p[5] : 0, p[4], dy.length / k, k, act, alpha),
  );
}

/** The 3x3 'same' convolutions {@link conv3x3} computes: Winograd's, or one channel in or out. */
export function conv3x3Fits(c: number, k: number): boolean {
  return winogradFits(c, k) || (c === 1 && k > 0 && k % 4 === 0) || (k === 1 && c > 0 && c % 4 === 0);
}

/** Whether the module works on the backend's memory in place (else it copies, see the header). */
export function winogradInPlace(): boolean {
  return heap?.inPlace ?? false;
}

/**
 * Calls the module on `ins` and `outs` with `scratch` buffers of the given sizes in bytes: `f` gets
 * the module's exports, the pointers of ins then outs, and those of the scratch. A view of the
 * backend's heap is used in place; its pointer is taken before any allocation, which can grow the
 * heap and so detach the views (their memory stays where it is). Anything else is copied in and out.
 */
export function callModule(
  what: string,
  ins: Float32Array[],
  outs: Float32Array[],
  scratch: number[],
  f: (m: Exports, p: number[], s: number[]) => void,
): void {
  const m = wino;
  const h = heap;
  if (!m || !h) throw new Error(`${what}: the module is not loaded (await loadWinograd() first)`);
  const all = [...ins, ...outs];
  const ptr = all.map((a) => (h.inPlace && a.buffer === h.memory.buffer ? a.byteOffset : -1));
  try {
    const copied = ptr.map((q) => q < 0);
    for (let i = 0; i < all.length; i++) if (copied[i]) ptr[i] = h.alloc(all[i].length * 4);
    const s = scratch.map((n) => h.alloc(n));
    for (let i = 0; i < ins.length; i++) {
      if (copied[i]) new Float32Array(h.memory.buffer, ptr[i], ins[i].length).set(ins[i]);
    }
    f(m, ptr, s);
    for (let j = 0; j < outs.length; j++) {
      const i = ins.length + j;
      if (copied[i]) outs[j].set(new Float32Array(h.memory.buffer, ptr[i], outs[j].length));
    }
  } finally {
    h.release();
  }
  calls++;
}

/**
 * Winograd filter transforms (U = G g G^T per input and output channel) of recent filters, so that a
 * run of convolutions with the same weights (every iteration of an attack: APGD's 100 gradients,
 * Square's 5,000 forward passes) transforms each filter once. An entry is found by the filter's
 * content (compared in full: a mismatch usually shows at the first value), never by identity, so a
 * filter changed in place or freed and reallocated cannot hit a stale entry; the result is the
 * module's own transform, so hits and misses give the same bits. At most {@link transformsKept}
 * entries, the least recently used dropped first. Training, whose filters change every step, misses
 * every time: one compare and one copy of the filter and its transform per call, into the arrays of
 * an entry dropped earlier where one has the sizes (so a training step allocates none).
 */
interface TransformEntry {
  tile: 2 | 4;
  c: number;
  k: number;
  filter: Float32Array;
  u: Float32Array;
}
/**
 * Entries kept: every 3x3 layer of a ResNet-20 input gradient, forward and backward (33 filters: with
 * 16 entries that cycle missed every call, so every attack step transformed and copied all its
 * filters again, 10 MB of new arrays a call). A miss now copies into the arrays of an entry dropped
 * earlier where one has the sizes ({@link setWinogradTransformReuse}), so a training step, which
 * misses every time, allocates none. CPU per call, every thread, the three settings alternated in one
 * process (`node --import tsx bench/transform-cache-cpu.ts --train`, 2026-12-06, three runs): a
 * ResNet-20 training step of 128 images 559, 559, 532 ms with 16 entries and new copies against 531,
 * 536, 494 now (lower in each run); a PGD-7 training step (`--pgd`) 3697, 3550 against 3967, 3446
 * (16 entries reusing arrays: 3537, 3417); the input gradient of 128 or 64 images moved within this
 * machine's noise (390 -> 377, 364 -> 376, 431 -> 414; 208 -> 185, 225 -> 192, 237 -> 219). The
 * reuse is what a step gains (~3-4%); the hits of the longer cache save little measurable (a
 * transform costs far less than its convolution). Results are bit for bit the same.
 */
let transformsKept = 64;

/** Sets how many transforms the cache keeps (64 by default), for benchmarks; returns the previous bound. */
export function setWinogradTransformsKept(n: number): number {
  const was = transformsKept;
  transformsKept = Math.max(1, Math.floor(n));
  for (const e of transforms.splice(transformsKept)) release(e);
  return was;
}
/**
 * At most this many bytes of filters and transforms are kept (a filter and its transform take 100 bytes
 * per input-output channel pair, 180 for F(4x4, 3x3)): the small CNNs' whole networks fit, while a big model such as darknet
 * tiny (up to 1024 x 512 channels, 52 MB a layer) is not cached, so its peak memory does not grow.
 */
const TRANSFORM_BYTES_KEPT = 24 * 1024 * 1024;
const transforms: TransformEntry[] = [];
/** The arrays of dropped entries, for the next entries of their sizes; at most TRANSFORM_BYTES_KEPT bytes. */
const spare: Float32Array[] = [];
let transformHits = 0;
let transformCacheOn = true;

/** Switches the transform cache off (every call transforms its filter) or on, for tests and benchmarks. */
export function setWinogradTransformCache(on: boolean): void {
  transformCacheOn = on;
  if (!on) {
    transforms.length = 0;
    spare.length = 0;
  }
}

let reuseArrays = true;

/** Switches the reuse of dropped entries' arrays on (the default) or off (a new copy per entry), for benchmarks. */
export function setWinogradTransformReuse(on: boolean): void {
  reuseArrays = on;
  if (!on) spare.length = 0;
}

/** A copy of `a` in a spare array of its length if there is one, else in a new one. */
function keep(a: Float32Array): Float32Array {
  const i = reuseArrays ? spare.findIndex((b) => b.length === a.length) : -1;
  if (i < 0) return a.slice();
  const b = spare.splice(i, 1)[0];
  b.set(a);
  return b;
}

/** Gives a dropped entry's arrays to {@link spare}, dropping the oldest spares beyond the byte bound. */
function release(e: TransformEntry): void {
  if (!reuseArrays) return;
  spare.unshift(e.filter, e.u);
  let bytes = 0;
  for (let i = 0; i < spare.length; i++) {
    bytes += spare[i].length * 4;
    if (bytes > TRANSFORM_BYTES_KEPT) {
      spare.length = i;
      break;
    }
  }
}

/** How many convolutions took their filter's transform from the cache (for tests and benchmarks). */
export function winogradTransformHits(): number {
  return transformHits;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  // Bit patterns, not values: -0 and 0 transform alike, but NaNs must compare equal to themselves.
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ia.length; i++) if (ia[i] !== ib[i]) return false;
  return true;
}

/** The cached F(tile x tile) transform of `filter` [3, 3, c, k], or null (a miss). */
function cachedTransform(filter: Float32Array, c: number, k: number, tile: 2 | 4): Float32Array | null {
  for (let i = 0; i < transforms.length; i++) {
    const e = transforms[i];
    if (e.tile !== tile || e.c !== c || e.k !== k || !sameValues(e.filter, filter)) continue;
    if (i > 0) transforms.unshift(...transforms.splice(i, 1));
    transformHits++;
    return e.u;
  }
  return null;
}

/** Keeps copies of `filter` and its transform `u` (views of the heap) as the newest entry. */
function rememberTransform(filter: Float32Array, c: number, k: number, tile: 2 | 4, u: Float32Array): void {
  const bytes = (filter.length + u.length) * 4;
  if (bytes > TRANSFORM_BYTES_KEPT) return;
  // Drop first (the least recently used), so that the new entry can take the dropped arrays.
  let kept = bytes;
  for (let i = 0; i < transforms.length; i++) {
    kept += (transforms[i].filter.length + transforms[i].u.length) * 4;
    if (i + 1 >= transformsKept || kept > TRANSFORM_BYTES_KEPT) {
      for (const e of transforms.splice(i)) release(e);
      break;
    }
  }
  transforms.unshift({ tile, c, k, filter: keep(filter), u: keep(u) });
}

let forcedTile: 2 | 4 | null = null;

/**
 * The Winograd variant {@link conv3x3} uses for x [n, h, w, c] by a [3, 3, c, k] filter: F(4x4, 3x3)
 * where it measured faster than F(2x2, 3x3), else F(2x2). The rule, from CPU time per call of both on
 * the layers of darknet tiny, ResNet-20, cifar-cnn and the MNIST CNN, forward and input gradient
 * (bench/wino-tile-cpu.ts, alternating calls on a loaded 2-core machine, filter transform included):
 *
 * - both sides at least 7 (below); then the map's F(4x4) products (36 per 4x4 tile, edge tiles
 *   whole) are at most 0.81 of F(2x2)'s (16 per 2x2 tile): 0.5625 on 7x7, 8x8, 16x16, 28x28, 32x32,
 *   56x56 and 112x112 maps, 0.73 on 14x14, 0.81 on 9x9 and 10x10, whose last row and column of tiles
 *   are partly padding. Those used to stay with F(2x2) (a cap of 0.6: F2/F4 0.58-0.98 on darknet's
 *   64 <-> 512 at 14x14, 0.9-1.0 on the MNIST CNN's 32 <-> 64), but since the cheaper F(4x4) flags and
 *   transforms (2026-12-07) F(4x4) wins there too (`node --import tsx bench/wino-tile-cpu.ts --only
 *   'x14x|x10x|x9x|x18x'`, 7 alternated pairs, idle machine; F2/F4 forward, input gradient, filter
 *   gradient, filter-transform cache off as in training / on as in attacks): the MNIST CNN's 32 -> 64
 *   at 14x14, batch 64: 1.03, 0.96, 1.17 / 1.16, 1.17, 1.13; darknet's 64 -> 512 at 14x14, batch 8:
 *   1.12, 1.02, 0.98; 16 -> 32 at 14x14, batch 128: 1.13, 1.10, 1.17 / 1.17, 1.12, 1.22; 32 -> 64 at
 *   10x10: 1.10, 1.16, 1.01 / 1.10, 1.11, 1.04; at 9x9: 1.11, 1.12, 1.06; at 18x18, batch 32: 1.15,
 *   1.17, 1.18 / 1.30, 1.22, 1.20;
 * - both sides at least 7: on 7x7 maps every F(4x4) tile crosses the border (the bounds-checked
 *   transforms), which once made F2/F4 0.94-0.99 for the gap CNN's 64 <-> 128 layers at batch 64, but
 *   since the transform and flat-output work of 2026-12-05/06 F(4x4) wins there too (2026-12-06,
 *   `bench/wino-tile-cpu.ts --only x7x`, with and without the transform cache: 64 -> 128 forward 1.40,
 *   128 -> 64 input gradient 1.39, filter gradient 1.27-1.31; 128 -> 128 forward and input gradient
 *   1.57-1.58, filter gradient 1.27-1.31; the gap-CNN zoo's forward of 100 digits 47 -> 34 ms of CPU);
 *   smaller maps (5x5 and below) stay with F(2x2);
 * - at least 64 F(4x4) tiles in the call, so that the 36-point filter transform (2.25x F(2x2)'s) is
 *   spread over enough of them (batch 8 of 7x7 or 4x4 maps at 64 channels: F2/F4 0.5-0.9; on 7x7 the
 *   filter gradient still loses at batch 8, 0.65, and 16, 0.90);
 * - k >= 16 and c >= 8: with 8 outputs (cifar-cnn's colour first layer's input gradient, 32 -> 8 on
 *   32x32) the products are too thin to pay for the bigger transforms (0.91).
 *
 * Where it is chosen, F2/F4 measured 1.0-1.6: e.g. darknet's 16 -> 128 at 56x56 1.05-1.4, 32 -> 256 at
 * 28x28 1.2-1.3, ResNet-20's 32 -> 32 at 16x16 1.3-1.6, cifar-cnn's 128 -> 128 at 8x8 1.2-1.6.
 */
export function winogradTile(n: number, h: number, w: number, c: number, k: number): 2 | 4 {
  const tiles4 = Math.ceil(h / 4) * Math.ceil(w / 4);
  const pays = k >= 16 && c >= 8 && h >= 7 && w >= 7 && n * tiles4 >= 64;
  return pays ? 4 : 2;
}

/** Makes {@link conv3x3} use one Winograd variant (tests and benchmarks), or choose again (null). */
export function forceWinogradTile(tile: 2 | 4 | null): void {
  forcedTile = tile;
}

let f4On = true;
/** Whether the convolution running now is an input gradient's (Conv2DBackpropInput's); see {@link asInputGradient}. */
let inInputGradient = false;
let f4InputGradients = true;

/**
 * Runs `f` (Conv2DBackpropInput's convolution) as an input gradient: there F(4x4, 3x3) is on where
 * {@link winogradTile} picks it (unless {@link setWinogradF4InputGradients}(false)). The reason that
 * keeps F(4x4) off elsewhere does not reach an input gradient: max pooling decides its tied maxima
 * from the forward values, which stay F(2x2)'s, and F(4x4) keeps exact zeros exactly zero (the mask),
 * so FGSM's signs move the same pixels; the gradient's values differ from F(2x2)'s by float rounding.
 */
export function asInputGradient<T>(f: () => T): T {
  const was = inInputGradient;
  inInputGradient = true;
  try {
    return f();
  } finally {
    inInputGradient = was;
  }
}

/** Switches F(4x4, 3x3) in input gradients ({@link asInputGradient}) on (the default) or off. */
export function setWinogradF4InputGradients(on: boolean): void {
  f4InputGradients = on;
}

/**
 * Switches F(4x4, 3x3) in forward convolutions on (the default: {@link conv3x3} takes it where
 * {@link winogradTile} picks it) or off (F(2x2) always). Per layer it measures faster (2026-12-06,
 * `node --import tsx bench/wino-tile-cpu.ts`, CPU time: F2/F4 1.04-1.42 on the layers the rule picks,
 * one exception at 0.88), and whole workloads alternated in one process (`npx tsx bench/f4-forward-ab.ts`,
 * a loaded machine) ran cifar-cnn forward 1.29x, train_step 1.07x, ResNet-20 forward 1.13x, train_step
 * 1.20x, darknet forward 1.24x. It was kept off for a while by a batch-norm ResNet-8 that, trained on
 * 2 workers, ended 7.6e-4 (relative) from the same training in one process (3e-8 with F(2x2)). The
 * cause was not F(4x4): its outputs were within 6e-6 of cpu's in every call of that training, in the
 * workers too, and wrote nothing outside their buffers. The sharded batch norm rounded each worker's
 * moment sums to float32 before adding them, so the workers' inputs to the next convolutions were off
 * by a rounding or two; with F(4x4) in the convolutions that followed, that flipped one ReLU whose
 * input sat within a rounding of zero (one of 31,360 values in a layer; with F(2x2), none), and
 * that one flip moved the step's batch-norm offset gradients by 1-2%. The workers now add float64 sums
 * and round once (batchNormTrain.ts), which makes a sharded step's forward one process's bit for bit;
 * see test/node/parallelTrain.test.ts for why that test takes one step. Outputs whose neighbourhoods
 * are flat (a uniform background) are computed directly in conv4, so equal neighbourhoods give bit-for-bit equal outputs and max-pool ties break as on cpu and in
 * PyTorch (`node --import tsx bench/wino-f4-ties.ts`: the MNIST CNN's image gradient with F(4x4)
 * forced differs from cpu's by 9.3e-7 of its maximum, no sign flipped; before that handling 9% and 264
 * of 6,272 signs). Its rounding is larger than F(2x2)'s (~9e-6 relative at 256 channels, ~2e-6).
 */
export function setWinogradF4(on: boolean): void {
  f4On = on;
}

/**
 * y[n, i, j, o] = sum_{a, b, ch} x[n, i + a - 1, j + b - 1, ch] * filter[a, b, ch, o] (zeros
 * outside the image), then the epilogue: a 3x3, stride-1 'same' convolution of x [n, h, w, c] by
 * filter [3, 3, c, k] into y [n, h, w, k], by Winograd F(2x2, 3x3), or F(4x4, 3x3) where {@link
 * winogradTile} picks it (unless {@link setWinogradF4}(false) switched it off; F(2x2) whenever x or the
 * filter holds a value that is not finite) when the channels
 * fit ({@link winogradFits}), else directly for one input channel (k a multiple of 4) or one output
 * channel (c a multiple of 4). The module must be loaded.
 */
export function conv3x3(
  x: Float32Array,
  shape: readonly [number, number, number, number],
  filter: Float32Array,
  k: number,
  epilogue: Epilogue | undefined,
  y: Float32Array,
  narrow = false,
): void {
  const [n, h, w, c] = shape;
  // `narrow`: Winograd F(2x2) also for output channels a multiple of 4 but not of 8 (a padded filter's:
  // conv2d.ts, paddedOutputs); the products' last four columns then run as gemm_cols4 (gemm.h).
  const narrowFits = narrow && c > 0 && c % 4 === 0 && k % 8 === 4;
  if (!conv3x3Fits(c, k) && !narrowFits) throw new Error(`conv3x3: ${c} -> ${k} channels do not fit`);
  if (x.length !== n * h * w * c || filter.length !== 9 * c * k || y.length !== n * h * w * k)
    throw new Error('conv3x3: input, filter or output size does not match the shape');
  const ep = epilogueActs(epilogue) ? epilogue : undefined;
  if (ep) checkEpilogue('conv3x3', ep, n * h * w, k);
  const wide = winogradFits(c, k) || narrowFits;
  const four =
    wide &&
    !narrowFits &&
    (forcedTile ?? ((inInputGradient ? f4InputGradients : f4On) ? winogradTile(n, h, w, c, k) : 2)) === 4;
  // Scratch: the filter's transform, the blocks' transforms, and (F(4x4)) the filter's tap sums and a
  // byte per pixel; the F(4x4) buffers also serve F(2x2), which conv4 may hand the call back to.
  const work2 = TILES_PER_BLOCK * (16 * (c + k) + 2 * POINT_PAD);
  const work4 = TILES_PER_BLOCK_4 * (36 * (c + k) + 2 * POINT_PAD);
  const scratch = [
    ep ? EPILOGUE_BYTES : 0,
    ...(!wide
      ? []
      : four
        ? [transform4Floats(c, k) * 4, Math.max(work2, work4) * 4, 16 * c * k * 4, n * h * w]
        : [16 * c * k * 4, work2 * 4]),
  ];
  const arrays = epilogueArrays(ep);
  const ins = [x, filter, ...arrays];
  // The filter's transform from an earlier call with the same filter, if any (before any allocation:
  // `filter` may be a view of the heap).
  const known = wide && transformCacheOn ? cachedTransform(filter, c, k, four ? 4 : 2) : null;
  callModule('conv3x3', ins, [y], scratch, (m, p, [epiAt, up, work, sums, flags]) => {
    const [xp, wp] = p;
    const yp = p[p.length - 1];
    const epi = ep ? writeEpilogue(ep, p.slice(2, 2 + arrays.length), epiAt) : 0;
    const filterView = () => new Float32Array(heap!.memory.buffer, wp, 9 * c * k);
    let done = false;
    if (four) {
      const u = new Float32Array(heap!.memory.buffer, up, transform4Floats(c, k));
      let finite = true;
      if (known) u.set(known);
      else if ((finite = m.filter_transform4(wp, up, c, k) === 0))
        rememberTransform(filterView(), c, k, 4, u);
      if (finite) m.tap_sums(wp, sums, c, k, h, w);
      done = finite && m.conv4(xp, up, sums, yp, work, flags, n, h, w, c, k, TILES_PER_BLOCK_4, epi) === 0;
    }
    if (wide && !done) {
      const u = new Float32Array(heap!.memory.buffer, up, 16 * c * k);
      const known2 = four && transformCacheOn ? cachedTransform(filterView(), c, k, 2) : known;
      if (known2) u.set(known2);
      else {
        m.filter_transform(wp, up, c, k);
        rememberTransform(filterView(), c, k, 2, u);
      }
      m.conv(xp, up, yp, work, n, h, w, c, k, epi);
    } else if (!wide) {
      if (c === 1) m.conv_c1(xp, wp, yp, n, h, w, k);
      else m.conv_k1(xp, wp, yp, n, h, w, c);
      if (epi) m.epilogue(yp, yp, n * h * w, k, epi);
    }
  });
}

/** The filter gradients {@link conv3x3FilterGrad} computes: Winograd's channels, or one input channel. */
export function conv3x3FilterGradFits(c: number, k: number): boolean {
  return winogradFits(c, k) || (c === 1 && k > 0 && k % 4 === 0);
}

/**
 * The filter gradient of {@link conv3x3} into dw [3, 3, c, k]: dw[a, b, ch, o] = sum_{n, i, j}
 * x[n, i + a - 1, j + b - 1, ch] * dy[n, i, j, o] (zeros outside the image), for x [n, h, w, c] and
 * dy [n, h, w, k]. Where the channels fit Winograd, as sum over tiles of G^T [(B^T d B) . (A dY A^T)]
 * G (the forward's transforms, transposed); with one input channel (k a multiple of 4), directly.
 */
export function conv3x3FilterGrad(
  x: Float32Array,
  dy: Float32Array,
  shape: readonly [number, number, number, number],
  k: number,
  dw: Float32Array,
): void {
  const [n, h, w, c] = shape;
  if (!conv3x3FilterGradFits(c, k)) throw new Error(`conv3x3FilterGrad: ${c} -> ${k} channels do not fit`);
  if (x.length !== n * h * w * c || dy.length !== n * h * w * k || dw.length !== 9 * c * k)
    throw new Error('conv3x3FilterGrad: input, gradient or output size does not match the shape');
  if (c === 1) {
    callModule('conv3x3FilterGrad', [x, dy], [dw], [], (m, [xp, dyp, dwp]) =>
      m.conv_c1_filter_grad(xp, dyp, dwp, n, h, w, k),
    );
    return;
  }
  // F(4x4)'s transforms (36 products per 4x4 tile against F(2x2)'s 64) where the forward's rule picks
  // them, unless switched off.
  const points = (forcedTile ?? (f4FilterGrad ? winogradTile(n, h, w, c, k) : 2)) === 4 ? 36 : 16;
  const scratch = [points * c * k * 4, points * (TILES_PER_BLOCK * (c + k) + 2 * POINT_PAD) * 4];
  callModule('conv3x3FilterGrad', [x, dy], [dw], scratch, (m, [xp, dyp, dwp], [dup, work]) =>
    points === 36
      ? m.conv_filter_grad4(xp, dyp, dwp, dup, work, n, h, w, c, k)
      : m.conv_filter_grad(xp, dyp, dwp, dup, work, n, h, w, c, k),
  );
}

let f4FilterGrad = true;
/**
 * Switches F(4x4, 3x3)'s transforms in filter gradients ({@link conv3x3FilterGrad}, every training
 * step's 3x3 convolutions) on (the default, where {@link winogradTile} picks them) or off (F(2x2)).
 * Per layer 1.25-1.49x faster by CPU time on darknet, ResNet-20 and cifar-cnn layers (2026-12-06,
 * `node --import tsx bench/wino-tile-cpu.ts --only dw`), a ResNet-20 training step 1.08x by CPU time
 * (`npx tsx bench/f4-forward-ab.ts --filter-grad`); within 3e-6 of cpu's (F(2x2): 4e-7).
 */
export function setWinogradF4FilterGrad(on: boolean): void {
  f4FilterGrad = on;
}

/**
 * out [inner] = sum over the rows of x [outer, inner], in float64, rounded to float32 once; `out64`,
 * when given, gets the float64 sums before that rounding (what data-parallel batch norm adds up over
 * the workers, so that the whole batch's sum is rounded once, as in one process).
 */
export function sumRowsModule(x: Float32Array, inner: number, out: Float32Array, out64?: Float64Array): void {
  if (inner <= 0 || x.length % inner !== 0 || out.length !== inner || (out64 && out64.length !== inner))
    throw new Error('sumRowsModule: x is not a whole number of rows of the output');
  callModule('sumRowsModule', [x], [out], [inner * 8], (m, [xp, op], [acc]) => {
    m.sum_rows(xp, op, acc, x.length / inner, inner);
    out64?.set(new Float64Array(heap!.memory.buffer, acc, inner));
  });
}

/** A max pool's geometry: input [n, h, w, c], output [n, oh, ow, c], window, strides, padding. */
export interface PoolGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
  /** Padding below and right of the image (the module does not need it). */
  bottom: number;
  right: number;
}

/** The window geometry of a convolution or pool as tfjs resolved it (strides, padding, rounding). */
export function windowGeometry(info: tf.backend_util.Conv2DInfo): PoolGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    bottom: info.padInfo.bottom,
    right: info.padInfo.right,
  };
}

function poolArgs(g: PoolGeometry): PoolArgs {
  return [g.n, g.h, g.w, g.c, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.top, g.left];
}

/**
 * The gradient of a max pool with respect to its input x [n, h, w, c], given dy [n, oh, ow, c],
 * into dx [n, h, w, c]: each output's gradient goes to the first maximum of its window (row-major,
 * padding excluded, NaN never a maximum; a window of only NaN and -Infinity sends nothing), summed
 * over windows.
 */
export function maxPoolGradModule(
  x: Float32Array,
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
): void {
  if (x.length !== g.n * g.h * g.w * g.c || dy.length !== g.n * g.oh * g.ow * g.c || dx.length !== x.length)
    throw new Error('maxPoolGradModule: input, gradient or output size does not match the geometry');
  callModule('maxPoolGradModule', [x, dy], [dx], [], (m, [xp, dyp, dxp]) =>
    m.maxpool_grad(xp, dyp, dxp, ...poolArgs(g)),
  );
}

/**
 * Max pooling of x [n, h, w, c] into y [n, oh, ow, c]: the maximum of each window (padding excluded),
 * NaN skipped as on tfjs' cpu backend (a window of only NaN and -Infinity gives -Infinity).
 */
export function maxPoolModule(x: Float32Array, g: PoolGeometry, y: Float32Array): void {
  if (x.length !== g.n * g.h * g.w * g.c || y.length !== g.n * g.oh * g.ow * g.c)
    throw new Error('maxPoolModule: input or output size does not match the geometry');
  callModule('maxPoolModule', [x], [y], [], (m, [xp, yp]) => m.maxpool(xp, yp, ...poolArgs(g)));
}

/**
 * out = sigma * standard normal noise from the 16-word generator state `state` (noise.c's
 * `gauss_noise`; src/engine/noise.ts has the same computation in JavaScript, bit for bit), which is
 * advanced in place.
 */
export function gaussNoiseModule(out: Float32Array, state: Uint32Array, sigma: number): void {
  if (state.length !== 16) throw new Error('gaussNoiseModule: the state has 16 words');
  callModule('gaussNoiseModule', [], [out], [64], (m, [op], [sp]) => {
    new Uint32Array(heap!.memory.buffer, sp, 16).set(state);
    m.gauss_noise(op, out.length, sp, sigma);
    state.set(new Uint32Array(heap!.memory.buffer, sp, 16));
  });
}

/** ReLU's gradient: out = dy * step(x) (step: 1 above 0, 0 at or below, NaN for NaN), all of one size. */
export function reluGradModule(dy: Float32Array, x: Float32Array, out: Float32Array): void {
  if (dy.length !== x.length || out.length !== x.length)
    throw new Error('reluGradModule: dy, x and the output differ in size');
  callModule('reluGradModule', [dy, x], [out], [], (m, [dyp, xp, op]) => m.relu_grad(dyp, xp, op, x.length));
}

/** out [rows, k] = x [rows, k] + b [k]: a bias added along the last axis. */
export function addBiasModule(x: Float32Array, b: Float32Array, out: Float32Array): void {
  const k = b.length;
  if (k === 0 || x.length % k !== 0 || out.length !== x.length)
    throw new Error('addBiasModule: x is not a whole number of rows of the bias, or the output differs');
  callModule('addBiasModule', [x, b], [out], [], (m, [xp, bp, op]) =>
    m.add_bias(xp, bp, op, x.length / k, k),
  );
}

/**
 * The module's comparison and selection kernels (kernels/compare.ts) on views of the backend's heap
 * (in place only: `false` when the module runs on a memory of its own, and the caller loops itself).
 * greater: out = x > s (a number; `swap`: s > x) or x > y (an array); select: out = c ? t : e.
 */
export function compareModule(
  op:
    | { greater: Float32Array; than: Float32Array | number; swap?: boolean; out: Uint8Array }
    | { select: Uint8Array; t: Float32Array; e: Float32Array; out: Float32Array },
): boolean {
  const h = heap;
  const m = wino;
  if (!m || !h || !h.inPlace) return false;
  const buf = h.memory.buffer;
  const at = (a: ArrayBufferView) => {
    if (a.buffer !== buf) throw new Error('compareModule: an array outside the backend heap');
    return a.byteOffset;
  };
  if ('greater' in op) {
    const n = op.out.length;
    if (typeof op.than === 'number')
      m.greater_scalar(at(op.greater), op.than, at(op.out), n, op.swap ? 1 : 0);
    else m.greater_same(at(op.greater), at(op.than), at(op.out), n);
  } else m.select_f32(at(op.select), at(op.t), at(op.e), at(op.out), op.out.length);
  calls++;
  return true;
}

/**
 * out = maximum (op 'max') or minimum of a and b, float32, as the stock kernels (b where b > a, resp.
 * b < a, else a): equal lengths, or `a` or `b` a single value broadcast (`scalar`).
 */
export function minMaxModule(
  op: 'max' | 'min',
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  scalar: 'a' | 'b' | null,
): void {
  const n = out.length;
  if (
    (scalar === 'a' ? a.length !== 1 : a.length !== n) ||
    (scalar === 'b' ? b.length !== 1 : b.length !== n)
  )
    throw new Error('minMaxModule: operand sizes do not match the output');
  callModule('minMaxModule', [a, b], [out], [], (m, [ap, bp, op_]) =>
    m.min_max(ap, bp, op_, n, op === 'max' ? 0 : 1, scalar === 'a' ? 1 : 0, scalar === 'b' ? 1 : 0),
  );
}

/**
 * out [n, c] = the mean of x [n, p, c] over p, as the stock wasm `Mean` (a float32 sum in order, then a
 * float32 division by p).
 */
export function meanMiddleModule(x: Float32Array, n: number, p: number, c: number, out: Float32Array): void {
  if (x.length !== n * p * c || out.length !== n * c)
    throw new Error('meanMiddleModule: sizes do not match [n, p, c]');
  callModule('meanMiddleModule', [x], [out], [], (m, [xp, op]) => m.mean_middle(xp, op, n, p, c));
}

/** out = sign(x) for float32 (1, -1, or 0 for zeros and NaN). */
export function signModule(x: Float32Array, out: Float32Array): void {
  if (x.length !== out.length) throw new Error('signModule: x and out differ in size');
  callModule('signModule', [x], [out], [], (m, [xp, op]) => m.sign_f32(xp, op, out.length));
}

/** The operations of {@link bcastLastModule}, in the module's numbering. */
export const BCAST_OPS = { add: 0, sub: 1, mul: 2, div: 3 } as const;

/**
 * out [rows, k] = x [rows, k] op b [k] (b along the last axis), or b op x with `swap`: one float32
 * operation per element, the same bit for bit as the stock broadcast.
 */
export function bcastLastModule(
  x: Float32Array,
  b: Float32Array,
  out: Float32Array,
  op: keyof typeof BCAST_OPS,
  swap: boolean,
): void {
  const k = b.length;
  if (k === 0 || x.length % k !== 0 || out.length !== x.length)
    throw new Error('bcastLastModule: x is not a whole number of rows of b, or the output differs');
  callModule('bcastLastModule', [x, b], [out], [], (m, [xp, bp, op2]) =>
    m.bcast_last(xp, bp, op2, x.length / k, k, BCAST_OPS[op], swap ? 1 : 0),
  );
}

/**
 * Batch normalisation, channels last: out = o + ((x - m) * s) / r per channel, for x [rows, k] and
 * m, s, r, o [k] (r = sqrt(variance + epsilon), rounded to float32 by the caller).
 */
export function batchNormModule(
  x: Float32Array,
  m: Float32Array,
  s: Float32Array,
  r: Float32Array,
  o: Float32Array,
  out: Float32Array,
): void {
  const k = m.length;
  if (k === 0 || x.length % k !== 0 || out.length !== x.length || [s, r, o].some((v) => v.length !== k))
    throw new Error(
      'batchNormModule: x is not a whole number of rows of the statistics, or the output differs',
    );
  callModule('batchNormModule', [x, m, s, r, o], [out], [], (mod, [xp, mp, sp, rp, op, yp]) =>
    mod.batch_norm(xp, mp, sp, rp, op, yp, x.length / k, k),
  );
}

/** Leaky ReLU: out = x < 0 ? alpha * x : x, alpha rounded to float32 (NaN stays NaN). */
export function leakyReluModule(x: Float32Array, alpha: number, out: Float32Array): void {
  if (out.length !== x.length) throw new Error('leakyReluModule: x and the output differ in size');
  callModule('leakyReluModule', [x], [out], [], (m, [xp, op]) => m.leaky_relu(xp, op, x.length, alpha));
}

/** Leaky ReLU's gradient: out = x > 0 ? dy : dy * alpha (alpha rounded to float32), all of one size. */
export function leakyReluGradModule(
  dy: Float32Array,
  x: Float32Array,
  alpha: number,
  out: Float32Array,
): void {
  if (dy.length !== x.length || out.length !== x.length)
    throw new Error('leakyReluGradModule: dy, x and the output differ in size');
  callModule('leakyReluGradModule', [dy, x], [out], [], (m, [dyp, xp, op]) =>
    m.leaky_relu_grad(dyp, xp, op, x.length, alpha),
  );
}

/**
 * Batch norm's gradient pass, channels last, for x and dy [rows, k] (k a multiple of 4) and m, r, s [k]
 * (mean, 1 / sqrt(variance + epsilon), scale): dx = (dy * r) * s into `dx`, and into `sums` [2k]
 * sum dy and sum dy * (x - m) over the rows per channel, accumulated in float64.
 */
export function batchNormGradModule(
  x: Float32Array,
  dy: Float32Array,
  m: Float32Array,
  r: Float32Array,
  s: Float32Array,
  dx: Float32Array,
  sums: Float64Array,
): void {
  const k = m.length;
  if (k === 0 || k % 4 !== 0 || x.length % k !== 0 || dy.length !== x.length || dx.length !== x.length)
    throw new Error('batchNormGradModule: x, dy and dx must be whole rows of 4n channels');
  if (r.length !== k || s.length !== k || sums.length !== 2 * k)
    throw new Error('batchNormGradModule: the statistics or the sums do not match the channels');
  const acc = new Float32Array(sums.buffer, sums.byteOffset, 4 * k);
  callModule('batchNormGradModule', [x, dy, m, r, s], [dx, acc], [], (mod, [xp, dyp, mp, rp, sp, dxp, ap]) =>
    mod.bn_grad(xp, dyp, mp, rp, sp, dxp, ap, x.length / k, k),
  );
}

/**
 * Batch norm's input gradient alone, for dy [rows, k] (k a multiple of 4) and r, s [k]: dx = (dy * r) *
 * s, the bits of {@link batchNormGradModule}'s dx, reading neither x nor the mean and summing nothing.
 */
export function batchNormGradDxModule(
  dy: Float32Array,
  r: Float32Array,
  s: Float32Array,
  dx: Float32Array,
): void {
  const k = r.length;
  if (k === 0 || k % 4 !== 0 || dy.length % k !== 0 || dx.length !== dy.length || s.length !== k)
    throw new Error(
      'batchNormGradDxModule: dy and dx must be whole rows of 4n channels, r and s one value per channel',
    );
  callModule('batchNormGradDxModule', [dy, r, s], [dx], [], (mod, [dyp, rp, sp, dxp]) =>
    mod.bn_grad(0, dyp, 0, rp, sp, dxp, 0, dy.length / k, k),
  );
}

/**
 * out [k] = sum over the rows of x [rows, k] of (x - m)^2, the difference and square in float32 and
 * the sum in float64 in {@link sumRowsModule}'s order, rounded to float32 once: the bits of the
 * `Sum` behind `Mean(Square(x - m))`. k a multiple of 4.
 */
export function sqDevSumRowsModule(
  x: Float32Array,
  m: Float32Array,
  out: Float32Array,
  out64?: Float64Array,
): void {
  const k = m.length;
  if (k === 0 || k % 4 !== 0 || x.length % k !== 0 || out.length !== k || (out64 && out64.length !== k))
    throw new Error(
      'sqDevSumRowsModule: x must be whole rows of 4n channels, m and out one value per channel',
    );
  callModule('sqDevSumRowsModule', [x, m], [out], [k * 8], (mod, [xp, mp, op], [acc]) => {
    mod.sq_dev_sum_rows(xp, mp, op, acc, x.length / k, k);
    out64?.set(new Float64Array(heap!.memory.buffer, acc, k));
  });
}

/**
 * Batch norm's training-mode gradient sums over the rows of x, dy [rows, k], in float64: sums [3k]
 * = sum dy, sum dy * (x - m), sum (x - m) (differences and products in float32). k a multiple of 4.
 */
export function bnSumsModule(x: Float32Array, dy: Float32Array, m: Float32Array, sums: Float64Array): void {
  const k = m.length;
  if (k === 0 || k % 4 !== 0 || x.length % k !== 0 || dy.length !== x.length || sums.length !== 3 * k)
    throw new Error('bnSumsModule: x and dy must be whole rows of 4n channels, sums 3 per channel');
  const acc = new Float32Array(sums.buffer, sums.byteOffset, 6 * k);
  callModule('bnSumsModule', [x, dy, m], [acc], [], (mod, [xp, dyp, mp, ap]) =>
    mod.bn_sums(xp, dyp, mp, ap, x.length / k, k),
  );
}

/** dx = (dy * a + (x - m) * b) + c in float32, a, b, c and m one value per channel (k a multiple of 4). */
export function bnTrainDxModule(
  x: Float32Array,
  dy: Float32Array,
  m: Float32Array,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  dx: Float32Array,
): void {
  const k = m.length;
  if (k === 0 || k % 4 !== 0 || x.length % k !== 0 || dy.length !== x.length || dx.length !== x.length)
    throw new Error('bnTrainDxModule: x, dy and dx must be whole rows of 4n channels');
  if (a.length !== k || b.length !== k || c.length !== k)
    throw new Error('bnTrainDxModule: the coefficients must hold one value per channel');
  callModule('bnTrainDxModule', [x, dy, m, a, b, c], [dx], [], (mod, [xp, dyp, mp, ap, bp, cp, dxp]) =>
    mod.bn_train_dx(xp, dyp, mp, ap, bp, cp, dxp, x.length / k, k),
  );
}
