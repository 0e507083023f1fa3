/** A command-line usage error: the CLI prints the message and exits with status 2. */
export class UsageError extends Error {}

/** One option of a command. Values arrive as strings and are checked by `kind`. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `batch-size`. */
  name: string;
  kind: 'string' | 'int' | 'number' | 'bool' | 'enum' | 'int-list' | 'number-map';
  /** Accepted values of an enum. */
  values?: readonly string[];
  /** Placeholder in help, e.g. `N`. */
  arg?: string;
  /** What the option does, and its default in words. */
  help: string;
  /** Smallest accepted int/number (for number-map: of every value). */
  min?: number;
  /** Largest accepted value of a number-map, exclusive (e.g. 1 for sparsities). */
  maxExclusive?: number;
}

export type OptionValue = string | number | boolean | number[] | Record<string, number>;

export interface ParsedArgs {
  /** Options given on the command line, by name (defaults are the command's business). */
  options: Map<string, OptionValue>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `--name value`, `--name=value`, boolean `--name` / `--no-name`, and positionals.
 * Unknown options and bad values throw a UsageError naming the option and the value.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const options = new Map<string, OptionValue>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`${command}: unknown option ${arg} (options are long, e.g. --epochs 3; see --help)`);
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.kind === 'bool') {
      if (inline !== undefined) throw new UsageError(`${command}: --${name} takes no value, got "${inline}"`);
      name = name.slice(3);
      options.set(name, false);
      continue;
    }
    if (!spec) throw new UsageError(`${command}: unknown option --${name} (see ${command} --help)`);
    if (spec.kind === 'bool') {
      if (inline === undefined) {
        options.set(name, true);
        continue;
      }
      if (inline !== 'true' && inline !== 'false') throw new UsageError(`${command}: --${name} expects true or false, got "${inline}"`);
      options.set(name, inline === 'true');
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${command}: --${name} needs a value (${spec.arg ?? 'VALUE'})`);
      inline = argv[++i];
    }
    options.set(name, convert(command, spec, inline));
  }
  return { options, positionals, help };
}

function convert(command: string, spec: OptionSpec, raw: string): OptionValue {
  const bad = (what: string): UsageError => new UsageError(`${command}: --${spec.name} expects ${what}, got "${raw}"`);
  const checkMin = (v: number, what: string): number => {
    if (spec.min !== undefined && v < spec.min) throw bad(`${what} ≥ ${spec.min}`);
    return v;
  };
  switch (spec.kind) {
    case 'string':
      if (raw === '') throw bad('a non-empty value');
      return raw;
    case 'enum':
      if (!spec.values?.includes(raw)) throw bad(`one of ${spec.values?.join(', ')}`);
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw bad('an integer');
      return checkMin(Number(raw), 'an integer');
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw bad('a number');
      return checkMin(v, 'a number');
    }
    case 'int-list': {
      const parts = raw.split(',');
      if (!parts.every((p) => /^\d+$/.test(p.trim()))) throw bad('comma-separated integers, e.g. 1,2');
      return parts.map((p) => checkMin(Number(p), 'integers'));
    }
    case 'number-map': {
      const map: Record<string, number> = {};
      for (const part of raw.split(',')) {
        const eq = part.indexOf('=');
        const key = eq > 0 ? part.slice(0, eq).trim() : '';
        const text = eq > 0 ? part.slice(eq + 1).trim() : '';
        const v = Number(text);
        if (key === '' || text === '' || !Number.isFinite(v)) throw bad('comma-separated name=value pairs, e.g. fc1=0.5,fc2=0.8');
        if (key in map) throw bad(`each name once ("${key}" is repeated)`);
        if (spec.min !== undefined && v < spec.min) throw bad(`values ≥ ${spec.min}`);
        if (spec.maxExclusive !== undefined && v >= spec.maxExclusive) throw bad(`values < ${spec.maxExclusive}`);
        map[key] = v;
      }
      return map;
    }
    case 'bool':
      throw new Error('unreachable: bool options take no value');
  }
}

/** Formats a command's help: usage line, summary, and one entry per option. */
export function formatHelp(usage: string, summary: string, specs: readonly OptionSpec[]): string {
  const lines = [`Usage: ${usage}`, '', summary, '', 'Options:'];
  const label = (s: OptionSpec): string => {
    if (s.kind === 'bool') return `--${s.name}, --no-${s.name}`;
    const arg = s.kind === 'enum' ? (s.values ?? []).join('|') : (s.arg ?? 'VALUE');
    return `--${s.name} ${arg}`;
  };
  const width = Math.max(...specs.map((s) => label(s).length), 10) + 2;
  for (const s of specs) lines.push(`  ${label(s).padEnd(width)}${s.help}`);
  lines.push(`  ${'--help'.padEnd(width)}Show this help.`);
  return lines.join('\n') + '\n';
}
