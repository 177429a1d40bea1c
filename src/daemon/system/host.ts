/**
 * Facts about the host, read from the system once and cached: kernel, OS release,
 * cgroup version, runtimes present on PATH and their versions.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface HostFacts {
  kernelVersion: string;
  operatingSystem: string;
  osVersion: string;
  architecture: string;
  ncpu: number;
  memTotal: number;
  hostname: string;
  cgroupVersion: '1' | '2';
  /** memory controller and swap accounting present */
  memoryLimit: boolean;
  swapLimit: boolean;
  ipv4Forwarding: boolean;
}

function readFile(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function osRelease(): Record<string, string> {
  const out: Record<string, string> = {};
  const text = readFile('/etc/os-release') ?? readFile('/usr/lib/os-release') ?? '';
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

/** Docker's architecture names are uname's (x86_64, aarch64). */
export function readHostFacts(): HostFacts {
  const rel = osRelease();
  const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const memoryLimit = v2 ? (readFile('/sys/fs/cgroup/cgroup.controllers') ?? '').includes('memory') : fs.existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  const swapLimit = v2 ? memoryLimit : fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
  return {
    kernelVersion: os.release(),
    operatingSystem: rel.PRETTY_NAME ?? 'Linux',
    osVersion: rel.VERSION_ID ?? '',
    architecture: os.machine(),
    ncpu: os.cpus().length,
    memTotal: os.totalmem(),
    hostname: os.hostname(),
    cgroupVersion: v2 ? '2' : '1',
    memoryLimit,
    swapLimit,
    ipv4Forwarding: (readFile('/proc/sys/net/ipv4/ip_forward') ?? '0').trim() === '1',
  };
}

/** Absolute path of an executable found on PATH (or the path itself if absolute). */
export function which(bin: string): string | undefined {
  if (bin.includes('/')) return fs.existsSync(bin) ? bin : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/** `<bin> --version` first line's version and commit, as `docker version` shows them. */
export function runtimeVersion(bin: string): Promise<{ version: string; commit: string }> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve({ version: 'unknown', commit: '' });
      const version = /version\s+(\S+)/.exec(stdout)?.[1] ?? 'unknown';
      const commit = /commit:\s*(\S+)/.exec(stdout)?.[1] ?? '';
      resolve({ version, commit });
    });
  });
}
