/**
 * The honest surface of create: every field of API v1.41's ContainerConfig and
 * HostConfig (read from Docker's definition in ../shared/reference) is either handled
 * (HANDLED says where) or refused when set (REFUSED), and a refusal is a 400 naming the
 * field.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kindOf } from '../../engine/errdefs';
import { HANDLED, REFUSED, refuseUnsupported } from './unsupported';

const REFERENCE = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'reference', 'engine-api-v1.41.yaml');

/**
 * The property names of a definition of the reference's `definitions:` (its own and
 * those of the definitions its `allOf` refers to), read by indentation: the reference
 * is regular enough, and the project has no YAML parser.
 */
function properties(lines: string[], name: string): string[] {
  const start = lines.indexOf(`  ${name}:`);
  assert.ok(start >= 0, `definition ${name}`);
  let end = start + 1;
  while (end < lines.length && (lines[end]!.trim() === '' || /^ {3,}/.test(lines[end]!))) end++;
  const block = lines.slice(start + 1, end);
  const out: string[] = [];
  for (let i = 0; i < block.length; i++) {
    const l = block[i]!;
    // the definition's own properties (indent 4) or an allOf member's (indent 8); not nested ones
    const ref = /^ {6}- \$ref: "#\/definitions\/(\w+)"/.exec(l);
    if (ref) out.push(...properties(lines, ref[1]!));
    const p = /^( {4}| {8})properties:\s*$/.exec(l);
    if (!p) continue;
    const indent = p[1]!.length + 2;
    for (let j = i + 1; j < block.length; j++) {
      const m = /^(\s*)(\w+):/.exec(block[j]!);
      if (!m) continue;
      if (m[1]!.length < indent) break;
      if (m[1]!.length === indent) out.push(m[2]!);
    }
  }
  return out;
}

describe('the create surface (v1.41)', () => {
  const have = fs.existsSync(REFERENCE);
  it('handles or refuses every field of ContainerConfig and HostConfig', { skip: !have && `no reference at ${REFERENCE}` }, () => {
    const lines = fs.readFileSync(REFERENCE, 'utf8').split('\n');
    for (const [def, section] of [['ContainerConfig', 'Config'], ['HostConfig', 'HostConfig']] as const) {
      const fields = properties(lines, def);
      assert.ok(fields.length > 20, `${def}: ${fields.join(',')}`);
      const missing = fields.filter((f) => !(f in HANDLED[section]) && !(`${section}.${f}` in REFUSED));
      assert.deepEqual(missing, [], `${section} fields neither handled nor refused`);
      const stale = Object.keys(HANDLED[section]).filter((f) => !fields.includes(f));
      assert.deepEqual(stale, [], `${section} fields listed but not in v1.41`);
    }
    for (const key of Object.keys(REFUSED)) {
      const [section, field] = key.split('.') as ['Config' | 'HostConfig', string];
      assert.ok(field in HANDLED[section], `${key} listed in HANDLED with a pointer to REFUSED`);
    }
  });

  it('refuses what has no implementation with a 400 naming the field', () => {
    const cases: Array<[Parameters<typeof refuseUnsupported>, string]> = [
      [[{}, { CgroupParent: '/elsewhere' }], 'cgroup parents are not supported by stevedore yet (HostConfig.CgroupParent)'],
      [[{}, { DeviceRequests: [{ Driver: 'nvidia' }] } as never], 'device requests (GPUs) are not supported by stevedore yet (HostConfig.DeviceRequests)'],
      [[{}, { Runtime: 'kata' }], 'per-container runtimes are not supported by stevedore yet (HostConfig.Runtime)'],
    ];
    for (const [args, message] of cases) {
      assert.throws(
        () => refuseUnsupported(...args),
        (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message.includes(message),
        message,
      );
    }
  });

  it('accepts what the CLI sends by default and what is implemented', () => {
    refuseUnsupported({ ExposedPorts: { '80/tcp': {} }, Healthcheck: { Test: ['NONE'] } }, {
      PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '18111' }] },
      PublishAllPorts: true,
      Links: ['other:alias'],
      VolumesFrom: ['other'],
      VolumeDriver: 'local',
      Binds: ['/srv:/data:ro', 'data:/x', '/anon'],
      Mounts: [{ Type: 'bind', Source: '/srv', Target: '/b' }, { Type: 'tmpfs', Target: '/t' }, { Type: 'volume', Target: '/v' }],
      Runtime: 'runc',
      Isolation: 'default',
      UsernsMode: 'host',
    });
    // an image's own VOLUME and HEALTHCHECK are recorded, not refused
    refuseUnsupported({ Volumes: { '/x': {} } }, {}, { Volumes: { '/var/lib/db': {} }, Healthcheck: { Test: ['CMD', 'true'] } });
  });
});
