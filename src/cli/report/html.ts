/**
 * The run report as one self-contained HTML page: settings, training curves, topology over time,
 * the final per-layer table and the condensed comparison. Everything is inline — uPlot, its CSS,
 * the page script and the run's data as JSON — and a Content-Security-Policy forbids the page any
 * network access, so it opens from disk anywhere. Pure string generation: the same run files and
 * assets give the same bytes (no clock, no absolute paths), so `srigl report` rebuilds a file
 * identical to the one `srigl train` wrote.
 */
import { basename } from 'node:path';
import type { SparseLayerStats } from '../../train/sparse.js';
import type { EpochRecord, RunFiles } from './run.js';
import type { TopologyRecord } from './topology.js';
import type { ChartAssets } from './uplot.js';
import { CLIENT_SCRIPT } from './client.js';

/** One line of a chart; `values[i]` belongs to the chart's `x[i]` (null: no value there). */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** Index into the page's palette; series of one layer share it. */
  color: number;
  /** Dashed with hollow markers (the second series of a pair: test, revived). Default false. */
  dashed?: boolean;
}

/** A chart as the page script draws it. */
export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: ChartSeries[];
  /** The y axis starts at 0 (counts, densities). Default false: fit the data. */
  yFromZero?: boolean;
  /** Whole-number y ticks (counts). Default false. */
  yWhole?: boolean;
}

