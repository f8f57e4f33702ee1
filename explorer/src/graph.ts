/**
 * The layered pathways graph in D3 (Bluff's attribution graph): one row per layer (input side at the
 * bottom, logits at the top), neurons in four columns (original / both / target / exploited, Bluff's
 * colours), curved edges whose halves take the colours of the two groups they join, edge width by the
 * highlight measure (influence, or its change). The layout and the DOM are built once per result;
 * moving the strength or the highlight only recomputes the highlighted view (the library's
 * `highlightView`) and updates attributes, so a redraw stays well under 200 ms.
 *
 * Compare mode (two strengths) draws Bluff's four node states: highlighted at both strengths (solid),
 * only at the stronger (solid with a white core), only at the weaker (faint with a solid core),
 * neither (faint); its edges are those most activated by the weaker, the stronger or either attack.
 */
import * as d3 from 'd3';
import type { PathwaysResult } from '../../src/pathways/pathways.ts';
import { graphNeurons } from '../../src/pathways/pathways.ts';
import { highlightView, type HighlightView } from '../../src/pathways/view.ts';
import { measureValue, type HighlightMeasure } from '../../src/pathways/highlight.ts';

/** The graph's columns, left to right, and their colours (Bluff's palette, as the CLI report). */
export const GROUPS = ['original', 'both', 'target', 'exploited'] as const;
export type Group = (typeof GROUPS)[number];
export const COLOURS: Record<Group, string> = {
  original: '#33a02c',
  both: '#ff7f00',
  target: '#1f78b4',
  exploited: '#e31a1c',
};
const GROUP_TITLES: Record<Group, string> = {
  original: 'original',
  both: 'original and target',
  target: 'target',
  exploited: 'exploited by the attack',
};

/** Which neurons the graph shows: all of the graph, the pinned ones, or the highlighted ones. */
export type ShowMode = 'full' | 'pinned' | 'highlighted';
/** In compare mode, which edges: those most activated by the weaker, the stronger or either attack. */
export type CompareEdges = 'either' | 'weaker' | 'stronger';

/** Everything the drawing depends on besides the result. */
export interface GraphState {
  /** Strength index, -1 for the benign images. */
  strength: number;
  /** Two strength indices (weaker, stronger) when comparing, else null. */
  compare: [number, number] | null;
  compareEdges: CompareEdges;
  show: ShowMode;
  measure: HighlightMeasure;
  /** Fractions of neurons and of connections highlighted. */
  neurons: number;
  edges: number;
  pinned: Set<string>;
}

/** A neuron as drawn: its key `layer:channel`, layer, channel, group and position. */
export interface Node {
  key: string;
  layer: string;
  channel: number;
  group: Group;
  x: number;
  y: number;
}

interface Edge {
  id: string;
  group: number;
  pair: number;
  from: Node;
  to: Node;
}

const NODE = 18;
const GAP = 5;
const LEFT = 120;
const TOP = 56;
const COL_GAP = 34;
const FAINT = 0.15;

/** The cubic curve of an edge from a lower node to an upper one, split in halves at t = 0.5. */
function halves(a: Node, b: Node): [string, string] {
  const x0 = a.x;
  const y0 = a.y - NODE / 2;
  const x3 = b.x;
  const y3 = b.y + NODE / 2;
  const ym = (y0 + y3) / 2;
  // Control points (x0, ym) and (x3, ym): the midpoint at t = 0.5 is ((x0+x3)/2, ym); de Casteljau.
  const mx = (x0 + x3) / 2;
  const q1 = [x0, (y0 + ym) / 2];
  const q2 = [(x0 + mx) / 2, ym];
  const r1 = [(mx + x3) / 2, ym];
  const r2 = [x3, (ym + y3) / 2];
  const f = (v: number) => v.toFixed(1);
  return [
    `M${f(x0)},${f(y0)}C${f(q1[0])},${f(q1[1])} ${f(q2[0])},${f(q2[1])} ${f(mx)},${f(ym)}`,
    `M${f(mx)},${f(ym)}C${f(r1[0])},${f(r1[1])} ${f(r2[0])},${f(r2[1])} ${f(x3)},${f(y3)}`,
  ];
}

