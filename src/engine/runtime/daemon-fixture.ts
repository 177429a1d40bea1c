/**
 * A stand-in daemon for the restart tests, run as a child process that the test
 * SIGKILLs: `node daemon-fixture.js <execRoot> <id> <bundle> <logPath> [attach]`.
 * Starts the task, optionally keeps an attach stream open, prints {"pid":N}.
 */
import { ShimTaskService } from './shim-task-service';

async function main(): Promise<void> {
  const [execRoot, id, bundle, logPath, attach] = process.argv.slice(2);
  const svc = new ShimTaskService({ execRoot });
  const { pid } = await svc.start({ id, bundle, logPath, tty: false, openStdin: false, stdinOnce: false });
  if (attach === 'attach') {
    const s = await svc.attach(id, { stdin: false, stdout: true, stderr: true });
    s.resume();
  }
  process.stdout.write(JSON.stringify({ pid }) + '\n');
  setInterval(() => {}, 1 << 30);
}

main().catch((err: Error) => {
  process.stderr.write(String(err.stack) + '\n');
  process.exit(1);
});
