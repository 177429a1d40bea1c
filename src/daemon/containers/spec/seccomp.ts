/** A seccomp profile from `--security-opt seccomp=<json>` (the CLI sends the file's content). */
import { invalidArgument } from '../../../engine/errdefs';
import type { SeccompProfile } from '../../../engine/oci/seccomp';

/** Parses a profile body; throws invalid-argument with Docker's message on malformed JSON or shape. */
export function parseSeccompProfile(body: string): SeccompProfile {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    throw invalidArgument(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw invalidArgument('Decoding seccomp profile failed: not a JSON object');
  }
  const p = v as SeccompProfile;
  if (p.defaultAction !== undefined && typeof p.defaultAction !== 'string') {
    throw invalidArgument('Decoding seccomp profile failed: defaultAction must be a string');
  }
  if (p.syscalls != null && !Array.isArray(p.syscalls)) {
    throw invalidArgument('Decoding seccomp profile failed: syscalls must be an array');
  }
  return p;
}

