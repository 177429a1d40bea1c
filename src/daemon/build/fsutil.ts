/**
 * File-system helpers of the builder: paths resolved inside a root (symlinks followed
 * as if the root were `/`, so nothing escapes it: moby's FollowSymlinkInScope), Go's
 * `filepath.Match`, the content checksums of COPY/ADD sources (the cache key), and the
 * copy itself with Docker's ownership and directory rules.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { invalidArgument } from '../../engine/errdefs';

/**
 * `p` (relative to `root`, or absolute meaning relative to it) resolved with every
 * symlink followed inside `root`: an absolute link target restarts at `root`, `..`
 * stops at `root`. Returns the host path (which may not exist: missing components are
 * kept as they are). Throws invalid-argument after too many links.
 */
export function resolveInScope(root: string, p: string): string {
  const rootAbs = path.resolve(root);
  let parts = p.split('/').filter((s) => s !== '' && s !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(rootAbs, ...done, name);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > 255) throw invalidArgument(`too many links resolving ${p}`);
      const target = fs.readlinkSync(candidate);
      const rest = target.split('/').filter((s) => s !== '' && s !== '.');
      if (target.startsWith('/')) done.length = 0;
      parts = [...rest, ...parts];
      continue;
    }
    done.push(name);
  }
  return path.join(rootAbs, ...done);
}

/** Go's `filepath.Match` (`*` never matches `/`; `?`, `[a-z]`, `[^x]`, `\` escapes). Throws invalid-argument on a bad pattern. */
export function goMatch(pattern: string, name: string): boolean {
  return matchFrom(pattern, 0, name, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) return !s.slice(si).includes('/');
      for (let k = si; k <= s.length; k++) {
        if (matchFrom(p, pi, s, k)) return true;
        if (s[k] === '/') break;
      }
      return false;
    }
    if (si >= s.length) return false;
    if (c === '?') {
      if (s[si] === '/') return false;
      pi++;
      si++;
      continue;
    }
    if (c === '[') {
      const r = matchClass(p, pi, s[si]!);
      if (!r.ok) return false;
      pi = r.next;
      si++;
      continue;
    }
    let lit = c;
    if (c === '\\') {
      pi++;
      if (pi >= p.length) throw invalidArgument('syntax error in pattern');
      lit = p[pi]!;
    }
    if (s[si] !== lit) return false;
    pi++;
    si++;
  }
  return si === s.length;
}

function matchClass(p: string, pi: number, ch: string): { ok: boolean; next: number } {
  let i = pi + 1;
  let negate = false;
  if (p[i] === '^') {
    negate = true;
    i++;
  }
  let matched = false;
  let first = true;
  while (true) {
    if (i >= p.length) throw invalidArgument('syntax error in pattern');
    if (p[i] === ']' && !first) {
      i++;
      break;
    }
    first = false;
    let lo = p[i]!;
    if (lo === '\\') lo = p[++i] ?? '';
    i++;
    let hi = lo;
    if (p[i] === '-' && p[i + 1] !== ']') {
      hi = p[i + 1]!;
      if (hi === '\\') hi = p[i + 2] ?? '';
      i += hi === p[i + 1] ? 2 : 3;
    }
    if (lo === '' || hi === '') throw invalidArgument('syntax error in pattern');
    if (lo <= ch && ch <= hi) matched = true;
  }
  return { ok: matched !== negate && ch !== '/', next: i };
}

