/**
 * advlens: attack, explain and harden image classifiers on TensorFlow.js.
 * The browser-safe core: engine, data parsers, models, attacks, explanations, metrics, training and
 * reports. Nothing here imports a Node built-in; file, image, dataset and model-folder I/O, the worker
 * pool and checkpoints are in `advlens/node` (`src/node/index.ts`).
 */
export { UserError } from './errors.ts';
export { VERSION, versions } from './version.ts';

// engine
export { useBackend, engineInfo, registeredKernels, BACKENDS, type BackendName } from './engine/backend.ts';
export { createRng, type Rng } from './engine/rng.ts';
export { registerWasmKernels } from './engine/kernels/index.ts';

// data
export {
  makeDataset,
  take,
  subset,
  getBatch,
  batches,
  batchIndices,
  floatPixels,
  type Dataset,
  type Batch,
} from './data/dataset.ts';

export { parseDataSpec, validSpecs } from './data/spec.ts';
export {
  TRANSFORMS,
  parseTransform,
  parseTransformList,
  transformLabel,
  applyTransform,
  saturate,
  saturateValue,
  patchShuffle,
  patchPermutation,
  fastStyleNet,
  arbitraryStylizer,
  fastStylizer,
  styleVectors,
  type TransformSpec,
  type Stylizer,
  type ArbitraryStyleModels,
} from './data/transforms/index.ts';
// models
export { makeClassifier, classIndex, preprocessTensor, type Classifier } from './models/classifier.ts';
export type { ModelCard, Preprocess, TrainingRecord, MetricRecord } from './models/card.ts';
export {
  ARCHITECTURES,
  architecture,
  buildArchitecture,
  type Architecture,
} from './models/architectures/index.ts';
export { PRESETS, type Preset } from './models/presets.ts';
// training
export {
  train,
  type TrainOptions,
  type TrainResult,
  type TrainProgress,
  type CheckpointStore,
} from './train/loop.ts';
export {
  OBJECTIVES,
  makeObjective,
  type Objective,
  type ObjectiveContext,
} from './train/objectives/index.ts';
export { crossEntropy } from './train/objectives/crossEntropy.ts';
export { parseSchedule, learningRateAt, type Schedule } from './train/schedule.ts';
export { parseAugment, shift, flip, type Augment } from './train/augment.ts';
// metrics
export { evaluate, confusionStats, type Evaluation } from './metrics/accuracy.ts';
export { transformAccuracy, type TransformAccuracy, type TransformRow } from './metrics/transformAccuracy.ts';
export { shapeScore, shapeScores, edgeMagnitude } from './metrics/shapeScore.ts';

// reports
export { reportPage, htmlTable, imageGrid, escapeHtml } from './report/html.ts';
export type { ReportFile, ImageEncoder } from './report/files.ts';
export { provenance, commandLine } from './report/provenance.ts';
export { robustnessReport, adversarialGrid, robustnessChart } from './report/robustness.ts';
export { explainReport } from './report/explain.ts';
export { attackReport } from './report/attack.ts';
export { demoReport } from './report/demo.ts';
export { zooReport } from './report/zoo.ts';
export { gridLayout, gridPixels, gridLabelsSvg } from './report/grid.ts';
export { colorLegend } from './report/plot.ts';
export {
  explainSet,
  checkExplainSet,
  type ExplainSetOptions,
  type ExplainSetResult,
} from './explain/explainSet.ts';
export { localExplainRunner, splitSamplesRunner, type ExplainRunner } from './explain/runner.ts';
export { attackSet, withPredictedLabels } from './attacks/attackSet.ts';

// attacks
export {
  ATTACKS,
  attack,
  attackFacts,
  type AttackInfo,
  type Attack,
  type AttackOptions,
  type AttackResult,
} from './attacks/index.ts';
export { fgsm } from './attacks/fgsm.ts';
export { pgd, project } from './attacks/pgd.ts';
export { pgdSteps, checkEps, type Budget } from './attacks/pgd.ts';
export { minEps, type MinEpsOptions } from './attacks/minEps.ts';

// robustness evaluation
export {
  robustness,
  perturbationNorms,
  type RobustnessOptions,
  type RobustnessResult,
  type RobustRow,
  type SanityCheck,
  type Norms,
} from './metrics/robustness.ts';
export { lineChart, niceTicks, type Series } from './report/plot.ts';

// explanations
export {
  EXPLAINERS,
  explainer,
  type Explainer,
  type ExplainOptions,
  type ExplainResult,
  type ExplainTarget,
} from './explain/index.ts';
export { gradient, gradientXInput } from './explain/gradient.ts';
export { smoothgrad } from './explain/smoothgrad.ts';
export { integratedGradients, gaussianBlur } from './explain/integratedGradients.ts';
export { cam, gradCam, upsample, camHead } from './explain/cam.ts';
export {
  renderMap,
  overlay,
  colorize,
  reduceChannels,
  percentile,
  sharedScale,
  normalise,
  displayValues,
  mapAt,
  type DisplayOptions,
  type Colormap,
  type Plane,
  type Rgb,
} from './explain/display.ts';

