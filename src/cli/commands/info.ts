import type { Command } from 'commander';
import os from 'node:os';
import { engineInfo } from '../../engine/backend.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';

/** `advlens info`: the engine in use (backend, tfjs version, SIMD, threads, registered kernels). */
export function registerInfo(self: Command, program: Command): void {
  self.option('--json', 'machine-readable output').action(async (o: { json?: boolean }) => {
    await setup(program);
    const info = {
      ...engineInfo(),
      versions: versions(),
      cpus: os.availableParallelism(),
      platform: `${os.platform()}-${os.arch()}`,
    };
    if (o.json) {
      process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      return;
    }
    const yn = (v: boolean | null) => (v === null ? 'n/a' : v ? 'yes' : 'no');
    process.stdout.write(
      [
        `advlens ${info.versions.advlens} on Node ${info.versions.node} (${info.platform}, ${info.cpus} cores)`,
        `backend:    ${info.backend}`,
        `tfjs:       ${info.tfjsVersion}`,
        `SIMD:       ${yn(info.simd)}`,
        `threads:    ${yn(info.threads)}`,
        `registered: ${info.registeredKernels.length ? info.registeredKernels.join(', ') : '(none)'}`,
        `module:     ${info.moduleKernels ?? 'n/a'} (advlens' WebAssembly kernels)`,
      ].join('\n') + '\n',
    );
  });
}
