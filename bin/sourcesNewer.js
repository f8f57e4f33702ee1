// Whether a checkout's compiled dist/ is stale: used by bin/advlens.js (run the sources instead; rebuild
// the web app before `advlens serve`) and by the pack test (build before packing). `root` is the
// package's folder as a file URL ending in '/'. An installed package has no explorer/ and no
// tsconfig.json (its src/ holds only the C kernels the install hook compiles natively, not the
// TypeScript dist/ is built from), so nothing there is ever stale.
import fs from 'node:fs';

/** The time a stamp file records (ms since the epoch), or 0 when it is missing or unreadable. */
function stamp(url) {
  try {
    const t = Number(fs.readFileSync(url, 'utf8'));
    return t > 0 ? t : 0;
  } catch {
    return 0;
  }
}

/** Whether folder `dir` (a file URL ending in '/'), a file or folder under it, changed after `since`. */
function folderChanged(dir, since) {
  const changed = (p) => {
    try {
      return fs.statSync(p).mtimeMs > since;
    } catch {
      return false; // gone meanwhile (its folder's time tells), or an optional file
    }
  };
  if (!(since > 0) || changed(dir)) return true;
  // Folders count too: deleting or renaming a file changes its folder's time.
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (changed(`${e.parentPath ?? e.path}/${e.name}`)) return true;
  return false;
}

const changedFile = (url, since) => {
  try {
    return fs.statSync(url).mtimeMs > since;
  } catch {
    return false;
  }
};

/** Whether `root` is a checkout (src/ and tsconfig.json) and a file or folder of src/ changed since dist/ was built. */
export function librarySourcesNewer(root) {
  const src = new URL('src/', root);
  if (!fs.existsSync(src) || !fs.existsSync(new URL('tsconfig.json', root))) return false;
  const built = stamp(new URL('dist/.build-stamp', root));
  if (folderChanged(src, built)) return true;
  return ['tsconfig.json', 'tsconfig.build.json'].some((f) => changedFile(new URL(f, root), built));
}

/**
 * Whether explorer/ (the web app's sources) exists under `root` and dist/explorer is older than it or
 * than src/ (the app bundles parts of the library), or missing. The web app's own stamp
 * (dist/explorer/.build-stamp, written when only the app was rebuilt) counts when newer than dist/'s.
 */
export function explorerSourcesNewer(root) {
  const app = new URL('explorer/', root);
  if (!fs.existsSync(app)) return false;
  if (!fs.existsSync(new URL('dist/explorer/index.html', root))) return true;
  const built = Math.max(
    stamp(new URL('dist/.build-stamp', root)),
    stamp(new URL('dist/explorer/.build-stamp', root)),
  );
  if (folderChanged(app, built)) return true;
  const src = new URL('src/', root);
  return fs.existsSync(src) && folderChanged(src, built);
}

/** Whether anything dist/ is built from (src/, the compiler options, explorer/) changed since the build. */
export function sourcesNewer(root) {
  return librarySourcesNewer(root) || explorerSourcesNewer(root);
}
