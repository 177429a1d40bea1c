import { forbidden, notFound, unauthorized, unavailable, invalidArgument, type StevedoreError } from '../errdefs';
import { bearerChallengeError } from './challenge';
import { readBody, type HttpResponse } from './transport';

/** One entry of a registry's `{"errors":[…]}` body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  416: 'Requested Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Reads (at most 64 KiB of) an error body and returns its entries, if it has any. */
export async function readErrorEntries(res: HttpResponse): Promise<RegistryErrorEntry[]> {
  let body: Buffer;
  try {
    body = await readBody(res, 64 * 1024);
  } catch {
    return [];
  }
  try {
    const j = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof j !== 'object' || j === null) return [];
    const errs = (j as { errors?: unknown }).errors;
    if (Array.isArray(errs)) {
      return errs
        .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
        .map((e) => ({ code: String(e.code ?? 'UNKNOWN').slice(0, 100), message: String(e.message ?? '').slice(0, 1000) }));
    }
    // token servers: {"details": "incorrect username or password"}
    const details = (j as { details?: unknown }).details;
    if (typeof details === 'string') return [{ code: 'UNAUTHORIZED', message: details.slice(0, 1000) }];
  } catch {
    // not JSON
  }
  return [];
}

/** `manifest unknown: manifest unknown`: how Docker prints a registry error entry. */
export function formatEntry(e: RegistryErrorEntry): string {
  const code = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message ? `${code}: ${e.message}` : code;
}

/**
 * Turns a failed registry response into a StevedoreError, consuming its body:
 * 401 → unauthorized, 403 → forbidden, 404 → not-found, 429/5xx → unavailable,
 * anything else → invalid-argument. The words are the registry's: the error of a Bearer
 * challenge (`denied: requested access to the resource is denied` for
 * `error="insufficient_scope"`) if there is one, else the body's entries. `prefix`
 * (e.g. `manifest for x:y not found`) is put before the registry's own words for 404s.
 */
export async function responseError(res: HttpResponse, prefix?: string): Promise<StevedoreError> {
  const entries = await readErrorEntries(res);
  // A Bearer challenge's error comes first and alone, as Docker reports it.
  const challenged = res.status >= 400 && res.status < 500 ? bearerChallengeError(res.headers['www-authenticate']) : undefined;
  const text = challenged ? formatEntry(challenged) : entries.map(formatEntry).join(', ');
  const statusLine = `${res.status} ${STATUS_TEXT[res.status] ?? ''}`.trim();
  switch (res.status) {
    case 401:
      return unauthorized(text || 'unauthorized: authentication required');
    case 403:
      return forbidden(text || 'denied: requested access to the resource is denied');
    case 404:
      return notFound([prefix, text || 'not found'].filter(Boolean).join(': '));
    case 429:
      return unavailable(text || 'toomanyrequests: too many requests');
    default:
      if (res.status >= 500) return unavailable(text ? `received unexpected HTTP status: ${statusLine}: ${text}` : `received unexpected HTTP status: ${statusLine}`);
      return invalidArgument(text ? `${text}` : `unexpected HTTP status: ${statusLine}`);
  }
}
