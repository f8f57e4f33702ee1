// Whether a checkout's compiled dist/ is stale: used by bin/advlens.js (run the sources instead) and
// by the pack test (build before packing). `root` is the package's folder as a file URL ending in '/'.
import fs from 'node:fs';

/** Whether src/ exists under `root` and holds a file or folder changed since dist/ was built. */
export function sourcesNewer(root) {
  const src = new URL('src/', root);
  if (!fs.existsSync(src)) return false;
  let built;
  try {
    built = Number(fs.readFileSync(new URL('dist/.build-stamp', root), 'utf8'));
  } catch {
    return true;
  }
  const changed = (p) => {
    try {
      return fs.statSync(p).mtimeMs > built;
    } catch {
      return false; // gone meanwhile (its folder's time tells), or an optional file
    }
  };
  if (!(built > 0) || changed(src)) return true;
  if (['tsconfig.json', 'tsconfig.build.json'].some((f) => changed(new URL(f, root)))) return true;
  // Folders count too: deleting or renaming a file changes its folder's time.
  for (const e of fs.readdirSync(src, { recursive: true, withFileTypes: true }))
    if (changed(`${e.parentPath ?? e.path}/${e.name}`)) return true;
  return false;
}