/** The JSON embedded in the page (`<script type="application/json" id="report-data">`). */
export interface ReportPayload {
  format: 'srigl-run-report';
  version: 1;
  title: string;
  /** The run directory's name (not its path, so the page does not depend on where the run lies). */
  run: string;
  settings: [string, string][];
  /** metrics.jsonl, one record per epoch (the per-epoch layer stats left out: `updates` has them per update). */
  epochs: EpochRecord[];
  /** topology.jsonl, one record per topology update (0: the initial topology); null when the run has none. */
  updates: TopologyRecord[] | null;
  /** The final per-layer state (summary.json's sparse.layers). */
  layers: SparseLayerStats[];
  /** The condensed comparison, or null when the run was not condensed. */
  condensed: Record<string, unknown> | null;
  charts: ChartSpec[];
}

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` as \u escapes, so no
 * string in the data can close the element or open a comment, and JSON.parse of the element's
 * text gives back exactly `value`. U+2028/U+2029 are escaped too, for tools that read it as JS.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Checks that `text` cannot end its inline `<script>`/`<style>` element early; `what` names it in the error. */
function inlineSafe(text: string, tag: 'script' | 'style', what: string): string {
  const bad = tag === 'script' ? /<\/script|<!--|<script/i : /<\/style/i;
  const m = bad.exec(text);
  if (m !== null) throw new Error(`cannot inline ${what} into the report: it contains "${m[0]}" at offset ${m.index}, which would end its <${tag}> element`);
  return text;
}

const int = (v: number): string => String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
/** Shortest faithful form of an option value: 0.1, 0.0005, 1e-7. */
const num = (v: number): string => String(+v.toPrecision(6));
const us = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function bytes(v: number): string {
  if (v < 1024) return `${int(v)} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let x = v / 1024;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${int(v)} B (${x.toFixed(x < 10 ? 2 : 1)} ${units[u]})`;
}

const updatesTopology = (method: string): boolean => method === 'set' || method === 'rigl' || method === 'srigl';

/** The run's settings as label/value pairs, in reading order. */
export function settingsOf(run: RunFiles): [string, string][] {
  const { spec, params, data, training: t, sparse: s, final: f } = run.summary;
  const dense = s.method === 'dense';
  const rows: [string, string][] = [];
  // The spec's own choices (mlp widths, vit patch/dim/depth…); input shape and classes follow from the data.
  const choices = Object.entries(spec).filter(([k]) => !['arch', 'inputShape', 'classes'].includes(k)).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  rows.push(['Model', `${spec.arch}${choices.length > 0 ? ` (${choices.join(', ')})` : ''}, ${int(params)} parameters`]);
  rows.push(['Data', `${data.dataset} (${data.source} copy): ${int(data.train)} train, ${int(data.test)} test examples`]);
  rows.push(['Method', s.method]);
  if (!dense) {
    rows.push(['Sparsity', `${num(s.sparsity)} (global density ${(s.nnz / s.totalWeights).toFixed(4)}: ${int(s.nnz)} of ${int(s.totalWeights)} weights)`]);
    const overrides = Object.entries(s.overrides ?? {}).map(([n, v]) => `${n}=${num(v)}`);
    rows.push(['Distribution', `${s.distribution}${s.denseFirst ? ', first layer dense' : ''}${overrides.length > 0 ? `, overrides ${overrides.join(', ')}` : ''}`]);
    if (s.nm !== undefined) rows.push(['Structure', `N:M ${s.nm.n}:${s.nm.m}${s.distribution === 'erk' ? ' (per-layer N_l by ERK)' : ''}`]);
    else if (s.fanIn !== undefined) rows.push(['Structure', `fixed fan-in ${typeof s.fanIn === 'number' ? s.fanIn : Object.entries(s.fanIn).map(([n, k]) => `${n}=${k}`).join(', ')}`]);
    rows.push(['Topology updates', updatesTopology(s.method)
      ? `${s.updates} (ΔT ${s.deltaT}, α ${num(s.alpha)}, T_end ${num(s.tEnd)}${s.gradAccumulation > 1 ? `, gradient averaged over ${s.gradAccumulation} steps` : ''})`
      : 'none (static mask)']);
    if (s.method === 'srigl') rows.push(['Neuron ablation', s.ablation ? `on (γ_sal ${num(s.gammaSal)})` : 'off']);
    const sparseLayers = s.layers.filter((l) => l.density < 1);
    const modes = new Set(sparseLayers.map((l) => l.sparseCompute));
    const compute = sparseLayers.length === 0 ? 'dense'
      : modes.size === 1 && sparseLayers.length > 1 ? `every sparse layer computes ${sparseLayers[0].sparseCompute ? 'sparse' : 'dense'}`
      : sparseLayers.map((l) => `${l.name} ${l.sparseCompute ? 'sparse' : 'dense'}`).join(', ');
    rows.push(['Compute', `${s.compute}: ${compute}`]);
  }
  rows.push(['Epochs', `${t.epochs}, batch size ${t.batchSize}${typeof t.limitTrain === 'number' ? ` (first ${int(t.limitTrain)} training examples)` : ''}`]);
  const o = t.optimizer;
  const opt = o.kind === 'sgd'
    ? `sgd (momentum ${num(o.momentum ?? 0)}${o.nesterov ? ', Nesterov' : ''}, weight decay ${num(o.weightDecay ?? 0)})`
    : `${o.kind} (weight decay ${num(o.weightDecay ?? 0)})`;
  const extras = [
    t.warmupEpochs > 0 ? `${num(t.warmupEpochs)} warm-up epoch${t.warmupEpochs === 1 ? '' : 's'}` : 'no warm-up',
    ...(t.labelSmoothing > 0 ? [`label smoothing ${num(t.labelSmoothing)}`] : []),
    ...(t.clipNorm > 0 ? [`gradient clipping at norm ${num(t.clipNorm)}`] : []),
  ];
  rows.push(['Recipe', `${opt}, lr ${num(t.lr)}, ${t.schedule} schedule, ${extras.join(', ')}`]);
  rows.push(['Seed', String(t.seed)]);
  rows.push(['Kernels', `${t.backend} backend, ${t.threads} thread${t.threads === 1 ? '' : 's'}`]);
  rows.push(['Result', `${f.testAcc === null ? 'no test split' : `test accuracy ${pct(f.testAcc)} (loss ${f.testLoss?.toFixed(4)})`}, train accuracy ${pct(f.trainAcc)}; ${duration(f.wallSeconds)} of training`]);
  return rows;
}

/** Layers whose density is below 1 in some record: the ones whose topology moves. */
function sparseLayerNames(records: readonly TopologyRecord[]): string[] {
  const names: string[] = [];
  for (const r of records) for (const l of r.layers) if (l.density < 1 && !names.includes(l.name)) names.push(l.name);
  return names;
}

function perLayer(records: readonly TopologyRecord[], names: readonly string[], value: (l: TopologyRecord['layers'][number]) => number | null): (number | null)[][] {
  return names.map((name) => records.map((r) => {
    const l = r.layers.find((x) => x.name === name);
    return l === undefined ? null : value(l);
  }));
}

/** The charts of a run: loss and accuracy per epoch, then the topology charts its log supports. */
export function chartSpecs(run: RunFiles): ChartSpec[] {
  const epochs = run.epochs;
  const x = epochs.map((e) => e.epoch);
  const tested = epochs.some((e) => e.testAcc !== null);
  const charts: ChartSpec[] = [
    {
      id: 'loss', title: 'Loss per epoch', xLabel: 'epoch', yLabel: 'cross-entropy loss', x,
      series: [{ label: 'train', values: epochs.map((e) => e.trainLoss), color: 0 }, ...(tested ? [{ label: 'test', values: epochs.map((e) => e.testLoss), color: 1, dashed: true }] : [])],
    },
    {
      id: 'accuracy', title: 'Accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy (%)', x,
      series: [
        { label: 'train', values: epochs.map((e) => 100 * e.trainAcc), color: 0 },
        ...(tested ? [{ label: 'test', values: epochs.map((e) => (e.testAcc === null ? null : 100 * e.testAcc)), color: 1, dashed: true }] : []),
      ],
    },
  ];
  const records = run.topology;
  const s = run.summary.sparse;
  if (records === null || !updatesTopology(s.method) || !records.some((r) => r.update > 0)) return charts;
  const steps = records.map((r) => r.step);
  const names = sparseLayerNames(records);
  const layerSeries = (values: (number | null)[][]): ChartSeries[] => names.map((label, i) => ({ label, values: values[i], color: i }));
  charts.push({ id: 'density', title: 'Density per layer', xLabel: 'step', yLabel: 'density', x: steps, series: layerSeries(perLayer(records, names, (l) => l.density)), yFromZero: true });
  const withK = names.filter((n) => records.some((r) => r.layers.some((l) => l.name === n && l.k !== null)));
  if (withK.length > 0) {
    charts.push({
      id: 'fan-in', title: 'Fan-in k per layer', xLabel: 'step', yLabel: 'fan-in k', x: steps, yWhole: true,
      series: perLayer(records, withK, (l) => l.k).map((values, i) => ({ label: withK[i], values, color: names.indexOf(withK[i]) })),
    });
  }
  // Only layers that ablated a neuron at some point (the classifier never does); none: a note instead.
  const ablating = names.filter((n) => records.some((r) => r.layers.some((l) => l.name === n && (l.ablatedNeurons > 0 || l.newlyAblated > 0 || l.revived > 0))));
  if (s.method === 'srigl' && s.ablation && ablating.length > 0) {
    const color = (name: string): number => names.indexOf(name);
    charts.push({
      id: 'ablated', title: 'Ablated neurons per layer', xLabel: 'step', yLabel: 'ablated neurons', x: steps, yFromZero: true, yWhole: true,
      series: perLayer(records, ablating, (l) => l.ablatedNeurons).map((values, i) => ({ label: ablating[i], values, color: color(ablating[i]) })),
    });
    const ablatedBy = perLayer(records, ablating, (l) => l.newlyAblated);
    const revivedBy = perLayer(records, ablating, (l) => l.revived);
    charts.push({
      id: 'ablation-changes', title: 'Neurons ablated and revived by each update', xLabel: 'step', yLabel: 'neurons', x: steps, yFromZero: true, yWhole: true,
      series: ablating.flatMap((name, i) => [
        { label: `${name} ablated`, values: ablatedBy[i], color: color(name) },
        { label: `${name} revived`, values: revivedBy[i], color: color(name), dashed: true },
      ]),
    });
  }
  return charts;
}

/** The payload embedded in the page. */
export function reportPayload(run: RunFiles): ReportPayload {
  const { sparse: s, spec } = run.summary;
  const condensed = run.summary.condensed === null ? null : Object.fromEntries(Object.entries(run.summary.condensed).filter(([k]) => k !== 'path'));
  return {
    format: 'srigl-run-report',
    version: 1,
    title: `${spec.arch}, ${s.method === 'dense' ? 'dense' : `${s.method} at sparsity ${num(s.sparsity)}`}`,
    run: basename(run.dir),
    settings: settingsOf(run),
    epochs: run.epochs.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'sparse')) as EpochRecord),
    updates: run.topology,
    layers: s.layers,
    condensed,
    charts: chartSpecs(run),
  };
}

/** An HTML table; the columns `numeric` says are right-aligned. */
function table(head: readonly string[], rows: readonly (readonly string[])[], numeric: (column: number) => boolean, foot?: readonly string[]): string {
  const cell = (tag: 'th' | 'td', v: string, c: number): string => `<${tag}${numeric(c) ? ' class="num"' : ''}>${escapeHtml(v)}</${tag}>`;
  return [
    '<table>',
    `<thead><tr>${head.map((h, c) => cell('th', h, c)).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((v, c) => cell('td', v, c)).join('')}</tr>`).join('\n')}</tbody>`,
    ...(foot === undefined ? [] : [`<tfoot><tr>${foot.map((v, c) => cell('td', v, c)).join('')}</tr></tfoot>`]),
    '</table>',
  ].join('\n');
}

