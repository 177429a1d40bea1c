/**
 * Request input as Docker reads it (issue #11 items 3, 8, 10 and parts of 11): bodies
 * decoded like Go's encoding/json (field names case-insensitive, strslice Cmd and
 * Entrypoint), the host configs Docker refuses and its exact messages, MemorySwap's
 * default of twice Memory, and the swarm endpoints on a node outside a swarm. Passes
 * against stevedore and against Docker's own engine (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Target, assertClientError, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { python } from '../helpers/process';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';

describe('request input as Docker reads it', () => {
  let t: Target;
  let hostDir: string;
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await t.request(method, `/v1.41${p}`, {
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}),
    });
    let json: unknown;
    try {
      json = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, json: json as Record<string, unknown> & { message?: string } };
  };
  const inspect = async (id: string) => (await api('GET', `/containers/${id}/json`)).json as { Config: Record<string, unknown>; HostConfig: Record<string, unknown> };
  const containerCount = async () => ((await api('GET', '/containers/json?all=1')).json as unknown as unknown[]).length;

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    hostDir = fs.mkdtempSync(path.join(t.dir, 'host-'));
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  describe('item 3: field names match case-insensitively, as Go matches struct fields', () => {
    after(async () => {
      await api('DELETE', '/containers/lower?force=1');
    });
    it('a lower-case create body is read whole; map keys (Labels) keep their case', async () => {
      const r = await api('POST', '/containers/create?name=lower', {
        image: 'busybox',
        cmd: ['sleep', '1000'],
        labels: { Foo: 'a', foo: 'b' },
        stopsignal: 'SIGINT',
        hostconfig: { memory: 67108864, cpuRealtimePeriod: 0, restartpolicy: { name: 'on-failure', maximumRetryCount: 2 } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const c = await inspect('lower');
      assert.equal(c.Config.Image, 'busybox');
      assert.deepEqual(c.Config.Cmd, ['sleep', '1000']);
      assert.deepEqual(c.Config.Labels, { Foo: 'a', foo: 'b' });
      assert.equal(c.Config.StopSignal, 'SIGINT');
      assert.equal(c.HostConfig.Memory, 67108864);
      assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    });

    it('a lower-case update body is applied', async () => {
      const r = await api('POST', '/containers/lower/update', { cpushares: 512, restartPolicy: { name: 'no' } });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const c = await inspect('lower');
      assert.equal(c.HostConfig.CpuShares, 512);
      assert.equal((c.HostConfig.RestartPolicy as { Name: string }).Name, 'no');
    });

    it('a lower-case exec body (detachKeys, attachstdout, cmd) is read whole', async () => {
      assert.equal((await api('POST', '/containers/lower/start')).status, 204);
      const created = await api('POST', '/containers/lower/exec', { cmd: ['sh', '-c', 'exit 7'], attachstdout: true, detachKeys: 'ctrl-x', user: 'nobody' });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const id = created.json.Id as string;
      const started = await api('POST', `/exec/${id}/start`, { detach: true });
      assert.equal(started.status, 200);
      let e: { ExitCode: number | null; Running: boolean; OpenStdout: boolean; DetachKeys: string; ProcessConfig: { entrypoint: string; user: string } } | undefined;
      for (let i = 0; i < 100; i++) {
        e = (await api('GET', `/exec/${id}/json`)).json as unknown as typeof e;
        if (e && !e.Running && e.ExitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(e!.ExitCode, 7);
      assert.equal(e!.OpenStdout, true);
      assert.equal(e!.ProcessConfig.entrypoint, 'sh');
      assert.equal(e!.ProcessConfig.user, 'nobody');
      // detachKeys is read: a bad one is refused
      const bad = await api('POST', '/containers/lower/exec', { cmd: ['true'], detachKeys: 'bogus' });
      assertClientError(t, bad.status);
      assert.equal(bad.json.message, 'Invalid escape keys (bogus) provided');
    });

    it('a body that names no Config field has no Config', async () => {
      for (const body of ['{}', '{"hostconfig":{"memory":8388608}}', 'null']) {
        const r = await api('POST', '/containers/create', body);
        assert.equal(r.status, 400, body);
        assert.equal(r.json.message, 'Config cannot be empty in order to create a container', body);
      }
    });

    it('reports a value of the wrong type with Go\'s message (1e300 into int64)', async () => {
      const before = await containerCount();
      const r = await api('POST', '/containers/create', '{"image":"busybox","hostconfig":{"memory":1e300}}');
      assertClientError(t, r.status);
      assert.equal(r.json.message, 'json: cannot unmarshal number 1e300 into Go struct field HostConfig.HostConfig.Memory of type int64');
      const u = await api('POST', '/containers/create', '{"Image":"busybox","Labels":{"a":5}}');
      assertClientError(t, u.status);
      assert.equal(u.json.message, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string');
      assert.equal(await containerCount(), before);
    });
  });

  describe('item 11: Cmd and Entrypoint are strslices (a string, a list or null)', () => {
    it('takes a string as a one-element list', async () => {
      const r = await api('POST', '/containers/create?name=strslice', { Image: 'busybox', Entrypoint: 'echo', Cmd: 'hello world' });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const c = await inspect('strslice');
      assert.deepEqual(c.Config.Entrypoint, ['echo']);
      assert.deepEqual(c.Config.Cmd, ['hello world']);
      const run = await t.docker(['start', '-a', 'strslice']);
      assert.equal(run.stdout, 'hello world\n', run.stderr);
      await api('DELETE', '/containers/strslice?force=1');
    });
    it('null keeps the image\'s command', async () => {
      const r = await api('POST', '/containers/create?name=strnull', { Image: 'busybox', Cmd: null, Entrypoint: null });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.deepEqual((await inspect('strnull')).Config.Cmd, ['sh']);
      await api('DELETE', '/containers/strnull?force=1');
    });
    it('refuses a number with the message of its fallback decode into a string', async () => {
      const r = await api('POST', '/containers/create', { Image: 'busybox', Cmd: 5 });
      assertClientError(t, r.status);
      assert.equal(r.json.message, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string');
    });
  });

  describe('item 8: host configs Docker refuses', () => {
    // [what, HostConfig, message, Docker 20.10 answers 500 (a bug later versions fixed) rather than 400]
    const cases = (): Array<[string, Record<string, unknown>, string, boolean]> => [
      ['a bind onto /', { Binds: [`${hostDir}:/`] }, `invalid volume specification: '${hostDir}:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`, true],
      ['a bind onto / spelt /x/..', { Binds: [`${hostDir}:/x/../`] }, `invalid volume specification: '${hostDir}:/x/../': invalid mount config for type "bind": invalid specification: destination can't be '/'`, true],
      ['a bind with a relative destination', { Binds: [`${hostDir}:rel/x`] }, `invalid volume specification: '${hostDir}:rel/x': invalid mount config for type "bind": invalid mount path: 'rel/x' mount path must be absolute`, true],
      ['a bind with an unknown mode', { Binds: [`${hostDir}:/x:rx`] }, 'invalid mode: rx', true],
      ['a bind with two rw modes', { Binds: [`${hostDir}:/x:ro,rw`] }, 'invalid mode: ro,rw', true],
      ['a bind with too many colons', { Binds: ['/a:/b:/c:/d'] }, "invalid volume specification: '/a:/b:/c:/d'", true],
      ['a mount onto /', { Mounts: [{ Type: 'bind', Source: hostDir, Target: '/' }] }, 'invalid mount config for type "bind": invalid specification: destination can\'t be \'/\'', false],
      ['a mount with a relative target', { Mounts: [{ Type: 'bind', Source: hostDir, Target: 'rel' }] }, "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute", false],
      ['a bind mount of a missing source', { Mounts: [{ Type: 'bind', Source: `${hostDir}/nonexistent`, Target: '/x' }] }, `invalid mount config for type "bind": bind source path does not exist: ${hostDir}/nonexistent`, false],
      ['a destination taken twice', { Binds: [`${hostDir}:/x`], Mounts: [{ Type: 'bind', Source: hostDir, Target: '/x' }] }, 'Duplicate mount point: /x', false],
      ['a negative memory limit', { Memory: -5 }, 'Minimum memory limit allowed is 6MB', false],
      ['memory swap below memory', { Memory: 8000000, MemorySwap: 7000000 }, 'Minimum memoryswap limit should be larger than memory limit, see usage', false],
      ['a storage size without project quotas', { StorageOpt: { size: '1G' } }, "--storage-opt is supported only for overlay over xfs with 'pquota' mount option", true],
      ['an unknown storage option', { StorageOpt: { foo: 'bar' } }, 'Unknown option foo', true],
    ];
    it('refuses each with Docker\'s message, and creates nothing', async () => {
      for (const [what, hc, message, docker500] of cases()) {
        const r = await api('POST', '/containers/create', { Image: 'busybox', HostConfig: hc });
        if (docker500) assertClientError(t, r.status);
        else assert.equal(r.status, 400, what);
        assert.equal(r.json.message, message, what);
      }
      assert.equal(await containerCount(), 0);
      assert.deepEqual(fs.readdirSync(hostDir), []);
    });
    it('refuses a negative memory limit on update too', async () => {
      assert.equal((await api('POST', '/containers/create?name=upd', { Image: 'busybox' })).status, 201);
      const r = await api('POST', '/containers/upd/update', { Memory: -5 });
      assert.equal(r.status, 400);
      assert.equal(r.json.message, 'Minimum memory limit allowed is 6MB');
      await api('DELETE', '/containers/upd?force=1');
    });
  });

  describe('item 11: MemorySwap defaults to twice Memory', () => {
    it('is stored at create, kept by an update of Memory, and bounds it', async () => {
      const id = (await t.docker(['create', '-m', '64m', 'busybox'])).stdout.trim();
      let hc = (await inspect(id)).HostConfig;
      assert.equal(hc.Memory, 64 * 1024 * 1024);
      assert.equal(hc.MemorySwap, 128 * 1024 * 1024);
      assert.equal((await api('POST', `/containers/${id}/update`, { Memory: 100 * 1024 * 1024 })).status, 200);
      hc = (await inspect(id)).HostConfig;
      assert.equal(hc.Memory, 100 * 1024 * 1024);
      assert.equal(hc.MemorySwap, 128 * 1024 * 1024);
      const over = await api('POST', `/containers/${id}/update`, { Memory: 200 * 1024 * 1024 });
      assert.equal(over.status, 409);
      assert.equal(over.json.message, `Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`);
      // a container created without a limit has no swap limit to stay under
      const free = (await t.docker(['create', 'busybox'])).stdout.trim();
      assert.equal((await inspect(free)).HostConfig.MemorySwap, 0);
      assert.equal((await api('POST', `/containers/${free}/update`, { Memory: 64 * 1024 * 1024 })).status, 409);
      assert.equal((await api('POST', `/containers/${free}/update`, { Memory: 64 * 1024 * 1024, MemorySwap: -1 })).status, 200);
      await t.docker(['rm', '-f', id, free]);
    });
  });

  describe('item 10: swarm endpoints outside a swarm', () => {
    const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
    it('answer 503 "not a swarm manager" after Docker\'s own input checks', async () => {
      const cases: Array<[string, string, unknown, number, string]> = [
        ['GET', '/swarm', undefined, 503, NOT_MANAGER],
        ['GET', '/swarm/unlockkey', undefined, 503, NOT_MANAGER],
        ['POST', '/swarm/leave', undefined, 503, 'This node is not part of a swarm'],
        ['POST', '/swarm/unlock', {}, 503, NOT_MANAGER],
        ['POST', '/swarm/update', undefined, 400, 'got EOF while reading request body'],
        ['POST', '/swarm/update', {}, 400, 'invalid swarm version \'\': strconv.ParseUint: parsing "": invalid syntax'],
        ['POST', '/swarm/update?version=1', {}, 503, NOT_MANAGER],
        ['GET', '/nodes', undefined, 503, NOT_MANAGER],
        ['GET', '/nodes/x', undefined, 503, NOT_MANAGER],
        ['DELETE', '/nodes/x', undefined, 503, NOT_MANAGER],
        ['POST', '/nodes/x/update?version=1', {}, 503, NOT_MANAGER],
        ['GET', '/services', undefined, 503, NOT_MANAGER],
        ['POST', '/services/create', {}, 503, NOT_MANAGER],
        ['POST', '/services/create', '"x"', 400, 'json: cannot unmarshal string into Go value of type swarm.ServiceSpec'],
        ['GET', '/services/x', undefined, 503, NOT_MANAGER],
        ['DELETE', '/services/x', undefined, 503, NOT_MANAGER],
        ['POST', '/services/x/update', {}, 400, 'invalid service version \'\': strconv.ParseUint: parsing "": invalid syntax'],
        ['GET', '/services/x/logs?stdout=1', undefined, 503, NOT_MANAGER],
        ['GET', '/tasks', undefined, 503, NOT_MANAGER],
        ['GET', '/tasks/x', undefined, 503, NOT_MANAGER],
        ['GET', '/tasks/x/logs?stderr=1', undefined, 503, NOT_MANAGER],
        ['GET', '/secrets', undefined, 503, NOT_MANAGER],
        ['POST', '/secrets/create', {}, 503, NOT_MANAGER],
        ['GET', '/secrets/x', undefined, 503, NOT_MANAGER],
        ['POST', '/secrets/x/update', {}, 400, 'invalid secret version'],
        ['GET', '/configs', undefined, 503, NOT_MANAGER],
        ['POST', '/configs/create', {}, 503, NOT_MANAGER],
        ['DELETE', '/configs/x', undefined, 503, NOT_MANAGER],
        ['POST', '/configs/x/update?version=1', {}, 503, NOT_MANAGER],
        ['POST', '/swarm/init', undefined, 400, 'got EOF while reading request body'],
      ];
      for (const [method, p, body, status, message] of cases) {
        const r = await api(method, p, body);
        assert.equal(r.status, status, `${method} ${p}: ${JSON.stringify(r.json)}`);
        assert.equal(r.json.message, message, `${method} ${p}`);
      }
    });

    it('the CLI and docker-py see an inactive swarm', async () => {
      const info = await t.docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
      assert.equal(info.stdout.trim(), 'inactive', info.stderr);
      const ls = await t.docker(['node', 'ls']);
      assert.notEqual(ls.code, 0);
      assert.match(ls.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./);
      const py = [
        'import docker',
        `c = docker.DockerClient(base_url="unix://${t.socket}", version="1.41")`,
        'try:',
        '    c.services.list()',
        'except docker.errors.APIError as e:',
        '    print(e.status_code, e.explanation)',
      ].join('\n');
      const r = await python(py, t.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `503 ${NOT_MANAGER}`);
    });
  });
});
