/**
 * Detach keys: Docker's key-sequence format (`ctrl-p,ctrl-q`, `a,ctrl-]`) and a scanner
 * that watches a client's stdin for the sequence, the way the daemon's escape proxy
 * does for tty attach and exec sessions.
 */
import { invalidArgument } from '../../engine/errdefs';

/** Docker's default: Ctrl-P Ctrl-Q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

const CTRL = ['@', ...'abcdefghijklmnopqrstuvwxyz', '[', '\\', ']', '^', '_'];

/**
 * Parses a key spec: comma-separated keys, each a single character or `ctrl-X` with X
 * one of a-z @ [ \ ] ^ _ (case-insensitive). An empty spec gives the default.
 * Throws invalid-argument otherwise, with Docker's message ("Invalid detach keys (x)
 * provided"; `what` is "escape keys" for exec create).
 */
export function parseDetachKeys(spec: string | undefined, what = 'detach keys'): Buffer {
  if (spec === undefined || spec === '') return DEFAULT_DETACH_KEYS;
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1 && key.charCodeAt(0) < 0x80) {
      codes.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(key);
    const i = m ? CTRL.indexOf(m[1]!.toLowerCase()) : -1;
    if (i < 0) throw invalidArgument(`Invalid ${what} (${spec}) provided`);
    codes.push(i);
  }
  return Buffer.from(codes);
}

/**
 * Finds the detach sequence in a byte stream split across chunks. Bytes that might be
 * the start of the sequence are held back until the sequence completes (they are then
 * dropped) or fails to (they are passed on with what follows).
 */
export class DetachScanner {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to forward and whether the sequence was completed (nothing after it is forwarded). */
  push(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.held === 0 && chunk.indexOf(this.keys[0]!) < 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) {
          this.held = 0;
          return { forward: Buffer.from(out), detach: true };
        }
        continue;
      }
      if (this.held > 0) {
        for (let i = 0; i < this.held; i++) out.push(this.keys[i]!);
        this.held = 0;
        if (b === this.keys[0]) {
          this.held = 1;
          if (this.keys.length === 1) return { forward: Buffer.from(out), detach: true };
          continue;
        }
      }
      out.push(b);
    }
    return { forward: out.length === chunk.length ? chunk : Buffer.from(out), detach: false };
  }
}
