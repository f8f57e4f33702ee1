/**
 * Measures the explorer's pathways job on darknet tiny with ../shared/data/photos/cat.jpg over real
 * HTTP: the time to each strength's partial result and to the end, the health latency meanwhile, and
 * the cache hit of the same request. Not part of `npm test` (minutes); run it with
 *
 *   node --import tsx test/server/measure-darknet.ts [target class] [strengths]
 */
import { CAT, NO_SHARED } from './helpers.ts';
import { childServer, events, healthWhile, pct, submit, uploadFiles } from './live.ts';

if (NO_SHARED) {
  console.log(`skipped: ${NO_SHARED}`);
  process.exit(0);
}
const target = process.argv[2] ?? 'Walker hound';
const strengths = (process.argv[3] ?? '0.25,0.5,1,1.5,2,2.5').split(',').map(Number);
// The server in a child process: the client's parsing of megabyte events does not stall its loop.
const srv = await childServer();
try {
  // As the page does: open the model (the server loads it in the worker), then upload the photo.
  const opened = performance.now();
  await (await fetch(`${srv.base}/api/models/darknet-tiny`)).json();
  const [id] = await uploadFiles(srv.base, [CAT]);
  const body = { kind: 'pathways', model: 'darknet-tiny', images: [id], target, strengths };
  const t0 = performance.now();
  const job = await submit(srv.base, body);
  const stream = events(srv.base, job.id, (e) => {
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    if (e.event === 'progress' && e.data.partial && e.data.label.endsWith('done'))
      console.log(
        `${s} s (${((performance.now() - opened) / 1000).toFixed(1)} s since the model was opened): strengths ${e.data.partial.pathways.attack.strengths.join(',')} published (${e.data.label})`,
      );
    if (e.event === 'done') console.log(`${s} s: done`);
    if (e.event === 'failed') console.log(`${s} s: failed: ${e.data.error}`);
  });
  const lat = await healthWhile(srv.base, stream, 100);
  const evs = await stream;
  const res = evs.at(-1)!.data.result;
  console.log(
    `success per strength: ${JSON.stringify(res?.pathways.success.map((x: { succeeded: number }) => x.succeeded))}`,
  );
  console.log(`timings of the last strength (ms): ${JSON.stringify(res?.pathways.timings)}`);
  console.log(
    `health during the job: ${lat.length} answers, median ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`,
  );
  const t1 = performance.now();
  const again = await submit(srv.base, body);
  const t2 = performance.now();
  const got = await (await fetch(`${srv.base}/api/jobs/${again.id}`)).json();
  const t3 = performance.now();
  console.log(
    `cache hit: cached=${again.cached}, POST ${(t2 - t1).toFixed(1)} ms, GET of the full result ${(t3 - t2).toFixed(1)} ms (${(JSON.stringify(got).length / 1024).toFixed(0)} KB)`,
  );
} finally {
  await srv.stop();
}
