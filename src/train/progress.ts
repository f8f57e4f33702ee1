/** One progress report, after every batch. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSec: number;
  etaSec: number;
  lr: number;
}

/** One finished epoch: its mean loss and accuracy over the training examples, its last rate and time. */
export interface EpochResult {
  epoch: number;
  loss: number;
  accuracy: number;
  lr: number;
  seconds: number;
}

/** An epoch's running totals (what a mid-epoch checkpoint keeps of its progress). */
export interface EpochTotals {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

/**
 * The running totals of one epoch, optionally continuing `from` those of a stopped run: `add`
 * records a batch's mean loss and hits and returns the progress report; `totals` says where the
 * epoch stands; `result` closes the epoch.
 */
export function epochMeter(
  epoch: number,
  epochs: number,
  batches: number,
  examples: number,
  from: EpochTotals = { lossSum: 0, correct: 0, seen: 0, seconds: 0 },
) {
  const t0 = performance.now();
  let { lossSum, correct, seen } = from;
  const elapsed = () => from.seconds + (performance.now() - t0) / 1000;
  return {
    add(loss: number, hits: number, n: number, batch: number, lr: number): TrainProgress {
      lossSum += loss * n;
      correct += hits;
      seen += n;
      const dt = (performance.now() - t0) / 1000;
      const rate = (seen - from.seen) / Math.max(dt, 1e-9);
      const remaining = (epochs - epoch - 1) * examples + (examples - seen);
      return {
        epoch: epoch + 1,
        epochs,
        batch: batch + 1,
        batches,
        loss: lossSum / seen,
        accuracy: correct / seen,
        imagesPerSec: rate,
        etaSec: remaining / rate,
        lr,
      };
    },
    totals(): EpochTotals {
      return { lossSum, correct, seen, seconds: elapsed() };
    },
    result(lr: number): EpochResult {
      return { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, lr, seconds: elapsed() };
    },
  };
}
