/**
 * How Docker combines an image config with a container config at create time
 * (moby daemon/commit.go `merge` + `mergeAndVerifyConfig`): user, env, labels,
 * working dir, stop signal, and the entrypoint/cmd override rules.
 */
import { invalidArgument } from '../../../engine/errdefs';
import type { ContainerConfig, ImageRuntimeConfig } from '../types';

/** The effective config of a container: its own fields, the image's where unset. */
export interface MergedConfig {
  user: string;
  env: string[];
  labels: Record<string, string>;
  workingDir: string;
  stopSignal: string;
  /** argv: entrypoint followed by cmd; never empty */
  args: string[];
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/**
 * Merges image and container config.
 *
 * Entrypoint/Cmd: a container Entrypoint with at least one element replaces the image's
 * Entrypoint *and* drops the image's Cmd; otherwise an empty container Cmd takes the
 * image's Cmd, and a null/absent container Entrypoint takes the image's (an empty array
 * keeps none). An Entrypoint of `[""]` means "no entrypoint".
 *
 * @throws invalid-argument `No command specified` when nothing is left to run.
 */
export function mergeConfig(image: ImageRuntimeConfig, config: ContainerConfig): MergedConfig {
  const userEnv = config.Env ?? [];
  let env: string[];
  if (userEnv.length === 0) {
    env = [...(image.Env ?? [])];
  } else {
    const keys = new Set(userEnv.map(envKey));
    env = [...userEnv, ...(image.Env ?? []).filter((e) => !keys.has(envKey(e)))];
  }

  let entrypoint = config.Entrypoint ?? null;
  let cmd = config.Cmd ?? null;
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd || cmd.length === 0) cmd = image.Cmd ?? null;
    if (config.Entrypoint == null) entrypoint = image.Entrypoint ?? null;
  }
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (!entrypoint?.length && !cmd?.length) throw invalidArgument('No command specified');

  return {
    user: config.User || image.User || '',
    env,
    labels: { ...(image.Labels ?? {}), ...(config.Labels ?? {}) },
    workingDir: config.WorkingDir || image.WorkingDir || '',
    stopSignal: config.StopSignal || image.StopSignal || '',
    args,
  };
}
