/**
 * The daemon's side of the embedded resolver: {@link NameService} over a `stevedore-dns`
 * process (src/cmd/stevedore-dns) that outlives the daemon (docs/networking/dns.md).
 *
 * Lifecycle: `start()` adopts the resolver a previous daemon left running for the same
 * exec root (pidfile + /proc/<pid>/cmdline), or spawns one detached (its own session,
 * stdio to `<execRoot>/dns/stevedore-dns.log`, not waited for); `update(networks)`
 * writes the whole table (temp + rename), signals SIGHUP and resolves once the resolver's
 * status file reports that generation loaded, so a name resolves as soon as `update`
 * returns; `stop()` terminates it. A daemon that shuts down with live restore does not
 * call `stop()`: the resolver keeps answering, and the next daemon adopts it.
 * If the resolver has died, the next `update` starts a new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { internal } from '../../errdefs';
import { nullLogger, type LogLevel, type Logger } from '../../log';
import type { NameService } from '../types';
import { DNS_FILES, isResolverProcess, readPid, readStatus, writeJsonAtomic, type StatusFile } from './files';
import type { ResolverNetwork, TableFile } from './table';

export interface ProcessNameServiceOptions {
  /** the daemon's exec root; the resolver's files live in `<execRoot>/dns` */
  execRoot: string;
  log?: Logger;
  /** the resolver's log level (the daemon's) */
  logLevel?: LogLevel;
  /** the resolver's entry script (default: `src/cmd/stevedore-dns/main.js` of the tree this module was built into) */
  entry?: string;
  /** the node executable (default: this process's) */
  node?: string;
  /** the port to listen on (53) */
  port?: number;
  /** where the upstream nameservers are read (`/etc/resolv.conf`) */
  resolvConf?: string;
  /** the upstreams' port (53) */
  upstreamPort?: number;
  /** per upstream attempt (4000 ms) */
  upstreamTimeoutMs?: number;
  /** how long `start` and `update` wait for the resolver to confirm (10 000 ms) */
  readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ProcessNameService implements NameService {
  /** `<execRoot>/dns` */
  readonly dir: string;
  private pid: number | undefined;
  private generation = 0;
  private spawning: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: ProcessNameServiceOptions) {
    this.dir = path.join(opts.execRoot, 'dns');
    this.log = opts.log ?? nullLogger;
  }

  /** The resolver's pid (started or adopted), if any. */
  get resolverPid(): number | undefined {
    return this.pid;
  }

  private get tableFile(): string {
    return path.join(this.dir, DNS_FILES.table);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let onDisk: TableFile | undefined;
    try {
      onDisk = JSON.parse(fs.readFileSync(this.tableFile, 'utf8')) as TableFile;
    } catch {
      onDisk = undefined;
    }
    // generations go on from what a previous daemon wrote, so "loaded ≥ mine" stays meaningful
    this.generation = Math.max(this.generation, Number(onDisk?.generation) || 0, readStatus(this.dir)?.attempted ?? 0);
    if (!onDisk) this.writeTable([]);
    const pid = readPid(this.dir);
    if (pid !== undefined && isResolverProcess(pid, this.dir)) {
      this.pid = pid;
      this.log.info('adopted the running DNS resolver', { pid });
      return;
    }
    await this.spawnOnce();
  }

  private writeTable(networks: ResolverNetwork[]): number {
    const generation = ++this.generation;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file: TableFile = { version: 1, generation, networks };
    writeJsonAtomic(this.tableFile, file);
    return generation;
  }

  private spawnOnce(): Promise<void> {
    if (!this.spawning) {
      this.spawning = this.spawn().finally(() => {
        this.spawning = undefined;
      });
    }
    return this.spawning;
  }

  private async spawn(): Promise<void> {
    const entry = this.opts.entry ?? path.resolve(__dirname, '..', '..', '..', 'cmd', 'stevedore-dns', 'main.js');
    const args = [entry, '--dir', this.dir];
    if (this.opts.port !== undefined) args.push('--port', String(this.opts.port));
    if (this.opts.resolvConf !== undefined) args.push('--resolv-conf', this.opts.resolvConf);
    if (this.opts.upstreamPort !== undefined) args.push('--upstream-port', String(this.opts.upstreamPort));
    if (this.opts.upstreamTimeoutMs !== undefined) args.push('--upstream-timeout-ms', String(this.opts.upstreamTimeoutMs));
    if (this.opts.logLevel !== undefined) args.push('--log-level', this.opts.logLevel);
    const logFd = fs.openSync(path.join(this.dir, DNS_FILES.log), 'a', 0o600);
    let exited: string | undefined;
    try {
      // cwd /: the resolver must not keep a daemon's working directory (a mount) busy
      const child = spawn(this.opts.node ?? process.execPath, args, { detached: true, cwd: '/', stdio: ['ignore', logFd, logFd] });
      child.on('error', (err) => {
        exited = err.message;
      });
      child.on('exit', (code, signal) => {
        exited = `exited with ${signal ?? `code ${code}`}`;
        if (this.pid === child.pid) this.pid = undefined;
      });
      child.unref();
      if (child.pid === undefined) throw internal(`cannot start the DNS resolver: ${exited ?? 'no pid'}`);
      this.pid = child.pid;
      this.log.info('started the DNS resolver', { pid: child.pid });
    } finally {
      fs.closeSync(logFd);
    }
    await this.waitLoaded(this.generation, () => exited);
  }

  /**
   * Waits until the resolver reports `generation` (or a later one) loaded. Throws when it
   * reports the table unloadable, dies, or does not answer within the ready timeout.
   */
  private async waitLoaded(generation: number, exited: () => string | undefined = () => undefined): Promise<StatusFile> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 10_000);
    // the resolver renames status.json into place: inotify wakes us at once; a slow poll backs it up
    let wake: (() => void) | undefined;
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(this.dir, () => wake?.());
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
    try {
      let delay = 1;
      for (;;) {
        const pid = this.pid;
        const st = readStatus(this.dir);
        if (st && pid !== undefined && st.pid === pid) {
          if (st.generation >= generation) {
            for (const f of st.failed) this.log.warn('DNS resolver cannot listen yet (it retries)', { address: f.address, error: f.error });
            return st;
          }
          if (st.error && st.attempted >= generation) throw internal(`DNS resolver did not load its table: ${st.error}`);
        }
        const gone = exited();
        if (gone !== undefined || pid === undefined || !alive(pid)) {
          throw internal(`DNS resolver ${gone ?? 'is not running'}; see ${path.join(this.dir, DNS_FILES.log)}`);
        }
        if (Date.now() > deadline) throw internal(`DNS resolver (pid ${pid}) did not confirm table generation ${generation} in time`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        delay = Math.min(delay * 2, 50);
      }
    } finally {
      watcher?.close();
    }
  }

  /**
   * Replaces the table; resolves once the resolver has loaded it (or a later one).
   * Networks may carry the optional fields of {@link ResolverNetwork} (name, internal,
   * records' container/links/nameservers/ndotsSet).
   */
  async update(networks: ResolverNetwork[]): Promise<void> {
    if (this.spawning) await this.spawning.catch(() => undefined);
    const generation = this.writeTable(networks);
    const pid = this.pid;
    if (pid === undefined || !isResolverProcess(pid, this.dir)) {
      this.log.warn('the DNS resolver is not running; starting it', { pid });
      this.pid = undefined;
      await this.spawnOnce();
    }
    const st = readStatus(this.dir);
    if (st && st.pid === this.pid && st.generation >= generation) return;
    if (this.pid !== undefined) process.kill(this.pid, 'SIGHUP');
    await this.waitLoaded(generation);
  }

  /** Terminates the resolver (SIGTERM; SIGKILL after 5 s). Only the pid this service started or adopted. */
  async stop(): Promise<void> {
    if (this.spawning) await this.spawning.catch(() => undefined);
    const pid = this.pid;
    this.pid = undefined;
    if (pid === undefined || !isResolverProcess(pid, this.dir)) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    let delay = 1;
    while (alive(pid) && isResolverProcess(pid, this.dir)) {
      if (Date.now() > deadline) {
        this.log.warn('DNS resolver did not stop; killing it', { pid });
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        for (const f of [DNS_FILES.pid, DNS_FILES.status]) fs.rmSync(path.join(this.dir, f), { force: true });
        break;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 20);
    }
    this.log.info('stopped the DNS resolver', { pid });
  }
}
