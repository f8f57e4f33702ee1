/**
 * A labelled grid of equal pictures (the `grid.png` of `advlens explain`): cells enlarged by an
 * integer factor (nearest neighbour, crisp pixels), white gaps, row labels on the left and column
 * labels on top. The pixels are composed here ({@link gridPixels}, RGB uint8) and the labels are an
 * SVG of the same size ({@link gridLabelsSvg}) that an {@link ImageEncoder} draws over them.
 */
import { escapeHtml } from './html.ts';

/** Cells are enlarged by an integer factor to about this many pixels. */
const GRID_CELL = 112;
const GRID_GAP = 4;
/** Label text: font size and the width of an average character, in pixels. */
const FONT = 11;
const CHAR_W = 6.6;
const LINE_H = 13;

/** Geometry of a grid: `rows` x `cols` cells of `cell` pixels after a `left` and a `top` label band. */
export interface GridLayout {
  rows: number;
  cols: number;
  zoom: number;
  gap: number;
  /** [height, width] of a cell. */
  cell: [number, number];
  /** Width of the row-label band and height of the column-label band (0 without labels). */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Text broken into lines of at most `max` characters, after spaces and hyphens where it can. */
export function wrapLabel(text: string, max: number): string[] {
  const words = text.split(/(?<=[ -])/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && (cur + w).trimEnd().length > max) {
      lines.push(cur.trimEnd());
      cur = '';
    }
    cur += w;
  }
  if (cur) lines.push(cur.trimEnd());
  return lines.flatMap((l) => (l.length <= max ? [l] : (l.match(new RegExp(`.{1,${max}}`, 'g')) ?? [l])));
}

/**
 * The layout of a grid of `rows` x `cols` pictures of h x w, enlarged to about 112 pixels; with
 * labels, the bands are sized to hold them (row labels up to 28 characters, wrapped column labels).
 */
export function gridLayout(
  rows: number,
  cols: number,
  h: number,
  w: number,
  labels?: { rows: string[][]; cols: string[] },
): GridLayout {
  const zoom = Math.max(1, Math.floor(GRID_CELL / Math.max(h, w)));
  const cell: [number, number] = [h * zoom, w * zoom];
  let left = 0;
  let top = 0;
  if (labels) {
    const longest = Math.max(0, ...labels.rows.flat().map((s) => Math.min(28, s.length)));
    left = longest ? Math.ceil(longest * CHAR_W) + 2 * GRID_GAP : 0;
    const perLine = Math.max(4, Math.floor(cell[1] / CHAR_W));
    const lines = Math.max(0, ...labels.cols.map((c) => wrapLabel(c, perLine).length));
    top = lines ? lines * LINE_H + GRID_GAP : 0;
  }
  return {
    rows,
    cols,
    zoom,
    gap: GRID_GAP,
    cell,
    left,
    top,
    width: left + cols * cell[1] + (cols + 1) * GRID_GAP,
    height: top + rows * cell[0] + (rows + 1) * GRID_GAP,
  };
}

/** A cell's picture: float pixels in [0, 1] (gray or RGB) or uint8 RGB, [h, w, c]. */
export interface GridPicture {
  data: Float32Array | Uint8Array;
  shape: readonly [number, number, number];
}

/** Top-left pixel of cell (r, c). */
function origin(l: GridLayout, r: number, c: number): [number, number] {
  return [l.top + l.gap + r * (l.cell[0] + l.gap), l.left + l.gap + c * (l.cell[1] + l.gap)];
}

/**
 * The grid's pixels, RGB uint8 [height, width, 3] on white: `cells[r][c]` enlarged `zoom` times by
 * repetition (float pixels are clamped to [0, 1] and rounded to 8 bits; gray is copied to R, G, B).
 */
export function gridPixels(cells: GridPicture[][], l: GridLayout): Uint8Array {
  const out = new Uint8Array(l.width * l.height * 3).fill(255);
  for (const [r, row] of cells.entries()) {
    for (const [c, pic] of row.entries()) {
      const [h, w, ch] = pic.shape;
      if (h * l.zoom !== l.cell[0] || w * l.zoom !== l.cell[1])
        throw new Error(`grid cell ${r},${c} is ${h}x${w}, the layout's ${l.cell.join('x')} / ${l.zoom}`);
      const byte = (v: number) =>
        pic.data instanceof Uint8Array ? v : Math.round((v > 1 ? 1 : v > 0 ? v : 0) * 255);
      const [y0, x0] = origin(l, r, c);
      for (let y = 0; y < h * l.zoom; y++) {
        const sy = Math.floor(y / l.zoom);
        for (let x = 0; x < w * l.zoom; x++) {
          const s = (sy * w + Math.floor(x / l.zoom)) * ch;
          const d = ((y0 + y) * l.width + x0 + x) * 3;
          for (let k = 0; k < 3; k++) out[d + k] = byte(pic.data[s + (ch === 1 ? 0 : k)]);
        }
      }
    }
  }
  return out;
}

/**
 * The labels as an SVG of the grid's size on a transparent background: `rows[r]` (one or more
 * lines, right-aligned, centred on the row) and `cols[c]` (wrapped to the cell width, centred).
 */
export function gridLabelsSvg(l: GridLayout, labels: { rows: string[][]; cols: string[] }): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" font-family="DejaVu Sans,Arial,sans-serif" font-size="${FONT}" fill="#222">`,
  ];
  const perLine = Math.max(4, Math.floor(l.cell[1] / CHAR_W));
  const short = (s: string) => (s.length > 28 ? s.slice(0, 27) + '…' : s);
  labels.cols.forEach((text, c) => {
    const lines = wrapLabel(text, perLine);
    const x = origin(l, 0, c)[1] + l.cell[1] / 2;
    lines.forEach((line, i) => {
      const y = l.top - (lines.length - 1 - i) * LINE_H - 4;
      parts.push(`<text x="${x}" y="${y}" text-anchor="middle">${escapeHtml(line)}</text>`);
    });
  });
  labels.rows.forEach((lines, r) => {
    const mid = origin(l, r, 0)[0] + l.cell[0] / 2;
    lines.forEach((line, i) => {
      const y = mid + (i - (lines.length - 1) / 2) * LINE_H + FONT / 3;
      parts.push(
        `<text x="${l.left - 2}" y="${y.toFixed(1)}" text-anchor="end">${escapeHtml(short(line))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
