/**
 * The neuron detail panel: the neuron's group, vulnerability and median activations, its feature
 * visualisation and top dataset patches when the data has them, and its median activation against
 * strength (red) with the benign original-class (green) and target-class (blue) levels as lines.
 */
import * as d3 from 'd3';
import type { PathwaysResult } from '../../src/pathways/pathways.ts';
import { COLOURS, type Node } from './graph.ts';
import type { LivePatch, LivePictures, NeuronPictures, Pending } from './data.ts';

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toPrecision(3));

/**
 * A titled row of pictures; a picture whose file is missing (a folder without feature visualisations)
 * removes itself, and the row goes when none is left.
 */
function pictures(
  box: d3.Selection<HTMLDivElement, unknown, null, undefined>,
  title: string,
  srcs: string[],
  big = false,
): void {
  const row = box.append('div').attr('class', 'pic-row');
  row.append('div').attr('class', 'label').text(title);
  const pics = row.append('div').attr('class', big ? 'pics fv' : 'pics');
  srcs.forEach((src, k) =>
    pics
      .append('img')
      .attr('src', src)
      .attr('alt', `${title} ${k + 1}`)
      .on('error', function () {
        (this as HTMLImageElement).remove();
        if (!pics.select('img').node()) row.remove();
      }),
  );
}

/**
 * A titled row whose pictures a server job computes: a spinner until `first` settles, then the
 * pictures (`srcs` of its value) or its error in the row, with a button that asks `again()`. A settled one is drawn at once; a row no longer in
 * the page (the panel was drawn again meanwhile) is left alone.
 */
function pendingPictures<T>(
  box: d3.Selection<HTMLDivElement, unknown, null, undefined>,
  title: string,
  cls: string,
  first: Pending<T>,
  srcs: (v: T) => { src: string; title?: string }[],
  again: () => Pending<T>,
  big = false,
): void {
  const row = box.append('div').attr('class', `pic-row ${cls}`);
  row.append('div').attr('class', 'label').text(title);
  const node = row.node()!;
  const draw = (p: Pending<T>) => {
    row.selectAll('.spinner, .pics, .error').remove();
    if (p.error !== undefined) {
      const err = row.append('div').attr('class', 'error pic-error');
      err.append('span').text(`${title}: ${p.error} `);
      err
        .append('button')
        .attr('type', 'button')
        .attr('class', 'retry')
        .text('try again')
        .on('click', () => draw(again()));
      return;
    }
    if (p.value === undefined) {
      row
        .append('div')
        .attr('class', 'spinner')
        .attr('role', 'status')
        .text(`computing the ${title} on the server…`);
      const redraw = () => node.isConnected && draw(p);
      void p.promise.then(redraw, redraw);
      return;
    }
    const list = srcs(p.value);
    const pics = row.append('div').attr('class', big ? 'pics fv' : 'pics');
    if (!list.length) pics.append('span').attr('class', 'muted').text('none');
    list.forEach(({ src, title: t }, k) =>
      pics
        .append('img')
        .attr('src', src)
        .attr('alt', `${title} ${k + 1}`)
        .attr('title', t ?? null),
    );
  };
  draw(first);
}

