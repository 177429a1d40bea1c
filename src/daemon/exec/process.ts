/**
 * The OCI `process` of an exec, built from the container's own spec (the engine's record
 * of the container) the way Docker builds it: the container's environment with the exec's
 * `Env` merged over it (and TERM=xterm with a tty), the exec's user resolved in the
 * container's /etc/passwd and /etc/group (or the container's user), its working
 * directory, the container's capabilities, rlimits and security settings — all
 * capabilities when privileged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ALL_CAPABILITIES, ScopedRootfsReader, parsePasswd, replaceOrAppendEnv, resolveUser } from '../../engine/oci';
import type * as oci from '../../engine/oci/spec';
import { internal } from '../../engine/errdefs';

/** What an exec asks for (Docker's ExecConfig, validated). */
export interface ExecProcessConfig {
  cmd: string[];
  env: string[];
  /** '' = the container's user */
  user: string;
  /** '' = the container's working directory */
  workingDir: string;
  privileged: boolean;
  tty: boolean;
  consoleSize?: { height: number; width: number };
}

/**
 * The container's runtime spec for an exec: from the engine's record of the container
 * (engine/containers) when it has one, else from its bundle's `config.json` (a container
 * started by a release before engine records, still running after an in-place upgrade).
 */
export function containerSpecFor(record: { spec?: Partial<oci.Spec> } | undefined, bundleDir: string): Pick<oci.Spec, 'process' | 'linux'> {
  return record?.spec ? execBase(record.spec) : readContainerSpec(bundleDir);
}

/** Reads the container's runtime spec from its bundle (`<bundle>/config.json`): its process and its linux section. */
export function readContainerSpec(bundleDir: string): Pick<oci.Spec, 'process' | 'linux'> {
  let spec: Partial<oci.Spec>;
  try {
    spec = JSON.parse(fs.readFileSync(path.join(bundleDir, 'config.json'), 'utf8')) as Partial<oci.Spec>;
  } catch (err) {
    throw internal(`cannot read the container's runtime spec: ${(err as Error).message}`, err);
  }
  return execBase(spec);
}

/** The process and linux sections of a spec; throws internal when one is missing. */
function execBase(spec: Partial<oci.Spec>): Pick<oci.Spec, 'process' | 'linux'> {
  if (!spec.process || typeof spec.process !== 'object') throw internal("the container's runtime spec has no process");
  if (!spec.linux || typeof spec.linux !== 'object') throw internal("the container's runtime spec has no linux section");
  return { process: spec.process, linux: spec.linux };
}

/**
 * Builds the exec's process. `rootfs` is the container's mounted root filesystem (for
 * user names); `groupAdd` is the container's HostConfig.GroupAdd. Throws
 * invalid-argument for an unknown user or group (Docker's messages).
 */
export async function buildExecProcess(base: oci.Process, cfg: ExecProcessConfig, rootfs: string, groupAdd: readonly string[] = []): Promise<oci.Process> {
  let env = [...(base.env ?? [])];
  if (cfg.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  env = replaceOrAppendEnv(env, cfg.env);

  let user: oci.SpecUser = { ...base.user };
  const needHome = !env.some((e) => e.startsWith('HOME='));
  let passwd: string | null = null;
  if (cfg.user || needHome) {
    const reader = new ScopedRootfsReader(rootfs, { maxBytes: 4 * 1024 * 1024 });
    const [pw, group] = await Promise.all([reader.readFile('/etc/passwd'), cfg.user ? reader.readFile('/etc/group') : null]);
    passwd = pw;
    if (cfg.user) {
      const r = resolveUser(cfg.user, groupAdd, passwd, group);
      user = { uid: r.uid, gid: r.gid, ...(r.additionalGids.length ? { additionalGids: r.additionalGids } : {}) };
      if (base.user.umask !== undefined) user.umask = base.user.umask;
    }
  }
  // runc sets HOME when the environment has none: the home of the first passwd entry
  // with the process's uid, else "/". Set here so that every way of starting it agrees.
  if (needHome) env.push(`HOME=${(passwd === null ? undefined : parsePasswd(passwd).find((u) => u.uid === user.uid)?.home) ?? '/'}`);

  const p: oci.Process = {
    terminal: cfg.tty,
    user,
    args: [...cfg.cmd],
    env,
    cwd: cfg.workingDir || base.cwd || '/',
  };
  if (cfg.tty && cfg.consoleSize) p.consoleSize = cfg.consoleSize;
  if (cfg.privileged) {
    const all = [...ALL_CAPABILITIES];
    p.capabilities = { bounding: all, effective: [...all], permitted: [...all] };
  } else if (base.capabilities) {
    p.capabilities = structuredClone(base.capabilities);
  }
  if (base.rlimits) p.rlimits = structuredClone(base.rlimits);
  if (base.noNewPrivileges !== undefined) p.noNewPrivileges = base.noNewPrivileges;
  if (base.apparmorProfile) p.apparmorProfile = cfg.privileged ? 'unconfined' : base.apparmorProfile;
  if (base.oomScoreAdj !== undefined) p.oomScoreAdj = base.oomScoreAdj;
  if (base.selinuxLabel) p.selinuxLabel = base.selinuxLabel;
  return p;
}
