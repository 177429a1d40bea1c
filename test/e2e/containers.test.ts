/**
 * Containers end to end with the unmodified docker CLI: run, exit codes, options that
 * must take effect inside the container, the lifecycle commands, logs, ps filters,
 * inspect, stats, top, events, OOM, and body validation. Passes against stevedore and
 * against Docker's own engine (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Target, startTarget, targetKind } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, dockerOk, removeAllContainers } from '../helpers/containers';

describe('containers', () => {
  let t: Target;
  const ok = (args: string[], opts?: { input?: string }) => dockerOk(t, args, opts);

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('docker run --rm busybox echo hi prints hi and leaves nothing behind', async () => {
    assert.equal(await ok(['run', '--rm', 'busybox', 'echo', 'hi']), 'hi\n');
    assert.equal((await ok(['ps', '-aq'])).trim(), '');
  });

  it('reports the exit code of the command, 127 and 126 for missing and non-executable commands', async () => {
    assert.equal((await t.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await t.docker(['run', '--rm', 'busybox', 'nosuch']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /OCI runtime create failed: .*exec: "nosuch": executable file not found in \$PATH/);
    const noexec = await t.docker(['run', '--rm', 'busybox', '/etc/passwd']);
    assert.equal(noexec.code, 126, noexec.stderr);
    assert.match(noexec.stderr, /permission denied/);
  });

  it('an --rm container survives docker restart, keeps its files, and goes at its next exit', async () => {
    const id = (await ok(['run', '-d', '--rm', '--name', 'rm-restart', 'busybox', 'sh', '-c', 'echo kept >> /f; sleep 1000'])).trim();
    if (t.kind === 'stevedore') {
      // its throwaway layer is mounted volatile (src/engine/mount/volatile.ts)
      const overlays = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(t.dir) && / - overlay /.test(l));
      assert.ok(overlays.some((l) => /volatile/.test(l)), overlays.join('\n'));
    }
    const started = (await ok(['inspect', '-f', '{{.State.StartedAt}}', id])).trim();
    await ok(['restart', '-t', '1', 'rm-restart']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Running}}', id])).trim(), 'true');
    assert.notEqual((await ok(['inspect', '-f', '{{.State.StartedAt}}', id])).trim(), started);
    assert.equal(await ok(['exec', 'rm-restart', 'cat', '/f']), 'kept\nkept\n');
    await ok(['stop', '-t', '1', 'rm-restart']);
    for (let i = 0; i < 100 && (await t.docker(['inspect', id])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.notEqual((await t.docker(['inspect', id])).code, 0, 'removed after its exit');
  });

  it('applies -e, -w, -u, --hostname and --label', async () => {
    const out = await ok(['run', '--rm', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', '--hostname', 'hh', 'busybox', 'sh', '-c', 'echo $FOO $(pwd) $(id -u) $(hostname) $(cat /etc/hostname)']);
    assert.equal(out, 'bar /tmp 65534 hh hh\n');
    const id = (await ok(['create', '--label', 'team=blue', 'busybox', 'true'])).trim();
    assert.equal((await ok(['inspect', '-f', '{{index .Config.Labels "team"}}', id])).trim(), 'blue');
    await ok(['rm', id]);
  });

  it('applies --read-only, --init, --cap-drop, -m and --cpus', async () => {
    const ro = await t.docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.match(await ok(['run', '--rm', '--init', 'busybox', 'cat', '/proc/1/cmdline']), /docker-init/);
    assert.match(await ok(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+0000000000000000/);
    const limits = await ok(['run', '--rm', '-m', '64m', '--cpus', '0.5', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max']);
    assert.match(limits, /^67108864\n(50000|50000 100000)\n$/);
  });

  it('generates /etc/hosts and a resolv.conf without loopback nameservers', async () => {
    const out = await ok(['run', '--rm', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    const [hosts, resolv] = out.split('---\n');
    assert.match(hosts!, /^127\.0\.0\.1\s+localhost$/m);
    assert.doesNotMatch(resolv!, /^nameserver\s+127\./m);
  });

  it('runs detached: logs (--tail, -t, -f), top, stats, pause/unpause, update, rename, kill, wait, restart, stop, rm -f', async () => {
    const id = (await ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 5 ]; do echo line$i; i=$((i+1)); done; exec sleep 1000'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes('line4'); i++) logs = await ok(['logs', 'ticker']);
    assert.equal(logs, 'line0\nline1\nline2\nline3\nline4\n');
    assert.equal(await ok(['logs', '--tail', '2', 'ticker']), 'line3\nline4\n');
    assert.match(await ok(['logs', '-t', '--tail', '1', 'ticker']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line4\n$/);

    const topOut = await ok(['top', 'ticker']);
    assert.match(topOut, /PID/);
    assert.match(topOut, /sleep 1000/);
    const stats = JSON.parse(await ok(['stats', '--no-stream', '--format', '{{json .}}', 'ticker'])) as { Name: string; MemUsage: string };
    assert.equal(stats.Name, 'ticker');
    assert.match(stats.MemUsage, /B \/ /);

    await ok(['pause', 'ticker']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'ticker'])).trim(), 'paused true');
    assert.match(await ok(['ps', '--filter', 'status=paused', '--format', '{{.Names}}']), /ticker/);
    await ok(['unpause', 'ticker']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'ticker'])).trim(), 'running');

    await ok(['update', '-m', '128m', '--memory-swap', '256m', 'ticker']);
    assert.equal((await ok(['inspect', '-f', '{{.HostConfig.Memory}}', 'ticker'])).trim(), String(128 * 1024 * 1024));

    await ok(['rename', 'ticker', 'tocker']);
    assert.equal((await ok(['inspect', '-f', '{{.Name}}', id.slice(0, 12)])).trim(), '/tocker');

    const pid1 = (await ok(['inspect', '-f', '{{.State.Pid}}', 'tocker'])).trim();
    const waiter = t.docker(['wait', 'tocker']);
    await ok(['kill', '-s', 'USR1', 'tocker']); // sh as pid 1 has no handler: ignored
    await ok(['kill', '-s', 'KILL', 'tocker']);
    assert.equal((await waiter).stdout.trim(), '137');
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'tocker'])).trim(), 'exited 137');
    const notRunning = await t.docker(['kill', 'tocker']);
    assert.notEqual(notRunning.code, 0);
    assert.match(notRunning.stderr, /is not running/);

    await ok(['restart', '-t', '1', 'tocker']);
    const pid2 = (await ok(['inspect', '-f', '{{.State.Pid}} {{.State.Running}}', 'tocker'])).trim();
    assert.notEqual(pid2, `${pid1} true`);
    assert.match(pid2, / true$/);
    await ok(['stop', '-t', '1', 'tocker']);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'tocker'])).trim(), 'exited 137');

    await ok(['start', 'tocker']);
    const rm = await t.docker(['rm', 'tocker']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
    await ok(['rm', '-f', 'tocker']);
    const gone = await t.docker(['inspect', 'tocker']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No such (container|object): tocker/);
  });

  it('follows logs until the container stops', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sh', '-c', 'echo a; sleep 1; echo b'])).trim();
    assert.equal(await ok(['logs', '-f', id]), 'a\nb\n');
    await ok(['rm', id]);
  });

  it('separates stdout and stderr in logs and run', async () => {
    const r = await t.docker(['run', '--name', 'streams', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const l = await t.docker(['logs', 'streams']);
    assert.equal(l.stdout, 'out\n');
    assert.equal(l.stderr, 'err\n');
    await ok(['rm', 'streams']);
  });

  it('passes stdin with -i', async () => {
    assert.equal(await ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'hello\n' }), 'hello\n');
  });

  it('lists with ps filters and resolves names, prefixes and ids', async () => {
    const a = (await ok(['create', '--name', 'fa', '--label', 'k=1', 'busybox', 'true'])).trim();
    assert.equal((await t.docker(['run', '--name', 'fb', '--label', 'k=2', 'busybox', 'sh', '-c', 'exit 7'])).code, 7);
    const names = async (...args: string[]) => (await ok(['ps', '-a', '--format', '{{.Names}}', ...args])).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await names('--filter', 'label=k=1'), ['fa']);
    assert.deepEqual(await names('--filter', 'label=k'), ['fa', 'fb']);
    assert.deepEqual(await names('--filter', 'status=created'), ['fa']);
    assert.deepEqual(await names('--filter', 'exited=7'), ['fb']);
    assert.deepEqual(await names('--filter', 'name=fa'), ['fa']);
    assert.deepEqual(await names('--filter', `id=${a.slice(0, 12)}`), ['fa']);
    assert.deepEqual(await names('--filter', 'since=fa'), ['fb']);
    assert.deepEqual(await names('--filter', 'before=fb'), ['fa']);
    assert.deepEqual(await names('--filter', 'ancestor=busybox', '--filter', 'label=k'), ['fa', 'fb']);
    assert.equal((await ok(['ps', '--format', '{{.Names}}', '--filter', 'label=k'])).trim(), '');
    const bad = await t.docker(['ps', '--filter', 'nosuch=1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Invalid filter 'nosuch'/);
    assert.equal((await ok(['inspect', '-f', '{{.Id}}', a.slice(0, 10)])).trim(), a);
    const dup = await t.docker(['create', '--name', 'fa', 'busybox', 'true']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, new RegExp(`Conflict\\. The container name "/fa" is already in use by container "${a}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`));
    await ok(['rm', 'fa', 'fb']);
  });

  it('inspect has Docker\'s shape', async () => {
    const id = (await ok(['create', '--name', 'shape', 'busybox', 'echo', 'x'])).trim();
    const [j] = JSON.parse(await ok(['inspect', '--size', id])) as Array<Record<string, unknown>>;
    for (const k of ['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath', 'Name', 'RestartCount', 'Driver', 'Platform', 'MountLabel', 'ProcessLabel', 'AppArmorProfile', 'ExecIDs', 'HostConfig', 'GraphDriver', 'SizeRw', 'SizeRootFs', 'Mounts', 'Config', 'NetworkSettings']) {
      assert.ok(k in j!, `missing ${k}`);
    }
    assert.equal(j!.Path, 'echo');
    assert.deepEqual(j!.Args, ['x']);
    assert.equal(j!.Name, '/shape');
    const st = j!.State as Record<string, unknown>;
    assert.equal(st.Status, 'created');
    assert.equal(st.Running, false);
    assert.equal(st.ExitCode, 0);
    assert.equal((j!.Config as { Image: string }).Image, 'busybox');
    await ok(['rm', id]);
  });

  it('a memory-limited container that allocates too much reports 137 and OOMKilled', async () => {
    const r = await t.docker(['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
    assert.equal(r.code, 137, r.stderr);
    // Docker 20.10 on this host's hybrid cgroup layout misses containerd's OOM event and
    // reports OOMKilled false; stevedore's shim reads memory.oom_control / memory.events.
    const expected = t.kind === 'docker' ? /^(true|false) 137$/ : /^true 137$/;
    assert.match((await ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom'])).trim(), expected);
    await ok(['rm', 'oom']);
  });

  // Docker 20.10 can report a FinishedAt before the StartedAt here (containerd's start
  // reply arrives after the exit); stevedore takes StartedAt before it starts the process.
  it('records a finish no earlier than the start, even for a command that ends at once', { skip: targetKind() === 'docker' ? 'Docker 20.10 reports FinishedAt < StartedAt here' : false }, async () => {
    for (let i = 0; i < 3; i++) {
      await ok(['run', '--name', `quick${i}`, 'busybox', 'true']);
      const st = JSON.parse(await ok(['inspect', `quick${i}`]))[0].State as { StartedAt: string; FinishedAt: string; ExitCode: number };
      assert.equal(st.ExitCode, 0);
      assert.ok(Date.parse(st.StartedAt) <= Date.parse(st.FinishedAt), `${st.StartedAt} <= ${st.FinishedAt}`);
      await ok(['rm', `quick${i}`]);
    }
  });

  it('docker commit makes an image of the writable layer, with changes, pausing the container', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['run', '-d', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo data > /made; rm /bin/ls; touch /ready; sleep 300']);
    for (let i = 0; i < 100 && (await t.docker(['exec', 'tocommit', 'test', '-e', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const id = (await ok(['commit', '-c', 'CMD ["cat", "/made"]', '-m', 'snapshot', '-a', 'me', 'tocommit', 'committed:1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok(['run', '--rm', 'committed:1']), 'data\n');
    const ls = await t.docker(['run', '--rm', 'committed:1', 'ls', '/']);
    assert.equal(ls.code, 127, 'the deletion of /bin/ls is part of the layer (a whiteout)');
    const img = JSON.parse(await ok(['image', 'inspect', 'committed:1']))[0] as { Comment: string; Author: string; Container: string; RootFS: { Layers: string[] }; Config: { Cmd: string[] } };
    assert.equal(img.Comment, 'snapshot');
    assert.equal(img.Author, 'me');
    assert.deepEqual(img.Config.Cmd, ['cat', '/made']);
    assert.equal(img.RootFS.Layers.length, 2);
    const state = JSON.parse(await ok(['inspect', 'tocommit']))[0].State as { Running: boolean; Paused: boolean };
    assert.ok(state.Running && !state.Paused, 'running again after the commit');
    const until = Math.floor(Date.now() / 1000) + 1;
    const evs = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'container=tocommit', '--format', '{{.Action}}']);
    const actions = evs.trim().split('\n');
    assert.ok(actions.includes('commit'), actions.join(','));
    assert.ok(actions.indexOf('pause') < actions.indexOf('commit') && actions.indexOf('commit') < actions.indexOf('unpause'), actions.join(','));
    await ok(['rm', '-f', 'tocommit']);
    await ok(['rmi', 'committed:1']);
  });

  it('publishes container events in order, with filters and since/until', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await t.docker(['run', '--rm', '--name', 'evt', '--label', 'ev=1', 'busybox', 'sh', '-c', 'exit 2']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const out = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'container=evt', '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.ev}} {{.Actor.Attributes.exitCode}}']);
    const actions = out.trim().split('\n');
    const last = actions.slice(-5);
    assert.deepEqual(last.map((l) => l.split(' ')[0]), ['create', 'attach', 'start', 'die', 'destroy']);
    assert.ok(last.every((l) => l.split(' ')[1] === 'evt' && l.split(' ')[2] === '1'));
    assert.equal(last[3]!.split(' ')[3], '2');
    const dies = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'event=die', '--filter', 'label=ev=1', '--format', '{{.Action}}']);
    assert.ok(dies.trim().split('\n').every((l) => l === 'die'));
  });

  it('answers malformed create bodies with 400 and a JSON message, unknown images with 404', async () => {
    // Docker 20.10 answers 500 for bodies its JSON decoder rejects (later versions answer
    // 400, as we do).
    const invalid = t.kind === 'docker' ? 500 : 400;
    const bad = await t.request('POST', '/v1.41/containers/create', { body: '{bad', headers: { 'Content-Type': 'application/json' } });
    assert.equal(bad.status, invalid);
    assert.equal(typeof JSON.parse(bad.body).message, 'string');
    const wrongType = await t.request('POST', '/v1.41/containers/create', { body: JSON.stringify({ Image: 'busybox', Env: 'x' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(wrongType.status, invalid);
    const noImage = await t.request('POST', '/v1.41/containers/create', { body: JSON.stringify({ Image: 'nosuchimage:latest' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(noImage.status, 404);
    assert.match(JSON.parse(noImage.body).message, /No such image: nosuchimage:latest/);
    const badName = await t.request('POST', '/v1.41/containers/create?name=a%20b', { body: JSON.stringify({ Image: 'busybox' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(badName.status, 400);
    assert.match(JSON.parse(badName.body).message, /Invalid container name \(a b\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed/);
    const created = await t.request('POST', '/v1.41/containers/create', { body: JSON.stringify({ Image: 'busybox', Cmd: ['true'] }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(created.status, 201);
    const cr = JSON.parse(created.body) as { Id: string; Warnings: unknown };
    assert.deepEqual(cr.Warnings, []);
    const missing = await t.request('GET', '/v1.41/containers/nosuch/json');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).message, 'No such container: nosuch');
    const start = await t.request('POST', `/v1.41/containers/${cr.Id}/start`);
    assert.equal(start.status, 204);
    const wait = await t.request('POST', `/v1.41/containers/${cr.Id}/wait`);
    assert.equal(wait.status, 200);
    assert.equal(JSON.parse(wait.body).StatusCode, 0);
    const again = await t.request('POST', `/v1.41/containers/${cr.Id}/stop`);
    assert.equal(again.status, 304);
    const del = await t.request('DELETE', `/v1.41/containers/${cr.Id}`);
    assert.equal(del.status, 204);
  });

  it('prunes stopped containers', async () => {
    const id = (await ok(['create', 'busybox', 'true'])).trim();
    const out = await ok(['container', 'prune', '-f']);
    assert.match(out, new RegExp(id));
    assert.equal(fs.existsSync(path.join(t.dataRoot, 'containers', id)), false);
  });
});