/** Does the path have Go glob characters (Docker's containsWildcards)? */
export function hasWildcards(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/**
 * The checksum of a file or directory tree as the cache sees it: contents and the
 * metadata a tar header carries (name, type, mode, owner, size, link target), never the
 * modification time (as Docker's tarsum). `file:<hex>` for a file, `dir:<hex>` for a tree.
 * Reads asynchronously (a large context never blocks the daemon).
 */
export async function sourceHash(abs: string): Promise<string> {
  const st = await fsp.lstat(abs);
  if (!st.isDirectory()) return `file:${await hashEntry(abs, '', st)}`;
  const h = createHash('sha256');
  await walk(abs, '', async (rel, full, s) => void h.update(`${rel}\0${await hashEntry(full, rel, s)}\n`));
  return `dir:${h.digest('hex')}`;
}

async function hashEntry(full: string, rel: string, st: fs.Stats): Promise<string> {
  const h = createHash('sha256');
  const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
  h.update(`${rel}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}\0${st.gid}\0${type === 'f' ? st.size : 0}\0`);
  if (type === 'l') h.update(await fsp.readlink(full));
  if (type === 'f') for await (const chunk of fs.createReadStream(full)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Walks a tree (sorted, depth first, the root first as ''), not following symlinks. */
export async function walk(abs: string, rel: string, fn: (rel: string, full: string, st: fs.Stats) => Promise<void> | void): Promise<void> {
  const st = await fsp.lstat(abs);
  await fn(rel, abs, st);
  if (!st.isDirectory()) return;
  for (const n of (await fsp.readdir(abs)).sort()) await walk(path.join(abs, n), rel ? `${rel}/${n}` : n, fn);
}

/** Docker's `hashStringSlice("multi", …)`. */
export function multiHash(hashes: string[]): string {
  return `multi:${createHash('sha256').update(hashes.join(',')).digest('hex')}`;
}

export interface Owner {
  uid: number;
  gid: number;
}

/** Creates `dir` and its missing parents with mode 0755 owned by `owner`; existing ones are left alone. */
export function mkdirAllNew(dir: string, owner: Owner): void {
  const missing: string[] = [];
  let d = dir;
  while (!fs.existsSync(d)) {
    missing.unshift(d);
    d = path.dirname(d);
  }
  for (const m of missing) {
    fs.mkdirSync(m, { mode: 0o755 });
    fs.chmodSync(m, 0o755);
    fs.lchownSync(m, owner.uid, owner.gid);
  }
}

/**
 * Copies `src` (file, symlink or directory tree; symlinks inside are copied as links)
 * to `dest` (the exact target path), with modes and modification times kept and every
 * copied node owned by `owner` (Docker: root, or `--chown`). An existing directory at
 * `dest` keeps its own owner and mode (Docker's fixPermissions skips it).
 */
export async function copyTree(src: string, dest: string, owner: Owner): Promise<void> {
  const st = await fsp.lstat(src);
  if (st.isDirectory()) {
    const existed = isDir(dest);
    if (!existed) {
      replaceWithDir(dest);
      await fsp.chmod(dest, st.mode & 0o7777);
      await fsp.lchown(dest, owner.uid, owner.gid);
    }
    for (const n of await fsp.readdir(src)) await copyTree(path.join(src, n), path.join(dest, n), owner);
    if (!existed) await fsp.utimes(dest, st.atime, st.mtime);
    return;
  }
  removeNonDir(dest);
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(src), dest);
    await fsp.lchown(dest, owner.uid, owner.gid);
    await fsp.lutimes(dest, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) return; // sockets, fifos, devices: not part of a build context
  await fsp.copyFile(src, dest);
  await fsp.chmod(dest, st.mode & 0o7777);
  await fsp.lchown(dest, owner.uid, owner.gid);
  await fsp.utimes(dest, st.atime, st.mtime);
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function replaceWithDir(p: string): void {
  try {
    const st = fs.lstatSync(p);
    if (!st.isDirectory()) fs.rmSync(p, { force: true });
  } catch {
    /* missing */
  }
  fs.mkdirSync(p, { recursive: true });
}

function removeNonDir(p: string): void {
  try {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) throw invalidArgument(`cannot overwrite directory ${p} with a non-directory`);
    fs.rmSync(p, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Looks up a user or group name (or number) in a passwd/group file; undefined when absent. */
export function lookupId(file: string, name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return undefined;
}