function layerTable(run: RunFiles): string {
  const s = run.summary.sparse;
  const structured = s.layers.some((l) => l.nm !== null || l.fixedK);
  const head = ['layer', 'kind', 'shape', 'nnz', 'density', 'fan-in k', ...(structured ? ['structure'] : []), 'active neurons', 'ablated neurons'];
  const rows = s.layers.map((l) => [
    l.name,
    l.kind,
    `${l.out}×${l.fanIn}`,
    int(l.nnz),
    l.density.toFixed(4),
    l.k === null ? (l.density === 1 ? String(l.fanIn) : '–') : String(l.k),
    ...(structured ? [l.nm !== null ? `${l.nm.n}:${l.nm.m}` : l.fixedK ? 'fixed k' : ''] : []),
    int(l.activeNeurons),
    int(l.ablatedNeurons),
  ]);
  const foot = ['total', '', '', int(s.nnz), (s.nnz / s.totalWeights).toFixed(4), '', ...(structured ? [''] : []), int(s.layers.reduce((a, l) => a + l.activeNeurons, 0)), int(s.layers.reduce((a, l) => a + l.ablatedNeurons, 0))];
  return table(head, rows, (c) => c >= 3 && !(structured && c === head.length - 3), foot);
}

function condensedSection(run: RunFiles): string {
  const c = run.summary.condensed;
  const method = run.summary.sparse.method;
  if (c === null) {
    return method === 'dense'
      ? '<p class="note">Dense run: nothing to condense.</p>'
      : '<p class="note">This run was not condensed (<code>--no-condense</code>, or an architecture the condensed format does not support yet). For a supported model, <code>srigl export model.safetensors</code> writes the condensed file and <code>srigl infer</code> times it.</p>';
  }
  const a = c.accuracy;
  const rows: string[][] = [
    ['stored weights', int(c.denseWeights), int(c.storedWeights), `${(c.denseWeights / c.storedWeights).toFixed(1)}× fewer`],
    ['file size', bytes(c.denseFileBytes), bytes(c.condensedFileBytes), `${(c.denseFileBytes / c.condensedFileBytes).toFixed(1)}× smaller`],
    ['test accuracy', pct(a.trained), pct(a.condensed), a.differingPredictions === 0 ? `same predictions on all ${int(a.n)} test examples` : `${int(a.differingPredictions)} of ${int(a.n)} predictions differ`],
    ...c.latency.map((l) => [`latency, batch ${l.batch}`, us(l.denseUs), us(l.condensedUs), `${l.speedup.toFixed(1)}× faster`]),
  ];
  return [
    table(['', 'trained (masked dense)', 'condensed', ''], rows, (c) => c === 1 || c === 2),
    `<p class="note">Latency: ${escapeHtml(c.kernels)}, median of ${c.rounds} interleaved rounds after warm-up; ${escapeHtml(c.machine)}.</p>`,
  ].join('\n');
}

