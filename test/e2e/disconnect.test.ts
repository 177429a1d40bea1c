/**
 * Clients that hang up: every streaming endpoint is requested 100 times and the
 * connection is dropped at a random point (before the headers, mid-body, mid-stream).
 * Afterwards the daemon still answers, and (stevedore) holds no more file descriptors
 * than before the loop. Issue #11 item 1: `docker save` whose client left crashed the
 * daemon with an unhandled ERR_STREAM_PREMATURE_CLOSE.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { importBusybox } from '../helpers/busybox';
import { removeAllContainers } from '../helpers/containers';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { startTarget, type Target } from '../helpers/target';
import { alive } from '../helpers/wait';

const TRIES = 100;

/** Sends a raw HTTP request and destroys the connection after `afterMs` (or once `cutAt` bytes of the body went out). */
function hangUp(socket: string, head: string, opts: { body?: Buffer; afterMs: number; cutAt?: number }): Promise<void> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      c.destroy();
      resolve();
    };
    c.on('error', finish);
    c.on('close', finish);
    c.on('data', () => undefined);
    c.on('connect', () => {
      c.write(head);
      if (opts.body) c.write(opts.cutAt !== undefined ? opts.body.subarray(0, opts.cutAt) : opts.body);
      setTimeout(finish, opts.afterMs);
    });
  });
}

const rnd = (n: number) => Math.floor(Math.random() * n);

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** What the process's descriptors point at, counted by kind (for the failure message). */
function fdKinds(pid: number): string {
  const kinds = new Map<string, number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '').replace(/^\/tmp\/[^/]+/, '<dir>');
    } catch {
      continue;
    }
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
}

