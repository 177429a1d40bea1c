/**
 * Request bodies decoded as Docker decodes them: Go's `encoding/json` into Docker's
 * structs. A body is parsed once more in document order (duplicate keys kept, number
 * literals kept as written) and walked against a schema of the Go types, so that:
 *
 * - a key names a struct field by its exact JSON name, or else case-insensitively
 *   (Go's fold: ASCII case, plus `ſ`≡`s` and `K` (Kelvin)≡`k`); unknown keys are ignored;
 *   map keys (Labels, ExposedPorts, Volumes, DriverOpts, EndpointsConfig, …) are never folded;
 * - keys that name the same field are applied in order: the last scalar wins, a second
 *   object for a struct or map field is merged into the first (Go reuses the value), a
 *   second array replaces the first;
 * - `null` sets a pointer, map, slice or interface to null and leaves anything else as it was;
 * - a value of the wrong JSON type is Go's `UnmarshalTypeError`, with its message
 *   ("json: cannot unmarshal number 1e300 into Go struct field HostConfig.HostConfig.Memory
 *   of type int64"): the first one in document order is reported, after the rest of the
 *   body was decoded, unless a custom unmarshaller (strslice) failed, which stops at once.
 *
 * The result is plain JSON with the canonical field names, ready for the daemon.
 * Integers beyond 2^53 are range-checked exactly but kept as JS numbers.
 */
import { invalidArgument } from '../engine/errdefs';

/** A Go type, as far as decoding JSON into it goes. `go` is Go's `reflect.Type.String()`. */
export type GoType =
  | { kind: 'string' | 'bool' | 'any' | 'float'; go: string }
  | { kind: 'int'; go: string; bits: number; unsigned: boolean }
  | { kind: 'struct'; go: string; fields: ReadonlyArray<readonly [string, GoType]> }
  | { kind: 'ptr'; go: string; elem: GoType }
  | { kind: 'slice'; go: string; elem: GoType }
  | { kind: 'array'; go: string; len: number; elem: GoType }
  | { kind: 'map'; go: string; elem: GoType }
  /** docker's strslice.StrSlice: a string (one element) or a list of strings (custom UnmarshalJSON) */
  | { kind: 'strslice'; go: string };

// ---------------------------------------------------------------- type constructors

const str = (go = 'string'): GoType => ({ kind: 'string', go });
const bool: GoType = { kind: 'bool', go: 'bool' };
const int = (go: string, bits: number, unsigned = false): GoType => ({ kind: 'int', go, bits, unsigned });
const int64 = int('int64', 64);
const goInt = int('int', 64);
const uint16 = int('uint16', 16, true);
const uint64 = int('uint64', 64, true);
const ptr = (elem: GoType): GoType => ({ kind: 'ptr', go: `*${elem.go}`, elem });
const slice = (elem: GoType): GoType => ({ kind: 'slice', go: `[]${elem.go}`, elem });
const map = (elem: GoType, go = `map[string]${elem.go}`): GoType => ({ kind: 'map', go, elem });
const struct = (go: string, fields: ReadonlyArray<readonly [string, GoType]>): GoType => ({ kind: 'struct', go, fields });
const strings = slice(str());
const stringMap = map(str());
const strslice: GoType = { kind: 'strslice', go: 'strslice.StrSlice' };
const emptyStruct = struct('struct {}', []);

// ---------------------------------------------------------------- Docker's types (API v1.41, moby 20.10)

const healthConfig = struct('container.HealthConfig', [
  ['Test', strings],
  ['Interval', int('time.Duration', 64)],
  ['Timeout', int('time.Duration', 64)],
  ['StartPeriod', int('time.Duration', 64)],
  ['Retries', goInt],
]);

