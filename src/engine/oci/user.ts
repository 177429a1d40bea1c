/**
 * Resolving a user spec (`name`, `uid:gid`, …) and extra groups against a container's
 * own /etc/passwd and /etc/group, with runc's libcontainer/user rules (which Docker uses):
 * numeric ids need no entry, names must exist, the first match wins, supplementary
 * groups come from group membership only when no group was given explicitly.
 *
 * Pure: the file contents are passed in (`null` when the file does not exist).
 */
import { invalidArgument } from '../errdefs';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The resolved process identity, as it goes into the spec's `process.user`. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid, then membership groups, then the extra groups (Docker's order). */
  additionalGids: number[];
  home?: string;
}

const MAX_ID = 2 ** 31 - 1;

/** Go's strconv.Atoi: optional sign, decimal digits; NaN otherwise. */
function atoi(s: string): number {
  return /^[+-]?[0-9]+$/.test(s) ? Number(s) : NaN;
}

/** Non-numeric fields become 0, as in runc's parser. */
function atoiOrZero(s: string | undefined): number {
  const n = atoi(s ?? '');
  return Number.isSafeInteger(n) ? n : 0;
}

/** Parses passwd-format text; blank lines are skipped, short lines tolerated. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', uid: atoiOrZero(f[2]), gid: atoiOrZero(f[3]), home: f[5] ?? '' });
  }
  return out;
}

/** Parses group-format text; the member list is comma separated. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') continue;
    const f = line.split(':');
    out.push({ name: f[0] ?? '', gid: atoiOrZero(f[2]), members: f[3] ? f[3].split(',') : [] });
  }
  return out;
}

function checkRange(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) {
    throw invalidArgument(`uids and gids must be in range 0-${MAX_ID}`);
  }
  return id;
}

/**
 * Resolves a user spec (`''`, `name`, `uid`, `name:group`, `uid:gid`, …) and extra groups.
 *
 * @param passwd contents of the container's /etc/passwd, or null if it has none
 * @param group contents of the container's /etc/group, or null if it has none
 * @throws invalid-argument with runc's messages (which Docker shows), e.g.
 *   `unable to find user nobody2: no matching entries in passwd file`
 */
export function resolveUser(
  spec: string,
  groupAdd: readonly string[],
  passwd: string | null,
  group: string | null,
): ResolvedUser {
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  // runc splits on every ':' and takes the second field as the group.
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1).split(':')[0]!;
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);

  let uid = 0;
  let gid = 0;
  let home: string | undefined;
  let matchedName = '';
  const users = passwd === null ? [] : parsePasswd(passwd);
  const match = users.find((u) => {
    if (userArg === '') return u.uid === 0;
    if (!Number.isNaN(uidArg)) return u.uid === uidArg;
    return u.name === userArg;
  });
  if (match) {
    matchedName = match.name;
    uid = match.uid;
    gid = match.gid;
    home = match.home;
  } else if (userArg !== '') {
    if (Number.isNaN(uidArg)) {
      throw invalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    uid = checkRange(uidArg);
  }

  let sgids: number[] = [];
  const groups = group === null ? [] : parseGroup(group);
  if (groupArg !== '' || matchedName !== '') {
    const found = groups.filter((g) => {
      if (groupArg === '') return g.members.includes(matchedName);
      if (!Number.isNaN(gidArg)) return g.gid === gidArg;
      return g.name === groupArg;
    });
    if (groupArg !== '') {
      if (found.length > 0) {
        gid = found[0]!.gid;
      } else {
        if (Number.isNaN(gidArg)) {
          throw invalidArgument(`unable to find group ${groupArg}: no matching entries in group file`);
        }
        gid = checkRange(gidArg);
      }
    } else {
      sgids = found.map((g) => g.gid);
    }
  }

  const extra = additionalGroups(groupAdd, groups);
  const result: ResolvedUser = { uid, gid, additionalGids: [gid, ...sgids, ...extra] };
  if (home !== undefined) result.home = home;
  return result;
}

/** Extra groups by name or gid; unknown numeric gids pass, unknown names throw. */
function additionalGroups(names: readonly string[], groups: readonly GroupEntry[]): number[] {
  const out: number[] = [];
  for (const ag of names) {
    const g = groups.find((x) => x.name === ag || String(x.gid) === ag);
    let gid: number;
    if (g) {
      gid = g.gid;
    } else {
      const n = atoi(ag);
      if (Number.isNaN(n)) throw invalidArgument(`Unable to find group ${ag}`);
      gid = checkRange(n);
    }
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}
