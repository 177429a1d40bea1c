/**
 * Small pieces of Go's standard library whose exact behaviour shows in Docker's messages
 * and parsing: `unicode.IsSpace`, `strings.TrimSpace`, `strconv.Quote` (`%q`),
 * `path.Clean`, `time.ParseDuration`, `strconv.ParseBool`. Kept in one place so the
 * Dockerfile parser, its lexer, the .dockerignore reader, the prune filters and the
 * volume service agree with each other and with Docker.
 */

/** Go's `unicode.IsSpace`. */
export function isGoSpace(ch: string): boolean {
  switch (ch) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case '\u0085': case '\u00a0':
      return true;
  }
  const c = ch.codePointAt(0) ?? 0;
  if (c < 0x100) return false;
  // Unicode White_Space above Latin-1
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function goTrimLeft(s: string): string {
  let i = 0;
  while (i < s.length) {
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    if (!isGoSpace(ch)) break;
    i += ch.length;
  }
  return s.slice(i);
}

/** Go's `strings.TrimRightFunc(s, unicode.IsSpace)`. */
export function goTrimRight(s: string): string {
  let end = s.length;
  while (end > 0) {
    const ch = s[end - 1]!;
    if (!isGoSpace(ch)) break;
    end--;
  }
  return s.slice(0, end);
}

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
  return goTrimRight(goTrimLeft(s));
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's `strconv.Quote`, i.e. what `%q` prints for a string (also `%#v`). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') { out += '\\' + ch; continue; }
    if (PRINTABLE.test(ch)) { out += ch; continue; }
    switch (ch) {
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/**
 * The `quote` of Go's time package (its duration and location errors): `"` and `\` escaped,
 * every byte of a non-ASCII or control character as `\xNN`, the rest as is. Not
 * `strconv.Quote` (`goQuote`): `µ` is `\xc2\xb5` here.
 */
export function goTimeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80 || c < 0x20) for (const b of Buffer.from(ch, 'utf8')) out += '\\x' + b.toString(16).padStart(2, '0');
    else out += ch === '"' || ch === '\\' ? '\\' + ch : ch;
  }
  return out + '"';
}

/** Go's `path.Clean` (= `filepath.Clean` on Linux). */
export function goCleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(seg);
  }
  const joined = parts.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Go's `path.Dir`. */
export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goCleanPath(p.slice(0, i + 1));
}

/** Go's `strconv.ParseBool`; undefined when the text is not a boolean. */
export function goParseBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True': return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False': return false;
  }
  return undefined;
}

const UNITS: Record<string, bigint> = {
  ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n, h: 3600000000000n,
};

/**
 * Go's `time.ParseDuration`, in nanoseconds. Throws an `Error` with Go's message
 * (`time: invalid duration "x"`, `time: missing unit in duration "1"`, `time: unknown
 * unit "d" in duration "1d"`).
 */
export function goParseDuration(orig: string): bigint {
  const invalid = () => new Error('time: invalid duration ' + goTimeQuote(orig));
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) { neg = s[0] === '-'; s = s.slice(1); }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  const max = (1n << 63n) - 1n;
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) throw invalid();
    let m = /^[0-9]*/.exec(s)![0];
    const pre = m !== '';
    s = s.slice(m.length);
    let v = pre ? BigInt(m) : 0n;
    let frac = 0n; let scale = 1n; let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      m = /^[0-9]*/.exec(s)![0];
      post = m !== '';
      s = s.slice(m.length);
      for (const d of m) {
        if (scale > 10n ** 18n) break;
        frac = frac * 10n + BigInt(d); scale *= 10n;
      }
    }
    if (!pre && !post) throw invalid();
    const u = /^[^0-9.]*/.exec(s)![0];
    s = s.slice(u.length);
    if (u === '') throw new Error('time: missing unit in duration ' + goTimeQuote(orig));
    const unit = UNITS[u];
    if (unit === undefined) throw new Error('time: unknown unit ' + goTimeQuote(u) + ' in duration ' + goTimeQuote(orig));
    if (v > max / unit) throw invalid();
    v *= unit;
    if (frac > 0n) v += (frac * unit) / scale;
    total += v;
    if (total > max) throw invalid();
  }
  return neg ? -total : total;
}

/** Go's `strconv.ParseUint(s, base, 32)`; undefined on a syntax or range error. */
export function goParseUint32(s: string, base: 8 | 10): number | undefined {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(s)) return undefined;
  const n = parseInt(s, base);
  return n <= 0xffffffff ? n : undefined;
}
