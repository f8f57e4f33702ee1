// `npm run build` (also run by `prepare`, so `npm install`/`npm ci` build, and by `pretest`): compiles
// src/ to dist/ (ESM JavaScript, .d.ts types, source maps with the sources inlined) with
// tsconfig.build.json. The output goes to a fresh folder that then replaces dist/ whole, so files of
// deleted sources do not linger and a failed build leaves the previous one in place. The explorer web
// app (explorer/, bundled by Vite) is built into dist/explorer/, which `advlens serve` serves.
// dist/.build-stamp records when the build started; bin/advlens.js compares it with the sources'
// times (see there).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const started = Date.now();
const out = path.join(root, `dist.build-${process.pid}`);
const old = path.join(root, `dist.old-${process.pid}`);
const dist = path.join(root, 'dist');
const tsc = path.join(
  path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
  'bin/tsc',
);

fs.rmSync(out, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  fs.rmSync(out, { recursive: true, force: true });
  console.error(`build failed (tsc exit code ${r.status ?? r.signal}); dist/ left as it was`);
  process.exit(1);
}
try {
  const { build } = await import('vite');
  await build({
    configFile: path.join(root, 'explorer', 'vite.config.ts'),
    build: { outDir: path.join(out, 'explorer') },
    logLevel: 'warn',
  });
} catch (e) {
  fs.rmSync(out, { recursive: true, force: true });
  console.error(`build failed: the explorer (explorer/, Vite): ${e?.message ?? e}; dist/ left as it was`);
  process.exit(1);
}
fs.writeFileSync(path.join(out, '.build-stamp'), `${started}\n`);
if (fs.existsSync(dist)) fs.renameSync(dist, old);
fs.renameSync(out, dist);
fs.rmSync(old, { recursive: true, force: true });
console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
