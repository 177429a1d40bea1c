import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  ContainerCreateBody,
  ContainerUpdateBody,
  ExecCreateBody,
  ExecStartBody,
  NetworkConnectBody,
  NetworkCreateBody,
  NetworkDisconnectBody,
  VolumeCreateBody,
  goDecode,
} from './jsonfold';

const decode = (body: unknown, t = ContainerCreateBody) => goDecode(typeof body === 'string' ? body : JSON.stringify(body), t) as Record<string, unknown>;

describe('jsonfold: Go encoding/json field matching', () => {
  it('matches struct fields case-insensitively, at every level of the create body', () => {
    const b = decode({ image: 'busybox', CMD: ['sh'], entryPoint: 'x', hostconfig: { memory: 67108864, restartpolicy: { name: 'always' }, logconfig: { type: 'none' } } });
    assert.deepEqual(b, {
      Image: 'busybox',
      Cmd: ['sh'],
      Entrypoint: ['x'],
      HostConfig: { Memory: 67108864, RestartPolicy: { Name: 'always' }, LogConfig: { Type: 'none' } },
    });
  });

  it('prefers the exact name, and applies folded duplicates in document order (last scalar wins)', () => {
    assert.deepEqual(decode('{"image":"a","Image":"b"}'), { Image: 'b' });
    assert.deepEqual(decode('{"Image":"a","image":"b"}'), { Image: 'b' });
    // an exact duplicate keeps its place in the document (JSON.parse would move it)
    assert.deepEqual(decode('{"Image":"a","image":"b","Image":"c"}'), { Image: 'c' });
  });

  it('merges a second object for the same struct field, and replaces a second array', () => {
    const b = decode('{"HostConfig":{"Memory":8388608,"Binds":["/a:/a"]},"hostConfig":{"CpuShares":5,"binds":["/b:/b"]}}');
    assert.deepEqual(b.HostConfig, { Memory: 8388608, Binds: ['/b:/b'], CpuShares: 5 });
  });

  it('never folds map keys: Labels, ExposedPorts, Volumes, EndpointsConfig names', () => {
    const b = decode({
      Image: 'x',
      labels: { Foo: 'a', foo: 'b' },
      exposedports: { '80/TCP': {} },
      volumes: { '/Data': {} },
      networkingconfig: { endpointsconfig: { MyNet: { aliases: ['A'], ipamconfig: { ipv4address: '10.0.0.2' } } } },
    });
    assert.deepEqual(b.Labels, { Foo: 'a', foo: 'b' });
    assert.deepEqual(b.ExposedPorts, { '80/TCP': {} });
    assert.deepEqual(b.Volumes, { '/Data': {} });
    assert.deepEqual(b.NetworkingConfig, { EndpointsConfig: { MyNet: { Aliases: ['A'], IPAMConfig: { IPv4Address: '10.0.0.2' } } } });
  });

  it('merges a second object for the same map field (Go reuses the map)', () => {
    assert.deepEqual(decode('{"Labels":{"a":"1","b":"2"},"labels":{"b":"3"}}').Labels, { a: '1', b: '3' });
  });

  it('folds with Go\'s special cases: ſ for s and the Kelvin sign for k', () => {
    assert.deepEqual(decode('{"Image":"x","\u017ftopSignal":"SIGINT"}'), { Image: 'x', StopSignal: 'SIGINT' });
    assert.deepEqual(decode({ Image: 'x', hostconfig: { \u212aernelMemory: 1 } }).HostConfig, { KernelMemory: 1 });
    // other non-ASCII letters do not fold
    assert.deepEqual(decode({ \u0130mage: 'x' }), {});
  });

  it('ignores unknown fields', () => {
    assert.deepEqual(decode({ Image: 'x', Bogus: 1, HostConfig: { Nope: [1] } }), { Image: 'x', HostConfig: {} });
  });

  it('null: pointers, maps, slices become null; values are left alone', () => {
    assert.deepEqual(decode('{"Image":"x","image":null,"Env":["A=1"],"env":null,"Labels":null,"StopTimeout":null}'), {
      Image: 'x',
      Env: null,
      Labels: null,
      StopTimeout: null,
    });
    assert.deepEqual(decode('{"HostConfig":{"Memory":8388608,"memory":null,"PidsLimit":null,"Init":null}}').HostConfig, { Memory: 8388608, PidsLimit: null, Init: null });
    assert.equal(goDecode('null', ContainerCreateBody), null);
  });

  it('reads the deprecated top-level host config fields of the create wrapper', () => {
    assert.deepEqual(decode({ Image: 'x', binds: ['/a:/b'], memory: 8388608 }), { Image: 'x', Binds: ['/a:/b'], Memory: 8388608 });
  });
});

