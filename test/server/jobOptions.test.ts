/**
 * The explorer's job options come from specs (src/server/jobOptions.ts): a bad value of each job
 * kind is a 400 whose one line names the kind, the option and what it must be; defaults apply.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, png, postJob, server, upload } from './helpers.ts';
import { jobOptionSpecs } from '../../src/server/jobOptions.ts';
import { JOB_KINDS } from '../../src/server/jobs.ts';

const app = await server({ limits: { steps: 300 } });
after(() => app.close());

const up = await upload(app, [{ name: 'a.png', data: await png(28, 28, 3) }]);
assert.equal(up.statusCode, 201, up.body);
const image: string = up.json().images[0].id;
const model = 'mnist-gap-cnn';

/** [kind, a request of that kind with one bad option, the whole error line]. */
const cases: [string, Record<string, unknown>, string][] = [
  [
    'pathways',
    { target: 1, steps: 0 },
    "job 'pathways': option 'steps' must be an integer >= 1 and <= 300 (got 0)",
  ],
  [
    'pathways',
    { target: 1, neurons: 0 },
    "job 'pathways': option 'neurons' must be a number > 0 and <= 1 (got 0)",
  ],
  [
    'pathways',
    { target: 1, keep: 'some' },
    "job 'pathways': unknown keep 'some'; use one of successful, all (option 'keep')",
  ],
  [
    'attack',
    { strength: -0.1 },
    "job 'attack': option 'strength' must be a number >= 0 and <= 1000000 (got -0.1)",
  ],
  ['attack', {}, "job 'attack': option 'strength' is required (the attack's budget (eps))"],
  [
    'curve',
    { strengths: [0.1], seed: 1.5 },
    "job 'curve': option 'seed' must be an integer >= 0 and <= 2147483647 (got 1.5)",
  ],
  [
    'featurevis',
    { layer: 'conv1', channel: 0, steps: 301 },
    "job 'featurevis': option 'steps' must be an integer >= 1 and <= 300 (got 301)",
  ],
  [
    'featurevis',
    { layer: '', channel: 0 },
    "job 'featurevis': option 'layer' must be the name of a pathways layer (as in the pathways result) (got '')",
  ],
  [
    'patches',
    { layer: 'conv1', channel: 0, count: 17 },
    "job 'patches': option 'count' must be an integer >= 1 and <= 16 (got 17)",
  ],
  [
    'patches',
    { layer: 'conv1', channel: -1 },
    "job 'patches': option 'channel' must be an integer >= 0 and <= 1000000 (got -1)",
  ],
  [
    'exploits',
    { k: 101, neurons: { conv1: { original: [1], target: [1] } } },
    "job 'exploits': option 'k' must be an integer >= 1 and <= 100 (got 101)",
  ],
];

test('a bad option of each job kind is a 400 with one line naming the kind, the option and its range', async () => {
  for (const [kind, options, line] of cases) {
    const r = await postJob(app, { kind, model, images: [image], ...options });
    assert.equal(r.statusCode, 400, `${kind} ${JSON.stringify(options)}: ${r.body}`);
    assert.equal(errorOf(r), line);
  }
  // Every kind with scalar options has a case above.
  const covered = new Set(cases.map((c) => c[0]));
  for (const kind of JOB_KINDS)
    if (Object.keys(jobOptionSpecs(300)[kind]).length > 0) assert.ok(covered.has(kind), kind);
});

test('the specs hold the defaults the jobs run with and bound every iteration count by the limit', () => {
  const specs = jobOptionSpecs(300);
  const defaults = (kind: keyof typeof specs) =>
    Object.fromEntries(Object.entries(specs[kind]).map(([k, s]) => [k, s.default]));
  assert.deepEqual(defaults('pathways'), {
    steps: 50,
    stepFraction: 0.2,
    keep: 'successful',
    k: 10,
    seed: 0,
    measure: 'activated',
    neurons: 0.2,
    edges: 0.3,
  });
  assert.deepEqual(defaults('patches'), { layer: undefined, channel: undefined, count: 10, limit: 500 });
  for (const kind of JOB_KINDS) {
    const steps = specs[kind].steps;
    if (steps) assert.equal(steps.type === 'number' && steps.max, 300, kind);
  }
});