/** container.Config: fields in declaration order. */
const configFields: ReadonlyArray<readonly [string, GoType]> = [
  ['Hostname', str()],
  ['Domainname', str()],
  ['User', str()],
  ['AttachStdin', bool],
  ['AttachStdout', bool],
  ['AttachStderr', bool],
  ['ExposedPorts', map(emptyStruct, 'nat.PortSet')],
  ['Tty', bool],
  ['OpenStdin', bool],
  ['StdinOnce', bool],
  ['Env', strings],
  ['Cmd', strslice],
  ['Healthcheck', ptr(healthConfig)],
  ['ArgsEscaped', bool],
  ['Image', str()],
  ['Volumes', map(emptyStruct, 'map[string]struct {}')],
  ['WorkingDir', str()],
  ['Entrypoint', strslice],
  ['NetworkDisabled', bool],
  ['MacAddress', str()],
  ['OnBuild', strings],
  ['Labels', stringMap],
  ['StopSignal', str()],
  ['StopTimeout', ptr(goInt)],
  ['Shell', strslice],
];

export const ContainerConfig = struct('container.Config', configFields);

const weightDevice = ptr(struct('blkiodev.WeightDevice', [['Path', str()], ['Weight', uint16]]));
const throttleDevice = ptr(struct('blkiodev.ThrottleDevice', [['Path', str()], ['Rate', uint64]]));

/** container.Resources (embedded in HostConfig and UpdateConfig). */
const resourcesFields: ReadonlyArray<readonly [string, GoType]> = [
  ['CpuShares', int64],
  ['Memory', int64],
  ['NanoCpus', int64],
  ['CgroupParent', str()],
  ['BlkioWeight', uint16],
  ['BlkioWeightDevice', slice(weightDevice)],
  ['BlkioDeviceReadBps', slice(throttleDevice)],
  ['BlkioDeviceWriteBps', slice(throttleDevice)],
  ['BlkioDeviceReadIOps', slice(throttleDevice)],
  ['BlkioDeviceWriteIOps', slice(throttleDevice)],
  ['CpuPeriod', int64],
  ['CpuQuota', int64],
  ['CpuRealtimePeriod', int64],
  ['CpuRealtimeRuntime', int64],
  ['CpusetCpus', str()],
  ['CpusetMems', str()],
  ['Devices', slice(struct('container.DeviceMapping', [['PathOnHost', str()], ['PathInContainer', str()], ['CgroupPermissions', str()]]))],
  ['DeviceCgroupRules', strings],
  [
    'DeviceRequests',
    slice(
      struct('container.DeviceRequest', [
        ['Driver', str()],
        ['Count', goInt],
        ['DeviceIDs', strings],
        ['Capabilities', slice(strings)],
        ['Options', stringMap],
      ]),
    ),
  ],
  ['KernelMemory', int64],
  ['KernelMemoryTCP', int64],
  ['MemoryReservation', int64],
  ['MemorySwap', int64],
  ['MemorySwappiness', ptr(int64)],
  ['OomKillDisable', ptr(bool)],
  ['PidsLimit', ptr(int64)],
  ['Ulimits', slice(ptr(struct('units.Ulimit', [['Name', str()], ['Hard', int64], ['Soft', int64]])))],
  ['CpuCount', int64],
  ['CpuPercent', int64],
  ['IOMaximumIOps', uint64],
  ['IOMaximumBandwidth', uint64],
];

const restartPolicy = struct('container.RestartPolicy', [['Name', str()], ['MaximumRetryCount', goInt]]);

const mountType = struct('mount.Mount', [
  ['Type', str('mount.Type')],
  ['Source', str()],
  ['Target', str()],
  ['ReadOnly', bool],
  ['Consistency', str('mount.Consistency')],
  ['BindOptions', ptr(struct('mount.BindOptions', [['Propagation', str('mount.Propagation')], ['NonRecursive', bool]]))],
  [
    'VolumeOptions',
    ptr(
      struct('mount.VolumeOptions', [
        ['NoCopy', bool],
        ['Labels', stringMap],
        ['DriverConfig', ptr(struct('mount.Driver', [['Name', str()], ['Options', stringMap]]))],
      ]),
    ),
  ],
  ['TmpfsOptions', ptr(struct('mount.TmpfsOptions', [['SizeBytes', int64], ['Mode', int('fs.FileMode', 32, true)]]))],
]);

