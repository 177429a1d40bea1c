/**
 * `.dockerignore`: reading the file (moby/patternmatcher `ignorefile.ReadAll`, the same
 * rules as buildkit's `dockerignore.ReadAll` in Docker 20.10) and matching paths against
 * its patterns (moby/patternmatcher v0.6, what the docker CLI uses to filter the context
 * it sends; and Docker 20.10's `pkg/fileutils.Matches`, what the daemon uses to decide
 * whether to drop the Dockerfile and `.dockerignore` themselves from the context).
 *
 * Pattern syntax (Go's filepath.Match plus `**`): `*` any run of characters but `/`,
 * `?` one character but `/`, `[a-z]` / `[^a-z]` a class, `\` escapes, `**` any number
 * of directories (`**​/x`, `a/**`, `a/**​/b`). A pattern that matches a directory
 * matches everything below it. `!pattern` re-includes what earlier patterns excluded;
 * the last matching pattern wins.
 *
 * Known differences from Go, all in patterns nobody writes: an escaped letter (`\d`) is
 * that letter (Go's regexp would read a class); `*` and `?` inside `[...]` are literal;
 * POSIX classes (`[[:alpha:]]`) are not known.
 */
import { invalidArgument } from '../../../engine/errdefs';
import { goCleanPath, goDir, goTrimSpace } from '../../../engine/gostr';

/**
 * The patterns of a `.dockerignore` file, normalised as Docker: a UTF-8 BOM dropped,
 * lines starting with `#` skipped, white space trimmed, empty lines skipped, each
 * pattern cleaned (`./a/../b` → `b`) and a leading `/` removed; a leading `!` kept
 * (with the pattern after it cleaned).
 */
export function readDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (i === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.startsWith('#')) return;
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const invert = pattern[0] === '!';
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goCleanPath(pattern);
      if (pattern.length > 1 && pattern[0] === '/') pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  });
  return out;
}

const BAD_PATTERN = 'syntax error in pattern';

/** Go's filepath.Match syntax check (what `filepath.Match(p, ".")` reports). */
function validGlob(p: string): boolean {
  const s = Array.from(p);
  let i = 0;
  /** one class character (getEsc); returns false on a syntax error */
  const esc = (): boolean => {
    if (i >= s.length || s[i] === '-' || s[i] === ']') return false;
    if (s[i] === '\\') {
      i++;
      if (i >= s.length) return false;
    }
    i++;
    return i < s.length;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) return false;
      i += 2;
    } else if (c === '[') {
      i++;
      if (s[i] === '^') i++;
      let nrange = 0;
      for (;;) {
        if (i < s.length && s[i] === ']' && nrange > 0) { i++; break; }
        if (!esc()) return false;
        if (s[i] === '-') {
          i++;
          if (!esc()) return false;
        }
        nrange++;
      }
    } else {
      i++;
    }
  }
  return true;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

const REGEX_SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/']);
const lit = (c: string) => (REGEX_SYNTAX.has(c) ? '\\' + c : c);
const litInClass = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/** One pattern, compiled on first use (patternmatcher's Pattern). */
class Pattern {
  readonly dirs: string[];
  private type: MatchType | undefined;
  private regexp: RegExp | undefined;

  constructor(readonly cleaned: string, readonly exclusion: boolean, private readonly legacy: boolean) {
    this.dirs = cleaned.split('/');
  }

