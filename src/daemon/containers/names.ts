/** Container ids and names: generation, validation, and resolution by id, prefix or name. */
import { randomBytes, randomInt } from 'node:crypto';
import { invalidArgument, notFound } from '../../engine/errdefs';

export const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A new random 64-hex id that is not all digits (Docker avoids those: they look like numbers). */
export function newId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

/** Checks a user-supplied name and returns it with the leading slash. Throws invalid-argument. */
export function normalizeName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name : '/' + name;
}

const LEFT = ['admiring', 'brave', 'clever', 'dazzling', 'eager', 'festive', 'gallant', 'happy', 'jolly', 'keen', 'loving', 'modest', 'nifty', 'optimistic', 'quirky', 'relaxed', 'sharp', 'tender', 'upbeat', 'vibrant', 'wizardly', 'zealous'];
const RIGHT = ['albattani', 'bohr', 'curie', 'darwin', 'euclid', 'fermi', 'galileo', 'hopper', 'hypatia', 'kepler', 'lovelace', 'meitner', 'newton', 'noether', 'pascal', 'ritchie', 'shannon', 'tesla', 'turing', 'wozniak'];

/** Docker-style `adjective_surname` (with a digit suffix after collisions). */
export function randomName(taken: (n: string) => boolean): string {
  for (let i = 0; ; i++) {
    let n = `/${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    if (i > 5) n += randomInt(10);
    if (!taken(n)) return n;
  }
}

/**
 * Resolves a reference the way Docker does: full id, then name, then a unique id
 * prefix. Throws not-found `No such container: x`, invalid-argument for an ambiguous prefix.
 */
export function resolve<T extends { id: string; name: string }>(ref: string, all: Iterable<T>): T {
  if (!ref) throw notFound('No such container: ');
  const list = [...all];
  const byId = list.find((c) => c.id === ref);
  if (byId) return byId;
  const name = ref.startsWith('/') ? ref : '/' + ref;
  const byName = list.find((c) => c.name === name);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = list.filter((c) => c.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw invalidArgument(`Multiple IDs found with provided prefix: ${ref}`);
  }
  throw notFound(`No such container: ${ref}`);
}
