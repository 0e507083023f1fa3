import { statSync } from 'node:fs';
import { readCondensed } from '../../io/condensed-file.js';
import { readSafetensors } from '../../io/safetensors.js';
import { MASK_SUFFIX, validateModelFile } from '../../io/validate.js';
import { isNMLayer } from '../../sparse/condensed/layer.js';
import { fanInSummary } from '../../sparse/mask.js';
import { nmLayersOf } from '../../sparse/condensed/model.js';
import { formatNM, type NMStructure } from '../../sparse/nm.js';
import { formatHelp, type OptionSpec } from '../args.js';
import { parseFileCommand } from '../common.js';
import type { CliIo } from '../io.js';

const SPECS: OptionSpec[] = [{ name: 'json', kind: 'bool', help: 'Print one JSON object instead of the table. Default off.' }];

export const INSPECT_HELP = formatHelp(
  'srigl inspect FILE [options]',
  'Validates a model file (dense, masked, or condensed) and shows its layers: shape, nonzero\nweights, sparsity, fan-in (k when constant), N:M structure, ablated neurons, and the file size\nagainst the same model stored dense. Reads no data set and allocates no model.',
  SPECS,
);

/** One Linear/Conv2d layer as `inspect` reports it. */
export interface InspectedLayer {
  name: string;
  kind: 'linear' | 'conv2d';
  /** Weight shape as stored in a dense model ([out, in] or [out, C, kh, kw]). */
  shape: number[];
  out: number;
  fanIn: number;
  nnz: number;
  density: number;
  /** Fan-in of every neuron that has weights when it is the same for all (constant fan-in), else null. */
  k: number | null;
  /** Smallest and largest fan-in over neurons with weights. */
  fanInRange: [number, number];
  /** Neurons with no weight. */
  ablated: number[];
  /**
   * The layer's N:M structure: in a trained model file as its sparse metadata records it; in a
   * condensed file that of an N:M-format layer, or, for a layer stored with indices, the one the
   * source model recorded (kept in the file's `source` facts). Null when none.
   */
  nm: NMStructure | null;
  /** Condensed files: how the layer is stored (u16/u32 column indices, or N:M offsets within groups). */
  storage?: 'indices' | 'nm';
}

export interface InspectReport {
  file: string;
  format: string;
  layout: 'dense' | 'masked' | 'condensed';
  spec: unknown;
  layers: InspectedLayer[];
  /** Over the layers above. */
  weights: number;
  nnz: number;
  sparsity: number;
  /** File size, and the size of the same model with every tensor dense F32 and no masks. */
  bytes: number;
  denseBytes: number;
  /** Facts the file records about its sparse training (method, sparsity, …), when it does. */
  sparse: unknown;
}

/** Per-row active counts → the layer's facts. */
function layerFacts(name: string, shape: number[], out: number, fanIn: number, rowCount: (r: number) => number): InspectedLayer {
  const f = fanInSummary(out, rowCount);
  return { name, kind: shape.length === 4 ? 'conv2d' : 'linear', shape, out, fanIn, ...f, density: f.nnz / (out * fanIn), nm: null };
}

