/**
 * Reading tar streams entry by entry with tar-stream, with two fixes on top of it:
 * PAX records are decoded byte-exact (xattr values are binary; tar-stream decodes
 * them as UTF-8) and the PAX `uid`, `gid`, `mtime` records are honoured.
 */
import type { Readable } from 'node:stream';
import { invalidArgument, isStevedoreError } from '../errdefs';
import { decodePax } from './tarheader';

// tar-stream's Extract class is not exported; take it from an instance.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as { extract(opts?: object): object };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ExtractBase = Object.getPrototypeOf(tarStream.extract()).constructor as new (opts?: object) => any;

/** tar-stream's raw header, as far as we use it. */
interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  type: string | null;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax: Record<string, string> | null;
}

/** An entry body: an async iterable of chunks (a tar-stream entry stream). */
export interface EntryBody extends AsyncIterable<Buffer> {
  resume(): unknown;
}

class BinaryPaxExtract extends ExtractBase {
  _decodeLongHeader(buf: Buffer): void {
    const type = this._header.type as string;
    if (type === 'pax-header') {
      const own = decodePax(buf);
      this._pax = this._paxGlobal === null ? own : { ...this._paxGlobal, ...own };
    } else if (type === 'pax-global-header') {
      this._paxGlobal = decodePax(buf);
    } else {
      super._decodeLongHeader(buf);
    }
  }
}

/** One entry, normalised from the ustar fields and the PAX records. */
export interface TarEntry {
  /** The name as written in the archive (not yet cleaned). */
  name: string;
  /** tar-stream's type name; null for types it does not know (e.g. GNU sparse). */
  type: string | null;
  /** Permission and special bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, fractional when a PAX record says so. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

const XATTR = 'SCHILY.xattr.';

function toEntry(h: RawHeader): TarEntry {
  const pax = h.pax ?? {};
  const num = (k: string, dflt: number) => {
    const v = pax[k];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`invalid PAX ${k} record`);
    return n;
  };
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith(XATTR)) xattrs.set(k.slice(XATTR.length), Buffer.from(v, 'latin1'));
  }
  return {
    name: h.name,
    type: h.type,
    mode: h.mode & 0o7777,
    uid: num('uid', h.uid),
    gid: num('gid', h.gid),
    size: h.size,
    mtime: num('mtime', h.mtime.getTime() / 1000),
    linkname: h.linkname ?? '',
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs,
  };
}

/** Reads an entry body to its end, discarding it. */
export async function drain(body: EntryBody): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  for await (const _ of body) { /* discard */ }
}

/**
 * Parses the uncompressed tar `input`, calling `onEntry` for each entry in order and
 * waiting for it. `onEntry` must consume the body (or `drain` it). Errors from the
 * handler win over errors from the input; tar format errors are invalid-argument.
 * `input` is destroyed on failure.
 */
export async function forEachEntry(
  input: Readable,
  onEntry: (entry: TarEntry, body: EntryBody) => Promise<void>,
): Promise<void> {
  const ex = new BinaryPaxExtract();
  let feedError: unknown;
  let handlerError: unknown;
  let exError: unknown;
  ex.on('error', (err: unknown) => { exError ??= err; });
  const feed = (async () => {
    try {
      for await (const chunk of input) {
        if (!ex.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => { ex.off('drain', done); ex.off('close', done); resolve(); };
            ex.on('drain', done);
            ex.on('close', done);
          });
        }
        if (ex.destroyed || handlerError !== undefined) return;
      }
      ex.end();
    } catch (err) {
      feedError = err;
      ex.destroy(err);
    }
  })();
  try {
    for await (const stream of ex as unknown as AsyncIterable<EntryBody & { header: RawHeader }>) {
      try {
        await onEntry(toEntry(stream.header), stream);
      } catch (err) {
        handlerError = err;
        throw err;
      }
    }
  } catch (err) {
    input.destroy();
    ex.destroy();
    await feed;
    // A handler error caused by the archive failing under it (its body stream errored)
    // is reported as the archive's error.
    if (handlerError !== undefined && (isStevedoreError(handlerError) || exError === undefined)) throw handlerError;
    if (feedError !== undefined) throw feedError;
    const cause = exError ?? err;
    const msg = cause instanceof Error ? cause.message : String(cause);
    throw invalidArgument(`invalid tar archive: ${msg}`, cause);
  }
  await feed;
  if (feedError !== undefined) throw feedError;
}
