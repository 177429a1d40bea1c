/**
 * Start hooks (types.ts) and the ones every container gets, in their order. The root
 * filesystem is not a hook: the engine's run sequence (engine/containers) mounts it
 * before the first hook and unmounts it after the last release.
 */
import type { Logger } from '../../../engine/log';
import type { ContainerSnapshots, Mounter } from '../deps';
import { BindsHook } from './binds';
import { ContainerFilesHook } from './container-files';
import { HealthHook } from './health';
import { NetworkHook } from './network';
import type { HealthService } from '../health/health';
import { VolumesHook, type VolumeMounts } from './volumes';
import type { StartHook } from './types';

export type { Prepared, ReleaseReason, StartContext, StartHook } from './types';
export { BindsHook, ContainerFilesHook, HealthHook, NetworkHook, VolumesHook };
export type { NetworkHookDeps, NetworkRuntime } from './network';
export type { VolumeMounts };

/**
 * The network (when the daemon has networking: it writes the files the next hook mounts), the container files, then binds, then volumes (filled from the mounted rootfs).
 * `snapshots` and `mounter` are no longer used here (the engine mounts the rootfs); they
 * stay in the signature for the callers that pass them.
 */
export function defaultStartHooks(o: { snapshots?: Pick<ContainerSnapshots, 'mounts'>; mounter?: Mounter; log: Logger; volumes?: VolumeMounts; network?: NetworkHook; health?: HealthService }): StartHook[] {
  const hooks: StartHook[] = [...(o.network ? [o.network] : []), new ContainerFilesHook(), new BindsHook()];
  if (o.volumes) hooks.push(new VolumesHook({ volumes: o.volumes, log: o.log }));
  // last: its monitor starts once everything else is prepared, and stops first
  if (o.health) hooks.push(new HealthHook(o.health));
  return hooks;
}
