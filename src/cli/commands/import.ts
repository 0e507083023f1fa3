import { basename, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { DATASET_NAMES } from '../../data/datasets.js';
import { saveModel } from '../../io/model.js';
import { buildImportedModel, importStateDict, type ImportedLayer } from '../../io/torch.js';
import { createEngine } from '../../kernels/engine.js';
import { ARCHS, type Arch } from '../../nn/models.js';
import { formatHelp, UsageError, type OptionSpec } from '../args.js';
import { parseFileCommand } from '../common.js';
import type { CliIo } from '../io.js';

const SPECS: OptionSpec[] = [
  { name: 'arch', kind: 'enum', values: ARCHS, help: 'The srigl architecture the state_dict is for. Required.' },
  { name: 'out', kind: 'string', arg: 'FILE', help: 'Where to write the srigl model. Default: FILE with its extension replaced by .srigl.safetensors.' },
  { name: 'input-shape', kind: 'int-list', arg: 'C,H,W', min: 1, help: 'Per-example input shape. Default C,28,28 with C from the first conv (mlp: 1,28,28 when fc1 takes 784 inputs, else 1,1,fan-in; vit: the square image its positions imply).' },
  { name: 'heads', kind: 'int', arg: 'N', min: 1, help: 'vit only: attention heads (no tensor shape reveals them). Default 4.' },
  { name: 'dataset', kind: 'enum', values: DATASET_NAMES, help: 'Dataset to record in the model file, so eval and infer need no --dataset. Default: none recorded.' },
  { name: 'zero-masks', kind: 'bool', help: 'Give a Linear/Conv2d weight without a mask entry the mask of its nonzeros. Default on; --no-zero-masks keeps such layers dense.' },
  { name: 'json', kind: 'bool', help: 'Print one JSON result on stdout. Default off.' },
];

export const IMPORT_HELP = formatHelp(
  'srigl import FILE --arch mlp|cnn|resnet|vit [options]',
  'Imports a PyTorch state_dict into a srigl model file that eval, export, infer and inspect read.\n' +
    'FILE is what torch.save writes (.pt/.pth: the zip archive of torch ≥ 1.6, or the older format),\n' +
    'read without running any of its code: its pickle may only name what torch.load(weights_only=True)\n' +
    'accepts (tensors, OrderedDict), anything else is refused; or a safetensors file of the same tensors.\n' +
    "Names are srigl's (README \"From PyTorch\"): mlp fc1…fcN (nn.Linear, hidden widths from the shapes),\n" +
    "cnn conv1 conv2 fc1 fc2, resnet torchvision's (conv1 bn1 layer1.0.conv1 … fc), vit timm's (qkv split);\n" +
    'a shared module./model./_orig_mod. prefix is dropped and a bare nn.Sequential mlp or cnn is mapped in\n' +
    'order. Masks come from <layer>.weight_mask (torch.nn.utils.prune, with weight_orig), <layer>.weight.mask\n' +
    'or <layer>.mask entries, else from exact zeros. Reports each layer\'s density, whether constant fan-in\n' +
    'holds (k) or the range of fan-ins, and its ablated neurons. Inputs are expected normalised as srigl\n' +
    'normalises its datasets ((x/255 − mean)/std).',
  SPECS,
);

/** What `srigl import` did, as --json prints it. */
export interface ImportResult {
  command: 'import';
  file: string;
  out: string;
  format: string;
  /** Key of the state_dict inside the saved object ('' when it is the object itself). */
  stateDictKey: string;
  prefix: string;
  naming: 'named' | 'sequential';
  spec: unknown;
  dataset: string | null;
  ignored: string[];
  layers: ImportedLayer[];
  /** Whether every Linear/Conv2d layer has constant fan-in. */
  constantFanIn: boolean;
}

function fanInText(l: ImportedLayer): string {
  if (l.k !== null) return `k=${l.k}`;
  return l.nnz === 0 ? 'none' : `${l.fanInRange[0]}–${l.fanInRange[1]}`;
}

function formatResult(r: ImportResult): string {
  const ablated = (a: number[]): string => (a.length === 0 ? '0' : a.length <= 6 ? `${a.length} (${a.join(',')})` : `${a.length} (${a.slice(0, 5).join(',')},…)`);
  const head = ['layer', 'shape', 'nnz', 'density', 'fan-in', 'ablated', 'mask'];
  const rows = r.layers.map((l) => [
    l.name, l.shape.join('×'), String(l.nnz), l.density.toFixed(4), fanInText(l), ablated(l.ablated),
    l.mask === 'entry' ? `${l.maskKey}${l.maskedNonzero > 0 ? ` (zeroed ${l.maskedNonzero})` : ''}` : l.mask === 'zeros' ? 'from zeros' : 'dense',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (row: string[]): string => row.map((v, c) => (c < 2 || c === 6 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ').trimEnd();
  const notConstant = r.layers.filter((l) => l.k === null && l.nnz > 0).map((l) => l.name);
  const source = [r.format, r.stateDictKey && `state_dict under "${r.stateDictKey}"`, r.prefix && `prefix "${r.prefix}" removed`, r.naming === 'sequential' && 'nn.Sequential numbers mapped in order']
    .filter(Boolean)
    .join(', ');
  return [
    `${r.file} (${source}) → ${r.out}`,
    `${JSON.stringify(r.spec)}${r.dataset ? `, dataset ${r.dataset}` : ', no dataset recorded (pass --dataset to eval and infer)'}`,
    line(head),
    ...rows.map(line),
    notConstant.length === 0 ? 'constant fan-in holds in every layer' : `constant fan-in does not hold in ${notConstant.join(', ')}`,
  ].join('\n') + '\n';
}

export async function importCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const cmd = parseFileCommand(argv, SPECS, 'srigl import', IMPORT_HELP, 'state_dict FILE', io);
  if (cmd === null) return 0;
  const { options: o, path, cwd } = cmd;
  const arch = o.get('arch') as Arch | undefined;
  if (arch === undefined) throw new UsageError(`srigl import: --arch is required (one of ${ARCHS.join(', ')}; see srigl import --help)`);
  const shape = o.get('input-shape') as number[] | undefined;
  if (shape !== undefined && shape.length !== 3) throw new UsageError(`srigl import: --input-shape expects three integers C,H,W, got ${shape.length}`);
  if (o.has('heads') && arch !== 'vit') throw new UsageError(`srigl import: --heads applies to --arch vit only`);
  const out = o.has('out') ? resolve(cwd, o.get('out') as string) : path.replace(/(\.(pt|pth|bin|ckpt|tar|safetensors))?$/, '.srigl.safetensors');
  if (out === path) throw new UsageError('srigl import: --out must differ from the input file');
  const dataset = o.get('dataset') as string | undefined;

  let result: ImportResult;
  try {
    const { stateDict, imported } = importStateDict(path, {
      arch,
      inputShape: shape as [number, number, number] | undefined,
      heads: o.get('heads') as number | undefined,
      zeroMasks: o.get('zero-masks') as boolean | undefined,
      // Capped one byte past the declared size, so an over-long stream is caught rather than cut.
      inflateRaw: (data, max) => inflateRawSync(data, { maxOutputLength: Math.max(1, max + 1) }),
    });
    // Only tensors are copied into the model, so the plain reference engine does.
    const engine = await createEngine({ backend: 'reference', threads: 1 });
    try {
      const model = buildImportedModel(engine, imported, { maxBatch: 1 });
      result = {
        command: 'import', file: path, out, format: stateDict.format, stateDictKey: stateDict.key, prefix: imported.prefix, naming: imported.naming,
        spec: imported.spec, dataset: dataset ?? null, ignored: imported.ignored, layers: imported.layers,
        constantFanIn: imported.layers.every((l) => l.k !== null || l.nnz === 0),
      };
      saveModel(out, model, {
        dataset,
        training: {
          importedFrom: {
            file: basename(path), format: stateDict.format, stateDictKey: stateDict.key, prefix: imported.prefix, naming: imported.naming,
            masks: Object.fromEntries(imported.layers.map((l) => [l.name, l.mask === 'entry' ? l.maskKey : l.mask])),
          },
        },
      });
    } finally {
      await engine.close();
    }
  } catch (e) {
    // Usage errors stay usage errors; every other failure is reported as the import's.
    if (e instanceof UsageError) throw e;
    throw new Error(`import: ${(e as Error).message}`);
  }
  io.stdout.write(o.get('json') === true ? JSON.stringify(result) + '\n' : formatResult(result));
  return 0;
}
