/**
 * The explorer page: one or two panes (a two-model comparison) of the layered pathways graph, Bluff's
 * controls shared by the panes, the neuron detail, static mode (a folder picked in the browser or
 * `?static=<url>`, repeatable for a comparison) and live mode (live.ts). The URL keeps the state
 * (strengths, compare, show, highlight, pins, selected neuron, and the live job's inputs), so a view
 * can be shared. `window.advlensExplorer` exposes the state to the browser tests.
 */
import { PathwaysGraph, type GraphState, type Node, type ShowMode, type CompareEdges } from './graph.ts';
import { showDetail } from './detail.ts';
import { DataError, loadFromFiles, loadFromUrl, type Loaded } from './data.ts';
import { HIGHLIGHT_MEASURES, type HighlightMeasure } from '../../src/pathways/highlight.ts';
import { startLive } from './live.ts';
import { startLocal } from './local.ts';
import { comparePathways } from '../../src/pathways/compare.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Pane {
  loaded: Loaded;
  graph: PathwaysGraph;
  el: HTMLElement;
}

const state: GraphState & { selected: string | null; pane: number } = {
  strength: 0,
  compare: null,
  compareEdges: 'either',
  show: 'full',
  measure: 'activated',
  neurons: 0.2,
  edges: 0.3,
  pinned: new Set(),
  selected: null,
  pane: 0,
};
let panes: Pane[] = [];
const strengthListeners: ((s: number) => void)[] = [];
let staticUrls: string[] = [];

/** Shows a message a person understands in the page (null: hides it). */
export function showError(message: string | null): void {
  const el = $('error');
  el.hidden = !message;
  el.textContent = message ?? '';
}

const strengths = () => panes[0]?.loaded.result.attack.strengths ?? [];
const strengthText = (i: number) => {
  const r = panes[0]?.loaded.result;
  if (!r) return '';
  if (i < 0) return 'benign (no attack)';
  const s = r.success[i];
  return `${r.attack.strengths[i]}: ${s.succeeded}/${s.attempted} reached ${r.target.label}${s.kept !== s.succeeded ? `, ${s.kept} kept` : ''}`;
};

/** Redraws every pane; returns the slowest pane's milliseconds. */
function redraw(): number {
  let ms = 0;
  for (const p of panes) ms = Math.max(ms, p.graph.update(state));
  const s = $<HTMLInputElement>('strength');
  s.value = String(state.strength);
  $('strength-label').textContent = `strength ${strengthText(state.strength)}`;
  $('compare-box').hidden = !state.compare;
  s.disabled = !!state.compare;
  if (state.compare) {
    $<HTMLInputElement>('weak').value = String(state.compare[0]);
    $<HTMLInputElement>('strong').value = String(state.compare[1]);
    $('compare-label').textContent =
      `weaker ${strengthText(state.compare[0])}; stronger ${strengthText(state.compare[1])}`;
  }
  const c = panes[0]?.graph.counts();
  $('status').textContent = c
    ? `${c.neurons} neurons shown, ${c.highlighted} highlighted, ${c.edges} edges; redrawn in ${ms.toFixed(1)} ms`
    : '';
  renderDetail();
  writeUrl();
  for (const f of strengthListeners) f(state.compare ? state.compare[1] : state.strength);
  return ms;
}

function renderDetail(): void {
  const el = $('detail');
  const p = panes[state.pane] ?? panes[0];
  const n = state.selected ? p?.graph.node(state.selected) : undefined;
  if (!p || !n) {
    el.innerHTML = '';
    const q = document.createElement('p');
    q.className = 'muted';
    q.textContent = 'Hover a neuron to trace its edges; click it to pin it and see its detail here.';
    el.append(q);
    return;
  }
  showDetail(
    el,
    p.loaded.result,
    n,
    state.compare ? state.compare[1] : state.strength,
    p.loaded.pictures(n.key),
    p.loaded.livePictures?.(n.key),
  );
}

const tooltip = () => $('tooltip');
function hover(pane: Pane, n: Node | null, ev?: MouseEvent): void {
  const t = tooltip();
  if (!n || !ev) {
    t.hidden = true;
    return;
  }
  const r = pane.loaded.result;
  const set = r.neurons[n.layer];
  const s = state.compare ? state.compare[1] : state.strength;
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toPrecision(3));
  t.textContent = `${n.layer}:${n.channel} (${n.group}) original ${f(set.original.median[n.channel])}, target ${f(set.target.median[n.channel])}${s >= 0 ? `, attacked ${f(set.attacked[s].median[n.channel])}` : ''}`;
  t.hidden = false;
  t.style.left = `${ev.clientX + 14}px`;
  t.style.top = `${ev.clientY + 10}px`;
}

