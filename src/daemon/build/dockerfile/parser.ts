/**
 * The Dockerfile parser of Docker 20.10's classic builder: buildkit v0.8's
 * `frontend/dockerfile/parser` (lines, directives, continuations, comments, per
 * instruction argument rules) followed by `frontend/dockerfile/instructions.Parse`
 * (per instruction checks, flags, stages), with Docker's messages. See
 * docs/build-dockerfile.md.
 *
 * Words are kept as written (quotes included): the builder substitutes variables step
 * by step with `expandWord` (expand.ts), which also removes the quotes, as Docker does.
 *
 * Errors are `invalidArgument`, worded as the daemon words them:
 * - a line Docker's parser rejects: `failed to parse <name>: <why>` (just `<why>` when
 *   no `name` is given, as for a Dockerfile sent as the whole context);
 * - an instruction Docker rejects: `dockerfile parse error line <N>: <why>`;
 * - an instruction before the first FROM (other than ARG): `no build stage in current context`.
 */
import { invalidArgument } from '../../../engine/errdefs';
import { extractBuilderFlags, parseFlags, type FlagSpec } from './flags';
import {
  goParseBool, goParseDuration, goParseUint32, goQuote, goTrimLeft, goTrimSpace, isGoSpace,
} from '../../../engine/gostr';
import type { Dockerfile, Instruction, Stage } from './types';

export interface ParseOptions {
  /**
   * The Dockerfile's name in the context (`Dockerfile`, `sub/Dockerfile.dev`): the
   * daemon then refuses an empty file (`the Dockerfile (<name>) cannot be empty`) and
   * prefixes line errors with `failed to parse <name>: `. Without it, the text is parsed
   * as the daemon parses a Dockerfile sent as the build context itself.
   */
  name?: string;
}

/** The ONBUILD triggers' expressions, and more than types.ts carries. */
export interface OnbuildInstruction extends Instruction {
  /** ONBUILD: the trigger as stored in the image config (`RUN echo hi`) */
  expression?: string;
}

/** A HEALTHCHECK, as Docker stores it in the image config (durations in nanoseconds). */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", …]` (exec form) or `["CMD-SHELL", "<command>"]` */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  retries: number;
}

/** `--mount` of a RUN, parsed and checked as Docker does (the classic builder then refuses it). */
export interface RunMount {
  type: string;
  from?: string;
  source?: string;
  target?: string;
  readOnly: boolean;
  cacheId?: string;
  cacheSharing?: string;
  required: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
}

const DEFAULT_ESCAPE = '\\';
const MAX_LINE = 65535; // bufio.MaxScanTokenSize - 1
const RE_WHITESPACE = /[\t\v\f\r ]+/;
const RE_DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** A parse failure at the line level (parser.Parse), before instructions are checked. */
class LineError extends Error {}

/** One parsed line: buildkit's `parser.Node`, flattened. */
interface RawNode {
  cmd: string;
  original: string;
  flags: string[];
  args: string[];
  json: boolean;
  /** ONBUILD: the sub-instruction's keyword is args[0] */
  startLine: number;
  endLine: number;
}

/** Directive state: `# escape=` and `# syntax=`, only at the very top. */
class Directives {
  escapeToken = DEFAULT_ESCAPE;
  continuation = continuationRegex(DEFAULT_ESCAPE);
  done = false;
  syntax: string | undefined;
  private readonly seen = new Set<string>();

  possibleDirective(line: string): void {
    if (this.done) return;
    const m = RE_DIRECTIVE.exec(line);
    if (!m) { this.done = true; return; }
    const key = m[1]!.toLowerCase();
    if (key !== 'escape' && key !== 'syntax') { this.done = true; return; }
    if (this.seen.has(key)) throw new LineError(`only one ${key} parser directive can be used`);
    this.seen.add(key);
    if (key === 'escape') {
      const s = m[2]!;
      if (s !== '`' && s !== '\\') throw new LineError(`invalid escape token '${s}' does not match \` or \\`);
      this.escapeToken = s;
      this.continuation = continuationRegex(s);
    } else {
      this.syntax = m[2]!;
    }
  }
}

