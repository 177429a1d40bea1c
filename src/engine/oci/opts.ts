/**
 * Spec options: the OCI spec of a container is the default spec (`defaultSpec`) with a
 * list of small options applied in order, in the manner of containerd's pkg/oci
 * `SpecOpts`. Each option changes one part of the spec in OCI terms; the front end
 * (the Docker daemon, a builder, a CRI server) decides which options a container gets.
 *
 * Options may read what earlier ones wrote (e.g. `withEnv` replaces or appends to the
 * env already there), so their order matters where they touch the same field. The key
 * order of the result does not depend on it: `generateSpec` writes keys in one fixed
 * order (`orderSpecKeys`), so equal specs serialize to equal bytes.
 */
import { defaultSpec } from './defaults';
import { replaceOrAppendEnv } from './env';
import type {
  Capabilities,
  Device,
  DeviceCgroup,
  Linux,
  Namespace,
  Process,
  Resources,
  Rlimit,
  Seccomp,
  Spec,
  SpecMount,
  SpecUser,
} from './spec';

/** What an option may know about the container beyond the spec itself. */
export interface SpecContext {
  /** the container's id */
  id: string;
}

/** One change to a spec. Throws (an errdefs error) when it cannot apply. */
export type SpecOpt = (spec: Spec, ctx: SpecContext) => void;

/**
 * The spec of a container: the default spec with `opts` applied in order, keys in the
 * fixed order of `orderSpecKeys`. Throws whatever an option throws.
 */
export function generateSpec(opts: readonly SpecOpt[], ctx: SpecContext = { id: '' }): Spec {
  return applyOpts(defaultSpec(), opts, ctx);
}

/** Applies `opts` in order to `spec` (changed in place) and returns it with its keys ordered. */
export function applyOpts(spec: Spec, opts: readonly SpecOpt[], ctx: SpecContext = { id: '' }): Spec {
  for (const opt of opts) opt(spec, ctx);
  return orderSpecKeys(spec);
}

/** Several options as one. */
export function compose(...opts: SpecOpt[]): SpecOpt {
  return (spec, ctx) => {
    for (const opt of opts) opt(spec, ctx);
  };
}

// ---------- process ----------

/** Replaces the process's argv. */
export function withProcessArgs(...args: string[]): SpecOpt {
  return (s) => {
    s.process.args = [...args];
  };
}

/** Sets or replaces env entries (`KEY=value`); a bare `KEY` removes KEY. */
export function withEnv(env: readonly string[]): SpecOpt {
  return (s) => {
    s.process.env = replaceOrAppendEnv(s.process.env ?? [], env);
  };
}

/** The process's working directory (absolute). */
export function withCwd(cwd: string): SpecOpt {
  return (s) => {
    s.process.cwd = cwd;
  };
}

/** The process's uid, gid and supplementary groups, as resolved by the caller. */
export function withUser(user: { uid: number; gid: number; additionalGids?: readonly number[] }): SpecOpt {
  return (s) => {
    const u: SpecUser = { uid: user.uid, gid: user.gid };
    if (user.additionalGids) u.additionalGids = [...user.additionalGids];
    s.process.user = u;
  };
}

/** A terminal for the process, and `TERM=xterm` unless the env sets TERM later. */
export function withTTY(): SpecOpt {
  return (s) => {
    s.process.terminal = true;
    s.process.env = replaceOrAppendEnv(s.process.env ?? [], ['TERM=xterm']);
  };
}

/**
 * The capability sets: `all` puts `caps` in the bounding, effective and permitted sets;
 * `bounding` only in the bounding set (what a non-root process gets, so that it can gain
 * them only by executing a file that has them). No inheritable or ambient set.
 */
export function withCapabilities(caps: readonly string[], sets: 'all' | 'bounding' = 'all'): SpecOpt {
  return (s) => {
    const c: Capabilities =
      sets === 'all' ? { bounding: [...caps], effective: [...caps], permitted: [...caps] } : { bounding: [...caps] };
    s.process.capabilities = c;
  };
}

/** Process rlimits (`RLIMIT_NOFILE`, …; -1 = unlimited), replacing any; none leaves the field out. */
export function withRlimits(rlimits: readonly Rlimit[]): SpecOpt {
  return (s) => {
    if (rlimits.length > 0) s.process.rlimits = rlimits.map((r) => ({ ...r }));
    else delete s.process.rlimits;
  };
}

/** `no_new_privs` for the process. */
export function withNoNewPrivileges(): SpecOpt {
  return (s) => {
    s.process.noNewPrivileges = true;
  };
}