describe('jsonfold: strslice (Cmd, Entrypoint, Shell, CapAdd)', () => {
  it('takes a string, a list or null', () => {
    assert.deepEqual(decode({ Cmd: 'echo hi', Entrypoint: ['a', 'b'], Shell: null }), { Cmd: ['echo hi'], Entrypoint: ['a', 'b'], Shell: null });
    assert.deepEqual(decode({ HostConfig: { CapAdd: 'NET_ADMIN' } }).HostConfig, { CapAdd: ['NET_ADMIN'] });
  });
  it('refuses anything else with the error of its fallback decode into a string', () => {
    assert.throws(() => decode({ Cmd: 5 }), { message: 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string' });
    assert.throws(() => decode({ Cmd: [1] }), { message: 'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string' });
  });
});

describe('jsonfold: Go type errors (messages as Docker 20.10 sends them)', () => {
  const cases: Array<[string, string]> = [
    ['{"image":"busybox","hostconfig":{"memory":1e300}}', 'json: cannot unmarshal number 1e300 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"HostConfig":{"Memory":1.5}}', 'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"HostConfig":{"Memory":"1"}}', 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['{"HostConfig":{"BlkioWeight":70000}}', 'json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16'],
    ['{"Image":"x","Labels":{"a":5}}', 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string'],
    ['{"Image":"x","Env":"a"}', 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string'],
    ['{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":5}]}}}', 'json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string'],
    ['"x"', 'json: cannot unmarshal string into Go value of type runconfig.ContainerConfigWrapper'],
    ['{"HostConfig":"x"}', 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig'],
  ];
  for (const [body, msg] of cases) {
    it(body, () => assert.throws(() => decode(body), { message: msg }));
  }
  it('int64 limits are exact (beyond 2^53)', () => {
    assert.equal(decode('{"HostConfig":{"Memory":9223372036854775807}}').HostConfig && true, true);
    assert.throws(() => decode('{"HostConfig":{"Memory":9223372036854775808}}'), /number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64/);
  });
  it('reports the first mismatch in document order, after decoding the rest', () => {
    assert.throws(() => decode('{"Tty":1,"Image":2}'), { message: 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Tty of type bool' });
  });
});

describe('jsonfold: the other bodies', () => {
  it('exec create and start', () => {
    assert.deepEqual(decode({ cmd: ['ls'], attachstdout: true, detachKeys: 'ctrl-x', user: 'nobody', workingdir: '/', env: ['A=1'], privileged: false, tty: true }, ExecCreateBody), {
      Cmd: ['ls'],
      AttachStdout: true,
      DetachKeys: 'ctrl-x',
      User: 'nobody',
      WorkingDir: '/',
      Env: ['A=1'],
      Privileged: false,
      Tty: true,
    });
    // exec's Cmd is a plain []string, not a strslice
    assert.throws(() => decode({ Cmd: 'ls' }, ExecCreateBody), { message: 'json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string' });
    assert.deepEqual(decode({ detach: true, TTY: false }, ExecStartBody), { Detach: true, Tty: false });
  });
  it('update: resources and restart policy', () => {
    assert.deepEqual(decode({ cpurealtimeperiod: 1000, Memory: 8388608, memoryswap: -1, restartpolicy: { name: 'on-failure', maximumretrycount: 3 }, pidslimit: 5 }, ContainerUpdateBody), {
      CpuRealtimePeriod: 1000,
      Memory: 8388608,
      MemorySwap: -1,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
      PidsLimit: 5,
    });
    assert.throws(() => decode('{"memory":1e300}', ContainerUpdateBody), { message: 'json: cannot unmarshal number 1e300 into Go struct field UpdateConfig.Memory of type int64' });
  });
  it('network create, connect, disconnect', () => {
    assert.deepEqual(
      decode({ name: 'n', driver: 'bridge', checkduplicate: true, ipam: { config: [{ subnet: '10.1.0.0/16', auxiliaryaddresses: { Host1: '10.1.0.5' } }], options: { Foo: 'x' } }, options: { 'com.docker.network.bridge.name': 'br' }, labels: { L: '1' } }, NetworkCreateBody),
      {
        Name: 'n',
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Config: [{ Subnet: '10.1.0.0/16', AuxiliaryAddresses: { Host1: '10.1.0.5' } }], Options: { Foo: 'x' } },
        Options: { 'com.docker.network.bridge.name': 'br' },
        Labels: { L: '1' },
      },
    );
    assert.deepEqual(decode({ container: 'c', endpointconfig: { aliases: ['web'], driveropts: { Key: 'v' } } }, NetworkConnectBody), {
      Container: 'c',
      EndpointConfig: { Aliases: ['web'], DriverOpts: { Key: 'v' } },
    });
    assert.deepEqual(decode({ container: 'c', force: true }, NetworkDisconnectBody), { Container: 'c', Force: true });
  });
  it('volume create', () => {
    assert.deepEqual(decode({ name: 'v', driver: 'local', driveropts: { Type: 'tmpfs', device: 'tmpfs' }, labels: { A: 'b' } }, VolumeCreateBody), {
      Name: 'v',
      Driver: 'local',
      DriverOpts: { Type: 'tmpfs', device: 'tmpfs' },
      Labels: { A: 'b' },
    });
  });
});