/** Fills `el` with the detail of neuron `n` of `r` at strength index `s`. */
export function showDetail(
  el: HTMLElement,
  r: PathwaysResult,
  n: Node,
  s: number,
  pics: NeuronPictures | undefined,
  live?: LivePictures,
): void {
  const box = d3.select(el as HTMLDivElement);
  box.selectAll('*').remove();
  const set = r.neurons[n.layer];
  const c = n.channel;
  const head = box.append('h3');
  head.append('span').attr('class', `swatch swatch-${n.group}`);
  head.append('span').text(`${n.layer} : ${c}`);
  box
    .append('p')
    .attr('class', 'muted')
    .text(
      `${n.group === 'both' ? 'original and target' : n.group} group; vulnerability ${fmt(r.vulnerability[n.layer]?.[c])}`,
    );
  const rows: [string, number | null | undefined, number | null | undefined][] = [
    [`original (${r.original.label})`, set.original.median[c], set.original.percentile[c]],
    [`target (${r.target.label})`, set.target.median[c], set.target.percentile[c]],
    ...(s >= 0
      ? [
          [
            `attacked at ${r.attack.strengths[s]}`,
            set.attacked[s].median[c],
            set.attacked[s].percentile[c],
          ] as [string, number | null, number | null],
        ]
      : []),
  ];
  const t = box.append('table').attr('class', 'values');
  const hr = t.append('tr');
  for (const h of ['images', 'median', 'percentile']) hr.append('th').text(h);
  for (const [name, m, p] of rows) {
    const tr = t.append('tr');
    tr.append('td').text(name);
    tr.append('td').text(fmt(m));
    tr.append('td').text(p === null || p === undefined ? '-' : `${Math.round(p * 100)}%`);
  }
  if (pics?.featureVis) pictures(box, 'feature visualisation', [pics.featureVis], true);
  if (pics?.patches.length) pictures(box, 'dataset patches that activate it most', pics.patches);
  // The logits unit has no picture of its own (a class's probability).
  if (!pics && live && !r.layers.find((l) => l.name === n.layer)?.logits) {
    pendingPictures(
      box,
      'feature visualisation',
      'live-fv',
      live.featureVis,
      (src) => [{ src }],
      live.again.featureVis,
      true,
    );
    pendingPictures(
      box,
      'dataset patches that activate it most',
      'live-patches',
      live.patches,
      (list: LivePatch[]) =>
        list.map((q) => ({ src: q.image, title: `${q.source}: activation ${q.activation.toPrecision(3)}` })),
      live.again.patches,
    );
  }
  box.append('div').attr('class', 'label').text('median activation against strength');
  activationChart(box.append('div').node()!, r, n, s);
}

/** The activation-against-strength chart of a neuron (the current strength marked). */
export function activationChart(el: HTMLElement, r: PathwaysResult, n: Node, s: number): void {
  const W = 260;
  const H = 130;
  const M = { l: 36, r: 8, t: 8, b: 26 };
  const set = r.neurons[n.layer];
  const strengths = r.attack.strengths;
  const attacked = set.attacked.map((a, i) => ({ x: strengths[i], y: a.median[n.channel] }));
  const o = set.original.median[n.channel];
  const t = set.target.median[n.channel];
  const ys = [...attacked.map((p) => p.y), o, t].filter((v): v is number => v !== null);
  const x = d3
    .scaleLinear()
    .domain([0, Math.max(...strengths)])
    .range([M.l, W - M.r]);
  const y = d3
    .scaleLinear()
    .domain([Math.min(0, ...ys), Math.max(1e-9, ...ys)])
    .nice()
    .range([H - M.b, M.t]);
  const svg = d3
    .select(el)
    .append('svg')
    .attr('class', 'chart')
    .attr('width', W)
    .attr('height', H)
    .attr('viewBox', `0 0 ${W} ${H}`)
    .attr('font-size', 10);
  svg
    .append('g')
    .attr('transform', `translate(0,${H - M.b})`)
    .call(d3.axisBottom(x).ticks(5));
  svg.append('g').attr('transform', `translate(${M.l},0)`).call(d3.axisLeft(y).ticks(4));
  svg
    .append('text')
    .attr('x', W - M.r)
    .attr('y', H - 2)
    .attr('text-anchor', 'end')
    .attr('fill', '#555')
    .text('strength');
  for (const [v, colour, name] of [
    [o, COLOURS.original, 'original'],
    [t, COLOURS.target, 'target'],
  ] as const)
    if (v !== null)
      svg
        .append('line')
        .attr('class', `level-${name}`)
        .attr('x1', M.l)
        .attr('x2', W - M.r)
        .attr('y1', y(v))
        .attr('y2', y(v))
        .attr('stroke', colour)
        .attr('stroke-dasharray', '4 3');
  const pts = attacked.filter((p): p is { x: number; y: number } => p.y !== null);
  svg
    .append('path')
    .attr('class', 'attacked')
    .attr('fill', 'none')
    .attr('stroke', COLOURS.exploited)
    .attr('stroke-width', 1.5)
    .attr(
      'd',
      d3
        .line<{ x: number; y: number }>()
        .x((p) => x(p.x))
        .y((p) => y(p.y))(pts),
    );
  svg
    .selectAll('circle')
    .data(pts)
    .join('circle')
    .attr('cx', (p) => x(p.x))
    .attr('cy', (p) => y(p.y))
    .attr('r', (p) => (s >= 0 && p.x === strengths[s] ? 4 : 2.2))
    .attr('fill', COLOURS.exploited);
}
