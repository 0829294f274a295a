/**
 * Option parsing for every `transferlab` command, on Node's `util.parseArgs`.
 *
 * parseArgs splits the arguments into tokens (`--name value`, `--name=value`, `-o value`, short
 * groups such as `-qo FILE`, `--` ending the options, `-` as a plain argument); this module checks
 * each token in order and turns what is wrong into a {@link UsageError} worded the same for every
 * command:
 *
 * - `unknown option --bogus` (the argument as typed; also a flag given a value, `--quiet=1`)
 * - `--out needs a value` (the option missing its value, or given an empty one: `--out=`, `--out ''`)
 * - `unexpected argument b.tsnb (one notebook at a time)` (more positional arguments than allowed)
 *
 * The tokens are checked here rather than by parseArgs' strict mode because strict mode words its
 * errors (ERR_PARSE_ARGS_UNKNOWN_OPTION, ERR_PARSE_ARGS_INVALID_OPTION_VALUE,
 * ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL) for a programmer, reports only the option name, not the
 * argument typed, and refuses values that start with a dash (`--out -x.tsnb`), which we accept.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';

/** One option of a command: its long name is the key in {@link CliOptions}. */
export interface CliOption {
  /** `string` takes a value (`--out FILE`, `--out=FILE`); `boolean` is a flag (`--quiet`). */
  readonly type: 'string' | 'boolean';
  /** A one-letter alias (`o` for `-o`). */
  readonly short?: string;
  /** A `string` option that may be repeated, every value kept in order (`--param a=1 --param b=2`). */
  readonly multiple?: boolean;
  /** The message when the value is missing or empty; default `--NAME needs a value`. */
  readonly missing?: string;
}

/** The options of a command, by long name. */
export type CliOptions = Readonly<Record<string, CliOption>>;

/** The value of one option after parsing: `false`, `[]` or `undefined` when it was not given. */
export type CliOptionValue<O extends CliOption> = O['type'] extends 'boolean' ? boolean : O extends { readonly multiple: true } ? string[] : string | undefined;

/** The values of a command's options, by long name. */
export type CliValues<S extends CliOptions> = { -readonly [K in keyof S]: CliOptionValue<S[K]> };

/** How a command takes its arguments beyond its options. */
export interface CliArgsSettings {
  /** How many positional arguments the command takes at most (default: any number). */
  readonly maxPositionals?: number;
  /** Said in parentheses after `unexpected argument X` when there are too many. */
  readonly tooManyHint?: string;
  /** Said in parentheses after `unknown option X`. */
  readonly unknownHint?: string;
  /** Whether `-h` and `--help` ask for the usage (default true). */
  readonly help?: boolean;
}

/** The arguments of a command, parsed. */
export interface CliArgs<S extends CliOptions> {
  /** `-h` or `--help` came before any error; the rest of the arguments were not looked at. */
  readonly help: boolean;
  readonly values: CliValues<S>;
  /** The arguments that are not options, in order (`-` among them: it means stdin or stdout). */
  readonly positionals: string[];
}

const HELP: CliOption = { type: 'boolean', short: 'h' };

/**
 * Parses a command's arguments; throws a {@link UsageError} at the first one that is wrong.
 * A single-valued option given twice keeps its last value.
 * @example
 * const { help, values, positionals } = parseCliArgs(
 *   ['a.tsnb', '-o', 'b.tsnb', '--param', 'x=1', '--param=y=2'],
 *   { out: { type: 'string', short: 'o' }, param: { type: 'string', short: 'p', multiple: true } },
 *   { maxPositionals: 1 },
 * );
 * // help false, values { out: 'b.tsnb', param: ['x=1', 'y=2'] }, positionals ['a.tsnb']
 */
export function parseCliArgs<const S extends CliOptions>(args: readonly string[], options: S, settings: CliArgsSettings = {}): CliArgs<S> {
  const withHelp = settings.help ?? true;
  const known: CliOptions = withHelp ? { ...options, help: HELP } : options;
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, option] of Object.entries(known)) config[name] = option.short === undefined ? { type: option.type } : { type: option.type, short: option.short };
  const { tokens } = parseArgs({ args: [...args], options: config, strict: false, allowPositionals: true, tokens: true });

  const values: Record<string, string | string[] | boolean | undefined> = {};
  for (const [name, option] of Object.entries(options)) values[name] = option.type === 'boolean' ? false : option.multiple ? [] : undefined;
  const positionals: string[] = [];
  const result = (help: boolean): CliArgs<S> => ({ help, values: values as CliValues<S>, positionals });
  const hint = (h: string | undefined) => (h === undefined ? '' : ` (${h})`);

  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (positionals.length >= (settings.maxPositionals ?? Infinity)) throw new UsageError(`unexpected argument ${token.value}${hint(settings.tooManyHint)}`);
      positionals.push(token.value);
      continue;
    }
    const typed = args[token.index]!;
    const option = Object.hasOwn(known, token.name) ? known[token.name] : undefined;
    if (option === undefined || (option.type === 'boolean' && token.value !== undefined)) throw new UsageError(`unknown option ${typed}${hint(settings.unknownHint)}`);
    if (option.type === 'boolean') {
      if (withHelp && option === HELP) return result(true);
      values[token.name] = true;
      continue;
    }
    let value = token.value;
    // `-o=FILE` means FILE, as `--out=FILE` does (parseArgs reads it as `-o` with the value `=FILE`).
    if (value !== undefined && token.inlineValue && token.rawName.length === 2 && value.startsWith('=')) value = value.slice(1);
    if (value === undefined || value === '') throw new UsageError(option.missing ?? `--${token.name} needs a value`);
    if (option.multiple) (values[token.name] as string[]).push(value);
    else values[token.name] = value;
  }
  return result(false);
}
