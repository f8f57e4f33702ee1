import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridLabelsSvg, gridLayout, gridPixels, wrapLabel } from '../../src/report/grid.ts';

test('gridLayout: 28 px cells enlarged 4x with 4 px gaps; label bands add to the size', () => {
  const plain = gridLayout(2, 7, 28, 28);
  assert.deepEqual([plain.zoom, plain.left, plain.top, plain.width, plain.height], [4, 0, 0, 816, 236]);
  const l = gridLayout(2, 7, 28, 28, { rows: [['abc'], ['abcdef']], cols: ['input', 'model gradient'] });
  assert.ok(l.left >= 6 * 6 && l.top > 0);
  assert.equal(l.width, l.left + 816);
  assert.equal(l.height, l.top + 236);
  // 224 px inputs are not enlarged.
  assert.equal(gridLayout(1, 3, 224, 224).zoom, 1);
});

test('wrapLabel breaks after hyphens and spaces, and cuts a word longer than a line', () => {
  assert.deepEqual(wrapLabel('mnist-small-cnn integrated-gradients', 16), [
    'mnist-small-cnn',
    'integrated-',
    'gradients',
  ]);
  assert.deepEqual(wrapLabel('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
  assert.deepEqual(wrapLabel('input', 16), ['input']);
});

test('gridPixels: each source pixel becomes a zoom x zoom block at its cell, the rest is white', () => {
  // 2x2 cells (h = w = 2) enlarged to about 112 px: zoom 56.
  const l = gridLayout(1, 2, 2, 2, { rows: [['r']], cols: ['a', 'b'] });
  const gray = { data: Float32Array.from([0, 0.5, 1, 0.25]), shape: [2, 2, 1] as const };
  const rgb = {
    data: Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]),
    shape: [2, 2, 3] as const,
  };
  const px = gridPixels([[gray, rgb]], l);
  const at = (y: number, x: number) =>
    Array.from(px.subarray((y * l.width + x) * 3, (y * l.width + x) * 3 + 3));
  const y0 = l.top + l.gap;
  const x0 = l.left + l.gap;
  const x1 = x0 + l.cell[1] + l.gap;
  assert.deepEqual(at(y0, x0), [0, 0, 0]);
  assert.deepEqual(
    at(y0 + l.zoom - 1, x0 + l.zoom),
    [128, 128, 128],
    'pixel (0,1) of the gray cell: 0.5 -> 128',
  );
  assert.deepEqual(at(y0 + l.zoom, x0), [255, 255, 255], 'pixel (1,0): 1 -> 255');
  assert.deepEqual(at(y0 + 2 * l.zoom - 1, x0 + 2 * l.zoom - 1), [64, 64, 64], 'pixel (1,1): 0.25 -> 64');
  assert.deepEqual(at(y0 + l.zoom, x1 + l.zoom), [100, 110, 120], 'pixel (1,1) of the RGB cell');
  assert.deepEqual(at(0, 0), [255, 255, 255], 'label band');
  assert.deepEqual(at(y0, x0 - 1), [255, 255, 255], 'gap');
  assert.throws(() => gridPixels([[{ data: new Float32Array(9), shape: [3, 3, 1] }]], l), /3x3/);
});

test('gridLabelsSvg: one text per label line, escaped, on an SVG of the grid size', () => {
  const labels = { rows: [['a<b', 'label 7']], cols: ['input', 'x & y'] };
  const l = gridLayout(1, 2, 28, 28, labels);
  const svg = gridLabelsSvg(l, labels);
  assert.match(svg, new RegExp(`width="${l.width}" height="${l.height}"`));
  assert.equal((svg.match(/<text /g) ?? []).length, 4);
  assert.match(svg, /a&lt;b/);
  assert.match(svg, /x &amp; y/);
});
