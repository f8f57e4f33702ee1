/**
 * Vite config of the explorer web app (explorer/): bundles index.html, the TypeScript sources, D3 and
 * the parts of the library they import into `dist/explorer/` (relative asset paths, so the server can
 * serve it under any prefix and a static host can too). No inline script or style: the page runs
 * under a strict Content-Security-Policy. `npm run build` calls this (scripts/build.mjs); by hand:
 * `npx vite build --config explorer/vite.config.ts`, or `npx vite --config explorer/vite.config.ts`
 * to develop against `advlens serve` on port 8080 (the dev server forwards /api to it).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  // The in-browser computation's worker (explorer/src/worker.ts) bundles the library and TensorFlow.js.
  worker: { format: 'es' },
  server: { host: '127.0.0.1', proxy: { '/api': 'http://127.0.0.1:8080' } },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: fileURLToPath(new URL('../dist/explorer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // No module-preload polyfill (an inline-free page either way; modern browsers preload modules).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