/** The process's OOM score adjustment (-1000 … 1000). */
export function withOOMScoreAdj(score: number): SpecOpt {
  return (s) => {
    s.process.oomScoreAdj = score;
  };
}

// ---------- root, hostname, mounts ----------

/** The root filesystem: an absolute path (or relative to the bundle), read-only or not. */
export function withRootfs(path: string, readonly = false): SpecOpt {
  return (s) => {
    s.root = { path, readonly };
  };
}

/** The container's hostname (needs its own UTS namespace to take effect). */
export function withHostname(name: string): SpecOpt {
  return (s) => {
    s.hostname = name;
  };
}

/**
 * Adds mounts after the ones already there. An existing mount at the same destination
 * as a new one is dropped, and so is every existing mount below /dev when a new one is
 * at /dev (the new /dev hides them). The new mounts keep their order (callers sort them
 * so that a mount never hides one below it).
 */
export function withMounts(mounts: readonly SpecMount[]): SpecOpt {
  return (s) => {
    const dests = new Set(mounts.map((m) => m.destination));
    const ownDev = dests.has('/dev');
    s.mounts = s.mounts.filter((m) => !dests.has(m.destination) && !(ownDev && m.destination.startsWith('/dev/')));
    for (const m of mounts) s.mounts.push(copyMount(m));
  };
}

/** A tmpfs at `destination` with mount options such as `nosuid`, `size=64m`, `mode=1777`. */
export function withTmpfs(destination: string, options: readonly string[] = []): SpecOpt {
  return withMounts([{ destination, type: 'tmpfs', source: 'tmpfs', options: [...options] }]);
}

/** Removes the mount at `destination`, if any (e.g. /dev/shm for a container without IPC). */
export function withoutMount(destination: string): SpecOpt {
  return (s) => {
    s.mounts = s.mounts.filter((m) => m.destination !== destination);
  };
}

/** Sets the size of the /dev/shm tmpfs, in bytes (appended as `size=<bytes>`). */
export function withDevShmSize(bytes: number): SpecOpt {
  return (s) => {
    for (const m of s.mounts) {
      if (m.destination === '/dev/shm' && m.type === 'tmpfs') m.options = [...(m.options ?? []), `size=${bytes}`];
    }
  };
}

