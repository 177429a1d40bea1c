/**
 * The container config Docker stores at create time: the client's config merged with
 * the image's (env, cmd/entrypoint, labels, working dir, user, stop signal, exposed
 * ports, volumes), plus the `Path`/`Args` that will run.
 */
import { mergeConfig } from './spec/command';
import type { ContainerConfig, ImageRuntimeConfig } from './types';

export function mergeCreateConfig(
  image: ImageRuntimeConfig,
  config: ContainerConfig,
  imageRef: string,
): { config: ContainerConfig; path: string; args: string[] } {
  const merged = mergeConfig(image, config);
  let entrypoint = config.Entrypoint ?? null;
  let cmd = config.Cmd ?? null;
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd || cmd.length === 0) cmd = image.Cmd ?? null;
    if (config.Entrypoint == null) entrypoint = image.Entrypoint ?? null;
  }
  const out: ContainerConfig = {
    Hostname: config.Hostname ?? '',
    Domainname: config.Domainname ?? '',
    User: merged.user,
    AttachStdin: config.AttachStdin ?? false,
    AttachStdout: config.AttachStdout ?? false,
    AttachStderr: config.AttachStderr ?? false,
    ...(hasKeys(image.ExposedPorts) || hasKeys(config.ExposedPorts) ? { ExposedPorts: { ...(image.ExposedPorts ?? {}), ...(config.ExposedPorts ?? {}) } } : {}),
    Tty: config.Tty ?? false,
    OpenStdin: config.OpenStdin ?? false,
    StdinOnce: config.StdinOnce ?? false,
    Env: merged.env,
    Cmd: cmd,
    ...(config.Healthcheck ?? image.Healthcheck ? { Healthcheck: config.Healthcheck ?? image.Healthcheck } : {}),
    Image: imageRef,
    Volumes: hasKeys(image.Volumes) || hasKeys(config.Volumes) ? { ...(image.Volumes ?? {}), ...(config.Volumes ?? {}) } : null,
    WorkingDir: merged.workingDir,
    Entrypoint: entrypoint,
    OnBuild: config.OnBuild ?? null,
    Labels: merged.labels,
    ...(merged.stopSignal ? { StopSignal: merged.stopSignal } : {}),
    ...(config.StopTimeout != null ? { StopTimeout: config.StopTimeout } : {}),
    ...(config.NetworkDisabled ? { NetworkDisabled: true } : {}),
    ...(config.MacAddress ? { MacAddress: config.MacAddress } : {}),
    ...(config.Shell ? { Shell: config.Shell } : {}),
  };
  return { config: out, path: merged.args[0]!, args: merged.args.slice(1) };
}

function hasKeys(o: object | null | undefined): boolean {
  return !!o && Object.keys(o).length > 0;
}
