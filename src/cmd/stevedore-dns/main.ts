/**
 * stevedore-dns: the embedded resolver, a process of its own (docs/networking/dns.md).
 *
 *   node dist/src/cmd/stevedore-dns/main.js --dir <execRoot>/dns [--port 53]
 *        [--resolv-conf /etc/resolv.conf] [--upstream-port 53] [--upstream-timeout-ms 4000]
 *        [--log-level info]
 *
 * Reads `<dir>/table.json` at start and on SIGHUP, listens on the table's addresses,
 * and after every load writes `<dir>/status.json` (atomically) with the generation it
 * loaded, which the daemon waits for. `<dir>/stevedore-dns.pid` holds its pid while it
 * runs. SIGTERM/SIGINT: closes its sockets, removes the pidfile and status, exits 0.
 * Logs JSON lines on stderr (the daemon points stderr at `<dir>/stevedore-dns.log`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonLogger, isLogLevel, type LogLevel, type Logger } from '../../engine/log';
import { DnsTable, validateTable } from '../../engine/network/dns/table';
import { ResolverServer } from '../../engine/network/dns/server';
import { DNS_FILES, readStatus, writeFileAtomic, writeJsonAtomic, isResolverProcess, type StatusFile } from '../../engine/network/dns/files';

interface Args {
  dir: string;
  port: number;
  resolvConf: string;
  upstreamPort: number;
  upstreamTimeoutMs: number;
  logLevel: LogLevel;
}

export const USAGE = `Usage: stevedore-dns --dir DIR [--port 53] [--resolv-conf /etc/resolv.conf] [--upstream-port 53] [--upstream-timeout-ms 4000] [--log-level info]\n`;

export function parseArgs(argv: string[]): Args {
  const a: Partial<Args> = { port: 53, resolvConf: '/etc/resolv.conf', upstreamPort: 53, upstreamTimeoutMs: 4000, logLevel: 'info' };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      if (eq > 0) return raw.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return v;
    };
    const num = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`invalid value ${JSON.stringify(v)} for ${flag}`);
      return n;
    };
    switch (flag) {
      case '--dir':
        a.dir = path.resolve(value());
        break;
      case '--port':
        a.port = num();
        break;
      case '--resolv-conf':
        a.resolvConf = value();
        break;
      case '--upstream-port':
        a.upstreamPort = num();
        break;
      case '--upstream-timeout-ms':
        a.upstreamTimeoutMs = num();
        break;
      case '--log-level': {
        const v = value();
        if (!isLogLevel(v)) throw new Error(`invalid log level ${JSON.stringify(v)}`);
        a.logLevel = v;
        break;
      }
      default:
        throw new Error(`unknown flag: ${flag}`);
    }
  }
  if (!a.dir) throw new Error('--dir is required');
  return a as Args;
}

/** Reads and loads the table file; writes the status. Never throws. */
async function loadOnce(server: ResolverServer, dir: string, log: Logger): Promise<void> {
  let attempted = -1;
  let error: string | undefined;
  try {
    let table: DnsTable;
    try {
      const raw: unknown = JSON.parse(fs.readFileSync(path.join(dir, DNS_FILES.table), 'utf8'));
      const g = (raw as { generation?: unknown } | null)?.generation;
      if (typeof g === 'number') attempted = g;
      const parsed = validateTable(raw);
      table = new DnsTable(parsed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      table = DnsTable.empty();
      attempted = 0;
    }
    await server.load(table);
    log.debug('table loaded', { generation: table.generation, addresses: table.listenAddresses, upstreams: server.upstreams });
  } catch (err) {
    error = (err as Error).message;
    log.error('table not loaded; keeping the previous one', { error });
  }
  writeStatus(server, dir, attempted, error);
}

function writeStatus(server: ResolverServer, dir: string, attempted: number, error?: string): void {
  const st: StatusFile = {
    pid: process.pid,
    generation: server.current.generation,
    attempted: Math.max(attempted, server.current.generation),
    ...server.status(),
    ...(error !== undefined ? { error } : {}),
  };
  writeJsonAtomic(path.join(dir, DNS_FILES.status), st);
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`stevedore-dns: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const log = new JsonLogger(args.logLevel, { component: 'stevedore-dns' });
  // The resolver outlives daemons: one failed query must never take it down.
  process.on('uncaughtException', (err) => log.error('uncaught exception (resolver keeps serving)', { stack: err.stack ?? String(err) }));
  process.on('unhandledRejection', (r) => log.error('unhandled rejection (resolver keeps serving)', { error: String(r) }));
  fs.mkdirSync(args.dir, { recursive: true, mode: 0o700 });
  const pidfile = path.join(args.dir, DNS_FILES.pid);
  try {
    const other = Number(fs.readFileSync(pidfile, 'utf8').trim());
    if (other > 0 && other !== process.pid && isResolverProcess(other, args.dir)) {
      log.error('another resolver runs for this directory', { pid: other });
      return 1;
    }
  } catch {
    /* no pidfile */
  }
  const server = new ResolverServer({
    port: args.port,
    resolvConf: args.resolvConf,
    upstreamPort: args.upstreamPort,
    upstreamTimeoutMs: args.upstreamTimeoutMs,
    log,
    // a retried bind succeeded: the same table, more addresses
    onChange: () => writeStatus(server, args.dir, server.current.generation, readStatus(args.dir)?.error),
  });
  // Reloads are serialised; SIGHUPs arriving during one cause exactly one more.
  let reloading: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        await loadOnce(server, args.dir, log);
      } while (again);
    })().finally(() => {
      reloading = undefined;
    });
  };
  // the handler before the pidfile (whoever reads the pidfile may signal), the pidfile
  // before the first status (whoever sees the status can adopt by the pidfile)
  process.on('SIGHUP', reload);
  writeFileAtomic(pidfile, String(process.pid));
  reload();
  await reloading;
  log.info('resolver started', { pid: process.pid, dir: args.dir, port: args.port });
  // with no network in the table there is no socket: this keeps the process up until SIGTERM
  const keepAlive = setInterval(() => undefined, 1 << 30);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal: sig });
      clearInterval(keepAlive);
      await server.close();
      for (const f of [DNS_FILES.pid, DNS_FILES.status]) {
        const p = path.join(args.dir, f);
        try {
          const owner = f === DNS_FILES.pid ? Number(fs.readFileSync(p, 'utf8').trim()) : readStatus(args.dir)?.pid;
          if (owner === process.pid) fs.rmSync(p, { force: true });
        } catch {
          /* gone already */
        }
      }
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`stevedore-dns: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