function continuationRegex(token: string): RegExp {
  const t = '\\' + token;
  return new RegExp(`([^${t}])${t}[ \\t]*$|^${t}[ \\t]*$`, 's');
}

/** Splits text into lines as Go's bufio.ScanLines (a final line without newline counts; `\r` before `\n` dropped). */
function scanLines(text: string): { lines: string[]; tooLong: boolean } {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    const last = nl < 0;
    if (last) nl = text.length;
    let line = text.slice(start, nl);
    if (Buffer.byteLength(line) > MAX_LINE) return { lines, tooLong: true };
    if (line.endsWith('\r')) line = line.slice(0, -1);
    lines.push(line);
    start = nl + 1;
  }
  return { lines, tooLong: false };
}

const isComment = (line: string) => goTrimLeft(line).startsWith('#');

/**
 * Parses a Dockerfile into its meta args and stages, checking every instruction as
 * Docker 20.10 does. Throws `invalidArgument` (see the module comment for the words).
 */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  const { name } = options;
  if (name !== undefined && text.length === 0) throw invalidArgument(`the Dockerfile (${name}) cannot be empty`);
  let parsed: { nodes: RawNode[]; directives: Directives; warnings: string[] };
  try {
    parsed = parseLines(text);
  } catch (err) {
    if (err instanceof LineError) throw invalidArgument(name !== undefined ? `failed to parse ${name}: ${err.message}` : err.message);
    throw err;
  }
  const { nodes, directives, warnings } = parsed;
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    let ins: Instruction;
    try {
      ins = checkInstruction(node);
    } catch (err) {
      if (err instanceof Error && !isStevedore(err)) throw invalidArgument(`dockerfile parse error line ${node.startLine}: ${err.message}`);
      throw err;
    }
    if (stages.length === 0 && ins.keyword === 'arg') { metaArgs.push(ins); continue; }
    if (ins.keyword === 'from') {
      const stage: Stage = { base: ins.args[0]!, from: ins, instructions: [] };
      if (ins.args.length === 3) stage.name = ins.args[2]!.toLowerCase();
      const platform = flagOf(ins, 'platform');
      if (platform !== undefined) stage.platform = platform;
      stages.push(stage);
      continue;
    }
    if (stages.length === 0) throw invalidArgument('no build stage in current context');
    stages[stages.length - 1]!.instructions.push(ins);
  }
  const out: Dockerfile = { escapeToken: directives.escapeToken, metaArgs, stages, warnings };
  if (directives.syntax !== undefined) out.syntax = directives.syntax;
  return out;
}

function isStevedore(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[Symbol.for('stevedore.error')] === true;
}

function flagOf(ins: Instruction, name: string): string | undefined {
  let v: string | undefined;
  for (const f of ins.flags) if (f.startsWith(`--${name}=`)) v = f.slice(name.length + 3);
  return v;
}

/**
 * Parses one ONBUILD trigger (an expression stored in a base image's config) when a
 * child build runs it, as Docker: one instruction, checked like any other; a trigger
 * that is not one instruction → `onbuild trigger should be a single expression`.
 */
