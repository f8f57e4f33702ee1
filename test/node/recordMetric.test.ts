import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CARD_FILE, recordMetric, writeCard } from '../../src/node/models.ts';
import { plainPreprocess, type MetricRecord, type ModelCard } from '../../src/models/card.ts';

const card: ModelCard = {
  format: 'advlens-card/1',
  name: 'm',
  architecture: 'a',
  modelType: 'layers',
  preprocess: plainPreprocess(8, 8, 1),
  labels: ['a', 'b'],
  output: 'logits',
  versions: {},
  created: '',
};
const metric = (accuracy: number): MetricRecord => ({
  data: 'd',
  source: 's',
  examples: 10,
  accuracy,
  measuredAt: 't',
});

test('recordMetric keeps what another command recorded into the card while this one measured', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-card-'));
  try {
    writeCard(dir, card);
    const loaded = JSON.parse(fs.readFileSync(path.join(dir, CARD_FILE), 'utf8')) as ModelCard;
    // Meanwhile another command records a clean accuracy...
    recordMetric(dir, card, 'mnist:test', metric(0.9));
    // ...and this one, which loaded the card before, records its own measurement.
    recordMetric(dir, loaded, 'pgd200:mnist:test', metric(0.5));
    const now = JSON.parse(fs.readFileSync(path.join(dir, CARD_FILE), 'utf8')) as ModelCard;
    assert.equal(now.metrics?.['mnist:test']?.accuracy, 0.9);
    assert.equal(now.metrics?.['pgd200:mnist:test']?.accuracy, 0.5);
    // A folder without a card file gets the loaded card with the measurement.
    const bare = path.join(dir, 'bare');
    fs.mkdirSync(bare);
    recordMetric(bare, card, 'k', metric(0.25));
    const written = JSON.parse(fs.readFileSync(path.join(bare, CARD_FILE), 'utf8')) as ModelCard;
    assert.equal(written.name, 'm');
    assert.equal(written.metrics?.k?.accuracy, 0.25);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