/** Callbacks of the graph: a neuron hovered (null: left) or clicked. */
export interface GraphHandlers {
  hover(node: Node | null, event?: MouseEvent): void;
  click(node: Node): void;
}

/** The D3 graph in an element; `setResult` once per result, `update` per state change. */
export class PathwaysGraph {
  readonly svg: d3.Selection<SVGSVGElement, unknown, null, undefined>;
  /** The layer under `svg` with every edge of the graph (the full graph's grey web). */
  readonly bgSvg: d3.Selection<SVGSVGElement, unknown, null, undefined>;
  private bgRoot: d3.Selection<SVGGElement, unknown, null, undefined>;
  private root: d3.Selection<SVGGElement, unknown, null, undefined>;
  private r: PathwaysResult | null = null;
  private nodes: Node[] = [];
  private byKey = new Map<string, Node>();
  private edges: Edge[] = [];
  private incident = new Map<string, Edge[]>();
  private edgeById = new Map<string, Edge>();
  private hovered: string | null = null;
  private state: GraphState | null = null;
  /** The views of the last update: at the strength (or the stronger and the weaker one). */
  view: HighlightView | null = null;
  weakView: HighlightView | null = null;
  /** Milliseconds the last update took (view computation and DOM). */
  lastUpdateMs = 0;
  width = 0;
  height = 0;
  private row = 96;

