/**
 * The model card `advlens.json` saved beside every model: what the model is, how to feed it, how it
 * was trained, what it scored and with which software. Every result the project reports cites it.
 */
export interface Preprocess {
  /** Spatial input size [H, W] and channels. */
  height: number;
  width: number;
  channels: 1 | 3;
  /** How images of another size are fitted: stretch ('fill') or resize the short side and centre-crop ('cover'). */
  resize: 'fill' | 'cover';
  /** Pixels in [0, 1] are mapped linearly to [scale[0], scale[1]] inside the model wrapper. */
  scale: [number, number];
  /** Optional per-channel mean and std applied after scaling: (v - mean) / std. */
  mean?: number[];
  std?: number[];
}

export interface TrainingRecord {
  /** Everything needed to reproduce: data, architecture, objective, optimiser, schedule, seed. */
  recipe: Record<string, unknown>;
  /** The command line that produced it. */
  command?: string;
  epochsDone: number;
  wallTimeSec: number;
  history: { epoch: number; loss: number; accuracy: number; lr: number; seconds: number }[];
}

export interface MetricRecord {
  data: string;
  source: string;
  examples: number;
  accuracy: number;
  measuredAt: string;
  command?: string;
  [k: string]: unknown;
}

export interface ModelCard {
  format: 'advlens-card/1';
  name: string;
  description?: string;
  architecture: string;
  /** 'layers' (tfjs LayersModel) or 'graph' (tfjs GraphModel). */
  modelType: 'layers' | 'graph';
  preprocess: Preprocess;
  labels: string[];
  /** The model's raw output: logits (default) or probabilities (softmax already applied). */
  output: 'logits' | 'probabilities';
  /** Named layers useful for taps: the last conv layer (Grad-CAM) and the CAM head, when known. */
  layers?: { lastConv?: string; camFeatures?: string; camDense?: string };
  training?: TrainingRecord;
  metrics?: Record<string, MetricRecord>;
  /** Zoo members: how the training differs from the papers' (src/zoo/paperSetting.ts). */
  zoo?: {
    member: string;
    /** The row of the seed's Table 1 this member stands for, or null (a baseline the paper lacks). */
    seedRow: string | null;
    paper: string;
    differences: string[];
  };
  versions: Record<string, string>;
  created: string;
  license?: string;
}

/** Identity preprocessing for [0,1] input at the given size. */
export function plainPreprocess(height: number, width: number, channels: 1 | 3): Preprocess {
  return { height, width, channels, resize: 'fill', scale: [0, 1] };
}