function click(pane: Pane, n: Node): void {
  if (state.pinned.has(n.key)) state.pinned.delete(n.key);
  else state.pinned.add(n.key);
  state.selected = n.key;
  state.pane = Math.max(0, panes.indexOf(pane));
  redraw();
}

/** Two models or more: per layer, how many neurons the attack exploits and how vulnerable they are. */
function renderComparison(list: Loaded[]): void {
  const el = $('comparison');
  el.innerHTML = '';
  el.hidden = list.length < 2;
  if (list.length < 2) return;
  const rows = comparePathways(list.map((l, i) => ({ name: l.model ?? `model ${i + 1}`, result: l.result })));
  const h = document.createElement('h3');
  h.textContent =
    'Two models: neurons the attack exploits per layer, and their vulnerability (mean over the exploited)';
  const t = document.createElement('table');
  t.className = 'values compare-table';
  const head = t.insertRow();
  for (const c of ['layer', ...rows.flatMap((m) => [`${m.name} exploited`, `${m.name} vulnerability`])]) {
    const th = document.createElement('th');
    th.textContent = c;
    head.append(th);
  }
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
  rows[0].layers.forEach((l, i) => {
    const tr = t.insertRow();
    tr.insertCell().textContent = l.layer;
    for (const m of rows) {
      const x = m.layers[i];
      tr.insertCell().textContent = x ? String(x.exploited) : '-';
      tr.insertCell().textContent = x ? f(x.exploitedVulnerability) : '-';
    }
  });
  const s = t.insertRow();
  s.insertCell().textContent = 'reached the target';
  for (const m of rows) {
    const c = s.insertCell();
    c.colSpan = 2;
    c.textContent = m.success.map((v) => `${Math.round(v * 100)}%`).join(' ');
  }
  el.append(h, t);
}

/** Shows loaded results, one pane each (two: a two-model comparison). */
export function setResults(list: Loaded[], keepState = false): void {
  const host = $('panes');
  host.innerHTML = '';
  panes = list.map((loaded) => {
    const el = document.createElement('div');
    el.className = 'pane';
    const h = document.createElement('h2');
    const r = loaded.result;
    h.textContent = `${loaded.model ?? ''} ${r.original.label} → ${r.target.label} (${r.attack.name})`.trim();
    const summary = document.createElement('div');
    summary.className = 'summary muted';
    const rests =
      r.target.source === 'images'
        ? `${r.target.images} target images`
        : r.target.source === 'none'
          ? 'no target images and no attacked image reached the target: the target group is empty'
          : `no target images: the target group rests on the attacked images that reached ${r.target.label} at strength ${r.target.source.attackedAt}`;
    summary.textContent = `${r.original.images} original images, ${rests}; reached the target: ${r.success.map((s) => `${s.succeeded}/${s.attempted}`).join(' ')}`;
    el.append(h, summary);
    host.append(el);
    const pane: Pane = { loaded, el, graph: null as unknown as PathwaysGraph };
    pane.graph = new PathwaysGraph(el, {
      hover: (n, ev) => hover(pane, n, ev),
      click: (n) => click(pane, n),
    });
    pane.graph.setResult(r);
    return pane;
  });
  const S = strengths().length;
  for (const id of ['strength', 'weak', 'strong']) $<HTMLInputElement>(id).max = String(S - 1);
  if (!keepState || state.strength >= S) {
    const first = list[0]?.result.success.findIndex((s) => s.kept > 0) ?? 0;
    state.strength = keepState ? S - 1 : first < 0 ? S - 1 : first;
  }
  if (state.compare && (state.compare[0] >= S || state.compare[1] >= S)) state.compare = null;
  renderComparison(list);
  $('source').textContent = list.map((l) => l.source).join(' | ');
  for (const id of ['export-png', 'export-json']) $<HTMLButtonElement>(id).disabled = list.length === 0;
  redraw();
}

/** Keeps the live results' partial pathways updating without losing the user's strength. */
export function updateResults(list: Loaded[]): void {
  setResults(list, true);
}

// ---- URL state ---------------------------------------------------------------------------------

let liveParams: Record<string, string> = {};
/** The live mode's own URL parameters (model, images, classes, attack, strengths...). */
export function setLiveParams(p: Record<string, string>): void {
  liveParams = p;
  writeUrl();
}

function writeUrl(): void {
  const q = new URLSearchParams();
  for (const u of staticUrls) q.append('static', u);
  for (const [k, v] of Object.entries(liveParams)) q.set(k, v);
  q.set('s', String(state.strength));
  if (state.compare) q.set('cmp', state.compare.join(','));
  if (state.compare && state.compareEdges !== 'either') q.set('ce', state.compareEdges);
  if (state.show !== 'full') q.set('show', state.show);
  if (state.measure !== 'activated') q.set('m', state.measure);
  if (state.neurons !== 0.2) q.set('n', String(Math.round(state.neurons * 100)));
  if (state.edges !== 0.3) q.set('e', String(Math.round(state.edges * 100)));
  if (state.pinned.size) q.set('pin', [...state.pinned].join(','));
  if (state.selected) q.set('sel', state.selected);
  if (state.pane) q.set('pane', String(state.pane));
  history.replaceState(null, '', `${location.pathname}?${q}`);
}

