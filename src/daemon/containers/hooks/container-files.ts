/**
 * The container-files hook: Docker's /etc/resolv.conf, /etc/hostname and /etc/hosts,
 * written at create into the container's directory (files.ts), bind-mounted `rprivate`
 * (read-only with `--read-only`). Networking will replace the writing of these files;
 * the mounts stay.
 */
import type { Prepared, StartContext, StartHook } from './types';

export class ContainerFilesHook implements StartHook {
  readonly name = 'container-files';

  async prepare(ctx: StartContext): Promise<Prepared> {
    const readOnly = ctx.container.hostConfig.ReadonlyRootfs === true;
    const bind = (destination: string, source: string) => ({ destination, type: 'bind' as const, source, propagation: 'rprivate' as const, readOnly });
    return { mounts: [bind('/etc/resolv.conf', ctx.paths.resolvConf), bind('/etc/hostname', ctx.paths.hostname), bind('/etc/hosts', ctx.paths.hosts)] };
  }

  async release(): Promise<void> {
    // the files go with the container's directory at removal
  }
}
