/**
 * Condensed model files: a `CondensedNet` as safetensors. Per Linear/Conv2d layer `<name>.values`
 * F32 [nActive, k], `<name>.indices` U16 (U32 when the layer has more than 65,536 inputs)
 * [nActive, k], `<name>.bias` F32 [nActive] and `<name>.active_map` U32 [nActive]; metadata
 * `format` = `srigl-condensed`, `version`, `arch` (JSON ModelSpec), `ops` (JSON: the op list with
 * each layer's out/in features, nActive and k, conv geometry and pooling), `k` (JSON: name → k)
 * and, when known, `dataset` and `source` (JSON facts about the model it came from).
 *
 * A layer in the N:M format (sparse/condensed/layer.ts) has `<name>.offsets` U8 [nActive, k] —
 * each weight's offset within its group, values and offsets in group order — instead of
 * `<name>.indices`, and its op carries `nm` = {n, m, taps}. A file with an N:M layer is version 2
 * (so a reader that predates the format says so); one without is version 1, as before.
 *
 * A ResNet's file (its BatchNorms folded into the convs, sparse/condensed/model.ts) also holds
 * the parameter-free ops `save`, `swap`, `add` (residual connections) and `avgpool` (global
 * average pooling), and is version 3, N:M layers or not. Versions 1 and 2 cannot hold these ops.
 *
 * A ViT's file holds the transformer ops and is version 4 (which may also hold residual ops and
 * N:M layers; versions 1–3 cannot hold transformer ops): `embed` ({name, dim, tokens}; tensors
 * `<prefix>cls_token` F32 [dim] and `<prefix>pos_embed` F32 [tokens, dim], prefix `<name>.` or
 * none for an empty name), `layernorm` ({name, features, eps}; `<name>.weight` and `<name>.bias`
 * F32 [features]), `attention` ({name, heads, q, k, v, proj}: four layers described as a layer
 * op is, each with its own four tensors), and the parameter-free `gelu` and `cls_pool`. A
 * `linear` op after `embed` applies to every token.
 */
import { createEngine, type Engine } from '../kernels/engine.js';
import type { ConvGeometry } from '../kernels/condensed.js';
import { parseModelSpec } from '../nn/models.js';
import {
  CondensedModel, checkNet, RESIDUAL_OP_KINDS, TRANSFORMER_OP_KINDS, type CondensedModelOptions, type CondensedNet, type CondensedOp,
} from '../sparse/condensed/model.js';
import { isNMLayer, validateAnyCondensed, type AnyCondensedLayer } from '../sparse/condensed/layer.js';
import type { NMStructure } from '../sparse/nm.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';

export const CONDENSED_FORMAT = 'srigl-condensed';
/**
 * The version of files without an N:M layer or a residual op; VERSION_NM with an N:M layer;
 * VERSION_RESIDUAL with a residual op (save, swap, add, avgpool), N:M layers or not;
 * VERSION_TRANSFORMER with a transformer op, whatever else. This build reads all four.
 */
export const CONDENSED_FORMAT_VERSION = '1';
export const CONDENSED_FORMAT_VERSION_NM = '2';
export const CONDENSED_FORMAT_VERSION_RESIDUAL = '3';
/** Files holding a transformer op (embed, layernorm, attention, gelu, cls_pool). */
export const CONDENSED_FORMAT_VERSION_TRANSFORMER = '4';
const VERSIONS = [CONDENSED_FORMAT_VERSION, CONDENSED_FORMAT_VERSION_NM, CONDENSED_FORMAT_VERSION_RESIDUAL, CONDENSED_FORMAT_VERSION_TRANSFORMER];

/** Facts recorded with a condensed file. */
export interface CondensedInfo {
  /** Dataset of the source model, e.g. `fashion-mnist`. */
  dataset?: string;
  /** Anything JSON about the source model (path, metrics, sparse run facts). */
  source?: unknown;
}

