import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Logger } from '../../engine/log';
import { installLastResort } from './main';

function recorder(): { log: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return { log, lines };
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('installLastResort', () => {
  it('logs an unhandled rejection with its stack and keeps serving', () => {
    const { log, lines } = recorder();
    const exits: number[] = [];
    const proc = new EventEmitter();
    installLastResort(log, (c) => exits.push(c), proc);
    const err = withCode('Premature close', 'ERR_STREAM_PREMATURE_CLOSE');
    proc.emit('unhandledRejection', err, Promise.resolve());
    proc.emit('unhandledRejection', 'a string reason', Promise.resolve());
    assert.deepEqual(exits, []);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.level, 'error');
    assert.match(String(lines[0]!.fields?.stack), /Premature close\n\s+at /);
    assert.equal(lines[1]!.fields?.stack, 'a string reason');
  });

  it('keeps serving after an uncaught error of one connection', () => {
    const { log, lines } = recorder();
    const exits: number[] = [];
    const proc = new EventEmitter();
    installLastResort(log, (c) => exits.push(c), proc);
    for (const code of ['EPIPE', 'ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']) {
      proc.emit('uncaughtException', withCode(`x ${code}`, code));
    }
    assert.deepEqual(exits, []);
    assert.equal(lines.length, 5);
    assert.ok(lines.every((l) => l.level === 'error' && typeof l.fields?.stack === 'string'));
  });

  it('stops the daemon (exit 70) after any other uncaught exception, logging the stack first', () => {
    const { log, lines } = recorder();
    const exits: number[] = [];
    const proc = new EventEmitter();
    installLastResort(log, (c) => exits.push(c), proc);
    proc.emit('uncaughtException', new TypeError('cannot read properties of undefined'));
    proc.emit('uncaughtException', withCode('no space', 'ENOSPC'));
    assert.deepEqual(exits, [70, 70]);
    assert.match(String(lines[0]!.fields?.stack), /TypeError: cannot read properties of undefined/);
    assert.match(lines[0]!.msg, /stopping the daemon/);
  });
});
