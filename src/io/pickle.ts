/**
 * A restricted pickle virtual machine: the opcodes of protocols 2–5 that `torch.save` and
 * `torch.load(weights_only=True)` use, and nothing that runs code by itself. A pickle names
 * callables with GLOBAL / STACK_GLOBAL; here every such name goes to the caller's `resolveGlobal`,
 * which returns a value (a constant, or a `PickleCallable` it wrote) or refuses. REDUCE and
 * NEWOBJ call only `PickleCallable`s, so no Python name is ever looked up or instantiated
 * generically. BUILD is accepted on dicts only and discards the state (it sets attributes, as
 * the `_metadata` of a state_dict, which no reader here needs). Protocol 0/1 object opcodes
 * (INST, OBJ), extension registries (EXT1/2/4), persistent ids as text (PERSID) and the
 * opcodes of data this reader has no use for are refused by name.
 *
 * Memory is linear in the pickle's length (each opcode adds at most one value), and the limits
 * bound the memo, the stack, the nesting of MARKs and the size of integers on top of that.
 * Platform-free: it reads a Uint8Array.
 */

/** A malformed or refused pickle. The message names the problem and the byte offset. */
export class PickleError extends Error {
  /** True when the pickle was refused (a name or opcode outside the whitelist), not malformed. */
  readonly refused: boolean;

  constructor(message: string, refused = false) {
    super(message);
    this.name = 'PickleError';
    this.refused = refused;
  }
}

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python set (weights_only accepts empty ones; ADDITEMS fills them). */
export class PySet {
  readonly items = new Set<PyKey>();
}

/** Values a dict key may take here (the hashable primitives). */
export type PyKey = string | number | bigint | boolean | null;

/** A Python dict or OrderedDict, in insertion order. */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  constructor(readonly ordered: boolean) {}
}

/** A callable the caller whitelisted; REDUCE and NEWOBJ call nothing else. */
export class PickleCallable {
  constructor(
    /** `module.name`, for messages. */
    readonly name: string,
    readonly call: (args: PyValue[]) => PyValue,
  ) {}
}

/**
 * What a pickle value may be: Python's None, bool, int (a number, or a bigint beyond 2^53),
 * float, str, bytes, list (an array), tuple, set, dict, or a value the caller's hooks made
 * (callables, and whatever they return, e.g. tensors).
 */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PySet | PyDict | PickleCallable | { readonly kind: string };

/** The caller's side of unpickling. */
export interface PickleHooks {
  /**
   * The value of GLOBAL `module` `name`: a constant or a PickleCallable. Return undefined to
   * refuse the name (a PickleError `refused pickle global "module.name"` follows).
   */
  resolveGlobal(module: string, name: string): PyValue | undefined;
  /** The value of a persistent id (BINPERSID); throw to refuse it. Default: every persistent id is refused. */
  persistentLoad?(pid: PyValue): PyValue;
}

/** Limits on what a pickle may build. */
export interface PickleLimits {
  /** Most memo entries. Default 2^20. */
  maxMemo?: number;
  /** Most values on one stack frame. Default 2^20. */
  maxStack?: number;
  /** Deepest nesting of MARKs. Default 1024. */
  maxMarkDepth?: number;
  /** Longest integer (LONG1/LONG4), in bytes. Default 32. */
  maxIntBytes?: number;
}

/** Why the whitelist refuses something, appended to refusal messages. */
const WHY = 'only tensor state_dicts are accepted';

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** A short description of a value's type, for messages (never the value itself). */
export function describePy(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof PySet) return 'set';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof PickleCallable) return v.name;
  return v.kind;
}

/** `describePy` with its article: "an int", "a str". */
export function aPy(v: PyValue): string {
  const d = describePy(v);
  return (/^[aeiouAEIOU]/.test(d) ? 'an ' : 'a ') + d;
}