describe('clients that disconnect from streaming endpoints', { timeout: 900_000 }, () => {
  let t: Target;
  let reg: TestRegistry;
  let cid: string;
  let saved: Buffer;
  let tarball: Buffer;

  before(async () => {
    t = await startTarget();
    reg = await startRegistry();
    await importBusybox(t);
    const run = await t.docker(['run', '-d', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.05; done']);
    assert.equal(run.code, 0, run.stderr);
    cid = run.stdout.trim();
    const tag = `${reg.host}/dc/busybox:1`;
    assert.equal((await t.docker(['tag', 'busybox', tag])).code, 0);
    const push = await t.docker(['push', tag]);
    assert.equal(push.code, 0, push.stderr);
    const out = path.join(t.dir, 'saved.tar');
    const save = await t.docker(['save', '-o', out, 'busybox']);
    assert.equal(save.code, 0, save.stderr);
    saved = fs.readFileSync(out);
    tarball = fs.readFileSync(path.join(t.dir, 'busybox.tar'));
  });

  after(async () => {
    // The registry is stopped whatever happens (a daemon that crashed fails the cleanup).
    try {
      if (t) {
        if (t.kind === 'stevedore' && !alive(t.pid)) process.stderr.write(`the daemon died; its log ends:\n${t.logs().slice(-6000)}\n`);
        try {
          await removeAllContainers(t);
        } finally {
          await t.stop();
        }
      }
    } finally {
      await reg?.stop();
    }
  });

  const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: d\r\n\r\n`;
  const post = (p: string, len: number, type = 'application/json') => `POST ${p} HTTP/1.1\r\nHost: d\r\nContent-Type: ${type}\r\nContent-Length: ${len}\r\n\r\n`;
  const upgrade = (p: string, body = '') =>
    `POST ${p} HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  const endpoints: Array<{ name: string; once: () => Promise<void> }> = [
    { name: 'GET /images/{name}/get', once: () => hangUp(t.socket, get('/images/busybox/get'), { afterMs: rnd(30) }) },
    { name: 'GET /images/get (several)', once: () => hangUp(t.socket, get('/images/get?names=busybox&names=busybox:latest'), { afterMs: rnd(30) }) },
    {
      name: 'POST /images/load',
      once: () => hangUp(t.socket, post('/images/load?quiet=0', saved.length, 'application/x-tar'), { body: saved, cutAt: rnd(saved.length), afterMs: rnd(20) }),
    },
    {
      name: 'POST /images/create?fromSrc=-',
      once: () => hangUp(t.socket, post('/images/create?fromSrc=-&repo=dcimport', tarball.length, 'application/x-tar'), { body: tarball, cutAt: rnd(tarball.length), afterMs: rnd(20) }),
    },
    { name: 'POST /images/create?fromImage (pull)', once: () => hangUp(t.socket, post(`/images/create?fromImage=${reg.host}/dc/busybox&tag=1`, 0), { afterMs: rnd(60) }) },
    { name: 'POST /images/{name}/push', once: () => hangUp(t.socket, `POST /images/${reg.host}/dc/busybox/push?tag=1 HTTP/1.1\r\nHost: d\r\nX-Registry-Auth: e30=\r\nContent-Length: 0\r\n\r\n`, { afterMs: rnd(60) }) },
    { name: 'GET /containers/{id}/logs', once: () => hangUp(t.socket, get(`/containers/${cid}/logs?stdout=1&stderr=1`), { afterMs: rnd(10) }) },
    { name: 'GET /containers/{id}/logs?follow', once: () => hangUp(t.socket, get(`/containers/${cid}/logs?stdout=1&stderr=1&follow=1&tail=5`), { afterMs: rnd(30) }) },
    { name: 'GET /events', once: () => hangUp(t.socket, get('/events'), { afterMs: rnd(30) }) },
    { name: 'GET /containers/{id}/stats', once: () => hangUp(t.socket, get(`/containers/${cid}/stats`), { afterMs: rnd(30) }) },
    { name: 'POST /containers/{id}/wait', once: () => hangUp(t.socket, post(`/containers/${cid}/wait`, 0), { afterMs: rnd(30) }) },
    { name: 'POST /containers/{id}/attach (upgrade)', once: () => hangUp(t.socket, upgrade(`/containers/${cid}/attach?stream=1&stdout=1&stderr=1`), { afterMs: rnd(30) }) },
    {
      name: 'POST /exec/{id}/start (upgrade)',
      once: async () => {
        const r = await t.request('POST', `/containers/${cid}/exec`, { body: JSON.stringify({ Cmd: ['sh', '-c', 'echo a; sleep 0.02; echo b'], AttachStdout: true, AttachStderr: true }), headers: { 'Content-Type': 'application/json' } });
        assert.equal(r.status, 201, r.body);
        const id = (JSON.parse(r.body) as { Id: string }).Id;
        await hangUp(t.socket, upgrade(`/exec/${id}/start`, JSON.stringify({ Detach: false, Tty: false })), { afterMs: rnd(30) });
      },
    },
  ];

  it('survives 100 hang-ups on each streaming endpoint and leaks no file descriptors', async () => {
    // one of each first, so that lazily opened files (logs, database pages) count in the baseline
    for (const e of endpoints) await e.once();
    await sleep(500);
    const fds = () => (t.kind === 'stevedore' ? fdCount(t.pid) : 0);
    const baseline = fds();
    const growth: string[] = [];
    for (const e of endpoints) {
      const before = fds();
      for (let i = 0; i < TRIES; i++) await e.once();
      const ping = await t.request('GET', '/_ping');
      assert.equal(ping.status, 200, `daemon stopped answering after ${e.name}`);
      await sleep(200);
      growth.push(`${e.name}: ${before} -> ${fds()}`);
    }
    assert.equal((await t.request('GET', '/_ping')).status, 200);
    if (t.kind !== 'stevedore') return;
    process.kill(t.pid, 0);
    assert.doesNotMatch(t.logs(), /unhandled promise rejection|uncaught/);
    // Sockets of the last hang-ups close asynchronously: wait (boundedly) for the count to settle.
    let now = fds();
    for (let i = 0; i < 100 && now > baseline + 4; i++) {
      await sleep(100);
      now = fds();
    }
    assert.ok(now <= baseline + 4, `file descriptors: ${baseline} before, ${now} after\n${growth.join('\n')}\nnow: ${fdKinds(t.pid)}`);
  });
});
