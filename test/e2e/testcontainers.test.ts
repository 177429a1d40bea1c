/**
 * testcontainers (npm, the Node library) end to end: it finds the engine through
 * DOCKER_HOST, reads `/info` and (when /.dockerenv exists, as on this machine) `GET
 * /networks/bridge` for the host to reach mapped ports on (it does not call `/version`),
 * builds an image from busybox (`GenericContainer.fromDockerfile`), starts containers
 * with exposed ports and its wait strategies (log message, health check, listening port —
 * which execs `cat /proc/net/tcp*`, `nc` and `/bin/bash` inside the container, the last
 * one missing in busybox —, HTTP, shell command, one-shot), environment, command, the
 * other create options, files copied in before start (archive PUT) and out, exec, logs,
 * reuse, a `Network` with aliases, a compose environment (compose 1.29), restart and
 * stop. The Ryuk reaper is on: its image is our own Ryuk-compatible reaper
 * (native/reaper, docs/reaper.md), built in the engine by test/helpers/ryuk.ts and named
 * by RYUK_CONTAINER_IMAGE; a child process that exits without cleaning up has its
 * container and network reaped. testcontainers keeps one client per process, so this
 * file runs one engine for all its tests. Passes against stevedore and Docker 20.10
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { runProcess } from '../helpers/process';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { RYUK_IMAGE, buildRyukImage } from '../helpers/ryuk';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { httpGet } from '../helpers/network';
import { until } from '../helpers/wait';

type TC = typeof import('testcontainers');

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as typeof import('tar-stream');

/** The entries of a tar stream: name → content (regular files only). */
async function untar(stream: NodeJS.ReadableStream): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const extract = tarStream.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      s.on('end', () => {
        if (h.type === 'file') out[h.name] = Buffer.concat(chunks).toString();
        next();
      });
      s.resume();
    });
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}

