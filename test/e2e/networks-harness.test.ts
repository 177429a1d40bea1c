/**
 * The networking harness itself (test/helpers/network.ts): the parsing it relies on to
 * find a test's iptables rules, and the cleanup against the real iptables — it removes
 * every rule naming the test's bridge or subnets, in both families, and nothing else.
 * Runs no engine (the same for both targets).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { cleanupNetwork, createTestBridge, hostPrefixes4, linkExists, overlaps4, randomUla64, readHostNetState, register, ruleMentions, rulesMentioning, splitRule, type Rule } from '../helpers/network';

const rule = (line: string): Rule => {
  const toks = splitRule(line);
  return { family: 4, table: 'filter', chain: toks[1]!, args: toks.slice(2), line };
};

describe('the networking harness', () => {
  it('splits iptables-save lines like a shell (quoted comments, escapes)', () => {
    assert.deepEqual(splitRule('-A FORWARD -i br-1 -m comment --comment "stevedore:br-1 out \\"x\\"" -j ACCEPT'), ['-A', 'FORWARD', '-i', 'br-1', '-m', 'comment', '--comment', 'stevedore:br-1 out "x"', '-j', 'ACCEPT']);
    assert.deepEqual(splitRule('-A X  -j RETURN'), ['-A', 'X', '-j', 'RETURN']);
    assert.deepEqual(splitRule('-A X --comment ""'), ['-A', 'X', '--comment', '']);
  });

  it('finds rules by bridge name (whole names only) and by address in a subnet', () => {
    const b = ['stvt0a1b2c', 'br-0123456789ab'];
    const s = ['10.20.30.0/24', 'fd12:3456:789a:1::/64'];
    assert.ok(ruleMentions(rule('-A FORWARD -o stvt0a1b2c -j DOCKER'), b, s));
    assert.ok(ruleMentions(rule('-A FORWARD -m comment --comment "stevedore:br-0123456789ab icc" -j ACCEPT'), b, s));
    assert.ok(ruleMentions(rule('-A DOCKER ! -i stvtffffff -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.20.30.2:8080'), b, s));
    assert.ok(ruleMentions(rule('-A POSTROUTING -s 10.20.30.0/24 ! -o x -j MASQUERADE'), b, s));
    assert.ok(ruleMentions(rule('-A DOCKER -d fd12:3456:789a:1::2/128 -j ACCEPT'), b, s));
    // other bridges and subnets are someone else's
    assert.equal(ruleMentions(rule('-A FORWARD -o stvt0a1b2cd -j DOCKER'), b, s), false);
    assert.equal(ruleMentions(rule('-A FORWARD -o br-0123456789abc -j DOCKER'), b, s), false);
    assert.equal(ruleMentions(rule('-A POSTROUTING -s 10.20.31.0/24 -j MASQUERADE'), b, s), false);
    assert.equal(ruleMentions(rule('-A DOCKER -d fd12:3456:789a:2::2/128 -j ACCEPT'), b, s), false);
    assert.equal(ruleMentions(rule('-A FORWARD -j DOCKER-USER'), b, s), false);
  });

  it('picks a test subnet that overlaps nothing the host has, and canonical ULAs', () => {
    assert.ok(overlaps4('10.0.0.0/8', '10.20.30.0/24'));
    assert.equal(overlaps4('10.20.31.0/24', '10.20.30.0/24'), false);
    const b = createTestBridge();
    try {
      // what the host has there now is the bridge's own (its address, routes and
      // broadcast: all inside the /24), nothing wider
      const there = hostPrefixes4().filter((p) => overlaps4(p, b.subnet));
      assert.ok(there.length > 0 && there.every((p) => Number(p.split('/')[1]) >= 24), there.join(' '));
    } finally {
      execFileSync('ip', ['link', 'del', b.name]);
    }
    for (let i = 0; i < 20; i++) assert.match(randomUla64(), /^fd[1-9a-f][0-9a-f]:([1-9a-f][0-9a-f]{3}:){3}:\/64$/);
  });

  it('cleanup removes the test\'s rules in both families and its bridge, and leaves another bridge\'s rules', async () => {
    const b = createTestBridge({ ipv6: true });
    const other = `stvx${crypto.randomBytes(3).toString('hex')}`;
    const before = readHostNetState();
    const entry = register('harness', b.name);
    const add = (cmd: string, args: string[]) => execFileSync(cmd, ['-w', ...args]);
    const otherRule = ['-t', 'filter', '-A', 'FORWARD', '-i', other, '-m', 'comment', '--comment', `harness test ${other}`, '-j', 'ACCEPT'];
    try {
      add('iptables', ['-t', 'filter', '-A', 'FORWARD', '-i', b.name, '-m', 'comment', '--comment', `harness test ${b.name}`, '-j', 'ACCEPT']);
      add('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', b.subnet, '-j', 'RETURN']);
      add('ip6tables', ['-t', 'filter', '-A', 'FORWARD', '-s', b.subnet6!, '-j', 'ACCEPT']);
      add('iptables', otherRule);
      assert.equal(rulesMentioning([b.name], [b.subnet, b.subnet6!]).length, 3);
      const problems = await cleanupNetwork('harness', b, [], before, entry);
      assert.deepEqual(problems, []);
      assert.deepEqual(rulesMentioning([b.name], [b.subnet, b.subnet6!]), []);
      assert.equal(linkExists(b.name), false);
      assert.equal(rulesMentioning([other], []).length, 1, 'another bridge\'s rule stays');
    } finally {
      execFileSync('iptables', ['-w', ...otherRule.map((a) => (a === '-A' ? '-D' : a))]);
      if (linkExists(b.name)) execFileSync('ip', ['link', 'del', b.name]);
    }
  });
});