/** How a layer op is described in the `ops` metadata (arrays live in tensors). */
type LayerMeta = { name: string; outFeatures: number; inFeatures: number; nActive: number; k: number; nm?: NMStructure };
type OpMeta =
  | ({ kind: 'linear' } & LayerMeta)
  | ({ kind: 'conv2d'; geometry: ConvGeometry } & LayerMeta)
  | { kind: 'relu' }
  | { kind: 'maxpool'; kernel: number; stride: number }
  | { kind: 'flatten' | 'save' | 'swap' | 'add' | 'avgpool' | 'gelu' | 'cls_pool' }
  | { kind: 'embed'; name: string; dim: number; tokens: number }
  | { kind: 'layernorm'; name: string; features: number; eps: number }
  | { kind: 'attention'; name: string; heads: number; q: LayerMeta; k: LayerMeta; v: LayerMeta; proj: LayerMeta };

/** Where an embed op's tensors are: `<name>.cls_token`, or `cls_token` for an unnamed op (the model's own names). */
function embedPrefix(name: string): string {
  return name === '' ? '' : `${name}.`;
}

/** Writes a condensed network atomically (temporary file, fsync, rename). */
export function saveCondensed(path: string, net: CondensedNet, info: CondensedInfo = {}): void {
  checkNet(net);
  const tensors: SafeTensor[] = [];
  const ops: OpMeta[] = [];
  const ks: Record<string, number> = {};
  let anyNM = false;
  const anyResidual = net.ops.some((op) => RESIDUAL_OP_KINDS.includes(op.kind));
  const anyTransformer = net.ops.some((op) => TRANSFORMER_OP_KINDS.includes(op.kind));
  /** A layer's four tensors; returns how the op describes it. */
  const layer = (name: string, L: AnyCondensedLayer): LayerMeta => {
    const meta: LayerMeta = { name, outFeatures: L.outFeatures, inFeatures: L.inFeatures, nActive: L.nActive, k: L.k };
    if (isNMLayer(L)) meta.nm = { n: L.nm.n, m: L.nm.m, taps: L.nm.taps };
    ks[name] = L.k;
    tensors.push({ name: `${name}.values`, dtype: 'F32', shape: [L.nActive, L.k], data: L.values });
    if (isNMLayer(L)) {
      anyNM = true;
      tensors.push({ name: `${name}.offsets`, dtype: 'U8', shape: [L.nActive, L.k], data: L.offsets });
    } else {
      tensors.push({ name: `${name}.indices`, dtype: L.indices instanceof Uint16Array ? 'U16' : 'U32', shape: [L.nActive, L.k], data: L.indices });
    }
    tensors.push(
      { name: `${name}.bias`, dtype: 'F32', shape: [L.nActive], data: L.bias },
      { name: `${name}.active_map`, dtype: 'U32', shape: [L.nActive], data: L.activeMap },
    );
    return meta;
  };
  for (const op of net.ops) {
    switch (op.kind) {
      case 'linear':
        ops.push({ kind: 'linear', ...layer(op.name, op.layer) });
        break;
      case 'conv2d':
        ops.push({ kind: 'conv2d', ...layer(op.name, op.layer), geometry: op.geometry });
        break;
      case 'attention':
        // The layers are named as in the model: <attention>.q, .k, .v, .proj.
        ops.push({
          kind: 'attention', name: op.name, heads: op.heads,
          q: layer(`${op.name}.q`, op.q), k: layer(`${op.name}.k`, op.k), v: layer(`${op.name}.v`, op.v), proj: layer(`${op.name}.proj`, op.proj),
        });
        break;
      case 'embed': {
        const dim = op.clsToken.length;
        const tokens = op.posEmbed.length / dim;
        ops.push({ kind: 'embed', name: op.name, dim, tokens });
        tensors.push(
          { name: `${embedPrefix(op.name)}cls_token`, dtype: 'F32', shape: [dim], data: op.clsToken },
          { name: `${embedPrefix(op.name)}pos_embed`, dtype: 'F32', shape: [tokens, dim], data: op.posEmbed },
        );
        break;
      }
      case 'layernorm':
        ops.push({ kind: 'layernorm', name: op.name, features: op.gamma.length, eps: op.eps });
        tensors.push(
          { name: `${op.name}.weight`, dtype: 'F32', shape: [op.gamma.length], data: op.gamma },
          { name: `${op.name}.bias`, dtype: 'F32', shape: [op.beta.length], data: op.beta },
        );
        break;
      default:
        ops.push(op);
    }
  }
  const metadata: Record<string, string> = {
    format: CONDENSED_FORMAT,
    version: anyTransformer ? CONDENSED_FORMAT_VERSION_TRANSFORMER : anyResidual ? CONDENSED_FORMAT_VERSION_RESIDUAL : anyNM ? CONDENSED_FORMAT_VERSION_NM : CONDENSED_FORMAT_VERSION,
    arch: JSON.stringify(net.spec), ops: JSON.stringify(ops), k: JSON.stringify(ks),
  };
  if (info.dataset !== undefined) metadata.dataset = info.dataset;
  if (info.source !== undefined) metadata.source = JSON.stringify(info.source);
  writeSafetensors(path, tensors, metadata);
}

