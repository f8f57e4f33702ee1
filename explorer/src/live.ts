/**
 * Live mode: the explorer against `advlens serve`'s JSON API (docs: README "Server and API"). The
 * user picks a model (the zoo, darknet tiny, or a tfjs folder they upload) and optionally a second one
 * to compare, drops images (or takes dataset samples of the original class), picks the original and
 * target classes (searchable over the model's labels), the attack and its options (a form generated
 * from the registry's option specs that `GET /api/attacks` serialises) and the strengths, and starts a
 * pathways job: its progress streams in (server-sent events), the graph appears with the first
 * strength done, and the attacked images, amplified perturbations and top-5 bars follow the strength
 * slider. Saliency (clean vs attacked), the accuracy-against-strength curve, a neuron's feature
 * visualisation and top patches (the detail panel) and an attacked image's exploited neurons (the
 * per-image drill-down) are jobs of their own.
 * Every API error's message is shown in the page.
 */
import * as d3 from 'd3';
import {
  fromJob,
  type LivePatch,
  type LivePictures,
  type Loaded,
  type Pending,
  type StrengthImages,
  type Top,
} from './data.ts';
import { parseClass } from './classes.ts';
import { graphNeurons, type PathwaysResult } from '../../src/pathways/pathways.ts';

/** What live mode needs from the page. */
export interface LiveHost {
  showError(message: string | null): void;
  setResults(list: Loaded[], keepState?: boolean): void;
  updateResults(list: Loaded[]): void;
  setLiveParams(p: Record<string, string>): void;
  /** Called with the strength index whenever the graph's strength changes. */
  onStrength(fn: (s: number) => void): void;
  /** Pins and selects neuron `key` (`layer:channel`) of pane `pane` (its detail shows). */
  selectNeuron?(pane: number, key: string): void;
}

interface ModelInfo {
  id: string;
  name: string;
  description?: string;
  source: string;
  inputShape: [number, number, number];
  classes: number;
  hasCam: boolean;
  /** Whether the server has the model's dataset (top patches come from it; else from the images). */
  hasDataset?: boolean;
  labels?: string[];
}

/** An option as `GET /api/attacks` serialises a registry OptionSpec. */
export interface ApiOption {
  name: string;
  type: 'number' | 'boolean' | 'choice' | 'string' | 'value';
  default?: unknown;
  min?: number;
  max?: number;
  integer?: boolean;
  choices?: string[];
  description?: string;
  doc?: string;
}

interface ApiAttack {
  name: string;
  summary?: string;
  targeted: boolean;
  options: ApiOption[];
}

interface ImageRef {
  id: string;
  name?: string;
  width?: number;
  height?: number;
}

/** A problem the API answered with `{ error }`; the message is the server's, for a person. */
export class ApiError extends Error {}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(
      `the advlens server does not answer at ${location.origin}: start it with \`npx advlens serve\``,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(
      `${path} did not answer JSON (HTTP ${res.status}): is this page served by \`advlens serve\`?`,
    );
  }
  if (!res.ok) {
    const err = (body as { error?: unknown }).error;
    throw new ApiError(typeof err === 'string' ? err : `${path} answered HTTP ${res.status}`);
  }
  return body as T;
}

/** `p` with its outcome recorded on the returned object once it settles. */
function pending<T>(p: Promise<T>): Pending<T> {
  const d: Pending<T> = { promise: p };
  p.then(
    (v) => {
      d.value = v;
    },
    (e: unknown) => {
      d.error = e instanceof Error ? e.message : String(e);
    },
  );
  return d;
}

/** The pictures asked for in this page, by model, images and neuron (the server caches them too). */
const pictureCache = new Map<string, LivePictures>();

/**
 * Neuron `layer:channel`'s feature visualisation and top dataset patches of `model`, as the server's
 * `featurevis` and `patches` jobs compute them when first asked for; the patches come from the
 * model's dataset on the server, or from `imageIds` (the job's images) when it has none.
 */