/** Reads and validates `path` (model or condensed file) and describes it. */
export function inspectFile(path: string): InspectReport {
  const file = readSafetensors(path);
  const bytes = statSync(path).size;
  const json = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));
  if (file.metadata.format === 'srigl-condensed') {
    const { net, info } = readCondensed(path);
    const recorded = nmLayersOf((info.source as { sparse?: unknown } | undefined)?.sparse);
    const layers: InspectedLayer[] = [];
    for (const op of net.ops) {
      if (op.kind !== 'linear' && op.kind !== 'conv2d') continue;
      const L = op.layer;
      const kept = new Set(L.activeMap);
      const shape = op.kind === 'conv2d' ? [L.outFeatures, op.geometry.C, op.geometry.kh, op.geometry.kw] : [L.outFeatures, L.inFeatures];
      const layer = layerFacts(op.name, shape, L.outFeatures, L.inFeatures, (r) => (kept.has(r) ? L.k : 0));
      const nm = isNMLayer(L) ? L.nm : recorded[op.name] ?? null;
      layers.push({ ...layer, kind: op.kind, nm, storage: isNMLayer(L) ? 'nm' : 'indices' });
    }
    const denseBytes = layers.reduce((a, l) => a + 4 * (l.out * l.fanIn + l.out), 0);
    return report(path, 'srigl-condensed', 'condensed', net.spec, layers, bytes, denseBytes, json(file.metadata.source));
  }
  const v = validateModelFile(file, path);
  const sparse = json(file.metadata.sparse);
  const recorded = nmLayersOf(sparse);
  const layers: InspectedLayer[] = [];
  for (const t of v.expected) {
    if (t.matrix === undefined) continue;
    const { out, fanIn } = t.matrix;
    const mask = v.tensors.get(t.name + MASK_SUFFIX)?.data as Uint8Array | undefined;
    const rowCount = (r: number): number => {
      if (mask === undefined) return fanIn;
      let c = 0;
      for (let i = r * fanIn; i < (r + 1) * fanIn; i++) c += mask[i];
      return c;
    };
    const name = t.name.replace(/\.weight$/, '');
    layers.push({ ...layerFacts(name, t.shape, out, fanIn, rowCount), nm: recorded[name] ?? null });
  }
  const denseBytes = 4 * v.expected.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  return report(path, file.metadata.format, v.layout, v.spec, layers, bytes, denseBytes, sparse);
}

function report(file: string, format: string, layout: InspectReport['layout'], spec: unknown, layers: InspectedLayer[], bytes: number, denseBytes: number, sparse: unknown): InspectReport {
  const weights = layers.reduce((a, l) => a + l.out * l.fanIn, 0);
  const nnz = layers.reduce((a, l) => a + l.nnz, 0);
  return { file, format, layout, spec, layers, weights, nnz, sparsity: weights === 0 ? 0 : 1 - nnz / weights, bytes, denseBytes, sparse };
}

function formatReport(r: InspectReport): string {
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const ablatedText = (a: number[]): string => (a.length === 0 ? '0' : a.length <= 6 ? `${a.length} (${a.join(',')})` : `${a.length} (${a.slice(0, 5).join(',')},…)`);
  // The N:M column only when some layer has a structure; in a condensed file it says how an N:M
  // layer is stored (a layer whose groups upstream ablation broke is stored with indices).
  const withNM = r.layers.some((l) => l.nm !== null);
  const nmText = (l: InspectedLayer): string[] => {
    if (!withNM) return [];
    if (l.nm === null) return [''];
    return [formatNM(l.nm) + (l.storage === undefined ? '' : l.storage === 'nm' ? ' (offsets)' : ' (indices)')];
  };
  const head = ['layer', 'kind', 'shape', 'nnz', 'sparsity', 'fan-in', ...(withNM ? ['N:M'] : []), 'ablated'];
  const rows = r.layers.map((l) => [
    l.name, l.kind, l.shape.join('×'), String(l.nnz), (1 - l.density).toFixed(4),
    l.k !== null ? `k=${l.k}` : `${l.fanInRange[0]}–${l.fanInRange[1]}`, ...nmText(l), ablatedText(l.ablated),
  ]);
  rows.push(['total', '', '', String(r.nnz), r.sparsity.toFixed(4), '', ...(withNM ? [''] : []), String(r.layers.reduce((a, l) => a + l.ablated.length, 0))]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (row: string[]): string => row.map((v, c) => (c < 3 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ').trimEnd();
  const s = r.sparse as { method?: string } | undefined;
  return [
    `${r.file}`,
    `format ${r.format} (${r.layout}), ${JSON.stringify(r.spec)}${s?.method ? `, method ${s.method}` : ''}`,
    line(head),
    ...rows.map(line),
    `size ${mib(r.bytes)} on disk vs ${mib(r.denseBytes)} dense (${(r.bytes / r.denseBytes).toFixed(3)}×)`,
  ].join('\n') + '\n';
}

export async function inspectCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl inspect', INSPECT_HELP, 'FILE', io);
  if (cmd === null) return 0;
  const r = inspectFile(cmd.path);
  io.stdout.write(cmd.options.get('json') === true ? JSON.stringify(r) + '\n' : formatReport(r));
  return 0;
}
