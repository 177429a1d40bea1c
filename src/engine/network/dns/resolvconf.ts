/**
 * The host's resolv.conf, as far as the resolver needs it: the nameservers it forwards to.
 * The resolver runs in the host's network namespace, so a loopback nameserver
 * (systemd-resolved's 127.0.0.53) is reachable and kept.
 */
import * as fs from 'node:fs';
import { isIP } from 'node:net';

/** The `nameserver` addresses of resolv.conf text, in order (an IPv6 zone `%eth0` kept). */
export function parseNameservers(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = m[1]!;
    if (isIP(addr.split('%')[0]!)) out.push(addr);
  }
  return out;
}

/** The nameservers of the file at `path`; none when it cannot be read. */
export function readNameservers(path: string): string[] {
  try {
    return parseNameservers(fs.readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
