/**
 * docker-compose 1.29 (Debian's, /usr/bin/docker-compose) end to end (issue #16): the
 * project in fixtures/compose — a built service (COPY, ENV, HEALTHCHECK), an image
 * service with an env_file that waits for it (`depends_on: condition: service_healthy`),
 * a named volume, a user network with an alias, a port published on 127.0.0.1 — through
 * `up -d`, `ps`, a second `up -d` that recreates nothing, `logs -f`, `exec` (with and
 * without a tty), `run --rm`, a forced recreate, `restart`, `scale`, `stop`, `start` and
 * `down -v --rmi local`, each checked on what the user sees. One engine with a bridge
 * of the test's own; passes against Docker 20.10 (STEVEDORE_TEST_TARGET=docker).
 *
 * Compose talks the API version the daemon offers (`COMPOSE_API_VERSION` is removed
 * from its environment: docker-py then asks GET /version), except the events and
 * recreate steps, which pin 1.41 as compose 1.29 users must with a newer engine (it
 * reads the events' `id`, gone at 1.52, and the image's `ContainerConfig`, gone at
 * 1.45). Its `exec` and `run` go through the docker CLI. docs/clients.md has the notes.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importBusybox } from '../helpers/busybox';
import { dockerOk, removeAllContainers } from '../helpers/containers';
import { freePort, httpGet } from '../helpers/network';
import { type CliResult, runProcess } from '../helpers/process';
import { type Target, startTarget } from '../helpers/target';
import { until } from '../helpers/wait';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'e2e', 'fixtures', 'compose');
const COMPOSE = '/usr/bin/docker-compose';
const PAGE = 'hello from the built app';

/** Quotes one word for sh. */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('docker-compose 1.29', () => {
  let t: Target;
  let port: number;
  // compose keeps [-_a-z0-9] of a project name: a hex suffix survives as it is
  const project = `stvc${crypto.randomBytes(4).toString('hex')}`;
  const name = (svc: string, n = 1) => `${project}_${svc}_${n}`;
  const label = `label=com.docker.compose.project=${project}`;

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...t.env, WEB_PORT: String(port), ...extra };
    if (!('COMPOSE_API_VERSION' in extra)) delete e.COMPOSE_API_VERSION;
    delete e.COMPOSE_FILE;
    delete e.COMPOSE_PROJECT_NAME;
    return e;
  };
  const base = () => ['-f', path.join(FIXTURE, 'docker-compose.yml'), '-p', project, '--ansi', 'never'];

  /**
   * Runs a command in the project's folder to its end; killed after `timeoutMs` (90 s).
   * Its stdin is /dev/null, or with `openStdin` a pipe that stays open until it exits, as
   * a terminal nobody types on (given an ended stdin, `script` sends its terminal a NUL byte).
   */
  const run = (cmd: string, args: string[], e: NodeJS.ProcessEnv, o: { openStdin?: boolean; timeoutMs?: number } = {}): Promise<CliResult> =>
    runProcess(cmd, args, { env: e, cwd: FIXTURE, openStdin: o.openStdin, timeoutMs: o.timeoutMs ?? 90_000 });
  const compose = (args: string[], extra?: NodeJS.ProcessEnv) => run(COMPOSE, [...base(), ...args], env(extra));
  /**
   * Starts a compose command that runs until it is killed (`logs -f`, `events`): what it
   * printed so far (stdout and stderr), whether it has exited, and `stop` (SIGTERM, then
   * waits for it to end).
   */
  const follow = (args: string[], extra?: NodeJS.ProcessEnv) => {
    const p = spawn(COMPOSE, [...base(), ...args], { env: env(extra), cwd: FIXTURE, stdio: ['ignore', 'pipe', 'pipe'] });
    const f = {
      out: '',
      exited: false,
      stop: async () => {
        if (!f.exited) process.kill(p.pid!, 'SIGTERM');
        await closed;
      },
    };
    const closed = new Promise<void>((resolve) => p.on('close', () => ((f.exited = true), resolve())));
    p.on('error', (e) => (f.out += `cannot run ${COMPOSE}: ${e.message}\n`)); // no crash of the test process; the assertions say what is missing
    p.stdout.on('data', (c: Buffer) => (f.out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (f.out += c.toString()));
    return f;
  };
  /** compose under a pseudo-terminal (util-linux `script`), for the steps that allocate a tty */
  const composeTty = (args: string[]) => run('script', ['-qec', [COMPOSE, ...base(), ...args].map(shq).join(' '), '/dev/null'], env(), { openStdin: true });
  const why = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-3000) : ''}`;
  const composeOk = async (args: string[], extra?: NodeJS.ProcessEnv) => {
    const r = await compose(args, extra);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${why(r)}`);
    return r;
  };
  const ok = (args: string[]) => dockerOk(t, args);
  const inspect = async (c: string) => JSON.parse(await ok(['inspect', c]))[0] as { Id: string; State: { Status: string; StartedAt: string; Health?: { Status: string } } };
  const projectContainers = async (all = true) => (await ok(['ps', ...(all ? ['-a'] : []), '--filter', label, '--format', '{{.Names}}'])).trim().split('\n').filter(Boolean).sort();
  const healthy = (c: string) => until(async () => (await inspect(c)).State.Health?.Status === 'healthy', `${c} healthy`);
  /** the lines of `docker-compose ps` that start with a container's name */
  const psLine = (ps: string, c: string) => ps.split('\n').find((l) => l.startsWith(`${c} `)) ?? '';
  /** whether a TCP connection to the published port is refused */
  const refused = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/index.html`, { timeout: 2000 }, (res) => {
        res.resume();
        resolve(false);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET'));
    });

  const ids: Record<string, string> = {};
  const started: Record<string, string> = {};

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    port = await freePort();
  });

  after(async () => {
    const problems: string[] = [];
    try {
      // a failed step leaves the project up: the user's way out
      const down = await compose(['down', '-v', '--rmi', 'local', '--remove-orphans']);
      if (down.code !== 0) problems.push(`down -v --rmi local in after: ${why(down)}`);
      const left = {
        containers: (await t.docker(['ps', '-aq', '--filter', label])).stdout.trim(),
        networks: (await t.docker(['network', 'ls', '-q', '--filter', label])).stdout.trim(),
        volumes: (await t.docker(['volume', 'ls', '-q', '--filter', label])).stdout.trim(),
        images: (await t.docker(['images', '-q', `${project}_app`])).stdout.trim(),
      };
      for (const [k, v] of Object.entries(left)) if (v) problems.push(`${k} of the project left: ${v.replace(/\n/g, ' ')}`);
      await removeAllContainers(t);
    } finally {
      await t.stop();
    }
    assert.deepEqual(problems, []);
  });

  it('up -d builds the app, creates the volume, the network and both containers, web only once app is healthy', async () => {
    const r = await composeOk(['up', '-d']);
    assert.match(r.stderr, new RegExp(`Creating network "${project}_back" with the default driver`));
    assert.match(r.stderr, new RegExp(`Creating volume "${project}_data" with default driver`));
    assert.match(r.stderr, /Building app/);
    assert.match(r.stdout + r.stderr, new RegExp(`Successfully tagged ${project}_app:latest`));
    assert.match(r.stderr, new RegExp(`Creating ${name('app')} \\.\\.\\. done`));
    assert.match(r.stderr, new RegExp(`Creating ${name('web')} \\.\\.\\. done`));
    assert.deepEqual(await projectContainers(), [name('app'), name('web')]);
    // web was started after app turned healthy: its fetch over the network (app serves
    // only a second after it starts) worked
    let webLog = '';
    await until(async () => /fetch/.test((webLog = (await composeOk(['logs', '--no-color', 'web'])).stdout)), 'web\'s fetch in its log');
    assert.match(webLog, /^web_1\s+\| web fetched the app page$/m, webLog);
    const app = await inspect(name('app'));
    const web = await inspect(name('web'));
    assert.equal(app.State.Health?.Status, 'healthy');
    assert.equal(web.State.Status, 'running');
    ids.app = app.Id;
    ids.web = web.Id;
    started.app = app.State.StartedAt;
    started.web = web.State.StartedAt;
    // the image's ENV, COPY and HEALTHCHECK, the service's labels
    const img = JSON.parse(await ok(['image', 'inspect', `${project}_app`]))[0];
    assert.ok(img.Config.Env.includes('APP_NAME=compose-app'), JSON.stringify(img.Config.Env));
    assert.deepEqual(img.Config.Healthcheck.Test, ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/index.html || exit 1']);
    const labels = JSON.parse(await ok(['inspect', '-f', '{{json .Config.Labels}}', name('web')]));
    assert.equal(labels['com.docker.compose.project'], project);
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.equal(labels['com.docker.compose.oneoff'], 'False');
  });

  it('ps shows both containers up, app healthy, web with its published port', async () => {
    const ps = (await composeOk(['ps'])).stdout;
    assert.match(psLine(ps, name('app')), /\bUp \(healthy\)/, ps);
    assert.match(psLine(ps, name('web')), new RegExp(`\\bUp\\b.*127\\.0\\.0\\.1:${port}->8080/tcp`), ps);
    const q = (await composeOk(['ps', '-q'])).stdout.trim().split('\n').sort();
    assert.deepEqual(q, [ids.app, ids.web].sort());
    assert.deepEqual((await composeOk(['ps', '--services'])).stdout.trim().split('\n').sort(), ['app', 'web']);
  });

  it('the published port answers on 127.0.0.1 with the page web fetched from app over the network into the volume', async () => {
    assert.equal((await httpGet(`http://127.0.0.1:${port}/via-network.html`)).trim(), PAGE);
    // the named volume holds both files (as another container sees it)
    const ls = await ok(['run', '--rm', '-v', `${project}_data:/v`, 'busybox', 'ls', '/v']);
    assert.deepEqual(ls.trim().split('\n').sort(), ['index.html', 'via-network.html']);
  });

  it('a second up -d recreates nothing: every container is up-to-date', async () => {
    const r = await composeOk(['up', '-d']);
    assert.match(r.stderr, new RegExp(`${name('app')} is up-to-date`));
    assert.match(r.stderr, new RegExp(`${name('web')} is up-to-date`));
    assert.doesNotMatch(r.stderr, /Creating|Recreating|Starting|Building/);
    for (const svc of ['app', 'web']) {
      const c = await inspect(name(svc));
      assert.equal(c.Id, ids[svc]);
      assert.equal(c.State.StartedAt, started[svc]);
    }
  });

  it('logs -f prints what both services wrote and follows new output until it is killed', async () => {
    const f = follow(['logs', '-f', '--no-color']);
    try {
      const has = (re: RegExp) => () => re.test(f.out);
      await until(has(/^app_1\s+\| compose-app ready \(blue\)$/m), `app's line in:\n${f.out}`);
      await until(has(/^web_1\s+\| web says hello-from-the-env-file$/m), `web's env_file line in:\n${f.out}`);
      await until(has(/^web_1\s+\| web fetched the app page$/m), `web's fetch line in:\n${f.out}`);
      assert.match(f.out, new RegExp(`Attaching to (${name('web')}, ${name('app')}|${name('app')}, ${name('web')})`));
      // still following: a line written now (to the service's own stdout) arrives
      await composeOk(['exec', '-T', 'web', 'sh', '-c', 'echo a-late-line > /proc/1/fd/1']);
      await until(has(/^web_1\s+\| a-late-line$/m), `the late line in:\n${f.out}`);
      assert.equal(f.exited, false, 'logs -f ended on its own');
      // a container's stream ends when it stops: compose then says how it exited (at
      // 1.52 its event watcher also dies here: compose 1.29 reads the events' `id`)
      await composeOk(['stop', 'web']);
      await until(has(new RegExp(`^${name('web')} exited with code 0$`, 'm')), `the exit line in:\n${f.out}`);
      await composeOk(['start', 'web']);
    } finally {
      await f.stop();
    }
  });

  it('events --json reports the service\'s container events (API 1.41: compose 1.29 reads their `id`, gone at 1.52)', async () => {
    const f = follow(['events', '--json'], { COMPOSE_API_VERSION: '1.41' });
    const events = () =>
      f.out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { type: string; action: string; id: string; service: string; attributes: Record<string, string> });
    try {
      // events come from the moment compose subscribed: restart until it saw a whole one
      const actions = ['kill', 'die', 'stop', 'start', 'restart'];
      const whole = () => actions.every((a) => events().some((e) => e.service === 'web' && e.action === a));
      await until(async () => whole() || ((await composeOk(['restart', 'web'])), whole()), `a whole restart in:\n${f.out}`, { tries: 10 });
      const web = events().filter((e) => e.service === 'web');
      for (const e of web) {
        assert.equal(e.type, 'container');
        assert.equal(e.id, ids.web);
        assert.equal(e.attributes.name, name('web'));
        assert.equal(e.attributes.image, 'busybox:latest');
      }
      assert.equal(web.find((e) => e.action === 'die')!.attributes.exitCode, '0');
      assert.doesNotMatch(f.out, /Traceback/);
      assert.equal(f.exited, false, 'events ended on its own');
    } finally {
      await f.stop();
    }
  });

  it('exec -T runs in the service container with its env_file environment and returns the exit code', async () => {
    const r = await compose(['exec', '-T', 'web', 'sh', '-c', 'echo "$WEB_MODE"; cat /www/index.html; exit 4']);
    assert.equal(r.code, 4, why(r));
    assert.equal(r.stdout, `compose\n${PAGE}\n`);
  });

  it('exec without -T gets a tty', async () => {
    const r = await composeTty(['exec', 'web', 'sh', '-c', 'tty; echo "$WEB_MODE"']);
    assert.equal(r.code, 0, why(r));
    // a terminal: a pts device, lines ended by CR LF
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\ncompose\r\n$/, JSON.stringify(r.stdout));
  });

  it('exec with a tty keeps all its output when the user types as the command ends', async () => {
    // compose exec runs `docker exec -i -t` with the user's terminal: the same command
    // here, under `script`, with a key pressed at once
    const id = (await inspect(name('web'))).Id;
    const lost: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = (await runProcess('script', ['-qec', `docker exec -i -t ${id} sh -c 'tty; echo compose'`, '/dev/null'], { env: env(), input: 'x', openStdin: true })).stdout;
      if (!r.includes('compose')) lost.push(JSON.stringify(r));
    }
    assert.deepEqual(lost, [], 'runs that lost output');
  });

  it('run --rm runs a one-off container of the service, returns its exit code and removes it', async () => {
    const webStarted = (await inspect(name('web'))).State.StartedAt;
    const r = await compose(['run', '--rm', '-T', 'web', 'sh', '-c', 'echo "run $WEB_GREETING"; ls /www; exit 3']);
    assert.equal(r.code, 3, why(r));
    assert.equal(r.stdout, 'run hello-from-the-env-file\nindex.html\nvia-network.html\n');
    assert.match(r.stderr, new RegExp(`Creating ${project}_web_run \\.\\.\\. done`));
    // with a tty, as `docker-compose run` does by default
    const tty = await composeTty(['run', '--rm', 'web', 'tty']);
    assert.equal(tty.code, 0, why(tty));
    assert.match(tty.stdout, /\/dev\/pts\/\d+\r\n/);
    // gone, and the service's containers untouched
    assert.deepEqual(await projectContainers(), [name('app'), name('web')]);
    assert.equal((await t.docker(['ps', '-aq', '--filter', label, '--filter', 'label=com.docker.compose.oneoff=True'])).stdout.trim(), '');
    assert.equal((await inspect(name('web'))).State.StartedAt, webStarted);
  });

  it('up -d --force-recreate replaces the containers and keeps the volume (API 1.41: compose reads ContainerConfig)', async () => {
    const r = await composeOk(['up', '-d', '--force-recreate'], { COMPOSE_API_VERSION: '1.41' });
    assert.match(r.stderr, new RegExp(`Recreating ${name('app')} \\.\\.\\. done`));
    assert.match(r.stderr, new RegExp(`Recreating ${name('web')} \\.\\.\\. done`));
    for (const svc of ['app', 'web']) {
      const c = await inspect(name(svc));
      assert.notEqual(c.Id, ids[svc], `${svc} recreated`);
      ids[svc] = c.Id;
    }
    assert.deepEqual(await projectContainers(), [name('app'), name('web')]);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/via-network.html`)).trim(), PAGE);
    const logs = (await composeOk(['logs', '--no-color', 'web'])).stdout;
    assert.match(logs, /web fetched the app page/);
    assert.doesNotMatch(logs, /could not fetch/);
  });

  it('restart restarts both containers in place', async () => {
    for (const svc of ['app', 'web']) started[svc] = (await inspect(name(svc))).State.StartedAt;
    const r = await composeOk(['restart']);
    assert.match(r.stderr, new RegExp(`Restarting ${name('app')} \\.\\.\\. done`));
    assert.match(r.stderr, new RegExp(`Restarting ${name('web')} \\.\\.\\. done`));
    for (const svc of ['app', 'web']) {
      const c = await inspect(name(svc));
      assert.equal(c.Id, ids[svc]);
      assert.equal(c.State.Status, 'running');
      assert.notEqual(c.State.StartedAt, started[svc], `${svc} started again`);
    }
    assert.equal((await httpGet(`http://127.0.0.1:${port}/index.html`)).trim(), PAGE);
  });

  it('up -d --scale app=3 adds app_2 and app_3; --scale app=1 removes them', async () => {
    const up = await composeOk(['up', '-d', '--scale', 'app=3']);
    assert.match(up.stderr, new RegExp(`Creating ${name('app', 2)} \\.\\.\\. done`));
    assert.match(up.stderr, new RegExp(`Creating ${name('app', 3)} \\.\\.\\. done`));
    assert.match(up.stderr, new RegExp(`${name('web')} is up-to-date`));
    assert.deepEqual(await projectContainers(), [name('app'), name('app', 2), name('app', 3), name('web')]);
    for (const n of [2, 3]) await healthy(name('app', n));
    const ps = (await composeOk(['ps'])).stdout;
    for (const n of [1, 2, 3]) assert.match(psLine(ps, name('app', n)), /\bUp\b/, ps);
    // the network alias answers for the service (any of its containers)
    const w = await compose(['exec', '-T', 'web', 'wget', '-q', '-O', '-', 'http://backend:8080/index.html']);
    assert.equal(w.code, 0, why(w));
    assert.equal(w.stdout.trim(), PAGE);

    const down = await composeOk(['up', '-d', '--scale', 'app=1']);
    assert.match(down.stderr, new RegExp(`Stopping and removing ${name('app', 2)} \\.\\.\\. done`));
    assert.match(down.stderr, new RegExp(`Stopping and removing ${name('app', 3)} \\.\\.\\. done`));
    assert.deepEqual(await projectContainers(), [name('app'), name('web')]);
    assert.equal((await inspect(name('app'))).Id, ids.app);
  });

  it('stop stops every container (Exit 0) and the port closes', async () => {
    const r = await composeOk(['stop']);
    assert.match(r.stderr, new RegExp(`Stopping ${name('app')} \\.\\.\\. done`));
    assert.match(r.stderr, new RegExp(`Stopping ${name('web')} \\.\\.\\. done`));
    const ps = (await composeOk(['ps'])).stdout;
    assert.match(psLine(ps, name('app')), /\bExit 0\b/, ps);
    assert.match(psLine(ps, name('web')), /\bExit 0\b/, ps);
    assert.deepEqual(await projectContainers(false), []);
    await until(refused, 'the published port refused');
  });

  it('start starts them again: the port answers with the volume\'s content', async () => {
    const r = await composeOk(['start']);
    assert.match(r.stderr, /Starting app \.\.\. done/);
    assert.match(r.stderr, /Starting web \.\.\. done/);
    for (const svc of ['app', 'web']) assert.equal((await inspect(name(svc))).State.Status, 'running');
    const ps = (await composeOk(['ps'])).stdout;
    assert.match(psLine(ps, name('web')), new RegExp(`\\bUp\\b.*127\\.0\\.0\\.1:${port}->8080/tcp`), ps);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/via-network.html`)).trim(), PAGE);
  });

  it('down -v --rmi local removes the containers, the network, the volume and the built image only', async () => {
    const r = await composeOk(['down', '-v', '--rmi', 'local']);
    for (const c of [name('app'), name('web')]) assert.match(r.stderr, new RegExp(`Removing ${c} \\.\\.\\. done`));
    assert.match(r.stderr, new RegExp(`Removing network ${project}_back`));
    assert.match(r.stderr, new RegExp(`Removing volume ${project}_data`));
    assert.match(r.stderr, new RegExp(`Removing image ${project}_app`));
    assert.deepEqual(await projectContainers(), []);
    assert.equal((await ok(['network', 'ls', '-q', '--filter', label])).trim(), '');
    assert.equal((await ok(['volume', 'ls', '-q', '--filter', label])).trim(), '');
    assert.notEqual((await t.docker(['image', 'inspect', `${project}_app`])).code, 0, 'the built image is gone');
    assert.equal((await t.docker(['image', 'inspect', 'busybox:latest'])).code, 0, 'busybox (not local) is kept');
    await until(refused, 'the published port refused');
    // nothing to do any more
    const again = await composeOk(['ps', '-q']);
    assert.equal(again.stdout.trim(), '');
  });
});
