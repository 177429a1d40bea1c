/**
 * Docker's progress message (moby's `pkg/jsonmessage`): what pull, push, load and build
 * report, line by line, and what the CLI's renderer reads. A daemon shape: the daemon's
 * operations produce it, the API only writes it out (api/streams.ts jsonProgress).
 */

/** A progress message as the CLI's jsonmessage renderer reads it. */
export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; units?: string };
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message: string };
  aux?: unknown;
}