export function livePictures(model: string, hasDataset: boolean, imageIds: string[]) {
  return (key: string): LivePictures => {
    const ck = JSON.stringify([model, hasDataset ? [] : imageIds, key]);
    let p = pictureCache.get(ck);
    if (!p) {
      const i = key.lastIndexOf(':');
      const neuron = { model, layer: key.slice(0, i), channel: Number(key.slice(i + 1)) };
      const featureVis = () =>
        pending(runJob<{ image: string }>({ kind: 'featurevis', ...neuron }).then((r) => r.image));
      const patches = () =>
        pending(
          runJob<{ patches: LivePatch[] }>({
            kind: 'patches',
            ...neuron,
            ...(!hasDataset && { images: imageIds }),
          }).then((r) => r.patches),
        );
      const q: LivePictures = {
        featureVis: featureVis(),
        patches: patches(),
        again: {
          featureVis: () => (q.featureVis = featureVis()),
          patches: () => (q.patches = patches()),
        },
      };
      p = q;
      pictureCache.set(ck, p);
    }
    return p;
  };
}

/** The exploits job's `neurons`: per hidden layer, the original and target classes' medians. */
function classMedians(r: PathwaysResult) {
  const out: Record<string, { original: (number | null)[]; target: (number | null)[] }> = {};
  for (const l of r.layers)
    if (!l.logits)
      out[l.name] = { original: r.neurons[l.name].original.median, target: r.neurons[l.name].target.median };
  return out;
}

/**
 * Per layer, the channels one image exploits as buttons: a neuron the graph draws pins on a click (and
 * is marked when the image set's exploited group has it too); one it does not draw is only listed.
 */
function exploitsList(
  r: PathwaysResult,
  own: Record<string, number[]>,
  select: (key: string) => void,
): HTMLElement {
  const drawn = graphNeurons(r);
  const box = el('div', { className: 'exploits' });
  let any = false;
  for (const l of [...r.layers].reverse()) {
    const cs = own[l.name];
    if (!cs?.length) continue;
    any = true;
    const row = el(
      'div',
      { className: 'exploits-row' },
      el('span', { className: 'label', textContent: l.name }),
    );
    for (const c of cs) {
      const key = `${l.name}:${c}`;
      const shown = drawn[l.name]?.includes(c) ?? false;
      const inGroup = r.groups[l.name]?.exploited.includes(c) ?? false;
      const b = el('button', {
        type: 'button',
        className: `neuron-chip${inGroup ? ' in-group' : ''}`,
        textContent: String(c),
        disabled: !shown,
        title: shown
          ? `${key}: click to pin it in the graph${inGroup ? ' (exploited by the image set too)' : ''}`
          : `${key}: not drawn in the graph (in no group of the image set)`,
      });
      b.dataset.key = key;
      if (shown) b.addEventListener('click', () => select(key));
      row.append(b);
    }
    box.append(row);
  }
  if (!any)
    box.append(
      el('div', {
        className: 'muted',
        textContent: "it exploits no neuron: its own top neurons are the classes' ones",
      }),
    );
  return box;
}

/** Progress of a job: done of total, and the label. */
type Progress = { done: number; total: number; label: string; partial?: unknown };

/** Runs a job to its end: streams its progress (server-sent events; polling when those fail). */
export async function runJob<T>(
  body: object,
  onProgress?: (p: Progress) => void,
  onId?: (id: string) => void,
): Promise<T> {
  const { id } = await api<{ id: string; cached: boolean }>('/api/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  onId?.(id);
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    const es = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
    const end = () => {
      finished = true;
      es.close();
    };
    es.addEventListener('progress', (e) => onProgress?.(JSON.parse((e as MessageEvent).data) as Progress));
    es.addEventListener('done', (e) => {
      end();
      resolve((JSON.parse((e as MessageEvent).data) as { result: T }).result);
    });
    es.addEventListener('failed', (e) => {
      end();
      reject(new ApiError((JSON.parse((e as MessageEvent).data) as { error: string }).error));
    });
    es.addEventListener('cancelled', () => {
      end();
      reject(new ApiError('the job was cancelled'));
    });
    es.onerror = () => {
      if (finished) return;
      end();
      // The stream broke (a proxy, a restart): ask for the job's state until it ends.
      const poll = async () => {
        const j = await api<{
          state: string;
          progress: Progress;
          partial?: unknown;
          result?: T;
          error?: string;
        }>(`/api/jobs/${encodeURIComponent(id)}`);
        if (j.state === 'done') return resolve(j.result as T);
        if (j.state === 'failed') return reject(new ApiError(j.error ?? 'the job failed'));
        if (j.state === 'cancelled') return reject(new ApiError('the job was cancelled'));
        onProgress?.({ ...j.progress, partial: j.partial });
        setTimeout(() => void poll().catch(reject), 700);
      };
      void poll().catch(reject);
    };
  });
}

