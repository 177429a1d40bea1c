/**
 * Instruction flags (`COPY --from=build --chown=1:1 …`), as Docker 20.10's builder reads
 * them: split off the front of an instruction's arguments (buildkit's
 * `parser.extractBuilderFlags`), then checked per instruction (`instructions.BFlags`),
 * with Docker's messages (`Unknown flag: foo`, `Missing a value on flag: from`,
 * `Duplicate flag specified: from`).
 */
import { isGoSpace } from '../../../engine/gostr';

/**
 * Splits the leading `--flag[=value]` words off `line`: returns the rest and the flags.
 * Quotes in a flag word are removed and `\` escapes the next character (always `\`,
 * whatever the escape directive says, as Docker). A bare `--` ends the flags and is
 * dropped.
 */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  // Go indexes bytes here; every byte that matters is ASCII, so UTF-16 units behave alike
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos !== line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags: words };
      phase = 'word';
    }
    if ((phase === 'word' || phase === 'quote') && pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      let c = ch;
      if (c === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        c = line[pos]!;
      }
      word += c;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    let c = ch;
    if (c === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      c = line[pos]!;
    }
    word += c;
  }
  return { rest: '', flags: words };
}

export type FlagKind = 'bool' | 'string' | 'strings';

/** The flags one instruction accepts: name → kind. */
export type FlagSpec = Readonly<Record<string, FlagKind>>;

export interface ParsedFlags {
  /** string and bool flags given (bools as `true`/`false`) */
  values: Map<string, string>;
  /** every value of a `strings` flag (RUN `--mount`), in order */
  lists: Map<string, string[]>;
  /** the names used, in order of first use */
  used: string[];
}

/**
 * Checks `flags` (as from `extractBuilderFlags`) against `spec`, as Docker's
 * `BFlags.Parse`. Throws an `Error` with Docker's message; the parser adds the line.
 */
export function parseFlags(flags: readonly string[], spec: FlagSpec): ParsedFlags {
  const out: ParsedFlags = { values: new Map(), lists: new Map(), used: [] };
  for (let arg of flags) {
    if (!arg.startsWith('--')) throw new Error(`Arg should start with -- : ${arg}`);
    if (arg === '--') return out;
    arg = arg.slice(2);
    let value = '';
    const index = arg.indexOf('=');
    if (index >= 0) {
      value = arg.slice(index + 1);
      arg = arg.slice(0, index);
    }
    const kind = Object.prototype.hasOwnProperty.call(spec, arg) ? spec[arg] : undefined;
    if (kind === undefined) throw new Error(`Unknown flag: ${arg}`);
    if (out.used.includes(arg) && kind !== 'strings') throw new Error(`Duplicate flag specified: ${arg}`);
    if (!out.used.includes(arg)) out.used.push(arg);
    switch (kind) {
      case 'bool': {
        if (index >= 0 && value === '') throw new Error(`Missing a value on flag: ${arg}`);
        const lower = value.toLowerCase();
        if (lower === '') out.values.set(arg, 'true');
        else if (lower === 'true' || lower === 'false') out.values.set(arg, lower);
        else throw new Error(`Expecting boolean value for flag ${arg}, not: ${value}`);
        break;
      }
      case 'string':
        if (index < 0) throw new Error(`Missing a value on flag: ${arg}`);
        out.values.set(arg, value);
        break;
      case 'strings': {
        if (index < 0) throw new Error(`Missing a value on flag: ${arg}`);
        const list = out.lists.get(arg) ?? [];
        list.push(value);
        out.lists.set(arg, list);
        break;
      }
    }
  }
  return out;
}

/**
 * The value of flag `name` in an instruction's (already validated) flags: the last
 * `--name=value`, or undefined when the flag is not given. For the builder:
 * `flagValue(ins.flags, 'from')`.
 */
export function flagValue(flags: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (const f of flags) {
    if (f === '--') break;
    if (f === `--${name}`) found = '';
    else if (f.startsWith(`--${name}=`)) found = f.slice(name.length + 3);
  }
  return found;
}

/** Every value of a repeatable flag (`--mount=a --mount=b`). */
export function flagValues(flags: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (const f of flags) {
    if (f === '--') break;
    if (f.startsWith(`--${name}=`)) out.push(f.slice(name.length + 3));
  }
  return out;
}