describe('testcontainers', () => {
  let t: Target;
  let tc: TC;
  let work: string;
  const IMAGE = 'tc-busybox:1';
  const saved: Record<string, string | undefined> = {};
  const expectedHost = () => (fs.existsSync('/.dockerenv') ? t.network!.bridge.address : 'localhost');

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    await buildRyukImage(t);
    // testcontainers reads its configuration from the environment once, on first use:
    // the engine's socket, the reaper's image (RYUK_CONTAINER_IMAGE, read when the module
    // loads), and a HOME of the test's own (no ~/.testcontainers.properties or
    // ~/.docker/config.json of the machine). TESTCONTAINERS_RYUK_TEST_LABEL labels the
    // reapers it starts so that another process does not reuse them (the library's own
    // test switch): the child process of the reaping step gets a reaper, and a session, of
    // its own, whose end it can show without ending this file's session.
    // It takes a file lock in os.tmpdir() and leaves the file there.
    // Its lock file (and any temp file) goes to a TMPDIR of the test's own, removed with the engine's dir.
    const tmp = fs.mkdtempSync(path.join(t.dir, 'tmp-'));
    for (const [k, v] of Object.entries({ DOCKER_HOST: t.dockerHost, RYUK_CONTAINER_IMAGE: RYUK_IMAGE, TESTCONTAINERS_RYUK_TEST_LABEL: 'true', HOME: t.env.HOME!, DOCKER_CONFIG: t.env.DOCKER_CONFIG!, TMPDIR: tmp })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    for (const k of ['TESTCONTAINERS_HOST_OVERRIDE', 'TESTCONTAINERS_RYUK_DISABLED', 'TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE', 'TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT', 'TESTCONTAINERS_RYUK_PORT', 'TESTCONTAINERS_RYUK_PRIVILEGED']) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    tc = await import('testcontainers');
    work = fs.mkdtempSync(path.join(t.dir, 'tc-'));
    fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM busybox\nCOPY index.html /www/index.html\nLABEL org.example.test=testcontainers\nCMD ["sh"]\n');
    fs.writeFileSync(path.join(work, 'index.html'), 'built into the image\n');
    // every step runs this image: built here, through the library (checked by the first step)
    await tc.GenericContainer.fromDockerfile(work).build(IMAGE, { deleteOnExit: false });
  });
  after(async () => {
    try {
      await removeAllContainers(t);
      await assertNoContainerLeftovers(t);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await t.stop();
    }
  });

  it('builds an image from busybox with GenericContainer.fromDockerfile', async () => {
    const r = await t.request('GET', `/images/${IMAGE}/json`);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).Config.Labels['org.example.test'], 'testcontainers');
    // the client found the engine and read what it reads first
    const client = await tc.getContainerRuntimeClient();
    assert.equal(client.info.containerRuntime.operatingSystemType, 'linux');
    // on a unix socket the host is localhost, unless the tests themselves run in a container
    // (/.dockerenv): then it is the gateway of `GET /networks/bridge`
    assert.equal(client.info.containerRuntime.host, expectedHost());
    assert.ok(client.info.containerRuntime.serverVersion);
  });

  it('runs the Ryuk reaper from the local image (socket bound in, labelled, auto-removed) and sends it the session', async () => {
    const client = await tc.getContainerRuntimeClient();
    const reaper = await tc.getReaper(client);
    assert.ok(reaper.containerId, 'a reaper container (not the disabled reaper)');
    const r = await t.request('GET', `/containers/${reaper.containerId}/json`);
    assert.equal(r.status, 200, r.body);
    const info = JSON.parse(r.body);
    assert.equal(info.Config.Image, RYUK_IMAGE);
    assert.equal(info.State.Running, true);
    // the image's label (reapers are never reaped) and the library's session label
    assert.equal(info.Config.Labels['org.testcontainers.ryuk'], 'true');
    assert.equal(info.Config.Labels['org.testcontainers.session-id'], reaper.sessionId);
    assert.equal(info.HostConfig.AutoRemove, true);
    assert.deepEqual(info.HostConfig.Binds, [`${t.socket}:/var/run/docker.sock:rw`]);
    // what the library starts carries the session it sent the reaper
    const c = await new tc.GenericContainer(IMAGE).withCommand(['sleep', '600']).start();
    try {
      assert.equal(c.getLabels()['org.testcontainers.session-id'], reaper.sessionId);
    } finally {
      await c.stop();
    }
    const logs = await t.docker(['logs', reaper.containerId]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /level=INFO msg=Started /);
    assert.match(logs.stdout, /msg="client connected"/);
    assert.ok(logs.stdout.includes(`msg="adding filter" type=label values="[org.testcontainers.session-id=${reaper.sessionId}]"`), logs.stdout);
  });

  it('reaps what a process left behind: its container and network go once it has exited, this session keeps its own', async () => {
    const mine = await new tc.GenericContainer(IMAGE).withCommand(['sleep', '600']).start();
    try {
      // a process that starts a network and a container on it, and exits without stopping them
      const script = [
        "const tc = require('testcontainers');",
        '(async () => {',
        '  const net = await new tc.Network().start();',
        `  const c = await new tc.GenericContainer(${JSON.stringify(IMAGE)}).withNetwork(net).withCommand(['sleep', '600']).start();`,
        '  const reaper = await tc.getReaper(await tc.getContainerRuntimeClient());',
        '  process.stdout.write(JSON.stringify({ container: c.getId(), network: net.getId(), reaper: reaper.containerId, session: reaper.sessionId }));',
        '  process.exit(0);',
        '})().catch((e) => { console.error(e); process.exit(1); });',
      ].join('\n');
      const child = await runProcess(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '..', '..', '..'), env: process.env });
      assert.equal(child.code, 0, child.stderr);
      const left = JSON.parse(child.stdout) as { container: string; network: string; reaper: string; session: string };
      const own = await tc.getReaper(await tc.getContainerRuntimeClient());
      assert.notEqual(left.session, own.sessionId, 'the child had a session of its own');
      assert.notEqual(left.reaper, own.containerId, 'and a reaper of its own');
      // nothing cleaned up after the child: its things are there when it has gone
      const status = async (p: string) => (await t.request('GET', p)).status;
      assert.equal(await status(`/containers/${left.container}/json`), 200);
      assert.equal(await status(`/networks/${left.network}`), 200);
      // the reaper's log, followed until it exits
      const reaperLog = t.docker(['logs', '-f', left.reaper]);
      // its reaper waits RYUK_RECONNECTION_TIMEOUT (10 s) without a client, removes the
      // container and then the network, and exits (its container is auto-removed)
      await until(
        async () =>
          (await status(`/containers/${left.container}/json`)) === 404 &&
          (await status(`/networks/${left.network}`)) === 404 &&
          (await status(`/containers/${left.reaper}/json`)) === 404,
        'the child\'s container, network and reaper to be gone',
        { tries: 600, everyMs: 100 },
      );
      const log = (await reaperLog).stdout;
      assert.match(log, /msg="client disconnected" address=\S+ clients=0\n/);
      assert.ok(log.includes(`msg=removed resource=container id=${left.container}\n`), log);
      assert.ok(log.includes(`msg=removed resource=network id=${left.network}\n`), log);
      assert.match(log, /msg=removed containers=1 networks=1 volumes=0 images=0\n.*msg=done\n$/);
      // this file's session is still connected: its reaper and its container stay
      const ownInfo = JSON.parse((await t.request('GET', `/containers/${own.containerId}/json`)).body);
      assert.equal(ownInfo.State.Running, true);
      assert.equal(JSON.parse((await t.request('GET', `/containers/${mine.getId()}/json`)).body).State.Running, true);
    } finally {
      await mine.stop();
    }
  });

  it('exposes a port (getMappedPort reaches httpd through 127.0.0.1) and waits for it to listen', async () => {
    const c = await new tc.GenericContainer(IMAGE)
      .withExposedPorts(8080)
      .withCommand(['httpd', '-f', '-p', '8080', '-h', '/www'])
      .withWaitStrategy(tc.Wait.forListeningPorts())
      .withStartupTimeout(30_000)
      .start();
    try {
      const port = c.getMappedPort(8080);
      assert.ok(port > 0);
      assert.equal(c.getHost(), expectedHost());
      assert.equal(await httpGet(`http://127.0.0.1:${port}/index.html`), 'built into the image\n');
      assert.equal(await httpGet(`http://${c.getHost()}:${port}/index.html`), 'built into the image\n');
    } finally {
      await c.stop();
    }
    const r = await t.request('GET', `/containers/${c.getId()}/json`);
    assert.equal(r.status, 404, 'stop() removes the container');
  });

  it('waits for a log message; withEnvironment, withCommand, exec and logs', async () => {
    const c = await new tc.GenericContainer(IMAGE)
      .withEnvironment({ GREETING: 'hello from env' })
      .withCommand(['sh', '-c', 'echo "$GREETING"; echo warming >&2; sleep 0.3; echo ready; exec sleep 600'])
      .withWaitStrategy(tc.Wait.forLogMessage('ready'))
      .withStartupTimeout(30_000)
      .start();
    try {
      const ex = await c.exec(['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 4']);
      assert.equal(ex.exitCode, 4);
      assert.equal(ex.stdout, 'hello from env\n');
      assert.equal(ex.stderr, 'oops\n');
      const withOpts = await c.exec(['sh', '-c', 'echo "$X in $(pwd) as $(id -u)"'], { env: { X: 'x1' }, workingDir: '/tmp', user: 'nobody' });
      assert.equal(withOpts.exitCode, 0);
      assert.equal(withOpts.output, 'x1 in /tmp as 65534\n');
      const logs = (await c.logs()) as Readable;
      let text = '';
      logs.on('data', (d: Buffer | string) => (text += d.toString()));
      await until(() => text.includes('ready'), `the logs (${JSON.stringify(text)})`);
      assert.ok(text.includes('hello from env'), text);
      assert.ok(text.includes('warming'), text);
      logs.destroy();
    } finally {
      await c.stop();
    }
  });

  it('waits for a health check', async () => {
    const c = await new tc.GenericContainer(IMAGE)
      .withCommand(['sh', '-c', 'sleep 0.5; touch /tmp/ok; exec sleep 600'])
      .withHealthCheck({ test: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 200, timeout: 2000, retries: 50, startPeriod: 0 })
      .withWaitStrategy(tc.Wait.forHealthCheck())
      .withStartupTimeout(30_000)
      .start();
    try {
      const r = await t.request('GET', `/containers/${c.getId()}/json`);
      assert.equal(JSON.parse(r.body).State.Health.Status, 'healthy');
    } finally {
      await c.stop();
    }
    // a check that never passes: the strategy reports it
    await assert.rejects(
      new tc.GenericContainer(IMAGE)
        .withCommand(['sleep', '600'])
        .withHealthCheck({ test: ['CMD', 'false'], interval: 100, timeout: 1000, retries: 2, startPeriod: 0 })
        .withWaitStrategy(tc.Wait.forHealthCheck())
        .withStartupTimeout(30_000)
        .start(),
      /Health check failed: unhealthy/,
    );
    await removeAllContainers(t);
  });

  it('passes the other container options through (bind mount, tmpfs, user, workdir, entrypoint, extra hosts, ulimits, capabilities, resources, name, labels)', async () => {
    const host = fs.mkdtempSync(path.join(t.dir, 'tc-bind-'));
    fs.writeFileSync(path.join(host, 'in.txt'), 'bound\n');
    fs.chmodSync(host, 0o755); // the container's user (33) reads it
    const c = await new tc.GenericContainer(IMAGE)
      .withName('tc-options')
      .withLabels({ 'org.example.step': 'options' })
      .withBindMounts([{ source: host, target: '/bound', mode: 'ro' }])
      .withTmpFs({ '/scratch': 'rw,size=1m' })
      .withUser('33:33')
      .withWorkingDir('/tmp')
      .withEntrypoint(['sh', '-c'])
      .withCommand(['echo entry; exec sleep 600'])
      .withExtraHosts([{ host: 'tc-extra', ipAddress: '10.9.8.7' }])
      .withUlimits({ nofile: { soft: 512, hard: 1024 } })
      .withAddedCapabilities('NET_ADMIN')
      .withDroppedCapabilities('CHOWN')
      .withResourcesQuota({ memory: 0.25, cpu: 0.5 })
      .withWaitStrategy(tc.Wait.forSuccessfulCommand('test -r /bound/in.txt'))
      .withStartupTimeout(30_000)
      .start();
    try {
      assert.equal(c.getName(), '/tc-options');
      assert.equal(c.getLabels()['org.example.step'], 'options');
      const r = await c.exec(['sh', '-c', 'cat /bound/in.txt; id -u; pwd; grep tc-extra /etc/hosts; grep \"open files\" /proc/1/limits; touch /bound/x 2>/dev/null || echo ro; mount | grep " /scratch "']);
      assert.equal(r.exitCode, 0, r.output);
      const lines = r.stdout.split('\n');
      assert.deepEqual(lines.slice(0, 3), ['bound', '33', '/tmp']);
      assert.match(lines[3]!, /^10\.9\.8\.7\s+tc-extra$/);
      // the container's process (an exec's own limits race runc's prlimit on Docker 20.10)
      assert.match(lines[4]!, /^Max open files\s+512\s+1024\s+files/);
      assert.equal(lines[5], 'ro');
      assert.match(lines[6]!, /^tmpfs on \/scratch type tmpfs \(rw,.*size=1024k/);
      const info = JSON.parse((await t.request('GET', `/containers/${c.getId()}/json`)).body);
      assert.deepEqual(info.HostConfig.CapAdd, ['NET_ADMIN']);
      assert.deepEqual(info.HostConfig.CapDrop, ['CHOWN']);
      assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024);
      assert.equal(info.HostConfig.NanoCpus, 500_000_000);
      const caps = await c.exec(['sh', '-c', 'grep CapEff /proc/self/status']);
      // as uid 33 the effective set is empty; the bounding set shows the change
      const bnd = await c.exec(['sh', '-c', 'grep CapBnd /proc/self/status'], { user: '0' });
      const mask = BigInt('0x' + bnd.stdout.trim().split(/\s+/)[1]);
      assert.equal((mask >> 12n) & 1n, 1n, `NET_ADMIN in ${bnd.stdout}`);
      assert.equal(mask & 1n, 0n, `no CHOWN in ${bnd.stdout}`);
      assert.match(caps.stdout, /^CapEff:\s+0+$/m);
    } finally {
      await c.stop();
    }
  });

  it('waits for an HTTP answer and for a one-shot container to exit 0', async () => {
    const c = await new tc.GenericContainer(IMAGE)
      .withExposedPorts(8080)
      .withCommand(['sh', '-c', 'sleep 0.3; exec httpd -f -p 8080 -h /www'])
      .withWaitStrategy(tc.Wait.forHttp('/index.html', 8080).forStatusCode(200).forResponsePredicate((body) => body === 'built into the image\n'))
      .withStartupTimeout(30_000)
      .start();
    await c.stop();
    const once = await new tc.GenericContainer(IMAGE).withCommand(['sh', '-c', 'echo done']).withWaitStrategy(tc.Wait.forOneShotStartup()).withStartupTimeout(30_000).start();
    const r = JSON.parse((await t.request('GET', `/containers/${once.getId()}/json`)).body);
    assert.equal(r.State.Status, 'exited');
    assert.equal(r.State.ExitCode, 0);
    await once.stop();
    await assert.rejects(
      new tc.GenericContainer(IMAGE).withCommand(['sh', '-c', 'exit 3']).withWaitStrategy(tc.Wait.forOneShotStartup()).withStartupTimeout(30_000).start(),
    );
    await removeAllContainers(t);
  });

  it('reuses a container with withReuse (found by its hash label, limit=1, a status filter list)', async () => {
    const make = (cmd = 'sleep') => new tc.GenericContainer(IMAGE).withCommand([cmd, '600']).withLabels({ 'org.example.step': 'reuse' }).withReuse();
    const first = await make().start();
    const second = await make().start();
    assert.equal(second.getId(), first.getId());
    // a stopped one (status exited) is found too, and started again
    const stop = await t.request('POST', `/containers/${first.getId()}/stop?t=0`);
    assert.equal(stop.status, 204);
    const third = await make().start();
    assert.equal(third.getId(), first.getId());
    assert.equal(JSON.parse((await t.request('GET', `/containers/${first.getId()}/json`)).body).State.Running, true);
    // another configuration has another hash: a new container
    const other = await make('/bin/sleep').start();
    assert.notEqual(other.getId(), first.getId());
    await removeAllContainers(t);
  });

  it('copies files and content in before start (archive PUT) and an archive out', async () => {
    const src = path.join(work, 'copied.txt');
    fs.writeFileSync(src, 'a file from the host\n');
    const c = await new tc.GenericContainer(IMAGE)
      .withCopyFilesToContainer([{ source: src, target: '/data/copied.txt', mode: 0o640 }])
      .withCopyContentToContainer([{ content: 'inline content\n', target: '/data/inline.txt' }])
      .withCommand(['sleep', '600'])
      .start();
    try {
      const ex = await c.exec(['sh', '-c', 'cat /data/copied.txt /data/inline.txt; stat -c %a /data/copied.txt']);
      assert.equal(ex.exitCode, 0, ex.output);
      assert.equal(ex.stdout, 'a file from the host\ninline content\n640\n');
      // into the running container too
      await c.copyContentToContainer([{ content: Buffer.from('later\n'), target: '/data/later.txt' }]);
      assert.equal((await c.exec(['cat', '/data/later.txt'])).stdout, 'later\n');
      const files = await untar(await c.copyArchiveFromContainer('/data'));
      assert.deepEqual(
        Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
        { 'data/copied.txt': 'a file from the host\n', 'data/inline.txt': 'inline content\n', 'data/later.txt': 'later\n' },
      );
    } finally {
      await c.stop();
    }
  });

  it('puts containers on a Network where aliases resolve', async () => {
    const network = await new tc.Network().start();
    try {
      const web = await new tc.GenericContainer(IMAGE)
        .withNetwork(network)
        .withNetworkAliases('tc-web', 'tc-web-2')
        .withCommand(['sh', '-c', 'echo on the network > /www/index.html; exec httpd -f -p 8080 -h /www'])
        .withExposedPorts(8080)
        .withWaitStrategy(tc.Wait.forListeningPorts())
        .withStartupTimeout(30_000)
        .start();
      const client = await new tc.GenericContainer(IMAGE).withNetwork(network).withCommand(['sleep', '600']).start();
      try {
        // with aliases, testcontainers creates on the default bridge and connects to the network
        assert.deepEqual(web.getNetworkNames().sort(), [network.getName(), 'bridge'].sort());
        assert.deepEqual(client.getNetworkNames(), [network.getName()]);
        assert.match(web.getIpAddress(network.getName()), /^\d+\.\d+\.\d+\.\d+$/);
        for (const host of ['tc-web', 'tc-web-2']) {
          const r = await client.exec(['sh', '-c', `for i in $(seq 50); do wget -qO- http://${host}:8080/ && exit 0; sleep 0.1; done; exit 1`]);
          assert.equal(r.exitCode, 0, `${host}: ${r.output}`);
          assert.equal(r.stdout, 'on the network\n');
        }
      } finally {
        await client.stop();
        await web.stop();
      }
    } finally {
      await network.stop();
    }
    const r = await t.request('GET', `/networks/${network.getId()}`);
    assert.equal(r.status, 404);
  });

  it('brings up a DockerComposeEnvironment with the compose 1.29 binary (standalone)', async () => {
    const dir = fs.mkdtempSync(path.join(t.dir, 'tc-compose-'));
    fs.writeFileSync(
      path.join(dir, 'docker-compose.yml'),
      [
        'version: "2.4"',
        'services:',
        '  web:',
        `    image: ${IMAGE}`,
        '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
        '    ports: ["8080"]',
        '    environment:',
        '      ROLE: web',
        '  probe:',
        `    image: ${IMAGE}`,
        '    command: ["sh", "-c", "echo probe up; exec sleep 600"]',
        '',
      ].join('\n'),
    );
    // the library runs `docker compose` (v2) unless told the executable is standalone
    const env = await new tc.DockerComposeEnvironment(dir, 'docker-compose.yml')
      .withProjectName('tcnode')
      .withClientOptions({ executable: { standalone: true, executablePath: 'docker-compose' } })
      .withWaitStrategy('tcnode_probe_1', tc.Wait.forLogMessage('probe up'))
      .withStartupTimeout(60_000)
      .up();
    try {
      // compose 1.29 names containers project_service_1
      const web = env.getContainer('tcnode_web_1');
      assert.equal(await httpGet(`http://127.0.0.1:${web.getMappedPort(8080)}/index.html`), 'built into the image\n');
      assert.equal((await web.exec(['sh', '-c', 'echo $ROLE'])).stdout, 'web\n');
      // the services reach each other by name on the project's network
      const probe = env.getContainer('tcnode_probe_1');
      const r = await probe.exec(['sh', '-c', 'for i in $(seq 50); do wget -qO- http://web:8080/index.html && exit 0; sleep 0.1; done; exit 1']);
      assert.equal(r.exitCode, 0, r.output);
      assert.equal(r.stdout, 'built into the image\n');
    } finally {
      await env.down();
    }
    const left = await t.request('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=tcnode'] }))}`);
    assert.deepEqual(JSON.parse(left.body), []);
    const nets = await t.request('GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ name: ['tcnode_default'] }))}`);
    assert.deepEqual(JSON.parse(nets.body), []);
  });

  it('restarts a container (ports mapped again, wait strategy again) and stops it', async () => {
    const c = await new tc.GenericContainer(IMAGE)
      .withExposedPorts(8080)
      .withCommand(['sh', '-c', 'date +%s%N >> /tmp/starts; exec httpd -f -p 8080 -h /www'])
      // not a log-message wait: after a restart the library reads the logs `since` the new
      // State.StartedAt, and a line the process wrote before the engine noted that time is
      // missed (it happens with Docker 20.10 too); the listening-port wait has no such race
      .withWaitStrategy(tc.Wait.forListeningPorts())
      .withStartupTimeout(30_000)
      .start();
    try {
      await c.restart();
      const port = c.getMappedPort(8080);
      assert.equal(await httpGet(`http://127.0.0.1:${port}/index.html`), 'built into the image\n');
      const starts = await c.exec(['sh', '-c', 'wc -l < /tmp/starts']);
      assert.equal(starts.stdout.trim(), '2');
      const stopped = await c.stop({ remove: false });
      assert.ok(stopped);
      const r = await t.request('GET', `/containers/${c.getId()}/json`);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).State.Running, false);
    } finally {
      await removeAllContainers(t);
    }
  });
});
