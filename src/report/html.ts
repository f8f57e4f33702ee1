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

/** An image in a report grid: its relative path, a caption, and whether it shows a wrong prediction (drawn in red). */
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

/** A report page's section: its title and HTML body (already escaped). */
export interface Section {
  title: string;
  html: string;
  /** Anchor of the section (default: from the title). */
  id?: string;
}

/** `Robustness: PGD L-inf` -> `robustness-pgd-l-inf`: an anchor for a title. */
export function slug(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'section'
  );
}

/** A picture in a table cell: crisp pixels, `size` pixels wide, with an optional caption under it. */
export function imageCell(src: string, size: number, caption?: string, wrong = false): { html: string } {
  return {
    html:
      `<img class="px" src="${escapeHtml(src)}" width="${size}" height="${size}" alt="${escapeHtml(caption ?? src)}">` +
      (caption !== undefined ? `<div class="cap${wrong ? ' wrong' : ''}">${escapeHtml(caption)}</div>` : ''),
  };
}

/** Options of {@link reportPage}. */
export interface PageOptions {
  /** A table of contents of the sections under the title (default: with three sections or more). */
  toc?: boolean;
  /** HTML under the title, before the table of contents. */
  intro?: string;
}

/**
 * A whole report page: title, an optional table of contents, the sections, and the provenance
 * (what produced the numbers) folded away in a `<details>` at the end.
 */
export function reportPage(
  title: string,
  sections: Section[],
  provenance: object,
  o: PageOptions = {},
): string {
  const ids = new Set<string>();
  const withIds = sections.map((s) => {
    let id = s.id ?? slug(s.title);
    for (let k = 2; ids.has(id); k++) id = `${s.id ?? slug(s.title)}-${k}`;
    ids.add(id);
    return { ...s, id };
  });
  const toc =
    (o.toc ?? sections.length >= 3)
      ? `<nav class="toc"><strong>Contents</strong><ol>${withIds
          .map((s) => `<li><a href="#${s.id}">${escapeHtml(s.title)}</a></li>`)
          .join('')}<li><a href="#provenance">How these numbers were produced</a></li></ol></nav>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;color:#555}
.grid{display:flex;flex-wrap:wrap;gap:.5rem}figure{margin:0;text-align:center;font-size:12px}
figure img,img.px{image-rendering:pixelated;border:1px solid #ccc;display:block}.wrong{color:#c00;font-weight:600}
.cap{font-size:12px;text-align:center;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}.scroll table td,.scroll table th{white-space:nowrap}
table.pics td,table.pics th{padding:.2rem .3rem;text-align:center;border-bottom:none}
table.pics td:first-child{text-align:right;color:#555;font-size:13px;vertical-align:middle}
.pair{display:flex;gap:2px}
table.maps td,table.maps th{padding:.2rem;text-align:center;font-size:13px}table.maps td{vertical-align:top}table.maps td img+img{margin-top:2px}.scroll table.maps th,.scroll table.pics th{white-space:normal}
table.maps .group{border-left:2px solid #ddd}table.maps td:first-child{text-align:right;vertical-align:middle;word-break:break-all;max-width:9rem}.legend{margin:.3rem 0 1rem;font-size:12px;color:#444}
nav.toc{background:#f7f7f7;border:1px solid #e5e5e5;padding:.5rem 1rem;display:inline-block}
nav.toc ol{margin:.3rem 0 .2rem;padding-left:1.4rem}
details summary{cursor:pointer;color:#444}
pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${o.intro ?? ''}${toc}
${withIds.map((s) => `<h2 id="${s.id}">${escapeHtml(s.title)}</h2>\n${s.html}`).join('\n')}
<h2 id="provenance">How these numbers were produced</h2>
<details><summary>The command, data, models, options, software versions and time (JSON)</summary>
<pre>${escapeHtml(JSON.stringify(provenance, null, 2))}</pre>
</details>
</body></html>
`;
}
