/** Whether src/ exists under `root` (a file URL ending in '/') and changed since dist/ was built. */
export function librarySourcesNewer(root: URL): boolean;
/** Whether explorer/ exists under `root` and dist/explorer is missing or older than it or than src/. */
export function explorerSourcesNewer(root: URL): boolean;
/** Whether anything dist/ is built from (src/, the compiler options, explorer/) changed since the build. */
export function sourcesNewer(root: URL): boolean;
