import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { saveCondensed } from '../../io/condensed-file.js';
import { loadModel } from '../../io/model.js';
import { createEngine } from '../../kernels/engine.js';
import { condenseModel, nmLayersOf } from '../../sparse/condensed/model.js';
import { formatNM } from '../../sparse/nm.js';
import { formatHelp, UsageError, type OptionSpec } from '../args.js';
import { parseFileCommand } from '../common.js';
import type { CliIo } from '../io.js';
import { exportOnnx } from './export-onnx.js';

const SPECS: OptionSpec[] = [
  { name: 'format', kind: 'enum', values: ['condensed', 'onnx'], help: 'condensed: the format described above; onnx: a standard ONNX graph (opset 17) of the eval forward with dense-equivalent weights. Default condensed.' },
  { name: 'out', kind: 'string', arg: 'FILE', help: 'Where to write the condensed (or ONNX) model. Default: MODEL with .safetensors replaced by .condensed.safetensors (.onnx with --format onnx).' },
  { name: 'json', kind: 'bool', help: 'Print one JSON result on stdout. Default off.' },
];

export const EXPORT_HELP = formatHelp(
  'srigl export MODEL [options]',
  'Converts a trained (masked) mlp, cnn, resnet or vit model file to the condensed format: only active\n' +
    'neurons, constant fan-in values + indices per layer, the inputs of ablated neurons dropped end to\n' +
    'end. A resnet\'s BatchNorms are folded into its convs (running statistics); its residual stream\n' +
    'keeps every channel, and an ablated channel inside a block goes when its folded bias is ≤ 0.\n' +
    'A vit\'s Linear layers run token-wise; an ablated fc1 neuron or v feature (a constant at every\n' +
    'token) is folded into the bias of fc2 or proj, q/k features that cannot change the scores go.\n' +
    'Layers trained N:M (recorded in the file) store offsets within groups instead of indices,\n' +
    'except where upstream ablation dropped some of their inputs.\n\n' +
    'With --format onnx it writes the model (any arch: mlp, cnn, resnet, vit) as an ONNX graph instead:\n' +
    'input [N, C, H, W] float32 named input, output logits [N, classes], masked weights stored as 0,\n' +
    'BatchNorms as inference-mode nodes, the srigl method and sparsity in the metadata (src/io/onnx.ts).',
  SPECS,
);

/** How a layer is stored: u16/u32 indices, or N:M offsets (an N:M layer whose inputs were cut says so). */
function storage(r: { format: 'indices' | 'nm'; nm: { n: number; m: number } | null }): string {
  if (r.format === 'nm') return `${formatNM(r.nm!)} offsets`;
  return r.nm === null ? 'indices' : `indices (${formatNM(r.nm)}, inputs dropped)`;
}

export async function exportCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl export', EXPORT_HELP, 'MODEL file', io);
  if (cmd === null) return 0;
  const { options: o, path, cwd } = cmd;
  if (o.get('format') === 'onnx') return exportOnnx(cmd, io);
  const out = o.has('out') ? resolve(cwd, o.get('out') as string) : path.replace(/(\.safetensors)?$/, '.condensed.safetensors');
  if (out === path) throw new UsageError('srigl export: --out must differ from the input model');
  const engine = await createEngine({ threads: 1 });
  try {
    const { model, info } = loadModel(engine, path, { maxBatch: 1 });
    const { net, report } = condenseModel(model, { nm: nmLayersOf(info.sparse) });
    saveCondensed(out, net, { dataset: info.dataset, source: { model: path, metrics: info.metrics, sparse: info.sparse } });
    const denseBytes = statSync(path).size;
    const condensedBytes = statSync(out).size;
    const result = { command: 'export', model: path, out, arch: model.spec.arch, denseBytes, condensedBytes, layers: report };
    if (o.get('json') === true) {
      io.stdout.write(JSON.stringify(result) + '\n');
    } else {
      const lines = [
        `${model.spec.arch} ${path} → ${out}`,
        '| layer | neurons kept | inputs kept | k | storage | dropped weights | padded weights |',
        '|---|---|---|---|---|---|---|',
        ...report.map((r) => `| ${r.name}${r.masked ? '' : ' (dense)'} | ${r.nActive}/${r.out} | ${r.inFeatures}/${r.fanIn} | ${r.k} | ${storage(r)} | ${r.droppedWeights} | ${r.paddedWeights} |`),
        `file size: ${denseBytes.toLocaleString('en-US')} → ${condensedBytes.toLocaleString('en-US')} bytes (${(denseBytes / condensedBytes).toFixed(2)}× smaller)`,
      ];
      io.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  } finally {
    await engine.close();
  }
}