function topologyNote(run: RunFiles): string | null {
  const s = run.summary.sparse;
  const records = run.topology;
  if (s.method === 'dense') return 'Dense run: every weight trains, so there is no topology to follow.';
  if (s.method === 'static') return 'Static sparse training: the mask drawn at initialisation never changes.';
  if (records === null) return 'This run has no topology.jsonl (runs written before srigl logged each update have none); the final state of each layer is in the table below.';
  if (!records.some((r) => r.update > 0)) return `No topology update was made: with ΔT ${s.deltaT} no update step fell before T_end (${num(s.tEnd)} of the run).`;
  return null;
}

/** What the topology charts show, and what they leave out. */
function topologyCaption(run: RunFiles, charts: readonly ChartSpec[]): string {
  const records = run.topology ?? [];
  const s = run.summary.sparse;
  const parts = [`The layers after each of the ${records.filter((r) => r.update > 0).length} topology updates (step 0: the initial topology), from topology.jsonl`];
  const drawn = new Set(charts.find((c) => c.id === 'density')?.series.map((x) => x.label));
  const dense = s.layers.filter((l) => !drawn.has(l.name)).map((l) => l.name);
  if (dense.length > 0) parts.push(`dense layers (${dense.join(', ')}) are not drawn`);
  if (s.method === 'srigl' && s.ablation) {
    const ablation = charts.find((c) => c.id === 'ablated');
    if (ablation === undefined) parts.push(`no neuron was ablated (γ_sal ${num(s.gammaSal)})`);
    else {
      const never = [...drawn].filter((n) => !ablation.series.some((x) => x.label === n));
      if (never.length > 0) parts.push(`layers that never ablated a neuron (${never.length <= 4 ? never.join(', ') : `${never.length} of them`}) are left out of the ablation charts`);
    }
  }
  return parts.join('; ') + '.';
}

