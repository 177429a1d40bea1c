/**
 * Test fixtures for the spec options (options.test.ts, golden.test.ts): a container's
 * inputs and host facts with every field at a plain default, overridable field by field.
 */
import type { BuildFacts, BuildSpecInput } from './options';

/** The container ID the fixtures use. */
export const ID = '0123456789abcdef'.repeat(4);

/** A container of ID with image `Cmd: ['sh']` and two env vars, cgroup v1, no mounts. */
export function input(over: Partial<BuildSpecInput> = {}): BuildSpecInput {
  return {
    id: ID,
    rootfs: '/r',
    imageConfig: { Cmd: ['sh'], Env: ['PATH=/img/bin', 'X=1'] },
    config: {},
    hostConfig: {},
    mounts: [],
    cgroupsPath: '/docker/' + ID,
    cgroupVersion: 1,
    ...over,
  };
}

/** Host facts of a root user on amd64, kernel 6.1, every sysctl present, no devices. */
export function facts(over: Partial<BuildFacts> = {}): BuildFacts {
  return {
    user: { uid: 0, gid: 0, additionalGids: [0] },
    arch: 'amd64',
    kernel: [6, 1],
    sysctlExists: () => true,
    devices: [],
    deviceRules: [],
    ...over,
  };
}