const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...kids: (Node | string)[]
) => {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...kids);
  return e;
};

/** A form field per option of an attack, from its serialised spec; `read()` gives the values set. */
export function optionsForm(
  host: HTMLElement,
  options: ApiOption[],
  skip: string[],
): () => Record<string, unknown> {
  host.innerHTML = '';
  const readers: (() => [string, unknown] | null)[] = [];
  for (const o of options) {
    if (skip.includes(o.name)) continue;
    const doc = o.description ?? o.doc ?? '';
    const box = el('div', { className: 'opt' });
    const id = `opt-${o.name}`;
    box.append(el('label', { htmlFor: id, textContent: o.name }));
    if (o.type === 'boolean') {
      const c = el('input', { type: 'checkbox', id, checked: o.default === true });
      box.append(c);
      readers.push(() => (c.checked === (o.default === true) ? null : [o.name, c.checked]));
    } else if (o.type === 'choice' && o.choices) {
      const s = el('select', { id });
      for (const ch of o.choices)
        s.append(el('option', { value: ch, textContent: ch, selected: ch === o.default }));
      box.append(s);
      readers.push(() => (s.value === o.default ? null : [o.name, s.value]));
    } else if (o.type === 'number') {
      const n = el('input', {
        type: 'number',
        id,
        placeholder: o.default === undefined ? '' : String(o.default),
      });
      if (o.min !== undefined) n.min = String(o.min);
      if (o.max !== undefined) n.max = String(o.max);
      n.step = o.integer ? '1' : 'any';
      box.append(n);
      readers.push(() => (n.value === '' ? null : [o.name, Number(n.value)]));
    } else if (o.type === 'string') {
      const t = el('input', {
        type: 'text',
        id,
        placeholder: o.default === undefined ? '' : String(o.default),
      });
      box.append(t);
      readers.push(() => (t.value === '' ? null : [o.name, t.value]));
    } else continue;
    box.append(el('small', { textContent: doc }));
    host.append(box);
  }
  return () => Object.fromEntries(readers.map((r) => r()).filter((x): x is [string, unknown] => x !== null));
}

/** The labels as the options of a datalist (`index: label`), for searchable class fields. */
function fillLabels(list: HTMLDataListElement, labels: string[]): void {
  list.innerHTML = '';
  labels.forEach((l, i) => list.append(el('option', { value: `${i}: ${l}` })));
}

function topBars(top: Top[]): HTMLElement {
  const box = el('div', { className: 'bars' });
  for (const t of top)
    box.append(
      el(
        'div',
        { className: 'bar' },
        el('span', { textContent: t.label, title: `class ${t.index}` }),
        el('meter', { min: 0, max: 1, value: t.p }),
        el('span', { textContent: `${(t.p * 100).toFixed(1)}%` }),
      ),
    );
  return box;
}

/** The accuracy (and target confidence) against strength curve of the images. */
function curveChart(
  points: { strength: number; accuracy: number; success: number; targetConfidence: number | null }[],
): SVGSVGElement {
  const W = 300;
  const H = 170;
  const M = { l: 36, r: 10, t: 10, b: 28 };
  const x = d3
    .scaleLinear()
    .domain([0, d3.max(points, (p) => p.strength) ?? 1])
    .range([M.l, W - M.r]);
  const y = d3
    .scaleLinear()
    .domain([0, 1])
    .range([H - M.b, M.t]);
  const svg = d3
    .create('svg')
    .attr('width', W)
    .attr('height', H)
    .attr('font-size', 10)
    .attr('class', 'curve');
  svg
    .append('g')
    .attr('transform', `translate(0,${H - M.b})`)
    .call(d3.axisBottom(x).ticks(5));
  svg.append('g').attr('transform', `translate(${M.l},0)`).call(d3.axisLeft(y).ticks(5));
  svg
    .append('text')
    .attr('x', W - M.r)
    .attr('y', H - 2)
    .attr('text-anchor', 'end')
    .text('strength');
  const series: [string, string, (p: (typeof points)[number]) => number | null][] = [
    ['accuracy', '#33a02c', (p) => p.accuracy],
    ['reached target', '#e31a1c', (p) => p.success],
  ];
  series.forEach(([name, colour, f], i) => {
    const pts = points.filter((p) => f(p) !== null);
    svg
      .append('path')
      .attr('fill', 'none')
      .attr('stroke', colour)
      .attr('stroke-width', 1.8)
      .attr(
        'd',
        d3
          .line<(typeof points)[number]>()
          .x((p) => x(p.strength))
          .y((p) => y(f(p)!))(pts),
      );
    svg
      .append('text')
      .attr('x', M.l + 6)
      .attr('y', M.t + 10 + 12 * i)
      .attr('fill', colour)
      .text(name);
  });
  return svg.node()!;
}