  constructor(
    container: HTMLElement,
    private handlers: GraphHandlers,
  ) {
    // Two layers: the grey web of every edge in its own SVG below (a composited layer of its own, so
    // a redraw does not repaint thousands of curves), the graph itself above.
    const wrap = d3.select(container).append('div').attr('class', 'graph-wrap');
    this.bgSvg = wrap
      .append('svg')
      .attr('class', 'graph-bg')
      .attr('xmlns', 'http://www.w3.org/2000/svg')
      .attr('aria-hidden', 'true');
    this.bgRoot = this.bgSvg.append('g');
    this.svg = wrap
      .append('svg')
      .attr('class', 'graph')
      .attr('xmlns', 'http://www.w3.org/2000/svg')
      .attr('font-family', 'system-ui, sans-serif')
      .attr('font-size', 11);
    this.root = this.svg.append('g').attr('class', 'zoom');
    const zoom = d3
      .zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.2, 8])
      .on('zoom', (ev: d3.D3ZoomEvent<SVGSVGElement, unknown>) => {
        this.root.attr('transform', ev.transform.toString());
        this.bgRoot.attr('transform', ev.transform.toString());
      });
    this.svg.call(zoom).on('dblclick.zoom', null);
    this.resetZoom = () => this.svg.call(zoom.transform, d3.zoomIdentity);
  }

  /** Back to the whole graph, unzoomed. */
  resetZoom: () => void;

  /** Lays out and draws a result's neurons and edges (all of them; `update` shows and sizes them). */
  setResult(r: PathwaysResult): void {
    this.r = r;
    const keep = graphNeurons(r);
    const groupOf = (layer: string, c: number): Group => {
      const g = r.groups[layer];
      return g.both.includes(c)
        ? 'both'
        : g.original.includes(c)
          ? 'original'
          : g.target.includes(c)
            ? 'target'
            : 'exploited';
    };
    const counts = GROUPS.map((g) =>
      Math.max(1, ...r.layers.map((l) => keep[l.name].filter((c) => groupOf(l.name, c) === g).length)),
    );
    const colX: number[] = [];
    let x = LEFT;
    // A column is as wide as its widest layer, and at least as wide as its title.
    counts.forEach((n, i) => {
      colX.push(x);
      x += Math.max(n * (NODE + GAP), 7.2 * GROUP_TITLES[GROUPS[i]].length) + COL_GAP;
    });
    // Rows: roomy for a few layers, tighter for deep networks (darknet tiny has 17).
    const ROW = (this.row = r.layers.length > 8 ? 64 : 96);
    this.width = x;
    this.height = TOP + r.layers.length * ROW;
    this.nodes = [];
    this.byKey.clear();
    r.layers.forEach((l, i) => {
      const y = TOP + (r.layers.length - 1 - i) * ROW + ROW / 2;
      const seen = GROUPS.map(() => 0);
      // Within a column, by channel for a stable order.
      for (const c of [...keep[l.name]].sort((a, b) => a - b)) {
        const g = groupOf(l.name, c);
        const gi = GROUPS.indexOf(g);
        const n: Node = {
          key: `${l.name}:${c}`,
          layer: l.name,
          channel: c,
          group: g,
          x: colX[gi] + seen[gi]++ * (NODE + GAP) + NODE / 2,
          y,
        };
        this.nodes.push(n);
        this.byKey.set(n.key, n);
      }
    });
    this.edges = [];
    this.incident.clear();
    this.edgeById.clear();
    r.edges.forEach((e, group) =>
      e.pairs.forEach(([f, t], pair) => {
        const from = this.byKey.get(`${e.from}:${f}`);
        const to = this.byKey.get(`${e.to}:${t}`);
        if (!from || !to) return;
        const edge = { id: `${group}/${pair}`, group, pair, from, to };
        this.edges.push(edge);
        this.edgeById.set(edge.id, edge);
        for (const k of [from.key, to.key]) {
          if (!this.incident.has(k)) this.incident.set(k, []);
          this.incident.get(k)!.push(edge);
        }
      }),
    );

    this.svg.attr('viewBox', `0 0 ${this.width} ${this.height}`);
    this.bgSvg.attr('viewBox', `0 0 ${this.width} ${this.height}`);
    this.root.selectAll('*').remove();
    this.bgRoot.selectAll('*').remove();
    const head = this.root.append('g').attr('class', 'heads');
    GROUPS.forEach((g, i) =>
      head
        .append('text')
        .attr('x', colX[i])
        .attr('y', 24)
        .attr('fill', COLOURS[g])
        .attr('font-weight', 600)
        .attr('font-size', 13)
        .text(GROUP_TITLES[g]),
    );
    const rows = this.root.append('g').attr('class', 'rows');
    r.layers.forEach((l, i) => {
      const y = TOP + (r.layers.length - 1 - i) * ROW + ROW / 2;
      rows
        .append('line')
        .attr('x1', 8)
        .attr('x2', this.width - 8)
        .attr('y1', y)
        .attr('y2', y)
        .attr('stroke', '#eee');
      rows
        .append('text')
        .attr('x', 8)
        .attr('y', y + 4)
        .attr('fill', '#555')
        .text(`${l.name}${l.logits ? '' : ` (${l.channels})`}`);
    });
    // All the graph's edges as one faint path in the layer below; the shown edges in this one.
    this.bgRoot
      .append('path')
      .attr('class', 'all-edges')
      .attr('fill', 'none')
      .attr('stroke', '#bbb')
      .attr('stroke-width', 0.5)
      .attr('stroke-opacity', 0.35)
      .attr('d', this.edges.map((e) => halves(e.from, e.to).join('')).join(''));
    this.root.append('g').attr('class', 'edges').attr('fill', 'none');
    this.root.append('g').attr('class', 'trace').attr('fill', 'none');
    const nodes = this.root
      .append('g')
      .attr('class', 'nodes')
      .selectAll<SVGGElement, Node>('g')
      .data(this.nodes, (d) => d.key)
      .join('g')
      .attr('class', 'node')
      .attr('data-key', (d) => d.key)
      .attr('transform', (d) => `translate(${d.x - NODE / 2},${d.y - NODE / 2})`)
      .attr('cursor', 'pointer');
    nodes
      .append('rect')
      .attr('class', 'outer')
      .attr('width', NODE)
      .attr('height', NODE)
      .attr('rx', 3)
      .attr('fill', (d) => COLOURS[d.group])
      .attr('stroke', (d) => COLOURS[d.group]);
    nodes
      .append('rect')
      .attr('class', 'inner')
      .attr('x', NODE / 4)
      .attr('y', NODE / 4)
      .attr('width', NODE / 2)
      .attr('height', NODE / 2)
      .attr('rx', 1.5)
      .attr('display', 'none');
    nodes
      .append('rect')
      .attr('class', 'pin')
      .attr('x', -3)
      .attr('y', -3)
      .attr('width', NODE + 6)
      .attr('height', NODE + 6)
      .attr('rx', 4)
      .attr('fill', 'none')
      .attr('stroke', '#222')
      .attr('stroke-width', 2)
      .attr('display', 'none');
    nodes
      .on('mouseenter', (ev: MouseEvent, d) => {
        this.hovered = d.key;
        this.drawTrace();
        this.handlers.hover(d, ev);
      })
      .on('mousemove', (ev: MouseEvent, d) => this.handlers.hover(d, ev))
      .on('mouseleave', () => {
        this.hovered = null;
        this.drawTrace();
        this.handlers.hover(null);
      })
      .on('click', (_ev, d) => this.handlers.click(d));
  }

  /** The node of a key, if the graph has it. */
  node(key: string): Node | undefined {
    return this.byKey.get(key);
  }

  private edgeValue(e: Edge, s: number, measure: HighlightMeasure): number {
    const g = this.r!.edges[e.group];
    return measureValue(
      measure,
      g.original[e.pair] ?? NaN,
      s >= 0 ? (g.attacked[s][e.pair] ?? NaN) : undefined,
    );
  }

  /** Recomputes the highlighted view(s) for `st` and updates the drawing; returns the milliseconds. */
  update(st: GraphState): number {
    const t0 = performance.now();
    const r = this.r;
    if (!r) return 0;
    this.state = st;
    const opts = { measure: st.measure, neurons: st.neurons, edges: st.edges };
    const strong = st.compare ? st.compare[1] : st.strength;
    this.view = highlightView(r, { ...opts, strength: strong });
    this.weakView = st.compare ? highlightView(r, { ...opts, strength: st.compare[0] }) : null;
    const setOf = (v: HighlightView) =>
      new Set(Object.entries(v.neurons).flatMap(([l, cs]) => cs.map((c) => `${l}:${c}`)));
    const hi = setOf(this.view);
    const hiWeak = this.weakView ? setOf(this.weakView) : null;
    const visible = (d: Node) =>
      st.show === 'full' ||
      (st.show === 'pinned'
        ? st.pinned.has(d.key)
        : hi.has(d.key) || !!hiWeak?.has(d.key) || st.pinned.has(d.key));

    const nodes = this.root.selectAll<SVGGElement, Node>('g.node');
    nodes.attr('display', (d) => (visible(d) ? null : 'none'));
    // Node states: solid when highlighted (at the stronger strength when comparing), faint otherwise;
    // comparing, the inner square marks the strengths that disagree (Bluff's encoding).
    const onlyStrong = (d: Node) => !!hiWeak && hi.has(d.key) && !hiWeak.has(d.key);
    const onlyWeak = (d: Node) => !!hiWeak && !hi.has(d.key) && hiWeak.has(d.key);
    nodes
      .attr('data-state', (d) =>
        hiWeak
          ? hi.has(d.key)
            ? hiWeak.has(d.key)
              ? 'both'
              : 'stronger'
            : hiWeak.has(d.key)
              ? 'weaker'
              : 'neither'
          : hi.has(d.key)
            ? 'highlighted'
            : 'faint',
      )
      .select('rect.outer')
      .attr('fill-opacity', (d) => (hi.has(d.key) ? 1 : FAINT))
      .attr('stroke-opacity', (d) => (hi.has(d.key) ? 1 : 0.4));
    nodes
      .select('rect.inner')
      .attr('display', (d) => (onlyStrong(d) || onlyWeak(d) ? null : 'none'))
      .attr('fill', (d) => (onlyWeak(d) ? COLOURS[d.group] : '#fff'));
    nodes.select('rect.pin').attr('display', (d) => (st.pinned.has(d.key) ? null : 'none'));

    this.bgSvg.attr('display', st.show === 'full' ? null : 'none');
    // The edges shown: the highlighted view's (comparing: the chosen side's), or in pinned mode every
    // edge between pinned neurons; width by the measure at the strength they belong to.
    let shown: { e: Edge; s: number }[];
    if (st.show === 'pinned') {
      shown = this.edges
        .filter((e) => st.pinned.has(e.from.key) && st.pinned.has(e.to.key))
        .map((e) => ({ e, s: strong }));
    } else {
      const pick = (v: HighlightView, s: number) =>
        v.edges.map(({ group, pair }) => ({ e: this.edgeById.get(`${group}/${pair}`)!, s }));
      if (st.compare && st.compareEdges === 'weaker') shown = pick(this.weakView!, st.compare[0]);
      else if (st.compare && st.compareEdges === 'either') {
        const ids = new Set(this.view.edges.map((x) => `${x.group}/${x.pair}`));
        shown = [
          ...pick(this.view, strong),
          ...pick(this.weakView!, st.compare[0]).filter((x) => !ids.has(x.e.id)),
        ];
      } else shown = pick(this.view, strong);
      shown = shown.filter((x) => x.e);
    }
    const vals = shown.map(({ e, s }) => this.edgeValue(e, s, st.measure));
    const max = Math.max(1e-12, ...vals.filter(Number.isFinite).map(Math.abs));
    const width = (v: number) => (Number.isFinite(v) ? 0.6 + 4.4 * Math.min(1, Math.abs(v) / max) : 0.6);
    const data = shown.map((x, i) => ({ ...x, w: width(vals[i]), v: vals[i] }));
    this.root
      .select('g.edges')
      .selectAll<SVGGElement, (typeof data)[number]>('g.edge')
      .data(data, (d) => d.e.id)
      .join((enter) => {
        const g = enter.append('g').attr('class', 'edge');
        const [a, b] = [0, 1];
        g.append('path')
          .attr('d', (d) => halves(d.e.from, d.e.to)[a])
          .attr('stroke', (d) => COLOURS[d.e.from.group]);
        g.append('path')
          .attr('d', (d) => halves(d.e.from, d.e.to)[b])
          .attr('stroke', (d) => COLOURS[d.e.to.group]);
        return g;
      })
      .attr('data-id', (d) => d.e.id)
      .attr('stroke-width', (d) => d.w.toFixed(2))
      .attr('stroke-opacity', 0.75);
    this.drawTrace();
    this.lastUpdateMs = performance.now() - t0;
    return this.lastUpdateMs;
  }

  /** Hovering a neuron: its own edges drawn over the rest (every edge of the graph touching it). */
  private drawTrace(): void {
    const st = this.state;
    const trace = this.root.select('g.trace');
    const edges = this.root.select('g.edges');
    if (!st || !this.hovered) {
      trace.selectAll('*').remove();
      edges.attr('opacity', null);
      return;
    }
    const s = st.compare ? st.compare[1] : st.strength;
    const mine = this.incident.get(this.hovered) ?? [];
    const vals = mine.map((e) => this.edgeValue(e, s, st.measure));
    const max = Math.max(1e-12, ...vals.filter(Number.isFinite).map(Math.abs));
    edges.attr('opacity', 0.2);
    trace
      .selectAll<SVGPathElement, Edge>('path')
      .data(mine.flatMap((e, i) => halves(e.from, e.to).map((d, h) => ({ d, e, v: vals[i], h }))))
      .join('path')
      .attr('d', (x) => x.d)
      .attr('stroke', (x) => COLOURS[(x.h === 0 ? x.e.from : x.e.to).group])
      .attr('stroke-width', (x) =>
        Number.isFinite(x.v) ? 0.6 + 4.4 * Math.min(1, Math.abs(x.v) / max) : 0.6,
      )
      .attr('stroke-opacity', 0.9);
  }

  /** The number of neurons and edges now displayed (for tests and the status line). */
  counts(): { neurons: number; highlighted: number; edges: number } {
    const shown = this.root.selectAll<SVGGElement, Node>('g.node').filter(function () {
      return this.getAttribute('display') !== 'none';
    });
    return {
      neurons: shown.size(),
      highlighted: this.view ? Object.values(this.view.neurons).reduce((s, v) => s + v.length, 0) : 0,
      edges: this.root.selectAll('g.edge').size(),
    };
  }
}