export function parseOnbuildTrigger(expression: string): Instruction {
  let nodes: RawNode[];
  try {
    // with the default escape token, whatever the child's Dockerfile says, as Docker
    nodes = parseLines(expression).nodes;
  } catch (err) {
    if (err instanceof LineError) throw invalidArgument(err.message);
    throw err;
  }
  if (nodes.length !== 1) throw invalidArgument('onbuild trigger should be a single expression');
  const node = nodes[0]!;
  try {
    const ins = checkInstruction(node);
    if (ins.keyword === 'from') throw new Error('*instructions.Stage is not a command type');
    return ins;
  } catch (err) {
    if (err instanceof Error && !isStevedore(err)) throw invalidArgument(err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------
// Lines (buildkit parser.Parse)

function parseLines(text: string): { nodes: RawNode[]; directives: Directives; warnings: string[] } {
  const d = new Directives();
  const { lines, tooLong } = scanLines(text);
  const nodes: RawNode[] = [];
  const warnings: string[] = [];
  let currentLine = 0;
  let i = 0;
  const processLine = (token: string, stripLeft: boolean): string => {
    if (stripLeft) token = goTrimLeft(token);
    const stripped = /^#/.test(token) ? '' : token;
    d.possibleDirective(token);
    return stripped;
  };
  const trimContinuation = (line: string): [string, boolean] => {
    if (d.continuation.test(line)) return [line.replace(d.continuation, '$1'), false];
    return [line, true];
  };
  while (i < lines.length) {
    let raw = lines[i++]!;
    if (currentLine === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    const first = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;
    let [line, isEnd] = trimContinuation(first);
    if (isEnd && line === '') continue;
    let hasEmptyContinuation = false;
    while (!isEnd && i < lines.length) {
      const rawNext = lines[i++]!;
      const next = processLine(rawNext, false);
      currentLine++;
      if (isComment(rawNext)) continue;
      if (goTrimLeft(next).length === 0) { hasEmptyContinuation = true; continue; }
      let cont: string;
      [cont, isEnd] = trimContinuation(next);
      line += cont;
    }
    if (hasEmptyContinuation) warnings.push('[WARNING]: Empty continuation line found in:\n    ' + line);
    const node = nodeFromLine(line, d);
    node.startLine = startLine;
    node.endLine = currentLine;
    nodes.push(node);
  }
  if (warnings.length > 0) warnings.push('[WARNING]: Empty continuation lines will become errors in a future release.');
  if (nodes.length === 0) throw new LineError('file with no instructions');
  if (tooLong) throw new LineError(`dockerfile line greater than max allowed size of ${MAX_LINE}`);
  return { nodes, directives: d, warnings };
}

/** splitCommand + the per-instruction line parser (buildkit's dispatch table). */
function nodeFromLine(line: string, d: Directives): RawNode {
  const trimmed = goTrimSpace(line);
  const m = RE_WHITESPACE.exec(trimmed);
  const cmd = (m ? trimmed.slice(0, m.index) : trimmed).toLowerCase();
  let flags: string[] = [];
  let rest = '';
  if (m) {
    const extracted = extractBuilderFlags(trimmed.slice(m.index + m[0].length));
    flags = extracted.flags;
    rest = goTrimSpace(extracted.rest);
  }
  const node: RawNode = { cmd, original: line, flags, args: [], json: false, startLine: 0, endLine: 0 };
  switch (cmd) {
    case 'add': case 'copy': case 'volume':
      setArgs(node, maybeJSONToList(rest));
      break;
    case 'run': case 'cmd': case 'entrypoint': case 'shell':
      setArgs(node, maybeJSON(rest));
      break;
    case 'arg':
      node.args = parseWords(rest, d.escapeToken);
      break;
    case 'env': case 'label':
      node.args = parseNameVal(rest, cmd === 'env' ? 'ENV' : 'LABEL', d.escapeToken);
      break;
    case 'expose': case 'from':
      node.args = whitespaceDelimited(rest);
      break;
    case 'healthcheck':
      setArgs(node, healthConfig(rest));
      break;
    case 'maintainer': case 'stopsignal': case 'user': case 'workdir':
      node.args = rest === '' ? [] : [rest];
      break;
    case 'onbuild':
      if (rest !== '') {
        const child = nodeFromLine(rest, d);
        node.args = [child.cmd, ...child.args];
        node.json = child.json;
      }
      break;
    default:
      // unknown instructions are refused when instructions are checked
      break;
  }
  return node;
}

function setArgs(node: RawNode, r: { args: string[]; json: boolean }): void {
  node.args = r.args;
  node.json = r.json;
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * The first JSON value of `rest` if it is an array of strings (Go's json.Decoder reads
 * one value and ignores what follows it). undefined when `rest` is not JSON (the shell
 * form is used); throws when it is an array with something else than strings.
 */
function parseJSONArray(rest: string): string[] | undefined {
  rest = goTrimLeft(rest);
  if (!rest.startsWith('[')) return undefined;
  const end = endOfJSONValue(rest);
  if (end < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(rest.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (const v of value) if (typeof v !== 'string') throw new LineError(NOT_STRINGS);
  return value as string[];
}

/** Index just past the JSON array or object starting at 0, or -1. */
function endOfJSONValue(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function maybeJSON(rest: string): { args: string[]; json: boolean } {
  if (rest === '') return { args: [], json: false };
  const arr = parseJSONArray(rest);
  if (arr !== undefined) return { args: arr, json: true };
  return { args: [rest], json: false };
}

function maybeJSONToList(rest: string): { args: string[]; json: boolean } {
  const arr = parseJSONArray(rest);
  if (arr !== undefined) return { args: arr, json: true };
  return { args: whitespaceDelimited(rest), json: false };
}

function whitespaceDelimited(rest: string): string[] {
  if (rest === '') return [];
  return rest.split(RE_WHITESPACE);
}

function healthConfig(rest: string): { args: string[]; json: boolean } {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest[sep]!)) sep++;
  let next = sep;
  while (next < rest.length && isGoSpace(rest[next]!)) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = maybeJSON(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

/**
 * Words separated by white space, quotes and escapes kept (buildkit's parseWords): a
 * quoted part may hold spaces; the escape token keeps the next character in the word.
 */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  const chars = Array.from(rest);
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos !== chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `key=value …` (quotes kept), or the legacy `key value` (the value is the rest of the line). */
function parseNameVal(rest: string, key: string, escapeToken: string): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = RE_WHITESPACE.exec(rest);
    if (!m) throw new LineError(`${key} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length)];
  }
  const out: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) throw new LineError(`Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    out.push(w.slice(0, eq), w.slice(eq + 1));
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Instructions (buildkit instructions.Parse)

const NO_FLAGS: FlagSpec = {};

const errAtLeastOne = (c: string) => new Error(`${c} requires at least one argument`);
const errExactlyOne = (c: string) => new Error(`${c} requires exactly one argument`);
const errNoDestination = (c: string) => new Error(`${c} requires at least two arguments, but only one was provided. Destination could not be determined`);
const errBlankNames = (c: string) => new Error(`${c} names can not be blank`);

function checkInstruction(node: RawNode): OnbuildInstruction {
  const ins: OnbuildInstruction = {
    keyword: node.cmd,
    original: goTrimSpace(node.original),
    flags: node.flags,
    args: node.args,
    json: node.json,
    startLine: node.startLine,
    endLine: node.endLine,
  };
  const { args } = node;
  const flags = (spec: FlagSpec) => parseFlags(node.flags, spec);
  switch (node.cmd) {
    case 'env': case 'label': {
      const c = node.cmd.toUpperCase();
      flags(NO_FLAGS);
      if (args.length === 0) throw errAtLeastOne(c);
      for (let j = 0; j < args.length; j += 2) if (args[j]!.length === 0) throw errBlankNames(c);
      break;
    }
    case 'maintainer':
      if (args.length !== 1) throw errExactlyOne('MAINTAINER');
      flags(NO_FLAGS);
      break;
    case 'add':
      if (args.length < 2) throw errNoDestination('ADD');
      flags({ chown: 'string', chmod: 'string' });
      break;
    case 'copy':
      if (args.length < 2) throw errNoDestination('COPY');
      flags({ chown: 'string', from: 'string', chmod: 'string' });
      break;
    case 'from': {
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        if (!STAGE_NAME.test(args[2]!.toLowerCase())) {
          throw new Error(`invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        throw new Error('FROM requires either one or three arguments');
      }
      flags({ platform: 'string' });
      break;
    }
    case 'onbuild': {
      if (args.length === 0) throw errAtLeastOne('ONBUILD');
      flags(NO_FLAGS);
      const trigger = goTrimSpace(args[0]!).toUpperCase();
      if (trigger === 'ONBUILD') throw new Error('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new Error(`${trigger} isn't allowed as an ONBUILD trigger`);
      ins.expression = node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, '');
      break;
    }
    case 'workdir':
      if (args.length !== 1) throw errExactlyOne('WORKDIR');
      flags(NO_FLAGS);
      break;
    case 'run': {
      const f = flags({ mount: 'strings' });
      for (const m of f.lists.get('mount') ?? []) parseMount(m);
      break;
    }
    case 'cmd': case 'entrypoint':
      flags(NO_FLAGS);
      break;
    case 'healthcheck':
      checkHealthcheck(node);
      break;
    case 'expose':
      if (args.length === 0) throw errAtLeastOne('EXPOSE');
      flags(NO_FLAGS);
      // Docker sorts the words as written (byte order), before substitution
      ins.args = [...args].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      break;
    case 'user':
      if (args.length !== 1) throw errExactlyOne('USER');
      flags(NO_FLAGS);
      break;
    case 'volume': {
      if (args.length === 0) throw errAtLeastOne('VOLUME');
      flags(NO_FLAGS);
      const vols = args.map((v) => goTrimSpace(v));
      if (vols.some((v) => v === '')) throw new Error('VOLUME specified can not be an empty string');
      ins.args = vols;
      break;
    }
    case 'stopsignal':
      // Docker does not look at STOPSIGNAL's flags
      if (args.length !== 1) throw errExactlyOne('STOPSIGNAL');
      break;
    case 'arg': {
      // Docker does not look at ARG's flags
      if (args.length < 1) throw errAtLeastOne('ARG');
      const pairs: string[] = [];
      const defaults: Record<string, string | undefined> = {};
      for (const a of args) {
        const eq = a.indexOf('=');
        if (eq >= 0) {
          if (eq === 0) throw errBlankNames('ARG');
          pairs.push(a.slice(0, eq), a.slice(eq + 1));
          defaults[a.slice(0, eq)] = a.slice(eq + 1);
        } else {
          pairs.push(a, '');
          defaults[a] = undefined;
        }
      }
      ins.args = pairs;
      ins.argDefault = defaults;
      break;
    }
    case 'shell':
      flags(NO_FLAGS);
      if (args.length === 0) throw errAtLeastOne('SHELL');
      if (!node.json) throw new Error('SHELL requires the arguments to be in JSON form');
      break;
    default:
      throw new Error(`unknown instruction: ${node.cmd.toUpperCase()}`);
  }
  return ins;
}

function checkHealthcheck(node: RawNode): void {
  healthFromNode(node);
}

function healthFromNode(node: { args: string[]; json: boolean; flags: string[] }): HealthConfig {
  const { args } = node;
  if (args.length === 0) throw errAtLeastOne('HEALTHCHECK');
  const typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (typ === 'NONE') {
    // Docker does not look at the flags of HEALTHCHECK NONE
    if (rest.length !== 0) throw new Error('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, retries: 0 };
  }
  const f = parseFlags(node.flags, { interval: 'string', timeout: 'string', 'start-period': 'string', retries: 'string' });
  if (typ !== 'CMD') throw new Error(`Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length === 0 ? [] : [rest.join(' ')];
  if (cmd.length === 0) throw new Error('Missing command after HEALTHCHECK CMD');
  const test = [node.json ? 'CMD' : 'CMD-SHELL', ...cmd];
  const interval = optInterval(f.values, 'interval');
  const timeout = optInterval(f.values, 'timeout');
  const startPeriod = optInterval(f.values, 'start-period');
  let retries = 0;
  const r = f.values.get('retries');
  if (r !== undefined && r !== '') {
    if (!/^[+-]?[0-9]+$/.test(r)) throw new Error(`strconv.ParseInt: parsing ${goQuote(r)}: invalid syntax`);
    const n = BigInt(r);
    if (n > 2147483647n || n < -2147483648n) throw new Error(`strconv.ParseInt: parsing ${goQuote(r)}: value out of range`);
    if (n < 1n) throw new Error(`--retries must be at least 1 (not ${n})`);
    retries = Number(n);
  }
  return { test, interval, timeout, startPeriod, retries };
}

function optInterval(values: Map<string, string>, name: string): number {
  const s = values.get(name) ?? '';
  if (s === '') return 0;
  const d = goParseDuration(s);
  if (d < 1000000n) throw new Error(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return Number(d);
}

/**
 * The health check a (checked) HEALTHCHECK instruction sets, as Docker stores it.
 * Throws `invalidArgument` as the parser would.
 */
export function healthcheckOf(ins: Instruction): HealthConfig {
  try {
    return healthFromNode(ins);
  } catch (err) {
    if (err instanceof Error && !isStevedore(err)) throw invalidArgument(err.message);
    throw err;
  }
}

const MOUNT_TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const SHARING = new Set(['shared', 'private', 'locked']);

/** Splits one CSV record as Go's encoding/csv (quotes, `""` inside quotes). */
function csvFields(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) throw new Error(`failed to parse csv mounts: parse error on line 1, column ${value.length + 1}: extraneous or missing " in quoted-field`);
        if (value[i] === '"') {
          if (value[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += value[i++];
      }
      if (i < value.length && value[i] !== ',') throw new Error(`failed to parse csv mounts: parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const end = value.indexOf(',', i);
      field = value.slice(i, end < 0 ? value.length : end);
      const q = field.indexOf('"');
      if (q >= 0) throw new Error(`failed to parse csv mounts: parse error on line 1, column ${i + q + 1}: bare " in non-quoted field`);
      i = end < 0 ? value.length : end;
    }
    out.push(field);
    if (i >= value.length) return out;
    i++; // the comma
  }
}

/** RUN `--mount=…`, checked as buildkit's parseMount (Docker checks it before refusing it). */
export function parseMount(value: string): RunMount {
  const m: RunMount = { type: 'bind', readOnly: false, required: false };
  let roAuto = true;
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') { m.readOnly = true; roAuto = false; continue; }
      if (key === 'readwrite' || key === 'rw') { m.readOnly = false; roAuto = false; continue; }
      if (key === 'required') {
        if (m.type === 'secret' || m.type === 'ssh') { m.required = true; continue; }
        throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
      }
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    const v = field.slice(eq + 1);
    switch (key) {
      case 'type':
        if (!MOUNT_TYPES.has(v.toLowerCase())) throw new Error(`unsupported mount type ${goQuote(v)}`);
        m.type = v.toLowerCase();
        break;
      case 'from': m.from = v; break;
      case 'source': case 'src': m.source = v; break;
      case 'target': case 'dst': case 'destination': m.target = v; break;
      case 'readonly': case 'ro': case 'readwrite': case 'rw': {
        const b = goParseBool(v);
        if (b === undefined) throw new Error(`invalid value for ${key}: ${v}`);
        m.readOnly = key === 'readonly' || key === 'ro' ? b : !b;
        roAuto = false;
        break;
      }
      case 'required': {
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        const b = goParseBool(v);
        if (b === undefined) throw new Error(`invalid value for ${key}: ${v}`);
        m.required = b;
        break;
      }
      case 'id': m.cacheId = v; break;
      case 'sharing':
        if (!SHARING.has(v.toLowerCase())) throw new Error(`unsupported sharing value ${goQuote(v)}`);
        m.cacheSharing = v.toLowerCase();
        break;
      case 'mode': case 'uid': case 'gid': {
        const n = goParseUint32(v, key === 'mode' ? 8 : 10);
        if (n === undefined) throw new Error(`invalid value ${v} for ${key}`);
        m[key] = n;
        break;
      }
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  for (const k of ['mode', 'uid', 'gid'] as const) {
    if (m[k] !== undefined && !fileInfoAllowed) throw new Error(`${k} not allowed for ${goQuote(m.type)} type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.cacheSharing !== undefined && m.type !== 'cache') throw new Error(`invalid cache sharing set for ${m.type} mount`);
  if (m.type === 'secret') {
    if (m.from !== undefined && m.from !== '') throw new Error('secret mount should not have a from');
    if (m.cacheSharing !== undefined) throw new Error('secret mount should not define sharing');
    if (!m.source && !m.target && !m.cacheId) throw new Error('invalid secret mount. one of source, target required');
    if (m.source && m.cacheId) throw new Error("both source and id can't be set");
  }
  return m;
}