const hostConfigFields: ReadonlyArray<readonly [string, GoType]> = [
  ['Binds', strings],
  ['ContainerIDFile', str()],
  ['LogConfig', struct('container.LogConfig', [['Type', str()], ['Config', stringMap]])],
  ['NetworkMode', str('container.NetworkMode')],
  ['PortBindings', map(slice(struct('nat.PortBinding', [['HostIp', str()], ['HostPort', str()]])), 'nat.PortMap')],
  ['RestartPolicy', restartPolicy],
  ['AutoRemove', bool],
  ['VolumeDriver', str()],
  ['VolumesFrom', strings],
  ['CapAdd', strslice],
  ['CapDrop', strslice],
  ['CgroupnsMode', str('container.CgroupnsMode')],
  ['Dns', strings],
  ['DnsOptions', strings],
  ['DnsSearch', strings],
  ['ExtraHosts', strings],
  ['GroupAdd', strings],
  ['IpcMode', str('container.IpcMode')],
  ['Cgroup', str('container.CgroupSpec')],
  ['Links', strings],
  ['OomScoreAdj', goInt],
  ['PidMode', str('container.PidMode')],
  ['Privileged', bool],
  ['PublishAllPorts', bool],
  ['ReadonlyRootfs', bool],
  ['SecurityOpt', strings],
  ['StorageOpt', stringMap],
  ['Tmpfs', stringMap],
  ['UTSMode', str('container.UTSMode')],
  ['UsernsMode', str('container.UsernsMode')],
  ['ShmSize', int64],
  ['Sysctls', stringMap],
  ['Runtime', str()],
  ['ConsoleSize', { kind: 'array', go: '[2]uint', len: 2, elem: int('uint', 64, true) }],
  ['Isolation', str('container.Isolation')],
  ...resourcesFields,
  ['Mounts', slice(mountType)],
  ['MaskedPaths', strings],
  ['ReadonlyPaths', strings],
  ['Init', ptr(bool)],
];

export const HostConfig = struct('container.HostConfig', hostConfigFields);

const endpointSettings = struct('network.EndpointSettings', [
  ['IPAMConfig', ptr(struct('network.EndpointIPAMConfig', [['IPv4Address', str()], ['IPv6Address', str()], ['LinkLocalIPs', strings]]))],
  ['Links', strings],
  ['Aliases', strings],
  ['NetworkID', str()],
  ['EndpointID', str()],
  ['Gateway', str()],
  ['IPAddress', str()],
  ['IPPrefixLen', goInt],
  ['IPv6Gateway', str()],
  ['GlobalIPv6Address', str()],
  ['GlobalIPv6PrefixLen', goInt],
  ['MacAddress', str()],
  ['DriverOpts', stringMap],
]);

/** network.NetworkingConfig: EndpointsConfig is a map (names kept as given) of EndpointSettings. */
export const NetworkingConfig = struct('network.NetworkingConfig', [['EndpointsConfig', map(ptr(endpointSettings))]]);

/**
 * The create body (`POST /containers/create`, and `POST /commit`): moby's
 * runconfig.ContainerConfigWrapper embeds *container.Config and, deprecated,
 * *container.HostConfig, so HostConfig fields are also read at the top level
 * (see `createHostConfig`). The embedded structs' fields are promoted in Go's order.
 */
export const ContainerCreateBody = struct('runconfig.ContainerConfigWrapper', [
  ...configFields,
  ['HostConfig', ptr(HostConfig)],
  ['Cpuset', str()],
  ['NetworkingConfig', ptr(NetworkingConfig)],
  ...hostConfigFields,
]);

