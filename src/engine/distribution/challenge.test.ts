import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { Readable } from 'node:stream';
import { kindOf } from '../errdefs';
import { bearerChallengeError } from './challenge';
import { responseError } from './errors';
import type { HttpResponse } from './transport';

/** What distribution 2.8 answers for a token without the needed access. */
const INSUFFICIENT =
  'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:bob/x:pull",error="insufficient_scope"';
const BODY = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"bob/x","Action":"pull"}]}]}';

function response(status: number, headers: http.IncomingHttpHeaders, body: string): HttpResponse {
  return { status, headers, body: Readable.from([Buffer.from(body)]) as unknown as http.IncomingMessage, url: new URL('http://127.0.0.1:1/v2/') };
}

describe('bearerChallengeError', () => {
  it('maps RFC 6750 errors as Docker does, with error_description as the message', () => {
    assert.deepEqual(bearerChallengeError(INSUFFICIENT), { code: 'DENIED', message: 'requested access to the resource is denied' });
    assert.deepEqual(bearerChallengeError('Bearer realm="r",error="invalid_token"'), { code: 'UNAUTHORIZED', message: 'authentication required' });
    assert.deepEqual(bearerChallengeError(['Basic realm="b"', 'Bearer realm="r",error="invalid_token",error_description="token expired"']), { code: 'UNAUTHORIZED', message: 'token expired' });
  });

  it('is undefined without a bearer challenge error, or with an unknown one', () => {
    assert.equal(bearerChallengeError(undefined), undefined);
    assert.equal(bearerChallengeError('Bearer realm="r",service="s"'), undefined);
    assert.equal(bearerChallengeError('Basic realm="r",error="insufficient_scope"'), undefined);
    assert.equal(bearerChallengeError('Bearer realm="r",error="invalid_request"'), undefined);
  });
});

describe('responseError with a bearer challenge error', () => {
  it('puts the challenge error alone before the body (distribution 2.8 insufficient_scope)', async () => {
    const e = await responseError(response(401, { 'www-authenticate': INSUFFICIENT }, BODY));
    assert.equal(kindOf(e), 'unauthorized');
    assert.equal(e.message, 'denied: requested access to the resource is denied');
  });

  it('keeps the body words when the challenge carries no error', async () => {
    const e = await responseError(response(401, { 'www-authenticate': 'Bearer realm="r",service="s"' }, BODY));
    assert.equal(e.message, 'unauthorized: authentication required');
  });

  it('ignores a challenge on a 5xx', async () => {
    const e = await responseError(response(503, { 'www-authenticate': INSUFFICIENT }, '{"errors":[{"code":"UNAVAILABLE","message":"down"}]}'));
    assert.equal(kindOf(e), 'unavailable');
    assert.doesNotMatch(e.message, /denied/);
  });
});