export interface LoadedCondensedNet {
  net: CondensedNet;
  info: CondensedInfo;
  metadata: Record<string, string>;
}

/**
 * Reads and fully validates a condensed file (a path or its bytes) without touching wasm
 * memory: the safetensors structure (readSafetensors), the format tag and version, the op list,
 * that the file holds exactly each layer's four tensors with the dtypes and shapes the ops
 * declare, then every layer (validateCondensed: indices in range and strictly ascending per row,
 * finite values, active map; validateCondensedNM for an N:M layer: offsets within their groups,
 * strictly ascending within a group, exactly min(N, group size) per group) and the chaining of
 * the ops (checkNet). A layer's error names its tensor.
 */
export function readCondensed(input: string | Uint8Array): LoadedCondensedNet {
  const source = typeof input === 'string' ? input : '<memory>';
  const file = readSafetensors(input, { source });
  const meta = file.metadata;
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (meta.format !== CONDENSED_FORMAT) fail(`not a condensed srigl model (metadata format is ${JSON.stringify(meta.format)}, expected "${CONDENSED_FORMAT}")`);
  if (!VERSIONS.includes(meta.version)) {
    fail(`unsupported condensed format version ${JSON.stringify(meta.version)} (this build reads ${VERSIONS.join(', ')})`);
  }
  let spec;
  try {
    spec = parseModelSpec(parseJson(source, 'arch', meta.arch));
  } catch (e) {
    return fail((e as Error).message);
  }
  const rawOps = parseJson(source, 'ops', meta.ops);
  if (!Array.isArray(rawOps)) return fail('metadata "ops" must be a JSON array');
  const count = (v: unknown, what: string): number => {
    if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const used = new Set<string>();
  /** Tensor names the ops read: anything else (an N:M layer's indices too) is refused. */
  const expected = new Set<string>();
  const version = Number(meta.version);
  /** A name no other op has (`empty`: '' allowed, for an embed op named as the model's). */
  const uniqueName = (name: unknown, what: string, empty = false): string => {
    if (typeof name !== 'string' || !(/^[A-Za-z0-9_.-]+$/.test(name) || (empty && name === ''))) return fail(`${what} must be a layer name, got ${JSON.stringify(name)}`);
    if (used.has(name)) fail(`layer "${name}" appears twice in ops`);
    used.add(name);
    return name;
  };
  /** A layer described by `o` (a layer op, or one of an attention op's layers), its tensors read and validated. */
  const layerOf = (o: Record<string, unknown>, what: string): { name: string; layer: AnyCondensedLayer } => {
    const name = uniqueName(o.name, `${what}.name`);
    let nm: NMStructure | null = null;
    if (o.nm !== undefined) {
      if (meta.version === CONDENSED_FORMAT_VERSION) fail(`${what} is N:M, which needs format version ${CONDENSED_FORMAT_VERSION_NM}, but the file says ${JSON.stringify(meta.version)}`);
      const s = o.nm as Record<string, unknown> | null;
      if (typeof s !== 'object' || s === null) return fail(`${what}.nm must be an object {n, m, taps}`);
      nm = { n: count(s.n, `${what}.nm.n`), m: count(s.m, `${what}.nm.m`), taps: count(s.taps, `${what}.nm.taps`) };
    }
    const layer = readLayer(source, file.tensors, name, {
      outFeatures: count(o.outFeatures, `${what}.outFeatures`), inFeatures: count(o.inFeatures, `${what}.inFeatures`),
      nActive: count(o.nActive, `${what}.nActive`), k: count(o.k, `${what}.k`),
    }, nm);
    for (const t of ['values', nm === null ? 'indices' : 'offsets', 'bias', 'active_map']) expected.add(`${name}.${t}`);
    return { name, layer };
  };
  /** An F32 vector tensor of the op (scale, shift, class token, position embedding) of the given shape. */
  const vectorOf = (tensor: string, shape: number[]): Float32Array => {
    const t = file.tensors.get(tensor);
    if (!t) return fail(`missing tensor "${tensor}"`);
    if (t.dtype !== 'F32') fail(`tensor "${tensor}" has dtype ${t.dtype}, expected F32`);
    if (t.shape.length !== shape.length || t.shape.some((v, j) => v !== shape[j])) fail(`tensor "${tensor}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    expected.add(tensor);
    return t.data as Float32Array;
  };
  const ops: CondensedOp[] = rawOps.map((raw: unknown, i: number): CondensedOp => {
    if (typeof raw !== 'object' || raw === null) return fail(`ops[${i}] must be an object`);
    const o = raw as Record<string, unknown>;
    if (typeof o.kind === 'string' && (TRANSFORMER_OP_KINDS as readonly string[]).includes(o.kind) && meta.version !== CONDENSED_FORMAT_VERSION_TRANSFORMER) {
      fail(`ops[${i}] (${o.kind}) needs format version ${CONDENSED_FORMAT_VERSION_TRANSFORMER}, but the file says ${JSON.stringify(meta.version)}`);
    }
    switch (o.kind) {
      case 'relu':
      case 'flatten':
      case 'gelu':
      case 'cls_pool':
        return { kind: o.kind };
      case 'save':
      case 'swap':
      case 'add':
      case 'avgpool':
        if (version < Number(CONDENSED_FORMAT_VERSION_RESIDUAL)) fail(`ops[${i}] (${o.kind}) needs format version ${CONDENSED_FORMAT_VERSION_RESIDUAL}, but the file says ${JSON.stringify(meta.version)}`);
        return { kind: o.kind };
      case 'maxpool':
        return { kind: 'maxpool', kernel: count(o.kernel, `ops[${i}].kernel`), stride: count(o.stride, `ops[${i}].stride`) };
      case 'embed': {
        const name = uniqueName(o.name, `ops[${i}].name`, true);
        const dim = count(o.dim, `ops[${i}].dim`), tokens = count(o.tokens, `ops[${i}].tokens`);
        const prefix = name === '' ? '' : `${name}.`;
        return { kind: 'embed', name, clsToken: vectorOf(`${prefix}cls_token`, [dim]), posEmbed: vectorOf(`${prefix}pos_embed`, [tokens, dim]) };
      }
      case 'layernorm': {
        const name = uniqueName(o.name, `ops[${i}].name`);
        const features = count(o.features, `ops[${i}].features`);
        if (typeof o.eps !== 'number' || !Number.isFinite(o.eps) || o.eps <= 0) fail(`ops[${i}].eps must be a finite number > 0, got ${JSON.stringify(o.eps)}`);
        return { kind: 'layernorm', name, gamma: vectorOf(`${name}.weight`, [features]), beta: vectorOf(`${name}.bias`, [features]), eps: o.eps as number };
      }
      case 'attention': {
        const name = uniqueName(o.name, `ops[${i}].name`);
        const part = (key: 'q' | 'k' | 'v' | 'proj'): AnyCondensedLayer => {
          const d = o[key] as Record<string, unknown> | null;
          if (typeof d !== 'object' || d === null) return fail(`ops[${i}].${key} must be a layer object`);
          if (d.name !== `${name}.${key}`) fail(`ops[${i}].${key}.name must be "${name}.${key}", got ${JSON.stringify(d.name)}`);
          return layerOf(d, `ops[${i}].${key}`).layer;
        };
        return { kind: 'attention', name, heads: count(o.heads, `ops[${i}].heads`), q: part('q'), k: part('k'), v: part('v'), proj: part('proj') };
      }
      case 'linear':
      case 'conv2d': {
        const { name, layer } = layerOf(o, `ops[${i}]`);
        if (o.kind === 'linear') return { kind: 'linear', name, layer };
        const g = o.geometry as Record<string, unknown> | null;
        if (typeof g !== 'object' || g === null) return fail(`ops[${i}].geometry must be an object`);
        const geometry: ConvGeometry = {
          C: count(g.C, `ops[${i}].geometry.C`), H: count(g.H, `ops[${i}].geometry.H`), W: count(g.W, `ops[${i}].geometry.W`),
          kh: count(g.kh, `ops[${i}].geometry.kh`), kw: count(g.kw, `ops[${i}].geometry.kw`),
          stride: count(g.stride, `ops[${i}].geometry.stride`), pad: count(g.pad, `ops[${i}].geometry.pad`),
        };
        return { kind: 'conv2d', name, layer, geometry };
      }
      default:
        return fail(`ops[${i}] has unknown kind ${JSON.stringify(o.kind)}`);
    }
  });
  for (const name of file.tensors.keys()) {
    if (expected.has(name)) continue;
    const dot = name.lastIndexOf('.');
    fail(`unexpected tensor "${name}" (${dot >= 0 && used.has(name.slice(0, dot)) ? `layer "${name.slice(0, dot)}" reads ${[...expected].filter((t) => t.startsWith(name.slice(0, dot + 1))).map((t) => t.slice(dot + 1)).join(', ')}` : 'no op names it'})`);
  }
  const net: CondensedNet = { spec, ops };
  try {
    checkNet(net);
  } catch (e) {
    fail((e as Error).message);
  }
  const info: CondensedInfo = {
    dataset: meta.dataset,
    source: meta.source === undefined ? undefined : parseJson(source, 'source', meta.source),
  };
  return { net, info, metadata: meta };
}

function readLayer(
  source: string, tensors: Map<string, SafeTensor>, name: string,
  d: { outFeatures: number; inFeatures: number; nActive: number; k: number }, nm: NMStructure | null,
): AnyCondensedLayer {
  const get = (suffix: string, dtypes: readonly string[], shape: number[]) => {
    const t = tensors.get(`${name}.${suffix}`);
    if (!t) throw new Error(`${source}: missing tensor "${name}.${suffix}"`);
    if (!dtypes.includes(t.dtype)) throw new Error(`${source}: tensor "${t.name}" has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
    if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
      throw new Error(`${source}: tensor "${t.name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return t.data;
  };
  const values = get('values', ['F32'], [d.nActive, d.k]) as Float32Array;
  const bias = get('bias', ['F32'], [d.nActive]) as Float32Array;
  const activeMap = get('active_map', ['U32'], [d.nActive]) as Uint32Array;
  const layer: AnyCondensedLayer = nm !== null
    ? { ...d, nm, values, offsets: get('offsets', ['U8'], [d.nActive, d.k]) as Uint8Array, bias, activeMap }
    : { ...d, values, indices: get('indices', ['U16', 'U32'], [d.nActive, d.k]) as Uint16Array | Uint32Array, bias, activeMap };
  // Validated here, not only by checkNet, so the error names the layer's tensors.
  try {
    validateAnyCondensed(layer);
  } catch (e) {
    const field = /\b(values|indices|offsets|bias|activeMap)\b/.exec((e as Error).message)?.[1];
    const tensor = field === undefined ? `layer "${name}"` : `tensor "${name}.${field === 'activeMap' ? 'active_map' : field}"`;
    throw new Error(`${source}: ${tensor}: ${(e as Error).message}`);
  }
  return layer;
}

function parseJson(source: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new Error(`${source}: metadata "${key}" is missing`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: metadata "${key}" is not valid JSON (${(e as Error).message})`);
  }
}

/** Options for `loadCondensed`. */
export interface LoadCondensedOptions extends CondensedModelOptions {
  /** Threads of the engine created when none is passed. Default 1. */
  threads?: number;
}

/**
 * Loads a condensed file, validated before anything is uploaded, and makes it runnable:
 * `const m = await loadCondensed('model.condensed.safetensors'); const logits = m.predict(x);`.
 * Without `engine` a fresh one is created (fastest kernels, `threads` threads) and closed by
 * `m.close()`; a passed engine stays the caller's.
 */
export async function loadCondensed(path: string | Uint8Array, engine?: Engine, opts: LoadCondensedOptions = {}): Promise<CondensedModel & { info: CondensedInfo }> {
  const { net, info } = readCondensed(path);
  const own = engine === undefined;
  const e = engine ?? (await createEngine({ threads: opts.threads ?? 1 }));
  const mark = e.heap.mark();
  try {
    const model = new CondensedModel(e, net, { ...opts, closeEngine: own });
    return Object.assign(model, { info });
  } catch (err) {
    e.heap.release(mark);
    if (own) await e.close();
    throw err;
  }
}
