import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseArgs, parseHost } from './config';

const noFile = () => undefined;

describe('daemon flags and daemon.json', () => {
  it('has dockerd defaults', () => {
    const p = parseArgs([], noFile);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.config.hosts, ['unix:///var/run/docker.sock']);
    assert.equal(p.config.dataRoot, '/var/lib/stevedore');
    assert.equal(p.config.defaultRuntime, 'runc');
  });
  it('parses repeated hosts, = and space forms', () => {
    const p = parseArgs(['-H', 'unix:///tmp/a.sock', '--host=tcp://127.0.0.1:2375', '--data-root', '/d', '--runtime=crun', '-D'], noFile);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.config.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
    assert.equal(p.config.dataRoot, '/d');
    assert.equal(p.config.defaultRuntime, 'crun');
    assert.equal(p.config.logLevel, 'debug');
  });
  it('reads daemon.json with Docker key names; flags win', () => {
    const file = JSON.stringify({ 'data-root': '/from-file', 'log-level': 'warn', 'insecure-registries': ['r:5000'], runtimes: { crun: { path: '/usr/bin/crun' } } });
    const p = parseArgs(['--config-file', '/x.json', '--data-root', '/from-flag'], () => file);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.equal(p.config.dataRoot, '/from-flag');
    assert.equal(p.config.logLevel, 'warn');
    assert.deepEqual(p.config.insecureRegistries, ['r:5000']);
    assert.equal(p.config.runtimes.crun, '/usr/bin/crun');
  });
  it('rejects unknown flags, bad values and bad files', () => {
    assert.throws(() => parseArgs(['--nope'], noFile), /unknown flag/);
    assert.throws(() => parseArgs(['--log-level', 'loud'], noFile), /logging level/);
    assert.throws(() => parseArgs(['-H', 'http://x'], noFile), /invalid host/);
    assert.throws(() => parseArgs(['--config-file', '/x'], () => '{bad'), /unable to configure/);
    assert.throws(() => parseArgs(['--config-file', '/missing'], noFile), /unable to read/);
  });
  it('help and version', () => {
    assert.equal(parseArgs(['--help'], noFile).kind, 'help');
    assert.equal(parseArgs(['-v'], noFile).kind, 'version');
  });
  it('parses hosts', () => {
    assert.deepEqual(parseHost('unix:///a'), { kind: 'unix', path: '/a' });
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://[::1]:1'), { kind: 'tcp', host: '::1', port: 1 });
  });
});