/** `POST /containers/{id}/update`: container.UpdateConfig (Resources + RestartPolicy). */
export const ContainerUpdateBody = struct('container.UpdateConfig', [...resourcesFields, ['RestartPolicy', restartPolicy]]);

/** `POST /containers/{id}/exec`: types.ExecConfig. */
export const ExecCreateBody = struct('types.ExecConfig', [
  ['User', str()],
  ['Privileged', bool],
  ['Tty', bool],
  ['AttachStdin', bool],
  ['AttachStderr', bool],
  ['AttachStdout', bool],
  ['Detach', bool],
  ['DetachKeys', str()],
  ['Env', strings],
  ['WorkingDir', str()],
  ['Cmd', strings],
]);

/** `POST /exec/{id}/start`: types.ExecStartCheck (API 1.41 has no ConsoleSize; later versions add it). */
export const ExecStartBody = struct('types.ExecStartCheck', [
  ['Detach', bool],
  ['Tty', bool],
  ['ConsoleSize', ptr({ kind: 'array', go: '[2]uint', len: 2, elem: int('uint', 64, true) })],
]);

/** `POST /networks/create`: types.NetworkCreateRequest (NetworkCreate embedded, then Name). */
export const NetworkCreateBody = struct('types.NetworkCreateRequest', [
  ['CheckDuplicate', bool],
  ['Driver', str()],
  ['Scope', str()],
  ['EnableIPv6', bool],
  [
    'IPAM',
    ptr(
      struct('network.IPAM', [
        ['Driver', str()],
        ['Options', stringMap],
        ['Config', slice(struct('network.IPAMConfig', [['Subnet', str()], ['IPRange', str()], ['Gateway', str()], ['AuxiliaryAddresses', stringMap]]))],
      ]),
    ),
  ],
  ['Internal', bool],
  ['Attachable', bool],
  ['Ingress', bool],
  ['ConfigOnly', bool],
  ['ConfigFrom', ptr(struct('network.ConfigReference', [['Network', str()]]))],
  ['Options', stringMap],
  ['Labels', stringMap],
  ['Name', str()],
]);

/** `POST /networks/{id}/connect`: types.NetworkConnect. */
export const NetworkConnectBody = struct('types.NetworkConnect', [
  ['Container', str()],
  ['EndpointConfig', ptr(endpointSettings)],
]);

/** `POST /networks/{id}/disconnect`: types.NetworkDisconnect. */
export const NetworkDisconnectBody = struct('types.NetworkDisconnect', [
  ['Container', str()],
  ['Force', bool],
]);

// `POST /containers/{id}/wait` and `/attach` take no body in API v1.41 (query parameters only).

/** `POST /volumes/create`: volume.VolumeCreateBody. */
export const VolumeCreateBody = struct('volume.VolumeCreateBody', [
  ['Driver', str()],
  ['DriverOpts', stringMap],
  ['Labels', stringMap],
  ['Name', str()],
]);

// ---------------------------------------------------------------- ordered JSON

type Node =
  | { t: 'obj'; entries: Array<[string, Node]> }
  | { t: 'arr'; items: Node[] }
  | { t: 'str'; v: string }
  | { t: 'num'; raw: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' };

/**
 * Parses JSON text already known to be valid (the caller ran JSON.parse on it) into a
 * tree that keeps object entries in document order, duplicates included, and number
 * literals as written.
 */
function parseOrdered(text: string): Node {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): Node => {
    ws();
    const c = text[i]!;
    if (c === '{') {
      i++;
      const entries: Array<[string, Node]> = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { t: 'obj', entries };
      }
      for (;;) {
        ws();
        const k = stringLit();
        ws();
        i++; // ':'
        entries.push([k, value()]);
        ws();
        if (text[i++] === '}') return { t: 'obj', entries };
      }
    }
    if (c === '[') {
      i++;
      const items: Node[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'arr', items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i++] === ']') return { t: 'arr', items };
      }
    }
    if (c === '"') return { t: 'str', v: stringLit() };
    if (text.startsWith('true', i)) return (i += 4), { t: 'bool', v: true };
    if (text.startsWith('false', i)) return (i += 5), { t: 'bool', v: false };
    if (text.startsWith('null', i)) return (i += 4), { t: 'null' };
    const m = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const raw = m.exec(text)![0];
    i += raw.length;
    return { t: 'num', raw };
  };
  const stringLit = (): string => {
    const m = /"(?:[^"\\]|\\.)*"/y;
    m.lastIndex = i;
    const lit = m.exec(text)![0];
    i += lit.length;
    return JSON.parse(lit) as string;
  };
  return value();
}