function readUrl(q: URLSearchParams): void {
  const int = (v: string | null, d: number) => (v !== null && /^-?\d+$/.test(v) ? Number(v) : d);
  state.strength = int(q.get('s'), state.strength);
  const cmp = q.get('cmp')?.split(',').map(Number);
  state.compare = cmp && cmp.length === 2 && cmp.every(Number.isInteger) ? [cmp[0], cmp[1]] : null;
  const ce = q.get('ce');
  if (ce === 'weaker' || ce === 'stronger') state.compareEdges = ce;
  const show = q.get('show');
  if (show === 'pinned' || show === 'highlighted') state.show = show;
  const m = q.get('m');
  if (m && (HIGHLIGHT_MEASURES as string[]).includes(m)) state.measure = m as HighlightMeasure;
  state.neurons = Math.min(100, Math.max(1, int(q.get('n'), 20))) / 100;
  state.edges = Math.min(100, Math.max(1, int(q.get('e'), 30))) / 100;
  state.pinned = new Set(q.get('pin')?.split(',').filter(Boolean) ?? []);
  state.selected = q.get('sel');
  state.pane = int(q.get('pane'), 0);
  syncControls();
}

function syncControls(): void {
  $<HTMLInputElement>('compare').checked = !!state.compare;
  $<HTMLSelectElement>('compare-edges').value = state.compareEdges;
  for (const el of document.querySelectorAll<HTMLInputElement>('input[name=show]'))
    el.checked = el.value === state.show;
  $<HTMLSelectElement>('measure').value = state.measure;
  $<HTMLInputElement>('neurons').value = String(Math.round(state.neurons * 100));
  $('neurons-out').textContent = String(Math.round(state.neurons * 100));
  $<HTMLInputElement>('edges').value = String(Math.round(state.edges * 100));
  $('edges-out').textContent = String(Math.round(state.edges * 100));
}

// ---- export ------------------------------------------------------------------------------------

function download(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The current view as JSON: the state, and per pane the highlighted neurons and edges behind it. */
export function viewJson(): object {
  return {
    format: 'advlens-explorer-view/1',
    url: location.href,
    state: { ...state, pinned: [...state.pinned] },
    panes: panes.map((p) => ({
      source: p.loaded.source,
      provenance: p.loaded.provenance,
      original: p.loaded.result.original,
      target: p.loaded.result.target,
      attack: p.loaded.result.attack,
      success: p.loaded.result.success,
      view: p.graph.view,
      weakerView: p.graph.weakView,
    })),
  };
}

/** The graphs as one PNG (drawn side by side at twice their size). */
async function exportPng(): Promise<void> {
  const imgs = await Promise.all(
    panes.map(async (p) => {
      // The grey web below and the graph above, as one SVG, unzoomed.
      const svg = p.graph.svg.node()!.cloneNode(true) as SVGSVGElement;
      svg.querySelector('g.zoom')?.removeAttribute('transform');
      const web = p.graph.bgSvg.node()!.querySelector('path.all-edges');
      if (web && p.graph.bgSvg.attr('display') !== 'none')
        svg.insertBefore(web.cloneNode(true), svg.firstChild);
      svg.setAttribute('width', String(p.graph.width));
      svg.setAttribute('height', String(p.graph.height));
      const url = URL.createObjectURL(
        new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }),
      );
      const img = new Image();
      img.src = url;
      await img.decode();
      URL.revokeObjectURL(url);
      return { img, w: p.graph.width, h: p.graph.height };
    }),
  );
  const k = 2;
  const canvas = document.createElement('canvas');
  canvas.width = k * imgs.reduce((s, i) => s + i.w, 0);
  canvas.height = k * Math.max(...imgs.map((i) => i.h));
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let x = 0;
  for (const i of imgs) {
    ctx.drawImage(i.img, x, 0, k * i.w, k * i.h);
    x += k * i.w;
  }
  const blob = await new Promise<Blob | null>((res) => canvas.toBlob(res, 'image/png'));
  if (blob) download(blob, 'advlens-pathways.png');
}

// ---- wiring ------------------------------------------------------------------------------------