function figure(chart: ChartSpec): string {
  return `<figure><figcaption>${escapeHtml(chart.title)}</figcaption><div class="chart" id="chart-${escapeHtml(chart.id)}"></div></figure>`;
}

const PAGE_CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #dadce0; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: #fff; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 16px; }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; padding: 12px 16px; background: var(--band); border-radius: 6px; }
dl.settings dt { color: var(--muted); }
dl.settings dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px 24px; }
figure { margin: 0; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { min-width: 0; overflow: hidden; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid var(--line); text-align: left; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; }
tfoot td { font-weight: 600; border-bottom: none; }
.note { color: var(--muted); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--band); padding: 1px 4px; border-radius: 3px; }
footer { color: var(--muted); font-size: 13px; margin-top: 40px; padding-bottom: 24px; }
@media (max-width: 560px) { .charts { grid-template-columns: 1fr; } dl.settings { grid-template-columns: 1fr; } }
`;

/** No network at all: inline scripts and styles only, images as data: URLs (uPlot draws on canvas). */
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/** The report page of `run`, with `assets` (uPlot) inlined. */
export function renderReport(run: RunFiles, assets: ChartAssets): string {
  const payload = reportPayload(run);
  const charts = new Map(payload.charts.map((c) => [c.id, c]));
  const figures = (ids: readonly string[]): string => {
    const present = ids.flatMap((id) => (charts.has(id) ? [figure(charts.get(id) as ChartSpec)] : []));
    return present.length === 0 ? '' : `<div class="charts">\n${present.join('\n')}\n</div>`;
  };
  const note = topologyNote(run);
  const s = run.summary.sparse;
  const caption = `<p class="note">${escapeHtml(note ?? topologyCaption(run, payload.charts))}</p>`;
  const license = inlineSafe(assets.license, 'script', 'uPlot\'s license').replace(/\*\//g, '* /');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="srigl">',
    `<title>${escapeHtml(`${payload.title} — ${payload.run}`)}</title>`,
    `<style>${inlineSafe(assets.css, 'style', 'uPlot\'s stylesheet')}</style>`,
    `<style>${PAGE_CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${escapeHtml(payload.title)}</h1>`,
    `<p class="sub">srigl train run <code>${escapeHtml(payload.run)}</code></p>`,
    '<dl class="settings">',
    ...payload.settings.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    '<noscript><p class="note">The charts need JavaScript; their data is in the JSON block at the end of this file.</p></noscript>',
    '</header>',
    '<main>',
    '<section id="curves">',
    '<h2>Training curves</h2>',
    figures(['loss', 'accuracy']),
    '</section>',
    '<section id="topology">',
    '<h2>Topology over time</h2>',
    caption,
    figures(['density', 'fan-in', 'ablated', 'ablation-changes']),
    '</section>',
    '<section id="layers">',
    '<h2>Final layers</h2>',
    layerTable(run),
    '</section>',
    '<section id="condensed">',
    '<h2>Condensed model</h2>',
    condensedSection(run),
    '</section>',
    '</main>',
    '<footer>',
    `<p>Written by srigl from summary.json, metrics.jsonl${run.topology === null ? '' : ' and topology.jsonl'} (rebuild with <code>srigl report RUN_DIR</code>). Charts: uPlot ${escapeHtml(assets.version)} (MIT license, inlined).</p>`,
    '</footer>',
    `<script type="application/json" id="report-data">${jsonForScript(payload)}</script>`,
    `<script>/*! uPlot ${assets.version}\n${license}*/\n${inlineSafe(assets.js, 'script', 'uPlot')}</script>`,
    `<script>${inlineSafe(CLIENT_SCRIPT, 'script', 'the page script')}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
