/**
 * Test fixtures for the runtime: minimal OCI bundles over one shared read-only busybox
 * rootfs, an exec root, and a check that nothing is left behind. Not used in production.
 */
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { makeBusyboxRootfs } from '../../../test/helpers/busybox';
import { ShimTaskService } from './shim-task-service';

/** cgroupsPath prefix of test containers, so leftovers can be found. */
export const CGROUP_PREFIX = 'stevedore-rt-test-';

export interface BundleOptions {
  tty?: boolean;
  env?: string[];
}

/** One test suite's temp dir, rootfs, exec root and task service. */
export class RuntimeFixture {
  readonly dir: string;
  readonly execRoot: string;
  readonly rootfs: string;
  readonly svc: ShimTaskService;
  private readonly baseSpec: Record<string, any>;

  constructor(readonly runtime: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-rt-'));
    this.execRoot = path.join(this.dir, 'exec');
    this.rootfs = path.join(this.dir, 'rootfs');
    makeBusyboxRootfs(this.rootfs);
    const specDir = path.join(this.dir, 'spec');
    fs.mkdirSync(specDir);
    execFileSync('runc', ['spec', '--bundle', specDir]);
    this.baseSpec = JSON.parse(fs.readFileSync(path.join(specDir, 'config.json'), 'utf8'));
    this.svc = new ShimTaskService({ execRoot: this.execRoot, runtime });
  }

  /** Writes a bundle for `id` running `args`; returns its absolute path. */
  bundle(id: string, args: string[], opts: BundleOptions = {}): string {
    const b = path.join(this.dir, 'bundles', id);
    fs.mkdirSync(b, { recursive: true });
    const spec = structuredClone(this.baseSpec);
    spec.process.terminal = opts.tty ?? false;
    spec.process.args = args;
    if (opts.env) spec.process.env.push(...opts.env);
    spec.root = { path: this.rootfs, readonly: true };
    spec.hostname = id;
    spec.linux.cgroupsPath = '/' + CGROUP_PREFIX + id;
    fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
    return b;
  }

  logPath(id: string): string {
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    return path.join(this.dir, 'logs', id + '-json.log');
  }

  /** Deletes every task and the temp dir; returns what was left behind before that. */
  async cleanup(): Promise<string[]> {
    const leftovers: string[] = [];
    for (const id of await this.svc.list()) {
      await this.svc.delete(id).catch((e: Error) => leftovers.push(`delete ${id}: ${e.message}`));
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return leftovers;
  }
}

/** Test cgroups still present under any v1 hierarchy or the v2 mount. */
export function leftoverCgroups(): string[] {
  const found: string[] = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join('/sys/fs/cgroup', h));
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(CGROUP_PREFIX)) found.push(path.join('/sys/fs/cgroup', h, n));
  }
  return found;
}

/** Pids of running shims whose command line mentions `dir`. */
export function shimsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (cmd.split('\0')[0].endsWith('stevedore-shim') && cmd.includes(dir)) pids.push(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * crun refuses to run on a hybrid cgroup host while the v2 hierarchy has controllers
 * (here: hugetlb, which no v1 hierarchy took). Binding those controllers to v1
 * hierarchies makes crun usable; the returned function undoes it.
 */
export function ensureCrunUsable(): () => void {
  const ctl = '/sys/fs/cgroup/unified/cgroup.controllers';
  if (!fs.existsSync(ctl)) return () => {};
  const names = fs.readFileSync(ctl, 'utf8').trim().split(/\s+/).filter(Boolean);
  const mounted: string[] = [];
  for (const n of names) {
    if (!/^[a-z_]+$/.test(n)) continue;
    const where = path.join('/sys/fs/cgroup', n);
    fs.mkdirSync(where, { recursive: true });
    execFileSync('mount', ['-t', 'cgroup', '-o', n, 'cgroup', where]);
    mounted.push(where);
  }
  return () => {
    for (const m of mounted) {
      try {
        execFileSync('umount', [m]);
        fs.rmdirSync(m);
      } catch {
        // still busy: leave it mounted, crun and runc both work with it
      }
    }
  };
}

/** Splits a Docker stdcopy stream into stdout and stderr; throws on a bad header. */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  let out = '';
  let err = '';
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 8) throw new Error('truncated stdcopy header');
    const kind = buf[off];
    if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0 || (kind !== 1 && kind !== 2)) {
      throw new Error(`bad stdcopy header at ${off}`);
    }
    const len = buf.readUInt32BE(off + 4);
    if (off + 8 + len > buf.length) throw new Error('truncated stdcopy frame');
    const s = buf.subarray(off + 8, off + 8 + len).toString('utf8');
    if (kind === 1) out += s;
    else err += s;
    off += 8 + len;
  }
  return { stdout: out, stderr: err };
}

/** Everything a stream yields until it ends (or closes: a dropped client's stream may not end cleanly). */
export function collect(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('close', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/**
 * A fixture for the enclosing describe(): made before its tests; after them every task
 * is deleted and nothing may be left (tasks, shims, cgroups). Call the result for it.
 */
export function suiteFixture(runtime = 'runc'): () => RuntimeFixture {
  let fx: RuntimeFixture | undefined;
  before(() => {
    fx = new RuntimeFixture(runtime);
  });
  after(async () => {
    const execRoot = fx!.execRoot;
    assert.deepEqual(await fx!.cleanup(), []);
    assert.deepEqual(shimsUnder(execRoot), []);
    assert.deepEqual(leftoverCgroups(), []);
  });
  return () => fx!;
}
