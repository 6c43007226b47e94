/**
 * A small typed option parser for the CLI's commands: declared options (number, string, boolean, list) with
 * defaults, validation and generated help. Every mistake becomes a `UsageError` with one line that names
 * the option, so that main can print it and exit 2.
 */

export type OptionType = 'number' | 'string' | 'boolean' | 'list';
export type OptionValue = number | string | boolean | string[];

export interface OptionSpec {
  /** Long name without dashes, e.g. `max-size`. */
  name: string;
  /** One-letter alias without the dash, e.g. `o`. */
  alias?: string;
  type: OptionType;
  description: string;
  /** Placeholder in help, e.g. `N`, `PATH` (defaults from the type). */
  valueName?: string;
  default?: OptionValue;
  /** Numbers: bounds (inclusive) and whether only integers are allowed. */
  min?: number;
  max?: number;
  integer?: boolean;
  /** Strings and list items: the allowed values. */
  choices?: readonly string[];
}

export interface PositionalSpec {
  /** Placeholder in usage and errors, e.g. `INPUT`. */
  name: string;
  min: number;
  max: number;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line after the program name, e.g. `stylize --model MODEL INPUT... [options]`. */
  usage: string;
  /** Further paragraphs of help (examples, notes), printed after the options. */
  details?: string;
  options: OptionSpec[];
  positionals?: PositionalSpec;
  run(args: ParsedArgs): Promise<number>;
}

/** A mistake in the command line: printed as one line, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const PROGRAM = 'fast-style-webgpu';

/** Parsed options (declared defaults filled in) and positionals, read through typed getters. */
export class ParsedArgs {
  constructor(
    readonly command: string,
    private readonly values: ReadonlyMap<string, OptionValue>,
    readonly positionals: readonly string[],
    /** Options given on the command line (not filled from defaults). */
    readonly given: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  number(name: string): number | undefined {
    return this.typed(name, 'number') as number | undefined;
  }

  string(name: string): string | undefined {
    return this.typed(name, 'string') as string | undefined;
  }

  /** A string option the command cannot run without: its value, or a UsageError naming it (and `valueName`). */
  required(name: string, valueName?: string): string {
    const v = this.string(name);
    if (v === undefined)
      throw new UsageError(
        `missing --${name}${valueName ? ` ${valueName}` : ''} for '${this.command}' (see ${this.command} --help)`,
      );
    return v;
  }

  flag(name: string): boolean {
    return (this.typed(name, 'boolean') as boolean | undefined) ?? false;
  }

  list(name: string): string[] {
    return (this.typed(name, 'object') as string[] | undefined) ?? [];
  }

  private typed(name: string, type: string): OptionValue | undefined {
    const v = this.values.get(name);
    if (v !== undefined && typeof v !== type) throw new TypeError(`option --${name} is a ${typeof v}, read as ${type}`);
    return v;
  }
}

function findOption(options: readonly OptionSpec[], token: string): OptionSpec | undefined {
  if (token.startsWith('--')) return options.find((o) => o.name === token.slice(2));
  return options.find((o) => o.alias === token.slice(1));
}

/** The nearest declared option to a mistyped one (edit distance ≤ 2), for the error message. */
function suggest(options: readonly OptionSpec[], name: string): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const o of options) {
    const d = editDistance(name, o.name);
    if (d < bestDistance) {
      best = o.name;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function looksLikeNumber(token: string): boolean {
  return /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(token);
}

function convert(spec: OptionSpec, raw: string): OptionValue {
  const flag = `--${spec.name}`;
  switch (spec.type) {
    case 'number': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new UsageError(`${flag} expects a number, got '${raw}'`);
      if (spec.integer && !Number.isInteger(v)) throw new UsageError(`${flag} expects a whole number, got '${raw}'`);
      const range =
        spec.min !== undefined && spec.max !== undefined
          ? `between ${spec.min} and ${spec.max}`
          : spec.min !== undefined
            ? `at least ${spec.min}`
            : `at most ${spec.max}`;
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
        throw new UsageError(`${flag} must be ${range}, got ${raw}`);
      }
      return v;
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`${flag} must be one of ${spec.choices.join(', ')}; got '${raw}'`);
      }
      return raw;
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) throw new UsageError(`${flag} expects a comma-separated list, got '${raw}'`);
      const bad = spec.choices ? items.find((i) => !spec.choices!.includes(i)) : undefined;
      if (bad !== undefined) throw new UsageError(`${flag}: '${bad}' is not one of ${spec.choices!.join(', ')}`);
      return items;
    }
    case 'boolean':
      throw new Error('unreachable: booleans take no value');
  }
}

