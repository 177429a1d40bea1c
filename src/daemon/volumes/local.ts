/**
 * The `local` volume driver, as moby's volume/local: each volume is a directory
 * `<data-root>/volumes/<name>/_data`. Driver options (`type`, `device`, `o`) make it a
 * mount instead — `type=tmpfs device=tmpfs o=size=1m`, `type=none o=bind device=/path`,
 * or any filesystem the kernel can mount (`type=ext4 device=/dev/sdb1`) — performed on
 * `_data` when a container first uses the volume and undone when the last one stops
 * (the caller decides "first" and "last": service.ts counts users from the containers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, internal, invalidArgument } from '../../engine/errdefs';
import { mountsUnder, unmount } from '../../engine/mount';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, nativeSys } from '../../engine/sys/native';

/** moby's local driver name check (volume/local: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const VALID_OPTS = new Set(['type', 'device', 'o']);

/** mount(2) flags by option name (moby/sys/mount flags_linux.go); propagation is applied after the mount. */
const MS_SYNCHRONOUS = 0x10;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NOATIME = 0x400;
const MS_NODIRATIME = 0x800;
const MS_UNBINDABLE = 0x20000;
const MS_PRIVATE = 0x40000;
const MS_SLAVE = 0x80000;
const MS_SHARED = 0x100000;
const MS_RELATIME = 0x200000;
const MS_STRICTATIME = 0x1000000;
const FLAGS: Record<string, { clear: boolean; flag: number }> = {
  defaults: { clear: false, flag: 0 },
  ro: { clear: false, flag: MS_RDONLY },
  rw: { clear: true, flag: MS_RDONLY },
  suid: { clear: true, flag: MS_NOSUID },
  nosuid: { clear: false, flag: MS_NOSUID },
  dev: { clear: true, flag: MS_NODEV },
  nodev: { clear: false, flag: MS_NODEV },
  exec: { clear: true, flag: MS_NOEXEC },
  noexec: { clear: false, flag: MS_NOEXEC },
  sync: { clear: false, flag: MS_SYNCHRONOUS },
  async: { clear: true, flag: MS_SYNCHRONOUS },
  dirsync: { clear: false, flag: MS_DIRSYNC },
  remount: { clear: false, flag: MS_REMOUNT },
  mand: { clear: false, flag: MS_MANDLOCK },
  nomand: { clear: true, flag: MS_MANDLOCK },
  atime: { clear: true, flag: MS_NOATIME },
  noatime: { clear: false, flag: MS_NOATIME },
  diratime: { clear: true, flag: MS_NODIRATIME },
  nodiratime: { clear: false, flag: MS_NODIRATIME },
  bind: { clear: false, flag: MS_BIND },
  rbind: { clear: false, flag: MS_BIND | MS_REC },
  relatime: { clear: false, flag: MS_RELATIME },
  norelatime: { clear: true, flag: MS_RELATIME },
  strictatime: { clear: false, flag: MS_STRICTATIME },
  nostrictatime: { clear: true, flag: MS_STRICTATIME },
};
const PROPAGATION: Record<string, number> = {
  unbindable: MS_UNBINDABLE, runbindable: MS_UNBINDABLE | MS_REC, private: MS_PRIVATE, rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED, rshared: MS_SHARED | MS_REC, slave: MS_SLAVE, rslave: MS_SLAVE | MS_REC,
};

/** The `o` option split as moby/sys/mount parseOptions does: flags, propagation, and the data string. */
export function parseMountOptions(o: string): { flags: number; propagation: number; data: string } {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const opt of o.split(',')) {
    if (opt === '') continue;
    const f = FLAGS[opt];
    if (f) {
      if (f.clear) flags &= ~f.flag;
      else flags |= f.flag;
    } else if (PROPAGATION[opt] !== undefined) propagation |= PROPAGATION[opt]!;
    else data.push(opt);
  }
  return { flags, propagation, data: data.join(',') };
}

/** The local driver over `<data-root>/volumes`. */
export class LocalDriver {
  constructor(readonly root: string) {}

  /** `<root>/<name>/_data`: the volume's Mountpoint. */
  mountpoint(name: string): string {
    return path.join(this.root, name, '_data');
  }

  /** Checks a name and driver options. Throws invalid-argument with moby's messages (without the `create <name>: ` prefix). */
  validate(name: string, opts: Record<string, string>): void {
    if (!VALID_NAME.test(name)) {
      throw invalidArgument(
        `${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    const keys = Object.keys(opts);
    if (keys.length === 0) return;
    for (const k of keys) if (!VALID_OPTS.has(k)) throw invalidArgument(`invalid option: ${JSON.stringify(k)}`);
    for (const k of ['device', 'type']) if (!(k in opts)) throw invalidArgument(`missing required option: ${JSON.stringify(k)}`);
  }

  /** Makes the volume's directory (idempotent). */
  create(name: string): void {
    fs.mkdirSync(path.join(this.root, name), { recursive: true, mode: 0o701 });
    fs.mkdirSync(this.mountpoint(name), { recursive: true, mode: 0o755 });
  }

  /** True when something is mounted on the volume's `_data`. */
  isMounted(name: string): boolean {
    const mp = this.mountpoint(name);
    try {
      return mountsUnder(mp).includes(fs.realpathSync(mp));
    } catch {
      return false;
    }
  }

  /**
   * Mounts a volume with driver options on its `_data` (a no-op without options or when
   * mounted already). Throws internal with moby's wording on a failed mount(2).
   */
  mount(name: string, opts: Record<string, string> | null): void {
    if (!opts || Object.keys(opts).length === 0 || this.isMounted(name)) return;
    const target = this.mountpoint(name);
    const device = opts['device'] ?? '';
    const type = opts['type'] ?? '';
    const { flags, propagation, data } = parseMountOptions(opts['o'] ?? '');
    const sys = nativeSys();
    try {
      // a bind mount ignores every flag but MS_REC at first: read-only and the others need a remount (moby/sys/mount)
      sys.mount(device, target, type, flags, data);
      if (flags & MS_BIND && flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) sys.mount('', target, '', flags | MS_REMOUNT, data);
      if (propagation) sys.mount('', target, '', propagation, '');
    } catch (err) {
      if (errnoCode(err) === undefined) throw err;
      const reason = (err as Error).message.replace(/^[A-Z]+:\s*/, '');
      throw internal(
        `error while mounting volume '${target}': failed to mount local volume: mount ${device}:${target}, flags: 0x${flags.toString(16)}${data ? `, data: ${data}` : ''}: ${reason}`,
        err,
      );
    }
  }

  /** Unmounts a volume's `_data` when something is mounted there. */
  unmount(name: string): void {
    if (this.isMounted(name)) unmount(this.mountpoint(name), { detach: true });
  }

  /** Removes the volume's directory, unmounting first (never deletes through a mount). */
  remove(name: string): void {
    const dir = path.join(this.root, name);
    for (let i = 0; i < 8 && this.isMounted(name); i++) unmount(this.mountpoint(name), { detach: true });
    if (this.isMounted(name)) throw internal(`remove ${name}: its data is still mounted`);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /** Bytes used under the volume's `_data` (file sizes, as moby's directory.Size). */
  size(name: string): number {
    let total = 0;
    const walk = (dir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else {
          try {
            total += fs.lstatSync(p).size;
          } catch {
            /* gone meanwhile */
          }
        }
      }
    };
    walk(this.mountpoint(name));
    return total;
  }
}
