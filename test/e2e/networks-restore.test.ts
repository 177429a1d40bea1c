/**
 * Networks across a daemon crash (live restore): containers on a user-defined network
 * keep their addresses and reach each other by name after the daemon was SIGKILLed and
 * started again; new containers join the restored network; a published port keeps
 * serving. On stevedore names also resolve *while* the daemon is down (the resolver is a
 * process of its own — the issue asks to go past Docker there; Docker's resolver lives in
 * dockerd, so that step is stevedore-only). Both daemons share one bridge the test owns
 * (test/helpers/network.ts `SharedTestBridge`); passes against Docker 20.10
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Target, removeEngineNetworking, startTarget, targetKind, unmountBelow } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { runProcess } from '../helpers/process';
import { assertNoContainerLeftovers } from '../helpers/containers';
import { killDaemon } from '../helpers/restart';
import { alive, until } from '../helpers/wait';
import { type EngineNetwork, SharedTestBridge, freePort, freeSubnet24, httpGet, httpd, retrying } from '../helpers/network';

/**
 * Whether a process is still in the process table. A zombie counts: dockerd checks its
 * containerd's pid with kill(pid, 0), which a zombie passes, and this machine's PID 1
 * reaps orphans only after a while.
 */
function exists(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

/** Runs a program inside a container's namespaces (the daemon may be down), with the container's root. */
async function inContainer(pid: number, args: string[]): Promise<{ code: number; out: string }> {
  const r = await runProcess('nsenter', ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '--', ...args], { timeoutMs: 20_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('networks across a daemon restart (live restore)', () => {
  const kind = targetKind();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-e2e-'));
  const shared = new SharedTestBridge(kind);
  let first: Target;
  let second: Target | undefined;
  const ok = async (t: Target, args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-3000) : ''}`);
    return r.stdout;
  };

  before(async () => {
    fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({ 'live-restore': true }));
    first = await startTarget({ dir, kind, network: { bridge: shared.bridge } });
    await importBusybox(first);
  });
  after(async () => {
    const problems: string[] = [];
    let nets: EngineNetwork[] = [];
    try {
      // a test that failed between the crash and the restart: a daemon to clean up with
      if (!second && !alive(first.pid)) second = await startTarget({ dir, kind, network: { bridge: shared.bridge } });
      const last = second ?? first;
      nets = await removeEngineNetworking(last);
      await assertNoContainerLeftovers(last);
    } catch (err) {
      problems.push(String(err));
    }
    await second?.stop();
    await first.stop();
    const left = unmountBelow(dir).filter((m) => !(kind === 'docker' && m.endsWith('/netns/default')));
    if (kind === 'stevedore' && left.length) problems.push(`mounts left: ${left.join(', ')}`);
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      await shared.finish(kind, nets);
    } catch (err) {
      problems.push(String(err));
    }
    if (problems.length) throw new Error(problems.join('\n'));
  });

  it('containers keep their network and their names through a daemon crash', async () => {
    await ok(first, ['network', 'create', '--subnet', freeSubnet24(), 'app']);
    await ok(first, ['run', '-d', '--name', 'web', '--network', 'app', '--network-alias', 'www', 'busybox', ...httpd('still-here')]);
    const port = await freePort();
    await ok(first, ['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:8080`, 'busybox', ...httpd('published')]);
    await ok(first, ['run', '-d', '--name', 'client', '--network', 'app', 'busybox', 'sleep', '100000']);
    assert.equal((await ok(first, ['exec', 'client', ...retrying('timeout 3 wget -qO- http://web:8080/')])).trim(), 'still-here');
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'published');
    const before = (await ok(first, ['inspect', '-f', '{{.State.Pid}} {{.NetworkSettings.Networks.app.IPAddress}} {{.NetworkSettings.Networks.app.EndpointID}}', 'web'])).trim();
    const clientPid = Number((await ok(first, ['inspect', '-f', '{{.State.Pid}}', 'client'])).trim());

    const containerdPid = kind === 'docker' ? Number(fs.readFileSync(path.join(first.execRoot, 'containerd', 'containerd.pid'), 'utf8').trim()) : 0;
    await killDaemon(first);
    // dockerd's own containerd goes down with it; a dockerd started before its zombie is
    // reaped takes it for alive and gives up waiting for its socket
    if (containerdPid) await until(() => !exists(containerdPid), 'the crashed dockerd\'s containerd to be reaped', { tries: 1200 });
    if (kind === 'stevedore') {
      // past Docker: the resolver outlives the daemon
      const r = await inContainer(clientPid, retrying('timeout 3 wget -qO- http://www:8080/'));
      assert.equal(r.out.trim(), 'still-here', `names resolve while the daemon is down: ${r.out}`);
    }
    // the data path does not depend on the daemon: kernel DNAT (Docker's docker-proxy
    // processes die with dockerd — they run with a parent-death signal)
    if (kind === 'stevedore') assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'published');

    second = await startTarget({ dir, kind, network: { bridge: shared.bridge } });
    const s = second;
    assert.equal((await ok(s, ['inspect', '-f', '{{.State.Pid}} {{.NetworkSettings.Networks.app.IPAddress}} {{.NetworkSettings.Networks.app.EndpointID}}', 'web'])).trim(), before);
    for (const host of ['web', 'www']) {
      assert.equal((await ok(s, ['exec', 'client', ...retrying(`timeout 3 wget -qO- http://${host}:8080/`)])).trim(), 'still-here', `by ${host} after the restart`);
    }
    // a new container joins the restored network, gets a fresh address, finds the old ones
    await ok(s, ['run', '-d', '--name', 'newcomer', '--network', 'app', 'busybox', ...httpd('new')]);
    const ips = (await ok(s, ['network', 'inspect', '-f', '{{range .Containers}}{{.IPv4Address}} {{end}}', 'app'])).trim().split(' ');
    assert.equal(new Set(ips).size, 3, `three distinct addresses: ${ips.join(' ')}`);
    assert.equal((await ok(s, ['run', '--rm', '--network', 'app', 'busybox', ...retrying('timeout 3 wget -qO- http://web:8080/')])).trim(), 'still-here');
    assert.equal((await ok(s, ['exec', 'client', ...retrying('timeout 3 wget -qO- http://newcomer:8080/')])).trim(), 'new');
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'published');
    assert.equal((await ok(s, ['port', 'pub'])).trim(), `8080/tcp -> 127.0.0.1:${port}`);
    // stopping a restored container releases its port
    await ok(s, ['stop', '-t', '1', 'pub']);
    assert.equal((await ok(s, ['port', 'pub'])).trim(), '');
  });
});