// ---------------------------------------------------------------- Go's decoder

/** Go's field-name fold: ASCII case, plus U+017F (ſ) for s and U+212A (Kelvin) for k. */
function foldEqual(field: string, key: string): boolean {
  const k = [...key];
  if (k.length !== field.length) return false;
  for (let j = 0; j < field.length; j++) {
    const f = field[j]!.toLowerCase();
    const c = k[j]!;
    if (c.toLowerCase() === f && c.length === 1 && c.charCodeAt(0) < 0x80) continue;
    if (f === 's' && c === '\u017f') continue;
    if (f === 'k' && c === '\u212a') continue;
    return false;
  }
  return true;
}

function findField(t: Extract<GoType, { kind: 'struct' }>, key: string): readonly [string, GoType] | undefined {
  return t.fields.find(([n]) => n === key) ?? t.fields.find(([n]) => foldEqual(n, key));
}

function nodeKind(n: Node): string {
  return { obj: 'object', arr: 'array', str: 'string', num: 'number', bool: 'bool', null: 'null' }[n.t];
}

/** Go's short name of a struct type (`reflect.Type.Name()`): the part after the package. */
function shortName(go: string): string {
  return go.slice(go.lastIndexOf('.') + 1);
}

class Decoder {
  private saved: string | undefined;
  private structName = '';
  private fieldStack: string[] = [];

  constructor(private readonly root: GoType) {}

  run(n: Node): unknown {
    const out = this.value(n, this.root, undefined);
    if (this.saved !== undefined) throw invalidArgument(this.saved);
    return out;
  }

  /** Go's UnmarshalTypeError text, with the current struct/field context. */
  private typeError(value: string, go: string): string {
    if (this.structName || this.fieldStack.length) {
      return `json: cannot unmarshal ${value} into Go struct field ${this.structName}.${this.fieldStack.join('.')} of type ${go}`;
    }
    return `json: cannot unmarshal ${value} into Go value of type ${go}`;
  }

  private save(value: string, go: string): void {
    if (this.saved === undefined) this.saved = this.typeError(value, go);
  }

