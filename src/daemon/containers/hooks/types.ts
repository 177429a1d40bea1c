/**
 * Start hooks: the daemon's container start is a sequence of concerns, each behind this
 * one interface. A hook prepares what the container needs before its spec is built
 * (mounts, a network namespace, environment, files) and releases it when the container
 * exits, is removed, or fails to start. The lifecycle runs them in order and releases in
 * reverse; it knows none of them. Volumes, networking, health checks and log drivers
 * arrive as hook implementations (docs/architecture.md).
 */
import type { ContainerPaths } from '../files';
import type { ContainerRecord } from '../model';
import type { ResolvedMount } from '../spec/mounts';

/** What a hook sees of the container being started. */
export interface StartContext {
  /** the container (a copy: hooks do not change the record) */
  readonly container: Readonly<ContainerRecord>;
  /** the OCI bundle directory (`<execRoot>/bundles/<id>`) */
  readonly bundle: string;
  /** where the root filesystem is mounted (`<bundle>/rootfs`) */
  readonly rootfs: string;
  /** the container's files under the data root */
  readonly paths: ContainerPaths;
  /**
   * At an exit: the container's removal follows (AutoRemove), so a hook may leave to the
   * removal what it would only record for a later start (the network hook: network.json).
   */
  readonly removalFollows?: boolean;
}

/** What a hook contributes to the spec. Everything is optional; contributions add up in hook order. */
export interface Prepared {
  /** mounts in the container, after the ones of earlier hooks */
  mounts?: ResolvedMount[];
  /** a network namespace to join (the last hook that sets one wins) */
  netnsPath?: string;
  /** environment entries (`K=V`) added to the process's */
  env?: string[];
}

/**
 * Why a hook releases: the container's task exited, the container is being removed, or
 * its start failed after this hook's `prepare` succeeded. A release after a daemon
 * restart may find nothing of its own left (or never prepared): it must be idempotent.
 */
export type ReleaseReason = 'exit' | 'remove' | 'failed-start';

export interface StartHook {
  /** for logs and errors: `rootfs`, `container-files`, `binds`, … */
  readonly name: string;
  /**
   * Optional: the hook's prepare never looks into the rootfs. The leading hooks that say
   * so prepare while the rootfs is being mounted (the network hook: its namespace and
   * veth are made on the addon's threads while the main thread mounts).
   */
  readonly withoutRootfs?: boolean;
  /** Prepares the container's start. Throwing fails the start (earlier hooks are released with 'failed-start'). */
  prepare(ctx: StartContext): Promise<Prepared | void>;
  /** Undoes `prepare`. Must not throw for what is already gone; errors are logged, not fatal. */
  release(ctx: StartContext, reason: ReleaseReason): Promise<void>;
  /**
   * Optional: resolves once the work a release left running in the background is done
   * (the network hook's veth and namespace teardown). Called when the daemon closes.
   */
  drain?(): Promise<void>;
  /**
   * Optional, at restore once every container was restored: drops what a crash left
   * behind of containers that are not running (`running`: the IDs of those that are).
   */
  reconcile?(running: ReadonlySet<string>): Promise<void>;
}