  match(path: string): boolean {
    if (this.type === undefined) this.compile();
    switch (this.type!) {
      case 'exact': return path === this.cleaned;
      case 'prefix': return path.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix[0] === '/' && path === suffix.slice(1);
      }
      case 'regexp': return this.regexp!.test(path);
    }
  }

  private compile(): void {
    let re = '^';
    let type: MatchType = 'exact';
    const s = Array.from(this.cleaned);
    let inClass = false;
    for (let i = 0, n = 0; i < s.length; n++) {
      const ch = s[i++]!;
      if (inClass) {
        if (ch === ']') { re += ']'; inClass = false; continue; }
        if (ch === '\\' && i < s.length) { re += litInClass(s[i++]!); continue; }
        if (ch === '-' || (ch === '^' && s[i - 2] === '[')) { re += ch; continue; }
        re += litInClass(ch);
        continue;
      }
      if (ch === '*') {
        if (s[i] === '*') {
          i++;
          if (s[i] === '/') i++;
          if (i >= s.length) {
            if (type === 'exact' && !this.legacy) type = 'prefix';
            else { re += '.*'; type = 'regexp'; }
          } else {
            re += '(.*/)?';
            type = 'regexp';
          }
          if (n === 0 && !this.legacy) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if (ch === '\\') {
        if (i < s.length) {
          re += litInClass(s[i++]!);
          type = 'regexp';
        } else {
          re += '\\\\';
        }
      } else if (ch === '[') {
        re += '[';
        inClass = true;
        type = 'regexp';
      } else if (ch === ']') {
        re += '\\]';
        type = 'regexp';
      } else if (this.legacy && '+()|{}'.includes(ch)) {
        // Docker 20.10's pkg/fileutils passes these to the regexp as they are
        re += ch;
        type = 'regexp';
      } else {
        re += lit(ch);
      }
    }
    if (this.legacy) type = 'regexp';
    if (type === 'regexp') {
      try {
        this.regexp = new RegExp(re + '$', 'u');
      } catch (err) {
        throw invalidArgument(BAD_PATTERN, err);
      }
    }
    this.type = type;
  }
}

/** What a directory's patterns matched, handed down to its entries (patternmatcher's MatchInfo). */
export interface MatchInfo {
  readonly parentMatched: readonly boolean[];
}

/**
 * Matches context paths against `.dockerignore` patterns as the docker CLI does when it
 * builds the context (moby/patternmatcher v0.6). Paths are relative to the context
 * root, `/`-separated.
 */
export class DockerignoreMatcher {
  /** the compiled patterns, in order */
  private readonly patterns: Pattern[] = [];
  /** whether any pattern is an exception (`!…`) */
  readonly exclusions: boolean = false;

  /** Throws `invalidArgument` (`illegal exclusion pattern: "!"`, `syntax error in pattern`). */
  constructor(patterns: readonly string[], options: { legacy?: boolean } = {}) {
    for (let p of patterns) {
      p = goTrimSpace(p);
      if (p === '') continue;
      p = goCleanPath(p);
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw invalidArgument('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
        this.exclusions = true;
      }
      if (!validGlob(p)) throw invalidArgument(BAD_PATTERN);
      this.patterns.push(new Pattern(p, exclusion, options.legacy === true));
    }
  }

  /** The patterns, cleaned, exceptions with their `!`. */
  get patternStrings(): string[] {
    return this.patterns.map((p) => (p.exclusion ? '!' + p.cleaned : p.cleaned));
  }

  /**
   * Whether `path` is excluded: the last pattern that matches it or one of its parent
   * directories decides (patternmatcher's MatchesOrParentMatches). The context root
   * itself is never excluded.
   */
  matches(path: string): boolean {
    const file = normalise(path);
    if (file === '.') return false;
    const parentPath = goDir(file);
    const parentDirs = parentPath.split('/');
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      if (!match && parentPath !== '.') {
        for (let i = 0; i < parentDirs.length && !match; i++) match = pattern.match(parentDirs.slice(0, i + 1).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * `matches`, for a walk from the root: pass the `info` returned for the entry's
   * directory (nothing for an entry of the root) to save re-checking its parents
   * (patternmatcher's MatchesUsingParentResults).
   */
  matchesWithParent(path: string, parent?: MatchInfo): { matched: boolean; info: MatchInfo } {
    const file = normalise(path);
    const parentMatched = parent?.parentMatched ?? [];
    if (parentMatched.length !== 0 && parentMatched.length !== this.patterns.length) {
      throw invalidArgument('wrong number of values in parentMatched');
    }
    const info: boolean[] = new Array<boolean>(this.patterns.length).fill(false);
    let matched = false;
    this.patterns.forEach((pattern, i) => {
      let match = parentMatched.length !== 0 ? parentMatched[i]! : false;
      if (!match) {
        if (pattern.exclusion !== matched) return;
        match = pattern.match(file);
        if (!match && parentMatched.length === 0) {
          const parentPath = goDir(file);
          if (parentPath !== '.') {
            const dirs = parentPath.split('/');
            for (let j = 0; j < dirs.length && !match; j++) match = pattern.match(dirs.slice(0, j + 1).join('/'));
          }
        }
      }
      info[i] = match;
      if (match) matched = !pattern.exclusion;
    });
    return { matched, info: { parentMatched: info } };
  }

  /** fileutils.Matches of Docker 20.10: only the first `len(pattern dirs)` parents are tried. */
  legacyMatches(file: string): boolean {
    const f = goCleanPath(file);
    if (f === '.') return false;
    const parentPath = goDir(f);
    const parentDirs = parentPath.split('/');
    let matched = false;
    for (const pattern of this.patterns) {
      let match = pattern.match(f);
      if (!match && parentPath !== '.' && pattern.dirs.length <= parentDirs.length) {
        match = pattern.match(parentDirs.slice(0, pattern.dirs.length).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * Whether an excluded directory can be skipped with everything below it, by Docker's
   * rule: yes unless some exception pattern starts with `dir/` (so `!dir/keep` or
   * `!dir/*.go` keep it; `!**​/keep` does not, as in Docker).
   */
  canSkipDir(dir: string): boolean {
    if (!this.exclusions) return true;
    const dirSlash = normalise(dir) + '/';
    for (const p of this.patterns) {
      if (p.exclusion && (p.cleaned + '/').startsWith(dirSlash)) return false;
    }
    return true;
  }
}

function normalise(path: string): string {
  let p = goCleanPath(path);
  while (p.startsWith('/')) p = p.slice(1);
  return p === '' ? '.' : p;
}

/**
 * Docker 20.10's `fileutils.Matches(file, patterns)`, what the daemon uses to drop the
 * Dockerfile and `.dockerignore` from a context whose `.dockerignore` names them (so a
 * `COPY` cannot see them, though the CLI always sends them). Only the first
 * `len(pattern dirs)` parents are tried, as there.
 */
export function daemonExcludes(file: string, patterns: readonly string[]): boolean {
  try {
    return new DockerignoreMatcher(patterns, { legacy: true }).legacyMatches(file);
  } catch {
    // Docker ignores a bad pattern here: nothing is removed
    return false;
  }
}
