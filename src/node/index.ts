/**
 * advlens/node: the Node adapters over the core (`advlens`): the Node backend, files, images,
 * datasets, model folders, checkpoints and the worker pool. Re-exports the core, so a Node program
 * needs only this entry point.
 */
export * from '../index.ts';
export { initNodeBackend } from './backend.ts';
export { loadDataset, listData } from './loadData.ts';
export { fetchDataset } from './fetch.ts';
export { decodeImage, encodePng, loadImageDataset } from './image.ts';

export { loadClassifier, saveClassifier, writeCard } from './models.ts';
export { nodeImageEncoder, writeReportFiles } from './reportFiles.ts';
export { explainSetOnPool } from './explainPool.ts';
export { runDemo } from './demo.ts';
export { zooTableRun } from './zooTableRun.ts';
export { fileHandler } from './fsio.ts';
export { loadStylizer, loadFastStyleVariables, loadArbitraryStyle, loadPaintings } from './styleModels.ts';
export { stylizeDataset, contactSheet } from './stylizeRun.ts';

export { folderCheckpoint } from './checkpoint.ts';

export { createPool, withPool, defaultWorkers, type WorkerPool, type PoolOptions } from './pool.ts';
export { writeFileAtomic, readJson } from './fsio.ts';
export { listZoo, trainCommand } from './zoo.ts';
export {
  readPlanFile,
  runSweepFile,
  runSweepPlan,
  startSweepWorker,
  type SweepRunOptions,
  type SweepOutput,
} from './sweep.ts';
export { queueEngine, type SweepQueue, type QueueEngine } from './sweepQueue.ts';
export {
  atlasRun,
  atlasCacheDir,
  findAtlas,
  readAtlas,
  type AtlasRunOptions,
  type AtlasRunResult,
} from './atlasRun.ts';
