/**
 * Small SVG charts for reports: pure functions returning an SVG string (no DOM), so a report can be
 * written by Node and drawn by the web app alike.
 */
import { escapeHtml } from './html.ts';
import { colorize, type Colormap } from '../explain/display.ts';

/** One line of a chart: its name and its (x, y) points. */
export interface Series {
  name: string;
  points: [number, number][];
  /** Which palette entry draws it (default: its place in the list), so that two charts can match. */
  colorIndex?: number;
}

/** A line chart's axes labels, ranges and size. */
export interface LineChartOptions {
  xLabel: string;
  yLabel: string;
  /** y range; default [0, 1] (accuracy). */
  yRange?: [number, number];
  width?: number;
  height?: number;
  /** Format of y tick labels (default: percent). */
  yFormat?: (v: number) => string;
}

/** Colour-blind-safe palette (Okabe and Ito). */
export const PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#F0E442',
  '#000000',
];

/** Evenly spaced "nice" ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** A line chart with markers, axes, ticks and a legend. */
export function lineChart(series: Series[], o: LineChartOptions): string {
  const W0 = o.width ?? 560;
  const H = o.height ?? 340;
  // The legend's column fits the longest name (about 7 px a character at 12 px).
  const legend = Math.max(0, ...series.map((s) => s.name.length));
  const m = { l: 56, r: Math.max(150, 48 + 7 * legend), t: 16, b: 46 };
  // A wider legend widens the chart, not narrows its plot.
  const W = W0 + m.r - 150;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xLo = Math.min(...xs, 0);
  const xHi = Math.max(...xs, xLo + 1e-9);
  const [yLo, yHi] = o.yRange ?? [0, 1];
  const px = (x: number) => m.l + ((x - xLo) / (xHi - xLo)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - yLo) / (yHi - yLo)) * (H - m.t - m.b);
  const yf = o.yFormat ?? ((v: number) => `${Math.round(v * 100)}%`);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui,sans-serif" font-size="12">`,
  );
  for (const t of niceTicks(yLo, yHi)) {
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${escapeHtml(yf(t))}</text>`,
    );
  }
  for (const t of niceTicks(xLo, xHi)) {
    parts.push(
      `<line x1="${px(t)}" x2="${px(t)}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#333"/>`,
      `<text x="${px(t)}" y="${H - m.b + 17}" text-anchor="middle">${t}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`,
    `<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = s.colorIndex ?? i;
    const col = PALETTE[c % PALETTE.length];
    // Past the palette's 8 colours, lines repeat a colour dashed (the legend shows the dash too).
    const dash = c >= PALETTE.length ? ' stroke-dasharray="6 3"' : '';
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    parts.push(
      `<polyline fill="none" stroke="${col}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      ...pts.map(
        ([x, y]) =>
          `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${col}"><title>${escapeHtml(`${s.name}: ${x} → ${yf(y)}`)}</title></circle>`,
      ),
      `<line x1="${W - m.r + 12}" x2="${W - m.r + 32}" y1="${m.t + 10 + 18 * i}" y2="${m.t + 10 + 18 * i}" stroke="${col}" stroke-width="2"${dash}/>`,
      `<text x="${W - m.r + 38}" y="${m.t + 14 + 18 * i}">${escapeHtml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * A colour-scale legend for saliency maps (an SVG bar with ticks): `abs` maps run from 0 to the
 * display scale (the percentile the maps were divided by; larger values are clipped), `signed`
 * maps from -scale (blue) through 0 (white) to +scale (red).
 */
export function colorLegend(
  colormap: Colormap,
  sign: 'abs' | 'signed',
  o: { width?: number; scaleLabel?: string } = {},
): string {
  const W = o.width ?? 280;
  const bar = { x: 10, y: 4, w: W - 20, h: 12 };
  const stops = 16;
  const lo = sign === 'signed' ? -1 : 0;
  const values = Array.from({ length: stops + 1 }, (_, i) => lo + ((1 - lo) * i) / stops);
  const rgb = colorize(values, colormap);
  const id = `cl-${colormap}-${sign}`;
  const s = o.scaleLabel ?? 'scale';
  const ticks: [number, string][] =
    sign === 'signed'
      ? [
          [0, `−${s}`],
          [0.5, '0'],
          [1, `+${s}`],
        ]
      : [
          [0, '0'],
          [1, `≥ ${s}`],
        ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="36" viewBox="0 0 ${W} 36" font-family="system-ui,sans-serif" font-size="11">`,
    `<defs><linearGradient id="${id}">${values
      .map(
        (_, i) =>
          `<stop offset="${(i / stops).toFixed(4)}" stop-color="rgb(${rgb[i * 3]},${rgb[i * 3 + 1]},${rgb[i * 3 + 2]})"/>`,
      )
      .join('')}</linearGradient></defs>`,
    `<rect x="${bar.x}" y="${bar.y}" width="${bar.w}" height="${bar.h}" fill="url(#${id})" stroke="#999" stroke-width="0.5"/>`,
    ...ticks.map(
      ([t, label]) =>
        `<line x1="${bar.x + t * bar.w}" x2="${bar.x + t * bar.w}" y1="${bar.y + bar.h}" y2="${bar.y + bar.h + 4}" stroke="#333"/>` +
        `<text x="${bar.x + t * bar.w}" y="${bar.y + bar.h + 15}" text-anchor="${t === 0 ? 'start' : t === 1 ? 'end' : 'middle'}">${escapeHtml(label)}</text>`,
    ),
    '</svg>',
  ].join('');
}
