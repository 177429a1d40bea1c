/**
 * Two engines side by side for the differential suite: stevedore and Docker 20.10, each
 * on its own temporary socket, data root and exec root, each with a default bridge of its
 * own (the harness's `startTarget({ network: true })`: a unique bridge name and 10.x.y.0/24),
 * given the same state by the same CLI commands.
 */
import { execFileSync } from 'node:child_process';
import { importBusybox } from './busybox';
import { removeAllContainers } from './containers';
import { freeSubnets24 } from './network';
import { type Target, startTarget } from './target';

/** Why the pair cannot run here, or undefined when it can. */
export function pairUnavailable(): string | undefined {
  if (process.env.STEVEDORE_TEST_TARGET === 'docker') return 'compares stevedore with Docker, so it needs both engines; it has nothing to compare under STEVEDORE_TEST_TARGET=docker';
  return undefined;
}

/** Whether Docker's engine is installed (scripts/install-reference-docker.sh). */
export function haveDockerd(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v dockerd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What `prepare` made on one engine: the ids the answers will contain, by role. */
export interface Prepared {
  t: Target;
  /** unix seconds before the first change, and after the last */
  since: number;
  until: number;
  ids: Record<string, string>;
  /** subnets of this engine's own (distinct from the other engine's): `made` for a network a check creates */
  subnets: Record<string, string>;
}

async function ok(t: Target, args: string[]): Promise<string> {
  const r = await t.docker(args);
  if (r.code !== 0) throw new Error(`${t.kind}: docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

async function api(t: Target, method: string, p: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await t.request(method, p, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  if (r.status >= 300) throw new Error(`${t.kind}: ${method} ${p} → ${r.status} ${r.body}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
}

/**
 * The same state on one engine: busybox (imported), a tag, a running container with an
 * exec that ran and one never started, an exited one (exit 3), a created one (and one with a memory limit, and one renamed), a no-change
 * commit of a container that ran, a commit with changes, and one `top`; a user network
 * (`diff-net`, labelled, own subnet) with a running container on it (`diff-netc`: an
 * alias, a published port, a health check, the named volume `diff-vol`), an unused
 * network and volume (for the prunes).
 */
export async function prepare(t: Target, taken: Set<string>): Promise<Prepared> {
  const since = Math.floor(Date.now() / 1000) - 1;
  const [net, unused, made, bad] = freeSubnets24(4, taken) as [string, string, string, string];
  await importBusybox(t);
  const ids: Record<string, string> = {};
  ids.busybox = (await api(t, 'GET', '/images/busybox/json')).Id as string;
  await ok(t, ['tag', 'busybox:latest', 'diff/busybox:v1']);
  // a tag removed again: an `untag` event in the window
  await ok(t, ['tag', 'busybox:latest', 'diff/busybox:untagged']);
  await ok(t, ['rmi', 'diff/busybox:untagged']);
  ids.run = await ok(t, ['run', '-d', '--name', 'diff-run', '--label', 'role=run', 'busybox', 'sh', '-c', 'sleep 1000; echo done']);
  const ex = await t.docker(['run', '--name', 'diff-exited', '--label', 'role=exited', '--log-opt', 'labels=role', 'busybox', 'sh', '-c', 'echo hi > /made; exit 3']);
  if (ex.code !== 3) throw new Error(`${t.kind}: diff-exited exited ${ex.code}: ${ex.stderr}`);
  ids.exited = await ok(t, ['inspect', '-f', '{{.Id}}', 'diff-exited']);
  ids.created = await ok(t, ['create', '--name', 'diff-created', 'busybox', 'true']);
  ids.memory = await ok(t, ['create', '--name', 'diff-memory', '-m', '64m', 'busybox', 'true']);
  ids.renamed = await ok(t, ['create', '--name', 'diff-old', 'busybox', 'true']);
  await ok(t, ['rename', 'diff-old', 'diff-renamed']);
  await ok(t, ['run', '--name', 'diff-true', 'busybox', 'true']);
  ids.ran = await ok(t, ['inspect', '-f', '{{.Id}}', 'diff-true']);
  ids.commitEmpty = await ok(t, ['commit', 'diff-true', 'diff/commit:empty']);
  ids.commitChanged = await ok(t, ['commit', '-c', 'LABEL k=v', 'diff-exited', 'diff/commit:changed']);
  ids.exec = (await api(t, 'POST', '/containers/diff-run/exec', { Cmd: ['true'], AttachStdout: true, AttachStderr: true })).Id as string;
  await api(t, 'POST', `/exec/${ids.exec}/start`, { Detach: true });
  for (let i = 0; i < 200; i++) {
    if ((await api(t, 'GET', `/exec/${ids.exec}/json`)).Running === false) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  ids.execIdle = (await api(t, 'POST', '/containers/diff-run/exec', { Cmd: ['echo', 'idle'] })).Id as string;
  await api(t, 'GET', '/containers/diff-run/top');
  for (const n of ['bridge', 'host', 'none']) ids[`${n}Net`] = (await api(t, 'GET', `/networks/${n}`)).Id as string;
  ids.net = await ok(t, ['network', 'create', '--label', 'role=net', '--subnet', net, 'diff-net']);
  ids.netUnused = await ok(t, ['network', 'create', '--subnet', unused, 'diff-net-unused']);
  await ok(t, ['volume', 'create', '--label', 'role=vol', 'diff-vol']);
  await ok(t, ['volume', 'create', 'diff-vol-unused']);
  ids.netc = await ok(t, ['run', '-d', '--name', 'diff-netc', '--network', 'diff-net', '--network-alias', 'web', '-p', '127.0.0.1::80', '--label', 'role=netc', '--health-cmd', 'true', '--health-interval', '1s', '-v', 'diff-vol:/data', 'busybox', 'sleep', '1000']);
  // the health check's first result (both engines then show `healthy`; left as it is when it never comes)
  for (let i = 0; i < 100; i++) {
    const st = (await api(t, 'GET', '/containers/diff-netc/json')).State as { Health?: { Status?: string } };
    if (st.Health?.Status !== 'starting') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // `until` is a whole second: wait until it has passed, so that no later request's event falls before it
  const until = Math.floor(Date.now() / 1000) + 1;
  await new Promise((r) => setTimeout(r, until * 1000 + 50 - Date.now()));
  return { t, since, until, ids, subnets: { net, unused, made, bad } };
}

/** Starts both engines (in parallel) and prepares each; stops both on failure. */
export async function startPair(): Promise<{ ours: Prepared; theirs: Prepared }> {
  const started = await Promise.allSettled([startTarget({ kind: 'stevedore', network: true }), startTarget({ kind: 'docker', network: true })]);
  const targets = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(targets.map((t) => t.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  const [ours, theirs] = targets as [Target, Target];
  try {
    // one after the other: two daemons preparing at once on two cores only race the clock
    const taken = new Set([ours.network!.bridge.subnet, theirs.network!.bridge.subnet]);
    const p1 = await prepare(ours, taken);
    const p2 = await prepare(theirs, taken);
    return { ours: p1, theirs: p2 };
  } catch (err) {
    await stopPair(ours, theirs);
    throw err;
  }
}

/** Removes the containers, then stops both engines (removing their temp dirs). */
export async function stopPair(...ts: Target[]): Promise<void> {
  await Promise.allSettled(ts.map((t) => removeAllContainers(t)));
  const r = await Promise.allSettled(ts.map((t) => t.stop()));
  const bad = r.find((x) => x.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
}
