/** The TensorFlow.js backends advlens runs on (no TensorFlow.js import: the CLI's options list them). */
export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgl' | 'webgpu';
/** Every backend name `useBackend` accepts. */
export const BACKENDS: BackendName[] = ['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'];
