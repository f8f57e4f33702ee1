#!/usr/bin/env node
// The charts of an advlens HTML report (a `zoo table --format html` page: ours and the paper's
// accuracy against eps, for example) side by side in one PNG, each under its section's title, for the
// README. Drawn by Debian's chromium through playwright-core (nothing is downloaded).
//
// Usage: node scripts/charts-figure.mjs REPORT.html OUT.png
//   node bin/advlens.js zoo table --zoo cifar10 --table 1 --data-dir ../shared/data --cached --format html --out /tmp/t1.html
//   node scripts/charts-figure.mjs /tmp/t1.html docs/cifar10-table1.png
// ADVLENS_CHROMIUM names another chromium binary (default /usr/bin/chromium).
import fs from 'node:fs';
import path from 'node:path';

const [, , report, out] = process.argv;
if (!report || !out || !out.endsWith('.png')) {
  console.error('usage: node scripts/charts-figure.mjs REPORT.html OUT.png');
  process.exit(2);
}
if (!fs.existsSync(report)) {
  console.error(`charts-figure: no such file: ${report}`);
  process.exit(2);
}
const executablePath = process.env.ADVLENS_CHROMIUM ?? '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  console.error(
    `charts-figure: no ${executablePath}: install Debian's package chromium (apt-get install chromium)`,
  );
  process.exit(2);
}
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1.5 });
  await page.goto('file://' + path.resolve(report));
  // Each chart with the heading of its section, in one row on a white page.
  const n = await page.evaluate(() => {
    const charts = [...document.querySelectorAll('svg')].filter((s) => s.querySelector('polyline'));
    const row = document.createElement('div');
    row.id = 'charts-figure';
    row.style.cssText =
      'display:flex;gap:24px;padding:12px;background:#fff;width:max-content;font-family:system-ui,sans-serif';
    for (const svg of charts) {
      const box = document.createElement('div');
      // The nearest heading before the chart (the report's sections are headings and what follows).
      let heading = null;
      for (let el = svg; el && !heading; el = el.parentElement)
        for (let sib = el.previousElementSibling; sib && !heading; sib = sib.previousElementSibling)
          if (/^H[1-4]$/.test(sib.tagName)) heading = sib;
      const title = document.createElement('div');
      title.textContent = heading?.textContent ?? '';
      title.style.cssText = 'font-weight:600;margin:0 0 6px 8px';
      box.append(title, svg.cloneNode(true));
      row.append(box);
    }
    document.body.replaceChildren(row);
    return charts.length;
  });
  if (n === 0) {
    console.error(`charts-figure: ${report} has no line charts`);
    process.exitCode = 2;
  } else {
    await page.locator('#charts-figure').screenshot({ path: out });
    console.log(`charts-figure: ${n} chart(s) -> ${out}`);
  }
} finally {
  await browser.close();
}
