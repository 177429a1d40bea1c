import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseArgs } from './main';

test('flags: defaults, both spellings, refusals', () => {
  assert.deepEqual(parseArgs(['--dir', '/run/x/dns']), {
    dir: '/run/x/dns',
    port: 53,
    resolvConf: '/etc/resolv.conf',
    upstreamPort: 53,
    upstreamTimeoutMs: 4000,
    logLevel: 'info',
  });
  const a = parseArgs(['--dir=/d', '--port=5353', '--resolv-conf', '/tmp/r', '--upstream-port', '5300', '--upstream-timeout-ms=250', '--log-level', 'debug']);
  assert.equal(a.port, 5353);
  assert.equal(a.resolvConf, '/tmp/r');
  assert.equal(a.upstreamPort, 5300);
  assert.equal(a.upstreamTimeoutMs, 250);
  assert.equal(a.logLevel, 'debug');
  assert.throws(() => parseArgs([]), /--dir is required/);
  assert.throws(() => parseArgs(['--dir', '/d', '--port', 'x']), /invalid value "x" for --port/);
  assert.throws(() => parseArgs(['--dir', '/d', '--log-level', 'loud']), /invalid log level/);
  assert.throws(() => parseArgs(['--dir', '/d', '--bogus']), /unknown flag: --bogus/);
  assert.throws(() => parseArgs(['--dir']), /needs an argument/);
});
