/**
 * `WWW-Authenticate` parsing (RFC 7235): a header value may hold several challenges,
 * each `scheme` followed by comma-separated `key=value` or `key="quoted \"value\""`
 * parameters. Parameter names are case-insensitive; unknown garbage is skipped rather
 * than thrown on, because registries are hostile input and a partial parse is enough
 * to decide what to do.
 */

export interface Challenge {
  /** lower-cased: `basic`, `bearer`, … */
  scheme: string;
  /** lower-cased names → values */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses one or more header values into challenges, in order. */
export function parseChallenges(headers: string | string[] | undefined): Challenge[] {
  if (headers === undefined) return [];
  const values = Array.isArray(headers) ? headers : [headers];
  const out: Challenge[] = [];
  for (const value of values) parseOne(value.slice(0, 8192), out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const m = TOKEN.exec(s.slice(i));
    if (!m) {
      i++; // garbage: skip a character
      continue;
    }
    const word = m[0];
    let j = i + word.length;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    if (s[j] === '=' && current) {
      // a parameter of the current challenge
      j++;
      while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
      let value = '';
      if (s[j] === '"') {
        j++;
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          value += s[j];
          j++;
        }
        j++; // closing quote
      } else {
        const v = TOKEN.exec(s.slice(j)) ?? /^[^,\s]*/.exec(s.slice(j));
        value = v ? v[0] : '';
        j += value.length;
      }
      current.params[word.toLowerCase()] = value;
      i = j;
    } else if (s[j] === '=' && !current) {
      i = j + 1; // a parameter before any scheme: ignore
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
      i = i + word.length;
    }
  }
}

/**
 * The error a registry put in its Bearer challenge (RFC 6750 §3.1), as a registry error
 * entry — Docker's client reads it before the body: `insufficient_scope` is `DENIED`
 * (`requested access to the resource is denied`, what distribution answers for a token
 * without the needed access), `invalid_token` is `UNAUTHORIZED` (`authentication
 * required`: expired, badly signed…); `error_description`, when present, is the
 * message. Undefined for other challenges and error values.
 */
export function bearerChallengeError(headers: string | string[] | undefined): { code: string; message: string } | undefined {
  for (const c of parseChallenges(headers)) {
    if (c.scheme !== 'bearer') continue;
    const code = c.params.error === 'insufficient_scope' ? 'DENIED' : c.params.error === 'invalid_token' ? 'UNAUTHORIZED' : undefined;
    if (!code) continue;
    const fallback = code === 'DENIED' ? 'requested access to the resource is denied' : 'authentication required';
    return { code, message: (c.params.error_description || fallback).slice(0, 1000) };
  }
  return undefined;
}
