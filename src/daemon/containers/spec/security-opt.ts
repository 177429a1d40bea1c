/** `HostConfig.SecurityOpt` as Docker 20.10 parses it, with its messages. */
import { invalidArgument } from '../../../engine/errdefs';

export interface SecurityOpts {
  noNewPrivileges: boolean;
  /** `''` (default profile), `unconfined`, or a profile's JSON text */
  seccomp: string;
}

/** Parses `SecurityOpt` (`no-new-privileges[=bool]`, `seccomp=…`, `label=…`, `apparmor=…`). */
export function parseSecurityOpt(opts: readonly string[]): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, seccomp: '' };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalidArgument(`invalid --security-opt 1: "${opt}"`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'label':
      case 'apparmor':
        break; // neither SELinux nor AppArmor is supported; accepted and ignored
      case 'seccomp':
        out.seccomp = value;
        break;
      case 'no-new-privileges':
        if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(value)) {
          throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
        }
        out.noNewPrivileges = /^(1|t|T|TRUE|true|True)$/.test(value);
        break;
      default:
        throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}
