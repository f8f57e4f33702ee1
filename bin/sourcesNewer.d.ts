/** Whether src/ exists under `root` (a file URL ending in '/') and changed since dist/ was built. */
export function sourcesNewer(root: URL): boolean;
