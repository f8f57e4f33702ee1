/**
 * Vite config of the browser test page (test/browser/page), which imports the library's sources.
 * The shipped models are served read-only under /models/ by the dev and preview servers. Open the
 * page by hand with `npx vite --config test/browser/vite.config.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';

const modelsDir = fileURLToPath(new URL('../../models', import.meta.url));

/** Serves GET /models/<folder>/<file> from the repository's models/. */
function serveModels(): Plugin {
  const handler: Connect.NextHandleFunction = (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/models/')) return next();
    const rel = decodeURIComponent(url.pathname.slice('/models/'.length));
    const file = path.resolve(modelsDir, rel);
    // Anything else falls through to Vite, which answers with the page, as a static host of an app does.
    if (!file.startsWith(modelsDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile())
      return next();
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    fs.createReadStream(file).pipe(res);
  };
  return {
    name: 'advlens-models',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('./page', import.meta.url)),
  publicDir: false,
  plugins: [serveModels()],
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
    emptyOutDir: true,
    // The worker bundles all of TensorFlow.js: a few seconds, not worth a warning in the test's output.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  logLevel: 'warn',
});
