/**
 * The function index of each export of the project's kernel module (src/engine/kernels/winogradWasm.ts,
 * both builds), read from its export section: perf and V8 name wasm code `wasm-function[N]`, and the
 * module is stripped, so this is how a profile's N becomes a kernel's name (functions that are not
 * exported, such as the transforms that clang did not inline, keep their number). Functions of
 * tfjs-backend-wasm's own module (XNNPACK) share the naming and are not listed.
 *
 *   node --import tsx bench/wasm-exports.ts
 */
import { WINOGRAD_WASM_BASE64, WINOGRAD_WASM_FMA_BASE64 } from '../src/engine/kernels/winogradWasm.ts';

/** (name, function index) of every function export of a wasm binary. */
export function functionExports(bytes: Uint8Array): [string, number][] {
  let at = 8; // magic and version
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return v;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id === 7) {
      const out: [string, number][] = [];
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        const name = new TextDecoder().decode(bytes.subarray(at, at + len));
        at += len;
        const kind = bytes[at++];
        const index = leb();
        if (kind === 0) out.push([name, index]);
      }
      return out;
    }
    at = end;
  }
  return [];
}

const decode = (b64: string) => Uint8Array.from(Buffer.from(b64, 'base64'));
const plain = functionExports(decode(WINOGRAD_WASM_BASE64));
const fma = new Map(functionExports(decode(WINOGRAD_WASM_FMA_BASE64)));
console.log('index  export (plain SIMD build; the fused multiply-add build where its index differs)');
for (const [name, index] of plain.sort((a, b) => a[1] - b[1])) {
  const f = fma.get(name);
  console.log(
    `${String(index).padStart(5)}  ${name}${f !== undefined && f !== index ? ` (fma build: ${f})` : ''}`,
  );
}