/**
 * Parses `argv` (the words after the command name) against a command's declared options.
 * Accepted forms: `--name value`, `--name=value`, `-x value`, `--flag`, `-f`; `--` ends the options.
 * Lists accept comma-separated values and may be repeated; other options may be given once.
 */
export function parseArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const values = new Map<string, OptionValue>();
  const given = new Set<string>();
  const positionals: string[] = [];
  const where = `for '${command.name}'`;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-' || looksLikeNumber(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const key = eq >= 0 ? token.slice(0, eq) : token;
    const spec = findOption(command.options, key);
    if (!spec) {
      const hint = key.startsWith('--') ? suggest(command.options, key.slice(2)) : null;
      throw new UsageError(`unknown option ${key} ${where}${hint ? ` (did you mean --${hint}?)` : ''}`);
    }
    if (given.has(spec.name) && spec.type !== 'list') throw new UsageError(`--${spec.name} is given more than once`);
    given.add(spec.name);
    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${spec.name} is a switch and takes no value`);
      values.set(spec.name, true);
      continue;
    }
    let raw: string;
    if (eq >= 0) {
      raw = token.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-' && !looksLikeNumber(next))) {
        throw new UsageError(`${key} needs a value (${spec.valueName ?? defaultValueName(spec)})`);
      }
      raw = next;
      i++;
    }
    const v = convert(spec, raw);
    const prev = values.get(spec.name);
    values.set(spec.name, spec.type === 'list' && Array.isArray(prev) ? [...prev, ...(v as string[])] : v);
  }
  for (const spec of command.options)
    if (!values.has(spec.name) && spec.default !== undefined) values.set(spec.name, spec.default);

  const p = command.positionals ?? { name: 'ARG', min: 0, max: 0 };
  if (positionals.length < p.min) {
    throw new UsageError(
      p.min === 1 ? `missing ${p.name} ${where}` : `'${command.name}' needs at least ${p.min} ${p.name} arguments`,
    );
  }
  if (positionals.length > p.max) {
    throw new UsageError(
      p.max === 0
        ? `unexpected argument '${positionals[0]}' ${where}`
        : `too many arguments ${where}: '${positionals[p.max]}'`,
    );
  }
  return new ParsedArgs(command.name, values, positionals, given);
}

function defaultValueName(spec: OptionSpec): string {
  if (spec.choices) return spec.type === 'list' ? `${spec.choices.join('|')},...` : spec.choices.join('|');
  return { number: 'N', string: 'VALUE', list: 'A,B,...', boolean: '' }[spec.type];
}

/** The help text of a command: usage, summary, options with defaults, details. */
export function commandHelp(command: Command): string {
  const rows = [
    ...command.options,
    { name: 'help', alias: 'h', type: 'boolean', description: 'show this help' } as OptionSpec,
  ].map((o) => {
    const names = `${o.alias ? `-${o.alias}, ` : '    '}--${o.name}${o.type === 'boolean' ? '' : ` ${o.valueName ?? defaultValueName(o)}`}`;
    const def =
      o.default !== undefined && o.type !== 'boolean'
        ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : o.default})`
        : '';
    return [names, o.description + def] as const;
  });
  const width = Math.min(32, Math.max(...rows.map(([n]) => n.length)) + 2);
  const lines = [`usage: ${PROGRAM} ${command.usage}`, '', command.summary, '', 'options:'];
  for (const [names, text] of rows) {
    lines.push(
      names.length + 2 > width ? `  ${names}\n  ${' '.repeat(width)}${text}` : `  ${names.padEnd(width)}${text}`,
    );
  }
  if (command.details) lines.push('', command.details.trimEnd());
  return lines.join('\n') + '\n';
}