/** Adds `ro` to every mount there now, except those at the `keepWritable` destinations. */
export function withReadonlyMounts(keepWritable: readonly string[] = []): SpecOpt {
  return (s) => {
    const keep = new Set(keepWritable);
    for (const m of s.mounts) {
      if (!keep.has(m.destination) && !m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  };
}

/** Makes /sys writable (drops `ro` from sysfs mounts at /sys). */
export function withWritableSysfs(): SpecOpt {
  return (s) => {
    for (const m of s.mounts) if (m.destination === '/sys') dropOption(m, 'ro');
  };
}

/** Makes the cgroup filesystem writable (drops `ro` from every `cgroup` mount). */
export function withWritableCgroupfs(): SpecOpt {
  return (s) => {
    for (const m of s.mounts) if (m.type === 'cgroup') dropOption(m, 'ro');
  };
}

/** `linux.rootfsPropagation`: `shared`, `rshared`, `slave`, `rslave`, `private`, `rprivate`. */
export function withRootfsPropagation(propagation: string): SpecOpt {
  return (s) => {
    s.linux.rootfsPropagation = propagation;
  };
}

// ---------- namespaces ----------

/**
 * A namespace of `type` for the container: a new one, or the one at `path` to join.
 * Replaces an existing entry of that type in place, or appends.
 */
export function withNamespace(type: Namespace['type'], path?: string): SpecOpt {
  return (s) => {
    const ns: Namespace = path === undefined ? { type } : { type, path };
    const list = s.linux.namespaces;
    const i = list.findIndex((n) => n.type === type);
    if (i >= 0) list[i] = ns;
    else list.push(ns);
  };
}

/** No namespace of `type`: the container shares the host's (containerd's `WithHostNamespace`). */
export function withoutNamespace(type: Namespace['type']): SpecOpt {
  return (s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== type);
  };
}

/** Joins the network namespace at `path` (e.g. one made by the network setup, or /proc/<pid>/ns/net). */
export function withNetNSPath(path: string): SpecOpt {
  return withNamespace('network', path);
}

// ---------- cgroups and resources ----------

/** `linux.cgroupsPath`: `/parent/id` (cgroupfs) or `slice:prefix:name` (systemd). */
export function withCgroupsPath(path: string): SpecOpt {
  return (s) => {
    s.linux.cgroupsPath = path;
  };
}

/**
 * Cgroup resources in OCI terms (memory, cpu, pids, blockIO, …): each section given
 * replaces that section; device rules are `withDeviceRules`' business and stay.
 */
export function withResources(resources: Omit<Resources, 'devices'>): SpecOpt {
  return (s) => {
    const r = (s.linux.resources ??= {});
    for (const [k, v] of Object.entries(resources) as [keyof Resources, unknown][]) {
      if (v === undefined) continue;
      (r as Record<string, unknown>)[k] = structuredClone(v);
    }
  };
}

/** Appends device cgroup rules (after the default deny-all policy and its allow-list). */
export function withDeviceRules(rules: readonly DeviceCgroup[]): SpecOpt {
  return (s) => {
    const r = (s.linux.resources ??= {});
    r.devices = [...(r.devices ?? []), ...rules.map((d) => ({ ...d }))];
  };
}

/** Replaces the device policy with one rule allowing every device (privileged containers). */
export function withAllDevicesAllowed(): SpecOpt {
  return (s) => {
    const r = (s.linux.resources ??= {});
    r.devices = [{ allow: true, access: 'rwm' }];
  };
}

/** Device nodes created in the container's /dev (after any there); pair with `withDeviceRules`. */
export function withDevices(devices: readonly Device[]): SpecOpt {
  return (s) => {
    s.linux.devices = [...(s.linux.devices ?? []), ...devices.map((d) => ({ ...d }))];
  };
}

// ---------- security ----------

/** `linux.seccomp`; undefined removes it (no filter). */
export function withSeccomp(seccomp: Seccomp | undefined): SpecOpt {
  return (s) => {
    if (seccomp) s.linux.seccomp = structuredClone(seccomp);
    else delete s.linux.seccomp;
  };
}

/** `linux.maskedPaths`; null removes the field (nothing masked). */
export function withMaskedPaths(paths: readonly string[] | null): SpecOpt {
  return (s) => {
    if (paths) s.linux.maskedPaths = [...paths];
    else delete s.linux.maskedPaths;
  };
}

/** `linux.readonlyPaths`; null removes the field (nothing made read-only). */
export function withReadonlyPaths(paths: readonly string[] | null): SpecOpt {
  return (s) => {
    if (paths) s.linux.readonlyPaths = [...paths];
    else delete s.linux.readonlyPaths;
  };
}

/**
 * Sets sysctls (`net.core.somaxconn` → `1024`), later ones winning. Always leaves a
 * `linux.sysctl` object, empty or not.
 */
export function withSysctls(sysctls: Readonly<Record<string, string>>): SpecOpt {
  return (s) => {
    const out = (s.linux.sysctl ??= {});
    for (const [k, v] of Object.entries(sysctls)) out[k] = v;
  };
}

// ---------- key order ----------

const SPEC_KEYS = ['ociVersion', 'process', 'root', 'hostname', 'mounts', 'hooks', 'annotations', 'linux'];
const PROCESS_KEYS = [
  'terminal', 'consoleSize', 'user', 'args', 'env', 'cwd', 'oomScoreAdj', 'rlimits', 'capabilities',
  'noNewPrivileges', 'apparmorProfile', 'selinuxLabel',
];
const LINUX_KEYS = [
  'uidMappings', 'gidMappings', 'sysctl', 'cgroupsPath', 'namespaces', 'devices', 'maskedPaths', 'readonlyPaths',
  'resources', 'seccomp', 'rootfsPropagation', 'mountLabel',
];
const RESOURCES_KEYS = ['memory', 'cpu', 'blockIO', 'pids', 'devices', 'unified'];

function ordered<T extends object>(obj: T, keys: readonly string[]): T {
  const src = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out) && src[k] !== undefined) out[k] = src[k];
  return out as T;
}

/**
 * The spec with its keys (top level, process, linux, linux.resources) in one fixed
 * order — the order stevedore has always written — and undefined fields dropped.
 */
export function orderSpecKeys(spec: Spec): Spec {
  const out = ordered(spec, SPEC_KEYS);
  out.process = ordered<Process>(spec.process, PROCESS_KEYS);
  out.linux = ordered<Linux>(spec.linux, LINUX_KEYS);
  if (spec.linux.resources) out.linux.resources = ordered(spec.linux.resources, RESOURCES_KEYS);
  return out;
}

function copyMount(m: SpecMount): SpecMount {
  const out: SpecMount = { destination: m.destination };
  if (m.type !== undefined) out.type = m.type;
  if (m.source !== undefined) out.source = m.source;
  if (m.options !== undefined) out.options = [...m.options];
  return out;
}

function dropOption(m: SpecMount, option: string): void {
  if (m.options) m.options = m.options.filter((o) => o !== option);
}
