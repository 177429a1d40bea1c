/**
 * The create and update bodies, once decoded (src/api/jsonfold.ts: Go's decoder, Go's
 * type errors, canonical field names), split and checked as moby's runconfig does.
 */
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerConfig, HostConfig } from './types';

/** container.Config's fields: the rest of a decoded create body is host config. */
const CONFIG_FIELDS = new Set([
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin',
  'StdinOnce', 'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled',
  'MacAddress', 'OnBuild', 'Labels', 'StopSignal', 'StopTimeout', 'Shell',
]);

/** The wrapper's own fields (runconfig.ContainerConfigWrapper). */
const WRAPPER_FIELDS = new Set(['HostConfig', 'Cpuset', 'NetworkingConfig']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== 0 && v !== '';
}

/** The container.Config part of a decoded create body (empty when it names no Config field). */
export function createBodyConfig(body: unknown): ContainerConfig {
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(isObject(body) ? body : {})) if (CONFIG_FIELDS.has(k)) config[k] = v;
  return config as ContainerConfig;
}

/**
 * Splits a decoded create body (moby's ContainerConfigWrapper) into config and host
 * config. Host config fields may also sit at the top level (deprecated, still read):
 * they are the host config when there is no `HostConfig`; with both, `HostConfig` takes
 * Memory, MemorySwap, CpuShares, CpusetCpus and VolumeDriver from the top level where
 * it has none (moby's getHostConfig), and `Cpuset` fills an empty CpusetCpus.
 * Throws invalid-argument when the body names no Config field (null, `{}`): Docker's
 * "Config cannot be empty in order to create a container".
 */
export function parseCreateBody(body: unknown): { config: ContainerConfig; hostConfig: HostConfig } {
  const config: Record<string, unknown> = {};
  const top: Record<string, unknown> = {};
  let hasTop = false;
  for (const [k, v] of Object.entries(isObject(body) ? body : {})) {
    if (CONFIG_FIELDS.has(k)) config[k] = v;
    else if (!WRAPPER_FIELDS.has(k)) {
      top[k] = v;
      hasTop = true;
    }
  }
  // Go allocates the embedded *container.Config only when a key names one of its fields
  if (Object.keys(config).length === 0) throw invalidArgument('Config cannot be empty in order to create a container');
  let hc: Record<string, unknown> = hasTop ? top : {};
  const b = body as Record<string, unknown>;
  if (isObject(b.HostConfig)) {
    const inner = { ...b.HostConfig };
    if (hasTop) {
      for (const k of ['Memory', 'MemorySwap', 'CpuShares', 'CpusetCpus', 'VolumeDriver']) {
        if (isSet(top[k]) && !isSet(inner[k])) inner[k] = top[k];
      }
    }
    hc = inner;
  }
  if (typeof b.Cpuset === 'string' && b.Cpuset !== '' && !isSet(hc.CpusetCpus)) hc.CpusetCpus = b.Cpuset;
  return { config: config as ContainerConfig, hostConfig: hc as HostConfig };
}

/** A decoded update body (container.UpdateConfig: Resources and RestartPolicy). */
export function parseUpdateBody(body: unknown): HostConfig {
  return isObject(body) ? (body as HostConfig) : {};
}
