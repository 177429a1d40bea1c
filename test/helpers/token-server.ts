/**
 * A Docker registry token server for tests (the "token authentication" spec that
 * distribution's `auth: token:` trusts): node `http` on 127.0.0.1 and a free port.
 *
 * `GET /token?service=…&scope=…[&scope=…]&account=…`, optionally with basic
 * credentials, answers `{"token", "access_token", "expires_in", "issued_at"}`. The
 * token is a JWT signed RS256 with a key made per server by `openssl`; its header
 * carries `x5c` (the self-signed signing certificate, base64 DER), which distribution
 * 2.8 verifies against `auth.token.rootcertbundle` — that bundle is `certFile`.
 * Claims: `iss`, `sub` (the account, or empty), `aud` (= service), `exp`, `nbf`,
 * `iat`, `jti`, `access: [{type: 'repository', name, actions}]` — the requested actions
 * the policy allows, possibly none (as Docker Hub: a token is issued, the registry
 * refuses the request). Wrong credentials are a 401 `{"details": "incorrect username or
 * password"}`, as Docker Hub's auth server answers. Every request and every token
 * issued is recorded, credentials never.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createSign, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** distribution 2.8 accepts a token until `exp` + 60 s and from `nbf` − 60 s (`token.Leeway`). */
export const DISTRIBUTION_LEEWAY_SECONDS = 60;

/** Which actions on repository `name` an account (undefined: anonymous) may have. */
export type GrantPolicy = (account: string | undefined, name: string) => string[];

/**
 * The default policy: anyone may pull `public/*`; a user may pull and push `<user>/*`
 * and `public/*`.
 */
export const defaultPolicy: GrantPolicy = (account, name) => {
  if (account !== undefined && (name.startsWith(`${account}/`) || name.startsWith('public/'))) return ['pull', 'push'];
  if (name.startsWith('public/')) return ['pull'];
  return [];
};

export interface TokenServerOptions {
  /** the `service` (and `aud`) the registry is configured with (default `stevedore-test-registry`) */
  service?: string;
  /** `iss` (default `stevedore-test-token-server`) */
  issuer?: string;
  /** username → password */
  users?: Record<string, string>;
  policy?: GrantPolicy;
  /** `expires_in` of new tokens, seconds (default 300; changeable later via `expiresIn`) */
  expiresIn?: number;
}

/** One `GET /token` as the server saw it (never the password). */
export interface TokenRequestRecord {
  service: string | null;
  scopes: string[];
  /** the basic-auth username, if credentials were sent */
  username?: string;
  /** `account` query parameter */
  account: string | null;
  offlineToken: boolean;
  /** 200, or the refusal's status */
  status: number;
}

/** A token handed out. */
export interface IssuedToken {
  jti: string;
  /** the JWT itself */
  token: string;
  sub: string;
  access: Array<{ type: string; name: string; actions: string[] }>;
  /** position in the order of issue (0, 1, …) */
  seq: number;
}

export interface TokenServer {
  /** `http://127.0.0.1:<port>/token` */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the signing certificate: the registry's `rootcertbundle` */
  certFile: string;
  /** `expires_in` for tokens issued from now on (seconds) */
  expiresIn: number;
  requests: TokenRequestRecord[];
  issued: IssuedToken[];
  /** the issued token with this JWT, if this server issued it */
  lookup(jwt: string): IssuedToken | undefined;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `repository:<name>:<a,b>`; names never contain ':' (a port belongs to the host). */
function parseScope(s: string): { type: string; name: string; actions: string[] } | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) };
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const s = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = s.indexOf(':');
  return i < 0 ? undefined : { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** Starts a token server; `stop()` closes it and removes its key and certificate. */
export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-token-'));
  const keyFile = path.join(dir, 'signing.key');
  const certFile = path.join(dir, 'signing.crt');
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=stevedore test token signer'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const key = fs.readFileSync(keyFile);
  const x5c = [new X509Certificate(fs.readFileSync(certFile)).raw.toString('base64')];
  const service = opts.service ?? 'stevedore-test-registry';
  const issuer = opts.issuer ?? 'stevedore-test-token-server';
  const users = opts.users ?? {};
  const policy = opts.policy ?? defaultPolicy;
  const requests: TokenRequestRecord[] = [];
  const issued: IssuedToken[] = [];
  const byJwt = new Map<string, IssuedToken>();

  const sign = (sub: string, access: IssuedToken['access'], lifetime: number): IssuedToken => {
    const now = Math.floor(Date.now() / 1000);
    const jti = randomBytes(12).toString('hex');
    const header = { typ: 'JWT', alg: 'RS256', x5c };
    // The registry adds its leeway to exp; take it off so the token really stops working
    // `expires_in` seconds from now.
    const claims = { iss: issuer, sub, aud: service, exp: now + lifetime - DISTRIBUTION_LEEWAY_SECONDS, nbf: now, iat: now, jti, access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    const t: IssuedToken = { jti, token: `${input}.${b64url(sig)}`, sub, access, seq: issued.length };
    issued.push(t);
    byJwt.set(t.token, t);
    return t;
  };

  const json = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(b.length), ...extra });
    res.end(b);
  };

  const server: TokenServer = {
    realm: '',
    service,
    issuer,
    certFile,
    expiresIn: opts.expiresIn ?? 300,
    requests,
    issued,
    lookup: (jwt) => byJwt.get(jwt),
    stop: async () => {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const srv = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') return json(res, 404, { details: 'not found' });
    if (req.method !== 'GET') return json(res, 405, { details: 'only GET is supported' }, { Allow: 'GET' });
    const creds = parseBasic(req.headers.authorization);
    const rec: TokenRequestRecord = {
      service: url.searchParams.get('service'),
      scopes: url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean),
      account: url.searchParams.get('account'),
      offlineToken: url.searchParams.get('offline_token') === 'true',
      status: 200,
    };
    if (creds) rec.username = creds.username;
    requests.push(rec);
    if (rec.service !== null && rec.service !== service) {
      rec.status = 400;
      return json(res, 400, { details: `unknown service ${JSON.stringify(rec.service)}` });
    }
    let account: string | undefined;
    if (creds) {
      const want = Object.prototype.hasOwnProperty.call(users, creds.username) ? users[creds.username]! : undefined;
      if (want === undefined || !sameString(want, creds.password)) {
        rec.status = 401;
        return json(res, 401, { details: 'incorrect username or password' }, { 'WWW-Authenticate': 'Basic realm="token"' });
      }
      account = creds.username;
    }
    const access: IssuedToken['access'] = [];
    for (const s of rec.scopes) {
      const p = parseScope(s);
      if (!p || p.type !== 'repository') continue;
      const allowed = policy(account, p.name);
      const actions = p.actions.filter((a) => allowed.includes(a));
      if (actions.length) access.push({ type: 'repository', name: p.name, actions });
    }
    const lifetime = server.expiresIn;
    const t = sign(account ?? '', access, lifetime);
    json(res, 200, { token: t.token, access_token: t.token, expires_in: lifetime, issued_at: new Date().toISOString() });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  server.realm = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/token`;
  return server;
}
