/**
 * advlens's own version: `version` of package.json, written here rather than imported so the core
 * needs no JSON import (browser bundlers and the compiled package alike), in a module of its own so
 * that `advlens --version` loads nothing else; test/package/version.test.ts keeps the two equal.
 */
export const VERSION: string = '0.1.0';
