/** `srigl export MODEL --format onnx`: the model file as a standard ONNX graph (src/io/onnx.ts). */
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { loadModel } from '../../io/model.js';
import { modelToOnnx, summarizeOnnx, type OnnxSummary } from '../../io/onnx.js';
import { createEngine } from '../../kernels/engine.js';
import { UsageError } from '../args.js';
import type { FileCommandArgs } from '../common.js';
import type { CliIo } from '../io.js';

/** The `--json` result of an ONNX export. */
export interface OnnxExportResult extends OnnxSummary {
  command: 'export';
  format: 'onnx';
  model: string;
  out: string;
  arch: string;
  /** Bytes of the ONNX file written. */
  bytes: number;
}

/**
 * Loads the model file (validated), writes its ONNX graph atomically to --out (default: MODEL
 * with .safetensors replaced by .onnx) and prints a summary: nodes by op, initializer bytes,
 * opset, input and output.
 */
export async function exportOnnx({ options: o, path, cwd }: FileCommandArgs, io: CliIo): Promise<number> {
  const out = o.has('out') ? resolve(cwd, o.get('out') as string) : path.replace(/(\.safetensors)?$/, '.onnx');
  if (out === path) throw new UsageError('srigl export: --out must differ from the input model');
  const engine = await createEngine({ threads: 1 });
  let result: OnnxExportResult;
  try {
    const { model, info } = loadModel(engine, path, { maxBatch: 1 });
    const bytes = modelToOnnx(model, { info });
    writeFileAtomic(out, bytes);
    result = { command: 'export', format: 'onnx', model: path, out, arch: model.spec.arch, bytes: bytes.length, ...summarizeOnnx(bytes) };
  } finally {
    await engine.close();
  }
  if (o.get('json') === true) {
    io.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const ops = Object.entries(result.ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`).join(', ');
  const shape = (s: (number | string)[]) => `[${s.join(', ')}]`;
  io.stdout.write([
    `${result.arch} ${path} → ${out} (ONNX IR ${result.irVersion}, opset ${result.opset}, ${result.producer})`,
    `${result.input.name} ${shape(result.input.shape)} → ${result.output.name} ${shape(result.output.shape)}`,
    `${result.nodes} nodes: ${ops}`,
    `${result.initializers} initializers, ${result.initializerBytes.toLocaleString('en-US')} bytes (dense-equivalent weights: masked weights stored as 0); file ${result.bytes.toLocaleString('en-US')} bytes`,
    `method ${result.metadata['srigl.method']}, weight density ${result.metadata['srigl.weights.density']}`,
  ].join('\n') + '\n');
  return 0;
}