function wire(): void {
  $<HTMLInputElement>('strength').addEventListener('input', (e) => {
    state.strength = Number((e.target as HTMLInputElement).value);
    redraw();
  });
  $<HTMLInputElement>('compare').addEventListener('change', (e) => {
    const on = (e.target as HTMLInputElement).checked;
    const S = strengths().length;
    state.compare = on ? [Math.max(-1, Math.min(state.strength, S - 2)), S - 1] : null;
    if (state.compare && state.compare[0] >= state.compare[1]) state.compare[0] = state.compare[1] - 1;
    redraw();
  });
  for (const id of ['weak', 'strong'] as const)
    $<HTMLInputElement>(id).addEventListener('input', () => {
      let w = Number($<HTMLInputElement>('weak').value);
      let s = Number($<HTMLInputElement>('strong').value);
      // The handles cannot cross: the one moved pushes the other.
      if (w >= s) {
        if (id === 'weak') s = Math.min(strengths().length - 1, w + 1);
        else w = Math.max(-1, s - 1);
        if (w >= s) [w, s] = id === 'weak' ? [s - 1, s] : [w, w + 1];
      }
      state.compare = [w, s];
      redraw();
    });
  $<HTMLSelectElement>('compare-edges').addEventListener('change', (e) => {
    state.compareEdges = (e.target as HTMLSelectElement).value as CompareEdges;
    redraw();
  });
  for (const el of document.querySelectorAll<HTMLInputElement>('input[name=show]'))
    el.addEventListener('change', () => {
      state.show = el.value as ShowMode;
      redraw();
    });
  $('unpin').addEventListener('click', () => {
    state.pinned.clear();
    redraw();
  });
  $<HTMLSelectElement>('measure').addEventListener('change', (e) => {
    state.measure = (e.target as HTMLSelectElement).value as HighlightMeasure;
    redraw();
  });
  for (const id of ['neurons', 'edges'] as const)
    $<HTMLInputElement>(id).addEventListener('input', (e) => {
      const v = Number((e.target as HTMLInputElement).value);
      state[id] = v / 100;
      $(`${id}-out`).textContent = String(v);
      redraw();
    });
  $('reset-zoom').addEventListener('click', () => panes.forEach((p) => p.graph.resetZoom()));
  $('export-png').addEventListener(
    'click',
    () => void exportPng().catch((e) => showError(`export failed: ${(e as Error).message}`)),
  );
  $('export-json').addEventListener('click', () =>
    download(
      new Blob([JSON.stringify(viewJson(), null, 1)], { type: 'application/json' }),
      'advlens-view.json',
    ),
  );
  $<HTMLInputElement>('open-folder').addEventListener('change', (e) => {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    if (!files.length) return;
    showError(null);
    loadFromFiles(files)
      .then((l) => {
        staticUrls = [];
        setResults([l]);
      })
      .catch(report);
  });
  $('live-toggle').addEventListener('click', () => void openLive());
  let localStarted = false;
  $('local-toggle').addEventListener('click', () => {
    const el = $('local');
    el.hidden = !el.hidden;
    if (!localStarted) startLocal(el, { showError, setResults: (l) => setResults(l) });
    localStarted = true;
  });
}

function report(e: unknown): void {
  showError(e instanceof DataError || e instanceof Error ? e.message : String(e));
}

let liveStarted = false;
async function openLive(q?: URLSearchParams): Promise<void> {
  const el = $('live');
  el.hidden = q ? false : !el.hidden;
  if (liveStarted) return;
  liveStarted = true;
  liveStarted = await startLive(
    el,
    $('results'),
    {
      showError,
      setResults,
      updateResults,
      setLiveParams,
      onStrength: (f) => strengthListeners.push(f),
      selectNeuron: (pane, key) => {
        state.pinned.add(key);
        state.selected = key;
        state.pane = Math.max(0, Math.min(pane, panes.length - 1));
        redraw();
      },
    },
    q,
  );
}

async function start(): Promise<void> {
  wire();
  const q = new URLSearchParams(location.search);
  readUrl(q);
  staticUrls = q.getAll('static');
  if (staticUrls.length) {
    try {
      const list = await Promise.all(staticUrls.map(loadFromUrl));
      const S = list[0].result.attack.strengths.length;
      const keep = q.has('s') && state.strength < S;
      const s = state.strength;
      setResults(list, keep);
      if (keep) {
        state.strength = s;
        redraw();
      }
    } catch (e) {
      report(e);
    }
  } else if (q.has('model')) await openLive(q).catch(report);
  else redraw();
}

declare global {
  interface Window {
    advlensExplorer: {
      state: typeof state;
      redraw: () => number;
      lastUpdateMs: () => number;
      counts: () => ReturnType<PathwaysGraph['counts']>[];
      viewJson: () => object;
      ready: boolean;
    };
  }
}

window.advlensExplorer = {
  state,
  redraw,
  lastUpdateMs: () => Math.max(0, ...panes.map((p) => p.graph.lastUpdateMs)),
  counts: () => panes.map((p) => p.graph.counts()),
  viewJson,
  ready: false,
};
start()
  .catch(report)
  .finally(() => (window.advlensExplorer.ready = true));