// interpretation metrics
export { kendallTau, kendallTauNaive } from './metrics/kendall.ts';
export {
  interpretationDiscrepancy,
  topKOverlap,
  camBoundCheck,
  type CamBound,
} from './metrics/interpretation.ts';

// method registries: records (function, option specs, facts) and option validation
export {
  resolveOptions,
  checkOption,
  refused,
  OptionError,
  type OptionSpec,
  type OptionSpecs,
  type Resolved,
  type MethodName,
} from './options.ts';
export {
  registerAttack,
  attackRecord,
  defineAttack,
  COMMON_SPECS,
  type AttackArgs,
  type AttackFacts,
  type AttackRecord,
} from './attacks/index.ts';
export type { FgsmOptions } from './attacks/fgsm.ts';
export type { PgdOptions } from './attacks/pgd.ts';
export type { AaiOptions } from './attacks/aai.ts';
export type { SnowOptions } from './attacks/snow.ts';
export type { GaborOptions } from './attacks/gabor.ts';
export type { JpegOptions, JpegL1Options, JpegL2Options } from './attacks/jpeg.ts';
export type { UnforeseenOptions } from './attacks/unforeseen.ts';
export {
  registerExplainer,
  explainerRecord,
  explainerFacts,
  defineExplainer,
  sampleCount,
  type ExplainerFacts,
  type ExplainerRecord,
  type CamOptions,
  type GradCamOptions,
  type GradientOptions,
  type IntegratedGradientsOptions,
  type SmoothGradOptions,
} from './explain/index.ts';
export {
  registerObjective,
  objectiveRecord,
  defineObjective,
  type ObjectiveFacts,
  type ObjectiveRecord,
} from './train/objectives/index.ts';

// sweeps: plans of (model, attack, eps, shard) jobs with content-hash ids, any runner
export { parsePlan, sweepGroups, type SweepPlan, type SweepGroup } from './sweep/plan.ts';
export { runSweep, type SweepTarget, type SweepModelResult } from './sweep/run.ts';
export { jobId, encodeOut, decodeOut, type SweepJob } from './sweep/jobs.ts';

// pathways (Bluff)
export { pathwayGraph, type PathwayGraph, type PathwayLayer, type Connection } from './pathways/graph.ts';
export {
  channelScores,
  importance,
  median,
  rankPercentile,
  type Importance,
  type LayerScores,
} from './pathways/neurons.ts';
export {
  neuronGroups,
  topChannels,
  vulnerability,
  GROUP_DEFAULTS,
  type GroupOptions,
  type NeuronGroups,
} from './pathways/groups.ts';
export {
  edgeInfluence,
  edgeScores,
  edgeMedians,
  selectEdges,
  type EdgeList,
  type NeuronSelection,
} from './pathways/edges.ts';
export {
  attackSweep,
  checkStrengths,
  SWEEP_DEFAULTS,
  type SweepOptions,
  type SweepStrength,
} from './pathways/sweep.ts';
export {
  HIGHLIGHT_DEFAULTS,
  HIGHLIGHT_MEASURES,
  measureValue,
  topByMeasure,
  type HighlightMeasure,
} from './pathways/highlight.ts';
export {
  pathways,
  graphNeurons,
  PATHWAYS_FORMAT,
  type PathwaysOptions,
  type PathwaysResult,
  type SetImportance,
  type EdgeGroup,
} from './pathways/pathways.ts';
export {
  readPathwaysJson,
  PATHWAYS_FORMAT_V1,
  type PathwaysDocument,
  type PathwaysProvenance,
} from './pathways/format.ts';
export { highlightView, type ViewOptions, type HighlightView } from './pathways/view.ts';
export {
  featureVis,
  featureVisBatch,
  irfft2,
  irfftBases,
  rotateBilinear,
  FEATURE_VIS_DEFAULTS,
  type FeatureVisOptions,
  type FeatureVisResult,
  type FeatureVisBatchResult,
} from './pathways/featureVis.ts';
export {
  redirectedRelu,
  redirectedReluGrad,
  redirectRelus,
  REDIRECT_STEPS,
} from './pathways/redirectedRelu.ts';
export {
  atlasGraph,
  atlasLayers,
  atlasPiece,
  atlasPlan,
  atlasSettings,
  ATLAS_DEFAULTS,
  ATLAS_FORMAT,
  type AtlasIndex,
  type AtlasNeuron,
  type AtlasOptions,
  type AtlasPatch,
  type AtlasPiece,
  type AtlasPieceResult,
} from './pathways/atlas.ts';
export {
  receptiveField,
  fieldBox,
  datasetPatches,
  patchPixels,
  type ReceptiveField,
  type Patch,
} from './pathways/patches.ts';
export { neuronDetails, type NeuronDetail, type DetailOptions, type Pixels } from './pathways/detail.ts';
export { imageExploits } from './pathways/imageView.ts';
export { comparePathways, type ModelSummary, type LayerSummary } from './pathways/compare.ts';
export { pathwaysCompareReport } from './report/pathwaysCompare.ts';
export { pathwaysReport, type PathwaysReportOptions, type PathwaysReportFile } from './report/pathways.ts';
export { pathwaysGraphSvg, GROUP_COLUMNS, GROUP_COLOURS } from './report/pathwaysGraph.ts';
