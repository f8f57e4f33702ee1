/**
 * What a report is made of: a list of files (relative path and content) that a caller writes to a
 * folder (src/node/reportFiles.ts), streams from a server, or zips in a browser. Pictures are
 * encoded by an injected {@link ImageEncoder} (sharp in Node, a canvas in a browser), so the
 * report functions stay browser-safe.
 */

/** One file of a report: a path relative to the report's folder, and its content. */
export interface ReportFile {
  path: string;
  content: string | Uint8Array;
}

/** Encodes pictures for reports; `nodeImageEncoder` (advlens/node) is sharp's. */
export interface ImageEncoder {
  /**
   * Lossless PNG of pixels [H, W, C] (C = 1, 3 or 4): float32 values in [0, 1] (clamped), uint8
   * values in 0-255.
   */
  png(data: Float32Array | Uint8Array, shape: readonly [number, number, number]): Promise<Uint8Array>;
  /**
   * PNG of an RGB picture uint8 [H, W, 3] with an SVG of the same size drawn over it (text labels).
   */
  pngWithSvg(data: Uint8Array, shape: readonly [number, number, 3], svg: string): Promise<Uint8Array>;
}

/** The content of `path` in `files`, or a plain Error naming it when it is not there. */
export function fileContent(files: ReportFile[], path: string): string | Uint8Array {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`report has no file ${path}`);
  return f.content;
}

/** JSON as reports write it: two-space indentation. */
export function jsonFile(path: string, value: unknown): ReportFile {
  return { path, content: JSON.stringify(value, null, 2) };
}