  /** Decodes `n` into a Go value of type `t` that currently holds `cur`; returns the new value. */
  private value(n: Node, t: GoType, cur: unknown): unknown {
    if (n.t === 'null') {
      // null: pointers, maps, slices and interfaces become nil; anything else is left alone
      return t.kind === 'ptr' || t.kind === 'map' || t.kind === 'slice' || t.kind === 'any' || t.kind === 'strslice' ? null : cur;
    }
    switch (t.kind) {
      case 'ptr':
        return this.value(n, t.elem, cur === null ? undefined : cur);
      case 'any':
        return plain(n);
      case 'strslice':
        return this.strslice(n);
      case 'string':
        if (n.t === 'str') return n.v;
        this.save(nodeKind(n), t.go);
        return cur;
      case 'bool':
        if (n.t === 'bool') return n.v;
        this.save(nodeKind(n), t.go);
        return cur;
      case 'int':
        if (n.t === 'num') {
          const v = parseGoInt(n.raw, t.bits, t.unsigned);
          if (v === undefined) this.save(`number ${n.raw}`, t.go);
          return v ?? cur;
        }
        this.save(nodeKind(n), t.go);
        return cur;
      case 'float':
        if (n.t === 'num') {
          const v = Number(n.raw);
          if (!Number.isFinite(v)) this.save(`number ${n.raw}`, t.go);
          return Number.isFinite(v) ? v : cur;
        }
        this.save(nodeKind(n), t.go);
        return cur;
      case 'slice':
      case 'array': {
        if (n.t !== 'arr') {
          this.save(nodeKind(n), t.go);
          return cur;
        }
        const out: unknown[] = [];
        n.items.forEach((item, idx) => {
          if (t.kind === 'array' && idx >= t.len) return; // Go drops the extra elements
          out.push(this.value(item, t.elem, undefined) ?? zero(t.elem));
        });
        if (t.kind === 'array') while (out.length < t.len) out.push(zero(t.elem));
        return out;
      }
      case 'map': {
        if (n.t !== 'obj') {
          this.save(nodeKind(n), t.go);
          return cur;
        }
        // Go reuses a non-nil map (entries merge); each value is decoded fresh
        const out: Record<string, unknown> = isObject(cur) ? cur : {};
        for (const [k, v] of n.entries) out[k] = this.value(v, t.elem, undefined) ?? zero(t.elem);
        return out;
      }
      case 'struct': {
        if (n.t !== 'obj') {
          this.save(nodeKind(n), t.go);
          return cur;
        }
        const out: Record<string, unknown> = isObject(cur) ? cur : {};
        const outerStruct = this.structName;
        const depth = this.fieldStack.length;
        for (const [k, v] of n.entries) {
          const f = findField(t, k);
          if (!f) continue;
          this.fieldStack.push(f[0]);
          this.structName = shortName(t.go);
          const next = this.value(v, f[1], out[f[0]]);
          if (next === undefined) delete out[f[0]];
          else out[f[0]] = next;
          this.fieldStack.length = depth;
          this.structName = outerStruct;
        }
        return out;
      }
    }
  }

  /** strslice.StrSlice.UnmarshalJSON: a list of strings, else one string; its error stops decoding. */
  private strslice(n: Node): unknown {
    if (n.t === 'arr') {
      const bad = n.items.find((x) => x.t !== 'str' && x.t !== 'null');
      if (!bad) return n.items.map((x) => (x.t === 'str' ? x.v : ''));
    }
    if (n.t === 'str') return [n.v];
    // both inner Unmarshal calls failed: the error of the second (into a string), given the field's context
    throw invalidArgument(this.typeError(nodeKind(n), 'string'));
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Go zero value of a map or slice element decoded from an invalid or null value. */
function zero(t: GoType): unknown {
  switch (t.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
    case 'float':
      return 0;
    case 'struct':
      return {};
    default:
      return null;
  }
}

/** strconv.ParseInt/ParseUint of a JSON number literal into `bits` bits, or undefined. */
function parseGoInt(raw: string, bits: number, unsigned: boolean): number | undefined {
  if (!/^-?\d+$/.test(raw)) return undefined;
  const v = BigInt(raw);
  const lo = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const hi = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  if (v < lo || v > hi) return undefined;
  return Number(v);
}

function plain(n: Node): unknown {
  switch (n.t) {
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.entries) o[k] = plain(v);
      return o;
    }
    case 'arr':
      return n.items.map(plain);
    case 'str':
    case 'bool':
      return n.v;
    case 'num':
      return Number(n.raw);
    case 'null':
      return null;
  }
}

/**
 * Decodes JSON `text` (valid JSON: check it with JSON.parse first) into the Go type `t`,
 * as Go's `json.Unmarshal` would, and returns it with canonical field names. A JSON
 * `null` body gives null. Throws invalid-argument with Go's message on a type mismatch.
 */
export function goDecode(text: string, t: GoType): unknown {
  const n = parseOrdered(text);
  if (n.t === 'null') return null;
  return new Decoder(t).run(n);
}