function isKey(v: PyValue): v is PyKey {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** What `unpickle` returns: the value and the offset just past its STOP. */
export interface Unpickled {
  value: PyValue;
  end: number;
}

/**
 * Runs the pickle that starts at `start` in `bytes` and returns its value and where it ended.
 * Throws a PickleError for anything malformed or outside the whitelist.
 */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, limits: PickleLimits = {}, start = 0): Unpickled {
  const maxMemo = limits.maxMemo ?? 2 ** 20;
  const maxStack = limits.maxStack ?? 2 ** 20;
  const maxMarkDepth = limits.maxMarkDepth ?? 1024;
  const maxIntBytes = limits.maxIntBytes ?? 32;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const memo = new Map<number, PyValue>();
  const metastack: PyValue[][] = [];
  let stack: PyValue[] = [];
  let pos = start;
  let opAt = start;

  const fail = (problem: string): never => {
    throw new PickleError(`pickle: ${problem} at byte ${opAt}`);
  };
  const refuse = (what: string): never => {
    throw new PickleError(`refused ${what} at byte ${opAt} (${WHY})`, true);
  };
  const need = (n: number): number => {
    if (n > bytes.length - pos) fail(`truncated: ${n} more bytes needed, ${bytes.length - pos} left`);
    const at = pos;
    pos += n;
    return at;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= maxStack) fail(`stack holds more than ${maxStack} values`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail('stack underflow (or a MARK left where a value was expected)');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const outer = metastack.pop();
    if (outer === undefined) return fail('no MARK to pop to');
    stack = outer;
    return items;
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1024) fail('GLOBAL name is not a newline-terminated line of at most 1024 bytes');
    const s = text(end - pos);
    pos++;
    return s;
  };
  const memoPut = (key: number): void => {
    if (!memo.has(key) && memo.size >= maxMemo) fail(`memo holds more than ${maxMemo} entries`);
    memo.set(key, top());
  };
  const memoGet = (key: number): void => {
    if (!memo.has(key)) fail(`memo key ${key} was never stored`);
    push(memo.get(key) as PyValue);
  };
  const global = (module: string, name: string): void => {
    const v = hooks.resolveGlobal(module, name);
    if (v === undefined) refuse(`pickle global "${module}.${name}"`);
    push(v as PyValue);
  };
  const long = (n: number): number | bigint => {
    if (n > maxIntBytes) fail(`integer of ${n} bytes, more than the limit of ${maxIntBytes}`);
    const at = need(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
    if (bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on ${aPy(target)}, not a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of values');
    const d = target as PyDict;
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (!isKey(k)) fail(`dict key of type ${describePy(k)}; only str, int, bool and None keys are supported`);
      d.map.set(k as PyKey, items[i + 1]);
    }
  };
  const call = (fn: PyValue, args: PyValue, op: string): PyValue => {
    if (!(fn instanceof PickleCallable)) return refuse(`${op} of ${aPy(fn)}`);
    if (!(args instanceof PyTuple)) return fail(`${op} arguments are ${aPy(args)}, not a tuple`);
    return (fn as PickleCallable).call(args.items);
  };

  for (;;) {
    opAt = pos;
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)] > 5) fail(`pickle protocol ${bytes[pos - 1]} (at most 5 is supported)`);
        break;
      case 0x95: // FRAME: a length prefix that only helps buffered readers
        need(8);
        break;
      case 0x2e: // STOP
        if (metastack.length > 0) fail('STOP inside a MARK');
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack, expected 1`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        if (metastack.length >= maxMarkDepth) fail(`MARKs nested deeper than ${maxMarkDepth}`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: push(bytes[need(1)]); break; // BININT1
      case 0x4d: push(view.getUint16(need(2), true)); break; // BININT2
      case 0x8a: push(long(bytes[need(1)])); break; // LONG1
      case 0x8b: push(long(view.getUint32(need(4), true))); break; // LONG4
      case 0x47: push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: push(text(view.getUint32(need(4), true))); break; // BINUNICODE
      case 0x8c: push(text(bytes[need(1)])); break; // SHORT_BINUNICODE
      case 0x8d: { // BINUNICODE8
        const n = view.getBigUint64(need(8), true);
        if (n > BigInt(bytes.length)) fail(`truncated: a string of ${n} bytes`);
        push(text(Number(n)));
        break;
      }
      case 0x55: { // SHORT_BINSTRING: Python 2 str, read as text like torch's encoding='utf-8'
        push(text(bytes[need(1)]));
        break;
      }
      case 0x43: case 0x42: { // SHORT_BINBYTES, BINBYTES
        const n = op === 0x43 ? bytes[need(1)] : view.getUint32(need(4), true);
        const at = need(n);
        push(bytes.slice(at, at + n));
        break;
      }
      case 0x29: push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x7d: push(new PyDict(false)); break; // EMPTY_DICT
      case 0x8f: push(new PySet()); break; // EMPTY_SET
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND to ${aPy(list)}, not a list`);
        (list as PyValue[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS to ${aPy(list)}, not a list`);
        for (const v of items) (list as PyValue[]).push(v);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof PySet)) return fail(`ADDITEMS to ${aPy(set)}, not a set`);
        for (const v of items) {
          if (!isKey(v)) fail(`set item of type ${describePy(v)}; only str, int, bool and None are supported`);
          set.items.add(v as PyKey);
        }
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: memoPut(bytes[need(1)]); break; // BINPUT
      case 0x72: memoPut(view.getUint32(need(4), true)); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x68: memoGet(bytes[need(1)]); break; // BINGET
      case 0x6a: memoGet(view.getUint32(need(4), true)); break; // LONG_BINGET
      case 0x63: { // GLOBAL
        const module = line();
        global(module, line());
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        global(module as string, name as string);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict)) refuse(`BUILD (setting state) on ${aPy(target)}`);
        if (!(state instanceof PyDict) && state !== null && !(state instanceof PyTuple)) fail(`BUILD with ${aPy(state)} state`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (hooks.persistentLoad === undefined) refuse('persistent id');
        push((hooks.persistentLoad as NonNullable<PickleHooks['persistentLoad']>)(pid));
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        if (name === undefined) fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
        refuse(`pickle opcode ${name}`);
      }
    }
  }
}
