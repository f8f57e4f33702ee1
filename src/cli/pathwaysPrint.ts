/** What `advlens pathways` prints per model: successes per strength, groups per layer, timings. */
import type { PathwaysResult } from '../pathways/pathways.ts';

/** Prints one model's pathways run. */
export function printRun(r: PathwaysResult, name: string): void {
  console.log(
    `${name}: ${r.original.images} images of ${r.original.label} attacked toward ${r.target.label} with ${r.attack.name}:`,
  );
  for (const s of r.success)
    console.log(
      `  strength ${s.strength}: ${s.succeeded}/${s.attempted} reached ${r.target.label}, ${s.kept} kept`,
    );
  for (const l of r.layers) {
    const g = r.groups[l.name];
    const [b, or, t, e] = [g.both, g.original, g.target, g.exploited].map((v) => v.length);
    console.log(`  ${l.name}: ${b} both, ${or} original, ${t} target, ${e} exploited`);
  }
  if (r.target.source === 'none') console.log('  no target images and no success: the target group is empty');
  else if (r.target.source !== 'images')
    console.log(
      `  no target images: the target group rests on the attacked images that reached ${r.target.label} at strength ${r.target.source.attackedAt}`,
    );
  console.log(
    `  time: ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
      .join(', ')}`,
  );
}
