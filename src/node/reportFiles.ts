/**
 * Writing the files a report function returns (src/report/files.ts) to a folder, atomically (the
 * folder is built under a temporary name and swapped in whole: src/node/reportDir.ts), and the
 * Node {@link ImageEncoder} (sharp).
 */
import path from 'node:path';
import sharp from 'sharp';
import type { ImageEncoder, ReportFile } from '../report/files.ts';
import { encodePng } from './image.ts';
import { reportDir } from './reportDir.ts';

/** sharp's {@link ImageEncoder}: lossless PNG, SVG labels rendered by librsvg. */
export const nodeImageEncoder: ImageEncoder = {
  png: async (data, shape) => new Uint8Array(await encodePng(data, shape)),
  pngWithSvg: async (data, shape, svg) => {
    const [h, w] = shape;
    const png = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      .removeAlpha()
      .png()
      .toBuffer();
    return new Uint8Array(png);
  },
};

/**
 * Writes `files` into the folder `dir` (replacing what it held) all or nothing: on an error no
 * half-written folder is left under `dir`. Returns the folder's absolute path.
 */
export function writeReportFiles(dir: string, files: readonly ReportFile[]): string {
  const report = reportDir(dir);
  try {
    for (const f of files) {
      if (path.isAbsolute(f.path) || f.path.split(/[\\/]/).includes('..'))
        throw new Error(`report file ${f.path} is outside the report folder`);
      report.write(f.path, f.content);
    }
  } catch (e) {
    report.abort();
    throw e;
  }
  return report.finish();
}
