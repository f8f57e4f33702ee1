import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../src/errors.ts';
import { inferCard, isGraphModel, resolveCard, type ModelSource } from '../../src/models/resolveCard.ts';
import type { ModelCard } from '../../src/models/card.ts';

function source(over: Partial<ModelSource> = {}): ModelSource {
  return {
    where: 'http://x/m/',
    name: 'm',
    modelJson: { modelTopology: { class_name: 'Sequential' } },
    files: [],
    labels: () => {
      throw new Error('labels read although not needed');
    },
    ...over,
  };
}

test('a card beside the model is used as it is; anything else named advlens.json is a user error', () => {
  const card = {
    format: 'advlens-card/1',
    name: 'c',
    modelType: 'graph',
    preprocess: { height: 28, width: 28, channels: 1, resize: 'fill', scale: [0, 1] },
    labels: ['a', 'b'],
    output: 'logits',
  } as ModelCard;
  const got = resolveCard(source({ card: { json: card, where: 'c.json' } }))!;
  // the card is validated (defaults filled in for what it leaves out) and keeps every field it has
  for (const k of ['format', 'name', 'modelType', 'preprocess', 'labels', 'output'] as const)
    assert.deepEqual(got[k], card[k], k);
  assert.equal(isGraphModel(source(), card), true);
  assert.throws(
    () => resolveCard(source({ card: { json: { format: 'other' }, where: 'http://x/m/advlens.json' } })),
    (e: Error) => e instanceof UserError && /http:\/\/x\/m\/advlens.json: format is .*other.*not an advlens card/.test(e.message),
  );
  assert.throws(() => resolveCard(source(), 'nope'), (e: Error) => e instanceof UserError && /unknown preset 'nope'/.test(e.message));
});

test('without a card or preset nothing is resolved, and the card inferred from the model takes labels.json', async () => {
  tf.setBackend('cpu');
  assert.equal(resolveCard(source()), undefined);
  assert.equal(isGraphModel(source({ modelJson: { format: 'graph-model' } }), undefined), true);
  assert.equal(isGraphModel(source(), undefined), false);
  const m = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [5, 4, 3] }), tfl.layers.dense({ units: 2 })] });
  const card = inferCard(m, source({ files: ['labels.json'], labels: () => ['cat', 'dog'] }));
  assert.deepEqual(card.preprocess, { height: 5, width: 4, channels: 3, resize: 'fill', scale: [0, 1] });
  assert.deepEqual(card.labels, ['cat', 'dog']);
  assert.equal(card.name, 'm');
  assert.equal(card.modelType, 'layers');
  const flat = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [7] })] });
  assert.throws(() => inferCard(flat, source()), (e: Error) => e instanceof UserError && /takes input of shape \[,7\]/.test(e.message));
  m.dispose();
  flat.dispose();
});
