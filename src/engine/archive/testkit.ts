/**
 * Test helpers (not a test file): building tars with tar-stream, temp dirs, and a
 * comparable description of a tree (owners, modes, times, xattrs, devices, links).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { nativeSys } from '../sys/native';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as {
  pack(): NodeJS.ReadableStream & { entry(h: object, data?: Buffer | string): unknown; finalize(): void };
};

export interface RawEntry {
  name: string;
  type?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A tar with exactly these entries (no sanitising: for hostile archives too). */
export async function makeTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const { data, ...h } = e;
    pack.entry({ type: 'file', mtime: new Date(1_600_000_000_000), ...h }, data ?? (h.type && h.type !== 'file' ? undefined : ''));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export function bufferStream(buf: Buffer): Readable {
  return Readable.from([buf], { objectMode: false });
}

export async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A fresh temp dir with `dest/` (extraction target) and `sentinel/` (must stay untouched). */
export function scratch(): { base: string; dest: string; sentinel: string; cleanup(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-archive-'));
  const dest = path.join(base, 'dest');
  const sentinel = path.join(base, 'sentinel');
  fs.mkdirSync(dest);
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, 'keep'), 'keep');
  return { base, dest, sentinel, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Names in `base` other than dest/ and sentinel/, and the sentinel's listing: to assert nothing escaped. */
export function escaped(s: { base: string; sentinel: string }): string[] {
  const extra = fs.readdirSync(s.base).filter((n) => n !== 'dest' && n !== 'sentinel');
  const sent = fs.readdirSync(s.sentinel);
  return [...extra, ...(sent.length === 1 && sent[0] === 'keep' ? [] : sent.map((n) => `sentinel/${n}`))];
}

/**
 * Everything extraction should reproduce, per relative path: type, mode, owner,
 * mtime (non-dirs and dirs), size, content digest, symlink target, device numbers,
 * xattrs, and which paths share an inode.
 */
export function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const sys = nativeSys();
  const visit = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const x = sys
        .llistxattr(p)
        .sort()
        .map((k) => `${k}=${(sys.lgetxattr(p, k) ?? Buffer.alloc(0)).toString('hex')}`)
        .join(',');
      let extra = '';
      if (st.isSymbolicLink()) extra = `-> ${fs.readlinkSync(p)}`;
      else if (st.isFile()) extra = `${st.size}:${require('node:crypto').createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16)}`;
      else if (st.isCharacterDevice() || st.isBlockDevice()) extra = `rdev=${st.rdev}`;
      let link = '';
      if (!st.isDirectory() && st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first) link = ` =link(${first})`;
        else inodes.set(st.ino, r);
      }
      out[r] = `mode=${st.mode.toString(8)} own=${st.uid}:${st.gid} mtime=${Math.floor(st.mtimeMs / 1000)} ${extra} [${x}]${link}`;
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}
