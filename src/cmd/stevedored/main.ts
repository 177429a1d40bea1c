/**
 * The daemon executable (half of the composition root, with wire.ts): parse flags and
 * the environment into the configuration, open the wired daemon, listen on every host,
 * and shut down cleanly on SIGTERM/SIGINT.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import { createApiServer } from '../../api/server';
import { USAGE, parseArgs, parseHost, type DaemonConfig, type Listen } from '../../daemon/config';
import { ENGINE_VERSION } from '../../daemon/system/system';
import { isStevedoreError } from '../../engine/errdefs';
import { JsonLogger, type Logger } from '../../engine/log';
import { Stevedore } from './wire';

/** True when something answers on the unix socket (a live daemon), false for a stale file. */
function socketAnswers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function groupId(name: string): number | undefined {
  try {
    const line = fs
      .readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[0] === name);
    return line ? Number(line.split(':')[2]) : undefined;
  } catch {
    return undefined;
  }
}

async function listen(server: Server, l: Listen, cfg: DaemonConfig, log: Logger): Promise<void> {
  if (l.kind === 'tcp') {
    log.warn(
      `LISTENING ON tcp://${l.host}:${l.port} WITHOUT AUTHENTICATION OR TLS: anyone who can reach this address controls the host as root`,
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.port, l.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return;
  }
  if (fs.existsSync(l.path)) {
    if (await socketAnswers(l.path)) throw new Error(`a daemon is already listening on ${l.path}; refusing to start`);
    fs.unlinkSync(l.path);
  }
  fs.mkdirSync(path.dirname(l.path), { recursive: true });
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(l.path, 0o660);
  const gname = cfg.group ?? 'docker';
  const gid = groupId(gname);
  if (gid !== undefined) fs.chownSync(l.path, 0, gid);
  else if (cfg.group) log.warn('socket group not found; socket owned by root', { group: cfg.group });
}

function writePidfile(file: string): void {
  try {
    const old = Number(fs.readFileSync(file, 'utf8').trim());
    if (old > 0 && old !== process.pid) {
      try {
        process.kill(old, 0);
        throw new Error(`pid file found, ensure the daemon is not running or delete ${file}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, String(process.pid));
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`stevedored: ${(err as Error).message}\n\n${USAGE}`);
    return 125;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === 'version') {
    let runc = '';
    try {
      runc = execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
    } catch {
      /* no runtime installed */
    }
    process.stdout.write(`stevedore version ${ENGINE_VERSION} (Engine API 1.24–1.41)${runc ? `\n${runc}` : ''}\n`);
    return 0;
  }
  const cfg = parsed.config;
  // STEVEDORE_EXEC=runtime: execs through `runtime exec` (docs/shim.md, "Direct exec")
  cfg.execMode = process.env.STEVEDORE_EXEC === 'runtime' ? 'runtime' : 'direct';
  const log = new JsonLogger(cfg.logLevel, { component: 'stevedored' });
  installLastResort(log);
  if (process.getuid && process.getuid() !== 0) log.warn('not running as root: containers will not start');
  let daemon: Stevedore;
  try {
    daemon = await Stevedore.open(cfg, log);
  } catch (err) {
    log.error(`failed to start daemon: ${(err as Error).message}`);
    return isStevedoreError(err) ? 1 : 1;
  }
  const servers: Server[] = [];
  const socketPaths: string[] = [];
  try {
    if (cfg.pidfile) writePidfile(cfg.pidfile);
    const router = daemon.router();
    for (const h of cfg.hosts) {
      const l = parseHost(h);
      const server = createApiServer({ router, log: log.child({ component: 'api' }) });
      await listen(server, l, cfg, log);
      servers.push(server);
      if (l.kind === 'unix') socketPaths.push(l.path);
      log.info('API listen on ' + (l.kind === 'unix' ? l.path : `${l.host}:${l.port}`));
    }
  } catch (err) {
    log.error(`failed to start daemon: ${(err as Error).message}`);
    for (const s of servers) s.close();
    await daemon.close();
    return 1;
  }
  log.info('daemon has completed initialization', { version: ENGINE_VERSION, dataRoot: cfg.dataRoot, execRoot: cfg.execRoot });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal: sig });
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
      for (const p of socketPaths) fs.rmSync(p, { force: true });
      await daemon.close();
      if (cfg.pidfile) fs.rmSync(cfg.pidfile, { force: true });
      log.info('daemon stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

/** Error codes of one connection or stream failing: they say nothing about the daemon's state. */
const CONNECTION_ERRORS = new Set(['EPIPE', 'ECONNRESET', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ABORT_ERR']);

/**
 * The last resort for errors no caller handled (docs/api.md, "When something is not
 * handled"). A rejected promise nobody awaited, or a connection's stream failing
 * outside a request's try/catch, leaves no shared state half-changed: it is logged
 * with its stack and the daemon keeps serving. Any other uncaught exception means
 * code stopped half-way at an unknown point: the daemon logs it and exits non-zero,
 * and containers keep running in their shims until it is started again (live restore).
 */
export function installLastResort(log: Logger, exit: (code: number) => void = (c) => process.exit(c), proc: NodeJS.EventEmitter = process): void {
  const stackOf = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err));
  proc.on('unhandledRejection', (reason: unknown) => {
    log.error('unhandled promise rejection (daemon keeps serving)', { stack: stackOf(reason) });
  });
  proc.on('uncaughtException', (err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && CONNECTION_ERRORS.has(code)) {
      log.error('uncaught connection error (daemon keeps serving)', { code, stack: stackOf(err) });
      return;
    }
    log.error('uncaught exception: stopping the daemon (containers keep running)', { stack: stackOf(err) });
    exit(70);
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`stevedored: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
