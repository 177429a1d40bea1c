import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { HostConfig } from './types';
import { normalizeHostConfig, parseBindSpec, validMountMode, validateHostConfig as validateNormalized, validateMemory, validateStorageOpt } from './hostconfig';

const validateHostConfig = (hc: HostConfig, opts?: { exists?: (p: string) => boolean }) => validateNormalized(normalizeHostConfig(hc), opts);

const MB = 1024 * 1024;

describe('host config checks (moby volume/mounts and verifyPlatformContainerResources)', () => {
  it('parses -v specs as ParseMountRaw', () => {
    assert.deepEqual(parseBindSpec('/src/../src:/dst/:ro,rshared'), { type: 'bind', source: '/src', destination: '/dst', mode: 'ro,rshared', readOnly: true });
    assert.deepEqual(parseBindSpec('vol:/data'), { type: 'volume', source: 'vol', destination: '/data', mode: '', readOnly: false });
    assert.deepEqual(parseBindSpec('/anon'), { type: 'volume', source: '', destination: '/anon', mode: '', readOnly: false });
    assert.throws(() => parseBindSpec('/a:/'), { message: `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'` });
    assert.throws(() => parseBindSpec('/a:x'), { message: `invalid volume specification: '/a:x': invalid mount config for type "bind": invalid mount path: 'x' mount path must be absolute` });
    assert.throws(() => parseBindSpec('/a:/b:rx'), { message: 'invalid mode: rx' });
    assert.throws(() => parseBindSpec('/a:ro'), { message: "invalid volume specification: '/a:ro'" });
    assert.throws(() => parseBindSpec('/anon:ro'), { message: "invalid volume specification: '/anon:ro'" });
    assert.throws(() => parseBindSpec(':/b'), { message: "invalid volume specification: ':/b'" });
    assert.throws(() => parseBindSpec('a:/b:ro:x'), { message: "invalid volume specification: 'a:/b:ro:x'" });
  });

  it('knows the mode kinds, each at most once', () => {
    for (const m of ['', 'ro', 'rw,z', 'Z,rslave', 'nocopy', 'cached', 'ro,z,shared,nocopy,delegated']) assert.ok(validMountMode(m), m);
    for (const m of ['rx', 'ro,rw', 'z,Z', 'shared,slave', 'RO', 'ro,']) assert.ok(!validMountMode(m), m);
  });

  it('checks Mounts before the restart policy and the memory, binds last, and duplicates', () => {
    const exists = () => false;
    assert.throws(() => validateHostConfig({ Memory: -5, Mounts: [{ Type: 'bind', Source: '/nope', Target: '/x' }] }, { exists }), {
      message: 'invalid mount config for type "bind": bind source path does not exist: /nope',
    });
    assert.throws(() => validateHostConfig({ Memory: -5, Binds: ['/a:/b:rx'] }), { message: 'Minimum memory limit allowed is 6MB' });
    assert.throws(() => validateHostConfig({ Binds: ['/a:/b', '/c:/b/'] }), { message: 'Duplicate mount point: /b' });
    assert.throws(() => validateHostConfig({ Binds: ['/a:/b'], Tmpfs: { '/b': '' } }), { message: 'Duplicate mount point: /b' });
    assert.throws(() => validateHostConfig({ Mounts: [{ Type: 'volume', Target: '/v', ReadOnly: true }] }), {
      message: 'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes',
    });
    validateHostConfig({ Binds: ['/a:/b:ro'], Mounts: [{ Type: 'tmpfs', Target: '/t' }] });
  });

  it('memory: any non-zero value below 6MB, swap and reservation bounds', () => {
    assert.throws(() => validateMemory({ Memory: -1 }, false), { message: 'Minimum memory limit allowed is 6MB' });
    assert.throws(() => validateMemory({ Memory: 8 * MB, MemorySwap: 7 * MB }, false), /Minimum memoryswap limit should be larger than memory limit/);
    assert.throws(() => validateMemory({ MemorySwap: 7 * MB }, false), /You should always set the Memory limit when using Memoryswap limit/);
    validateMemory({ MemorySwap: 7 * MB }, true);
    assert.throws(() => validateMemory({ MemorySwappiness: 101 }, false), { message: 'Invalid value: 101, valid memory swappiness range is 0-100' });
    validateMemory({ MemorySwappiness: -1, Memory: 0 }, false);
  });

  it('MemorySwap defaults to twice Memory; swappiness -1 is unset', () => {
    assert.equal(normalizeHostConfig({ Memory: 64 * MB }).MemorySwap, 128 * MB);
    assert.equal(normalizeHostConfig({ Memory: 64 * MB, MemorySwap: -1 }).MemorySwap, -1);
    assert.equal(normalizeHostConfig({}).MemorySwap, undefined);
    assert.equal(normalizeHostConfig({ MemorySwappiness: -1 }).MemorySwappiness, null);
  });

  it('StorageOpt: size needs xfs project quotas; other keys are unknown', () => {
    assert.throws(() => validateStorageOpt({ size: '1G' }), { message: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option" });
    assert.throws(() => validateStorageOpt({ Foo: 'x' }), { message: 'Unknown option foo' });
    assert.throws(() => validateStorageOpt({ SIZE: 'x' }), { message: "invalid size: 'x'" });
    validateStorageOpt({});
  });
});
