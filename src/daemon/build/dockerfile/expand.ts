/**
 * Variable substitution in Dockerfile words: the shell lexer of Docker 20.10's builder
 * (buildkit v0.8 `frontend/dockerfile/shell/lex.go`), rule for rule.
 *
 * Supported: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}`, `${VAR:?word}`,
 * `${VAR?word}`, single quotes (literal), double quotes (`$` expands; the escape token
 * escapes `"`, `$` and itself only), the escape token outside quotes (escapes any
 * character; a trailing one is dropped). Quotes are removed. `${VAR-word}` and
 * `${VAR+word}` are NOT supported by Docker 20.10 (`missing ':' in substitution`), so
 * they are refused here too. `$1`, `$@`, `$#`… read the (never set) variables of that
 * name and expand to nothing; a `$` not followed by a name stays `$`.
 *
 * Errors are `invalidArgument` with Docker's text: `failed to process "<word>": <why>`.
 */
import { invalidArgument } from '../../../engine/errdefs';
import { goQuote, isGoSpace } from '../../../engine/gostr';

/** An environment: a map, a record, or Docker's `KEY=value` list (a later entry wins; `KEY` alone is set to ""). */
export type ExpandEnv = ReadonlyMap<string, string> | Readonly<Record<string, string>> | readonly string[];

/**
 * The instructions whose words the classic builder substitutes, with what:
 * - `from`: the base name and `--platform`, with the meta args (ARG before the first FROM) only;
 * - `add`, `copy`: every source and the destination, and `--chown` (not `--from`, not `--chmod`);
 * - `env`, `label`, `arg`: every key and every value;
 * - `expose`: each word, which may split into several (`expandWords`); the only one that splits;
 * - `stopsignal`, `user`, `volume`, `workdir`: their words.
 * With the step's environment: the config's `Env`, then the build args allowed so far
 * that `Env` does not set. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and
 * ONBUILD are never substituted (a shell form's `$X` is the shell's business).
 */
export const EXPANDING_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'add', 'arg', 'copy', 'env', 'expose', 'from', 'label', 'stopsignal', 'user', 'volume', 'workdir',
]);

function toMap(env: ExpandEnv): ReadonlyMap<string, string> {
  if (env instanceof Map) return env;
  if (Array.isArray(env)) {
    const m = new Map<string, string>();
    for (const e of env as readonly string[]) {
      const i = e.indexOf('=');
      if (i < 0) m.set(e, '');
      else m.set(e.slice(0, i), e.slice(i + 1));
    }
    return m;
  }
  return new Map(Object.entries(env as Record<string, string>));
}

/** `word` with its variables substituted and its quotes and escapes removed. */
export function expandWord(word: string, env: ExpandEnv, escapeToken = '\\'): string {
  return new ShellWord(word, toMap(env), escapeToken).process().word;
}

/**
 * `word` substituted, then split into words at unquoted white space (after
 * substitution: `$X` with `X="80 443"` gives two words; `"$X"` one). Empty words are
 * dropped. Used for EXPOSE.
 */
export function expandWords(word: string, env: ExpandEnv, escapeToken = '\\'): string[] {
  return new ShellWord(word, toMap(env), escapeToken).process().words;
}

const EOF = -1;
type Ch = string | typeof EOF;

class LexError extends Error {}

/** Words being collected for `expandWords` (lex.go's wordsStruct). */
class Words {
  word = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (isGoSpace(ch) && this.inWord) {
      if (this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else if (!isGoSpace(ch)) {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void { this.word += ch; this.inWord = true; }
  addString(s: string): void { for (const ch of s) this.addChar(ch); }
  addRawString(s: string): void { this.word += s; this.inWord = true; }
  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;

  constructor(private readonly source: string, private readonly env: ReadonlyMap<string, string>, private readonly escapeToken: string) {
    this.chars = Array.from(source);
  }

  process(): { word: string; words: string[] } {
    try {
      return this.processStopOn(EOF);
    } catch (err) {
      if (err instanceof LexError) throw invalidArgument(`failed to process ${goQuote(this.source)}: ${err.message}`);
      throw err;
    }
  }

  private peek(): Ch { return this.pos < this.chars.length ? this.chars[this.pos]! : EOF; }
  private next(): Ch { return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF; }

  private processStopOn(stopChar: Ch): { word: string; words: string[] } {
    let result = '';
    const words = new Words();
    while (this.peek() !== EOF) {
      let ch = this.peek() as string;
      if (stopChar !== EOF && ch === stopChar) {
        this.next();
        return { word: result, words: words.getWords() };
      }
      if (ch === "'" || ch === '"' || ch === '$') {
        const tmp = ch === "'" ? this.processSingleQuote() : ch === '"' ? this.processDoubleQuote() : this.processDollar();
        result += tmp;
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
      } else {
        ch = this.next() as string;
        if (ch === this.escapeToken) {
          const n = this.next();
          if (n === EOF) break;
          ch = n;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
    }
    if (stopChar !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stopChar}`);
    return { word: result, words: words.getWords() };
  }

  private processSingleQuote(): string {
    let result = '';
    this.next();
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    this.next();
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') { this.next(); return result; }
      if (p === '$') { result += this.processDollar(); continue; }
      let ch = this.next() as string;
      if (ch === this.escapeToken) {
        const n = this.peek();
        if (n === EOF) continue; // the escape at the end is dropped; the loop then fails on EOF
        if (n === '"' || n === '$' || n === this.escapeToken) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      return this.env.get(name) ?? '';
    }
    this.next();
    const p = this.peek();
    if (p === EOF) throw new LexError("syntax error: missing '}'");
    if (p === '{' || p === '}' || p === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    const ch = this.next();
    if (ch === '}') return this.env.get(name) ?? '';
    if (ch === '?') {
      const word = this.stopOnBrace();
      const value = this.env.get(name);
      if (value === undefined) throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
      return value;
    }
    if (ch === ':') {
      const modifier = this.next();
      const word = this.stopOnBrace();
      const value = this.env.get(name);
      switch (modifier) {
        case '+':
          return value !== undefined && value !== '' ? word : value ?? '';
        case '-':
          return value === undefined || value === '' ? word : value;
        case '?':
          if (value === undefined) throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
          if (value === '') throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
          return value;
        default:
          // Go prints an EOF rune with %c as U+FFFD
          throw new LexError(`unsupported modifier (${modifier === EOF ? '\ufffd' : modifier}) in substitution`);
      }
    }
    throw new LexError("missing ':' in substitution");
  }

  /** The word up to the closing brace, itself substituted. */
  private stopOnBrace(): string {
    try {
      return this.processStopOn('}').word;
    } catch (err) {
      if (err instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '}'");
      throw err;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek() as string;
      if (name.length === 0 && /^\p{Nd}$/u.test(ch)) {
        while (this.peek() !== EOF && /^\p{Nd}$/u.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name.length === 0 && '@*#?-$!0'.includes(ch)) {
        this.next();
        return ch;
      }
      if (!/^[\p{L}\p{Nd}_]$/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }
}