/**
 * Builds the live panel in `panel`, its results in `results`; `q` restores a shared URL's inputs.
 * False when no server answers (the page can try again).
 */
export async function startLive(
  panel: HTMLElement,
  results: HTMLElement,
  host: LiveHost,
  q?: URLSearchParams,
): Promise<boolean> {
  panel.innerHTML = '';
  const status = el('div', { className: 'muted', textContent: 'connecting to the advlens server…' });
  panel.append(status);
  let health: { ok: boolean; version?: string };
  try {
    health = await api('/api/health');
  } catch (e) {
    status.textContent =
      'Live mode needs `npx advlens serve`; Open folder… and Compute here work without it.';
    host.showError(`live mode needs the advlens server (npx advlens serve): ${(e as Error).message}`);
    return false;
  }
  status.textContent = `advlens server ${health.version ?? ''}`;
  const [{ models }, { attacks }] = await Promise.all([
    api<{ models: ModelInfo[] }>('/api/models'),
    api<{ attacks: ApiAttack[] }>('/api/attacks'),
  ]);
  const targeted = attacks.filter((a) => a.targeted);

  const grid = el('div', { className: 'live-grid' });
  panel.append(grid);
  // Models: the server's list and an upload of a tfjs folder; a second model to compare (optional).
  const modelSel = el('select', { id: 'model' });
  const model2Sel = el('select', { id: 'model2' });
  const hasDataset = new Map<string, boolean>();
  const fillModels = (list: ModelInfo[]) => {
    for (const m of list) hasDataset.set(m.id, !!m.hasDataset);
    const keep = [modelSel.value, model2Sel.value];
    modelSel.innerHTML = '';
    model2Sel.innerHTML = '';
    model2Sel.append(el('option', { value: '', textContent: '(none)' }));
    for (const m of list) {
      const text = `${m.name} (${m.source}, ${m.inputShape.join('×')}, ${m.classes} classes)`;
      modelSel.append(el('option', { value: m.id, textContent: text, title: m.description ?? '' }));
      model2Sel.append(el('option', { value: m.id, textContent: text }));
    }
    if (keep[0]) modelSel.value = keep[0];
    model2Sel.value = keep[1];
  };
  fillModels(models);
  if (models.some((m) => m.id === 'mnist-gap-cnn')) modelSel.value = 'mnist-gap-cnn';
  const modelUpload = el('input', { type: 'file', multiple: true, id: 'model-upload' });
  modelUpload.setAttribute('webkitdirectory', '');
  grid.append(
    el(
      'div',
      {},
      el('label', { htmlFor: 'model', textContent: 'Model' }),
      modelSel,
      el('label', { htmlFor: 'model2', textContent: 'Compare with (optional)' }),
      model2Sel,
      el('label', { htmlFor: 'model-upload', textContent: 'Upload a tfjs model folder' }),
      modelUpload,
    ),
  );
  // Images: drop one or several, or pick; or dataset samples of the original class.
  const drop = el('div', { className: 'drop', id: 'drop', textContent: 'drop images here, or ' });
  const picker = el('input', { type: 'file', multiple: true, accept: 'image/*', id: 'image-files' });
  drop.append(picker);
  const thumbs = el('div', { className: 'thumbs', id: 'thumbs' });
  const samplesBtn = el('button', {
    type: 'button',
    textContent: 'use dataset samples of the original class',
  });
  const targetPicker = el('input', { type: 'file', multiple: true, accept: 'image/*', id: 'target-files' });
  const targetThumbs = el('div', { className: 'thumbs', id: 'target-thumbs' });
  grid.append(
    el(
      'div',
      {},
      el('label', { textContent: 'Images of the original class' }),
      drop,
      samplesBtn,
      thumbs,
      el('label', {
        htmlFor: 'target-files',
        textContent: 'Images of the target class (optional)',
        title: 'without them, the target group rests on the attacked images that reached the target',
      }),
      targetPicker,
      targetThumbs,
    ),
  );
  // Classes, searchable over the labels.
  const origIn = el('input', { type: 'text', id: 'original', placeholder: 'type to search the labels' });
  const targIn = el('input', { type: 'text', id: 'target', placeholder: 'type to search the labels' });
  const labelsList = el('datalist', { id: 'labels' });
  origIn.setAttribute('list', 'labels');
  targIn.setAttribute('list', 'labels');
  grid.append(
    el(
      'div',
      {},
      el('label', { htmlFor: 'original', textContent: 'Original class' }),
      origIn,
      el('label', { htmlFor: 'target', textContent: 'Target class' }),
      targIn,
      labelsList,
    ),
  );
  // Attack and its options (from the registry's specs), strengths, which images to keep.
  const attackSel = el('select', { id: 'attack' });
  for (const a of targeted)
    attackSel.append(el('option', { value: a.name, textContent: a.name, title: a.summary ?? '' }));
  if (targeted.some((a) => a.name === 'pgd-l2')) attackSel.value = 'pgd-l2';
  const optsBox = el('div', { id: 'attack-options' });
  const strengthsIn = el('input', { type: 'text', id: 'strengths', value: '0.5,1,2,4' });
  const stepsIn = el('input', { type: 'number', id: 'steps', value: '50', min: '1', step: '1' });
  const keepSel = el('select', { id: 'keep' });
  keepSel.append(
    el('option', { value: 'successful', textContent: 'attacked images that reached the target (Bluff)' }),
    el('option', { value: 'all', textContent: 'all attacked images (same images at every strength)' }),
  );
  grid.append(
    el(
      'div',
      {},
      el('label', { htmlFor: 'attack', textContent: 'Attack' }),
      attackSel,
      el('label', { htmlFor: 'strengths', textContent: 'Strengths (eps, comma separated)' }),
      strengthsIn,
      el('label', { htmlFor: 'steps', textContent: 'Attack steps (step size: strength / 5)' }),
      stepsIn,
      el('label', { htmlFor: 'keep', textContent: 'Pathways rest on' }),
      keepSel,
    ),
  );
  const optsDetails = el('details', {}, el('summary', { textContent: 'attack options' }), optsBox);
  grid.append(optsDetails);
  let readOptions = () => ({}) as Record<string, unknown>;
  const fillOptions = () => {
    const a = targeted.find((x) => x.name === attackSel.value);
    // The strength, steps and step size are the sweep's (Bluff: eps/5 per step); the target is the target class.
    readOptions = optionsForm(optsBox, a?.options ?? [], ['eps', 'target', 'seed', 'steps', 'stepSize']);
  };
  fillOptions();
  attackSel.addEventListener('change', fillOptions);

  const run = el('button', {
    type: 'button',
    className: 'primary',
    id: 'run',
    textContent: 'Compute pathways',
  });
  const cancel = el('button', { type: 'button', id: 'cancel', textContent: 'Cancel', disabled: true });
  const prog = el('progress', { id: 'progress', max: 1, value: 0 });
  const progLabel = el('div', { className: 'muted', id: 'progress-label' });
  panel.append(el('div', { className: 'opt' }, run, ' ', cancel), prog, progLabel);

  let images: ImageRef[] = [];
  let targetImages: ImageRef[] = [];
  let labels: string[] = [];
  const pick = {
    original: () => parseClass(origIn.value, labels),
    target: () => parseClass(targIn.value, labels),
  };
  const showThumbs = () => {
    targetThumbs.innerHTML = '';
    for (const im of targetImages)
      targetThumbs.append(
        el('img', {
          src: `/api/images/${encodeURIComponent(im.id)}`,
          title: im.name ?? im.id,
          alt: im.name ?? im.id,
        }),
      );
    thumbs.innerHTML = '';
    for (const im of images)
      thumbs.append(
        el('img', {
          src: `/api/images/${encodeURIComponent(im.id)}`,
          title: im.name ?? im.id,
          alt: im.name ?? im.id,
        }),
      );
  };
  const loadLabels = async () => {
    const m = await api<ModelInfo>(`/api/models/${encodeURIComponent(modelSel.value)}`);
    labels = m.labels ?? [];
    fillLabels(labelsList, labels);
  };
  const wrap = (f: () => Promise<void>) => () =>
    void f().catch((e: unknown) => host.showError((e as Error).message));
  modelSel.addEventListener('change', wrap(loadLabels));
  await loadLabels();

  const upload = async (files: File[], forTarget = false) => {
    host.showError(null);
    const form = new FormData();
    for (const f of files) form.append('file', f, f.name);
    const r = await api<{ images: ImageRef[] }>('/api/images', { method: 'POST', body: form });
    if (forTarget) targetImages = r.images;
    else images = r.images;
    showThumbs();
  };
  picker.addEventListener(
    'change',
    wrap(() => upload([...(picker.files ?? [])])),
  );
  targetPicker.addEventListener(
    'change',
    wrap(() => upload([...(targetPicker.files ?? [])], true)),
  );
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) wrap(() => upload(files))();
  });
  samplesBtn.addEventListener(
    'click',
    wrap(async () => {
      const c = pick.original();
      if (c === null) throw new ApiError('pick the original class first (type its name or index)');
      const r = await api<{ images: ImageRef[] }>(
        `/api/models/${encodeURIComponent(modelSel.value)}/samples?class=${c}&n=10`,
      );
      images = r.images;
      showThumbs();
    }),
  );
  modelUpload.addEventListener(
    'change',
    wrap(async () => {
      const form = new FormData();
      for (const f of modelUpload.files ?? []) form.append(f.name, f, f.name);
      const { id } = await api<{ id: string }>('/api/models', { method: 'POST', body: form });
      fillModels((await api<{ models: ModelInfo[] }>('/api/models')).models);
      modelSel.value = id;
      await loadLabels();
    }),
  );

  // Results: per strength the attacked images with their perturbation and top-5; saliency; curve.
  let current: Loaded[] = [];
  let strengthIdx = 0;
  const drillCache = new Map<string, Pending<Record<string, number[]>[]>>();
  const imagesCard = el('div', { className: 'cards', id: 'attacked' });
  const extra = el('div', { className: 'cards', id: 'extra' });
  results.innerHTML = '';
  results.append(imagesCard, extra);
  const showImages = () => {
    imagesCard.innerHTML = '';
    current.forEach((l) => {
      const at: StrengthImages | undefined = l.images?.[strengthIdx];
      if (!at) return;
      at.images.slice(0, current.length > 1 ? 2 : 4).forEach((v, i) => {
        const clean = l.clean?.[i];
        const card = el('div', { className: 'card' });
        card.append(el('h4', { textContent: `${l.model ?? ''} image ${i + 1} at strength ${at.strength}` }));
        const row = el('div', { className: 'cards' });
        const advImg = el('img', { className: 'big clickable', src: v.adversarial, alt: 'adversarial' });
        if (clean)
          row.append(
            el(
              'div',
              {},
              el('img', {
                className: 'big',
                src: `/api/images/${encodeURIComponent(clean.id)}`,
                alt: 'image',
              }),
              el('div', { textContent: 'image' }),
              topBars(clean.top5),
            ),
          );
        row.append(
          el(
            'div',
            {},
            advImg,
            el('div', { textContent: `adversarial${v.success ? ' (reached the target)' : ''}` }),
            topBars(v.top5),
          ),
          el(
            'div',
            {},
            el('img', { className: 'big', src: v.perturbation, alt: 'perturbation' }),
            el('div', {
              textContent: `perturbation ×${(v.amplification ?? 1).toFixed(1)} (L∞ ${(v.linf ?? 0).toFixed(3)})`,
            }),
          ),
        );
        card.append(row);
        const sal = el('button', { type: 'button', textContent: 'saliency: clean vs attacked' });
        const method = el('select', {});
        for (const m of ['smoothgrad', 'ig', 'gradcam', 'cam'])
          method.append(el('option', { value: m, textContent: m }));
        const salBox = el('div', { className: 'cards' });
        sal.addEventListener(
          'click',
          wrap(async () => {
            if (!clean || !v.id) throw new ApiError('this result has no stored images to explain');
            salBox.textContent = 'computing…';
            const job = (im: string) =>
              runJob<{ images: { map: string; targetLabel: string }[] }>({
                kind: 'saliency',
                model: modelOf(l),
                images: [im],
                method: method.value,
              });
            const [a, b] = await Promise.all([job(clean.id), job(v.id)]);
            salBox.innerHTML = '';
            salBox.append(
              el(
                'div',
                {},
                el('img', { className: 'big', src: a.images[0].map, alt: 'clean saliency' }),
                el('div', { textContent: `clean: ${a.images[0].targetLabel}` }),
              ),
              el(
                'div',
                {},
                el('img', { className: 'big', src: b.images[0].map, alt: 'attacked saliency' }),
                el('div', { textContent: `attacked: ${b.images[0].targetLabel}` }),
              ),
            );
          }),
        );
        // Per-image drill-down: the neurons this attacked image exploits (its own top k, in neither
        // class's top k), computed by the server's exploits job; a drawn one pins on a click.
        const drill = el('button', {
          type: 'button',
          className: 'drill',
          textContent: 'neurons it exploits',
        });
        const drillBox = el('div', { className: 'drill-box' });
        const pane = current.indexOf(l);
        // Kept across redraws of the cards (a pin redraws them): asked for once per model and image.
        const drillKey = JSON.stringify([modelOf(l), v.id, pane]);
        const drawExploits = (p: Pending<Record<string, number[]>[]>) => {
          drillBox.innerHTML = '';
          if (p.value) {
            drillBox.append(exploitsList(l.result, p.value[0], (key) => host.selectNeuron?.(pane, key)));
            return;
          }
          if (p.error !== undefined) {
            drillBox.append(el('div', { className: 'error', textContent: p.error }));
            return;
          }
          drillBox.append(el('div', { className: 'spinner', textContent: 'computing on the server…' }));
          const redraw = () => drillBox.isConnected && drawExploits(p);
          void p.promise.then(redraw, redraw);
        };
        const showExploits = wrap(async () => {
          if (!v.id) throw new ApiError('this result has no stored attacked images to drill into');
          let p = drillCache.get(drillKey);
          if (!p || p.error !== undefined) {
            p = pending(
              runJob<{ images: Record<string, number[]>[] }>({
                kind: 'exploits',
                model: modelOf(l),
                images: [v.id],
                k: l.result.groupOptions.k,
                neurons: classMedians(l.result),
              }).then((r) => r.images),
            );
            drillCache.set(drillKey, p);
          }
          drawExploits(p);
        });
        const open = drillCache.get(drillKey);
        if (open) drawExploits(open);
        drill.addEventListener('click', showExploits);
        advImg.addEventListener('click', showExploits);
        advImg.title = 'click: the neurons this image exploits';
        card.append(el('div', { className: 'opt' }, method, ' ', sal, ' ', drill), salBox, drillBox);
        imagesCard.append(card);
      });
    });
  };
  const modelOf = (l: Loaded) => (l === current[1] ? model2Sel.value : modelSel.value);
  host.onStrength((s) => {
    strengthIdx = Math.max(0, s);
    showImages();
  });

  let running = false;
  const params = (): Record<string, string> => ({
    model: modelSel.value,
    ...(model2Sel.value && { model2: model2Sel.value }),
    images: images.map((i) => i.id).join(','),
    ...(targetImages.length && { targetImages: targetImages.map((i) => i.id).join(',') }),
    original: String(pick.original() ?? ''),
    target: String(pick.target() ?? ''),
    attack: attackSel.value,
    strengths: strengthsIn.value,
    steps: stepsIn.value,
    keep: keepSel.value,
    opts: JSON.stringify(readOptions()),
  });
  const start = async () => {
    if (running) return;
    host.showError(null);
    const original = pick.original();
    const target = pick.target();
    if (!images.length) throw new ApiError('drop or pick at least one image of the original class first');
    if (original === null)
      throw new ApiError(
        `the original class "${origIn.value}" is not one of the model's labels; pick one from the list`,
      );
    if (target === null)
      throw new ApiError(
        `the target class "${targIn.value}" is not one of the model's labels; pick one from the list`,
      );
    const strengths = strengthsIn.value.split(',').map((s) => Number(s.trim()));
    if (!strengths.length || strengths.some((s) => !Number.isFinite(s) || s <= 0))
      throw new ApiError(
        `strengths "${strengthsIn.value}" must be positive numbers separated by commas, e.g. 0.5,1,2`,
      );
    host.setLiveParams(params());
    const ids = [modelSel.value, ...(model2Sel.value ? [model2Sel.value] : [])];
    running = true;
    run.disabled = true;
    prog.value = 0;
    current = [];
    drillCache.clear();
    const partial: (Loaded | undefined)[] = ids.map(() => undefined);
    const done = ids.map(() => 0);
    const body = (model: string) => ({
      kind: 'pathways',
      model,
      images: images.map((i) => i.id),
      ...(targetImages.length && { targetImages: targetImages.map((i) => i.id) }),
      original,
      target,
      attack: attackSel.value,
      attackOptions: readOptions(),
      strengths,
      steps: Number(stepsIn.value),
      keep: keepSel.value,
    });
    const jobIds: string[] = [];
    const loaded = (json: unknown, m: string, source: string): Loaded => ({
      ...fromJob(json, source),
      livePictures: livePictures(
        m,
        hasDataset.get(m) ?? false,
        images.map((i) => i.id),
      ),
    });
    cancel.disabled = false;
    cancel.onclick = () => {
      for (const id of jobIds)
        void api(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch((e: unknown) =>
          host.showError((e as Error).message),
        );
    };
    const publish = () => {
      const ready = partial.filter((p): p is Loaded => !!p);
      if (ready.length !== partial.length) return;
      const first = current.length === 0;
      current = ready;
      if (first) host.setResults(ready);
      else host.updateResults(ready);
      showImages();
    };
    try {
      await Promise.all(
        ids.map((m, k) =>
          runJob<unknown>(
            body(m),
            (p) => {
              done[k] = p.done / Math.max(1, p.total);
              prog.value = done.reduce((s, v) => s + v, 0) / ids.length;
              progLabel.textContent = `${m}: ${p.label} (${p.done}/${p.total})`;
              if (p.partial) {
                partial[k] = loaded(p.partial, m, `${m} (partial)`);
                publish();
              }
            },
            (id) => jobIds.push(id),
          ).then((r) => {
            partial[k] = loaded(r, m, m);
            done[k] = 1;
            publish();
          }),
        ),
      );
      prog.value = 1;
      progLabel.textContent = 'done';
    } finally {
      running = false;
      run.disabled = false;
      cancel.disabled = true;
      if (prog.value < 1) progLabel.textContent = 'stopped';
    }
  };
  run.addEventListener('click', wrap(start));

  // The accuracy-against-strength curve of these images under this attack (its own job).
  const curveBtn = el('button', { type: 'button', id: 'curve', textContent: 'accuracy against strength' });
  panel.append(curveBtn);
  curveBtn.addEventListener(
    'click',
    wrap(async () => {
      if (!images.length) throw new ApiError('drop or pick at least one image first');
      const strengths = strengthsIn.value.split(',').map((s) => Number(s.trim()));
      const r = await runJob<{
        points: { strength: number; accuracy: number; success: number; targetConfidence: number | null }[];
      }>({
        kind: 'curve',
        model: modelSel.value,
        images: images.map((i) => i.id),
        attack: attackSel.value,
        attackOptions: readOptions(),
        strengths,
        target: pick.target() ?? undefined,
      });
      extra.querySelector('.curve-card')?.remove();
      extra.append(
        el(
          'div',
          { className: 'card curve-card' },
          el('h4', { textContent: `${modelSel.value}: accuracy against strength` }),
          curveChart(r.points),
        ),
      );
    }),
  );

  // A shared URL: restore the inputs and run (the server's cache answers at once when it has them).
  if (q?.get('model')) {
    modelSel.value = q.get('model')!;
    model2Sel.value = q.get('model2') ?? '';
    await loadLabels();
    images = (q.get('images') ?? '')
      .split(',')
      .filter(Boolean)
      .map((id) => ({ id }));
    targetImages = (q.get('targetImages') ?? '')
      .split(',')
      .filter(Boolean)
      .map((id) => ({ id }));
    showThumbs();
    const lab = (v: string | null) =>
      v && /^\d+$/.test(v) && labels[Number(v)] !== undefined ? `${v}: ${labels[Number(v)]}` : '';
    origIn.value = lab(q.get('original'));
    targIn.value = lab(q.get('target'));
    if (q.get('attack')) attackSel.value = q.get('attack')!;
    fillOptions();
    try {
      for (const [k, v] of Object.entries(JSON.parse(q.get('opts') ?? '{}') as Record<string, unknown>)) {
        const f = document.getElementById(`opt-${k}`) as HTMLInputElement | HTMLSelectElement | null;
        if (f instanceof HTMLInputElement && f.type === 'checkbox') f.checked = v === true;
        else if (f) f.value = String(v);
      }
    } catch {
      host.showError("the URL's attack options are not JSON; the defaults are used");
    }
    if (q.get('strengths')) strengthsIn.value = q.get('strengths')!;
    if (q.get('steps')) stepsIn.value = q.get('steps')!;
    if (q.get('keep') === 'all') keepSel.value = 'all';
    if (images.length) await start();
  }
  return true;
}
