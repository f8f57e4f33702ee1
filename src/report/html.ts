/**
 * HTML reports: small pure functions that return HTML strings. Images are referenced by relative
 * path (the Node adapter writes them beside the page), so a report is a folder that opens anywhere.
 */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A table; numbers are right-aligned. Cells may be pre-rendered HTML via `{ html }`. */
export function htmlTable(
  headers: string[],
  rows: (string | number | { html: string })[][],
  caption?: string,
): string {
  const cell = (v: string | number | { html: string }, tag: 'td' | 'th') => {
    if (typeof v === 'object') return `<${tag}>${v.html}</${tag}>`;
    return typeof v === 'number'
      ? `<${tag} class="num">${Number.isInteger(v) ? v : v.toFixed(4)}</${tag}>`
      : `<${tag}>${escapeHtml(v)}</${tag}>`;
  };
  return [
    '<table>',
    caption ? `<caption>${escapeHtml(caption)}</caption>` : '',
    `<thead><tr>${headers.map((h) => cell(h, 'th')).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

export interface Figure {
  src: string;
  caption: string;
  /** Marks the caption as a mistake (red). */
  wrong?: boolean;
}

/** A grid of small images with captions, drawn with crisp pixels (digits stay sharp when enlarged). */
export function imageGrid(figs: Figure[], size = 84): string {
  return `<div class="grid">${figs
    .map(
      (f) =>
        `<figure><img src="${escapeHtml(f.src)}" width="${size}" height="${size}" alt="${escapeHtml(f.caption)}"><figcaption${f.wrong ? ' class="wrong"' : ''}>${escapeHtml(f.caption)}</figcaption></figure>`,
    )
    .join('')}</div>`;
}

export interface Section {
  title: string;
  html: string;
}

/** A whole report page: title, a provenance block (what produced the numbers) and sections. */
export function reportPage(title: string, sections: Section[], provenance: Record<string, unknown>): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;color:#555}
.grid{display:flex;flex-wrap:wrap;gap:.5rem}figure{margin:0;text-align:center;font-size:12px}
figure img{image-rendering:pixelated;border:1px solid #ccc;display:block}.wrong{color:#c00;font-weight:600}
pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${sections.map((s) => `<h2>${escapeHtml(s.title)}</h2>\n${s.html}`).join('\n')}
<h2>How these numbers were produced</h2>
<pre>${escapeHtml(JSON.stringify(provenance, null, 2))}</pre>
</body></html>
`;
}
