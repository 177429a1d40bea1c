import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { collect, demux, suiteFixture } from './bundle-fixture';
import type { Spec } from '../oci/spec';
import { RuntimeCreateError } from './errors';
import { ShimTaskService } from './shim-task-service';


// The same exec behaviour whether the shim enters the container itself or runs `runc exec`.
for (const execMode of ['direct', 'runtime'] as const) {
  describe(`exec processes (${execMode})`, () => {
    const fixture = suiteFixture();
    let svc: ShimTaskService;
    const id = `exec-${execMode}`;
    let spec: Pick<Spec, 'process' | 'linux'>;
    const execId = (n: number) => (n.toString(16) + execMode.length.toString(16)).padStart(8, '0');

    before(async () => {
      svc = new ShimTaskService({ execRoot: fixture().execRoot, execMode });
      const bundle = fixture().bundle(id, ['sleep', '1000']);
      await svc.start({ id, bundle, logPath: fixture().logPath(id), tty: false, openStdin: false, stdinOnce: false });
      spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Spec;
    });

    const run = (n: number, args: string[], opts: { stdin?: string; tty?: boolean } = {}) =>
      svc.exec(id, {
        execId: execId(n),
        process: { ...spec.process, args, terminal: opts.tty ?? false },
        linux: spec.linux,
        tty: opts.tty ?? false,
        openStdin: opts.stdin !== undefined,
        attach: { stdin: opts.stdin !== undefined, stdout: true, stderr: true },
      });

    test('output on both streams, the exit code, and the exec in the container', async () => {
      const { pid, stream } = await run(1, ['sh', '-c', 'echo out $(hostname) $(readlink /proc/1/exe); echo err >&2; exit 3']);
      assert.ok(pid > 1);
      const out = demux(await collect(stream!));
      assert.equal(out.stdout, `out ${id} /bin/busybox\n`);
      assert.equal(out.stderr, 'err\n');
      assert.equal((await svc.waitExec(id, execId(1))).exitCode, 3);
      assert.equal((await svc.waitExec(id, execId(1))).exitCode, 3, 'recorded');
    });

    test('stdin reaches the process and its end closes it', async () => {
      const { stream } = await run(2, ['cat'], { stdin: '' });
      const done = collect(stream!);
      stream!.end('piped\n');
      assert.equal(demux(await done).stdout, 'piped\n');
      assert.equal((await svc.waitExec(id, execId(2))).exitCode, 0);
    });

    test('a tty exec gets a terminal of the container', async () => {
      const { stream } = await run(3, ['sh', '-c', 'tty; test -t 0 && echo is-a-tty'], { tty: true });
      const text = (await collect(stream!)).toString();
      assert.match(text, /^\/dev\/pts\/\d+\r\nis-a-tty\r\n$/);
      assert.equal((await svc.waitExec(id, execId(3))).exitCode, 0);
    });

    test('a missing command is refused as not-found, a directory as not-executable', async () => {
      await assert.rejects(run(4, ['nosuchcmd']), (e: unknown) => e instanceof RuntimeCreateError && e.reason === 'not-found' && /executable file not found in \$PATH/.test(e.message));
      await assert.rejects(run(5, ['/etc']), (e: unknown) => e instanceof RuntimeCreateError && e.reason === 'not-executable');
    });
  });
}
