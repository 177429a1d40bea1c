/**
 * Build arguments as Docker 20.10's classic builder keeps them (moby
 * builder/dockerfile/buildargs.go): the `buildargs` of the request, the ARGs declared
 * before the first FROM (meta args), the ARGs declared in the current stage, and the
 * predefined proxy args, which are usable without a declaration but stay out of the
 * cache key unless declared.
 */

/** The predefined args (usable in RUN without an ARG; left out of the image's history). */
export const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export class BuildArgs {
  /** ARGs declared in the current stage: name → default (undefined: none given) */
  private allowed = new Map<string, string | undefined>();
  /** ARGs declared before the first FROM, with their values (options override) */
  private meta = new Map<string, string | undefined>();
  /** names declared anywhere (for the "not consumed" warning) */
  private referenced = new Set<string>();

  /** `options`: the request's buildargs; a null value means "take it from the environment" (unset here). */
  constructor(private readonly options: Map<string, string | undefined>) {}

  /** A copy for a new stage: same options and meta args, no stage args. */
  forStage(): BuildArgs {
    const b = new BuildArgs(this.options);
    b.meta = this.meta;
    b.referenced = this.referenced;
    return b;
  }

  /** `ARG name[=default]` inside a stage. */
  addArg(name: string, value: string | undefined): void {
    this.allowed.set(name, value);
    this.referenced.add(name);
  }

  /** `ARG name[=default]` before the first FROM. */
  addMetaArg(name: string, value: string | undefined): void {
    this.meta.set(name, value);
  }

  /** The meta args' effective values (for FROM and the values of later meta args). */
  allMeta(): Map<string, string> {
    return this.fromMapping(this.meta, false);
  }

  /** The stage's args (and the builtins given in the options) with their effective values. */
  allAllowed(): Map<string, string> {
    return this.fromMapping(this.allowed, true);
  }

  /** `KEY=value` of every allowed arg that the environment `env` does not override. */
  filterAllowed(env: string[]): string[] {
    const keys = new Set(env.map((e) => e.split('=', 1)[0]!));
    const out: string[] = [];
    for (const [k, v] of this.allAllowed()) if (!keys.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  /** Docker's IsReferencedOrNotBuiltin. */
  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !BUILTIN_ARGS.has(key);
  }

  /** The request's args that no ARG declared (builtins aside), sorted. */
  unused(): string[] {
    return [...this.options.keys()].filter((k) => !BUILTIN_ARGS.has(k) && !this.referenced.has(k)).sort();
  }

  private fromMapping(source: Map<string, string | undefined>, withBuiltins: boolean): Map<string, string> {
    const m = new Map<string, string>();
    const keys = new Set(source.keys());
    if (withBuiltins) for (const k of BUILTIN_ARGS) keys.add(k);
    for (const key of keys) {
      const v = this.value(key, source);
      if (v !== undefined) m.set(key, v);
    }
    return m;
  }

  private value(key: string, source: Map<string, string | undefined>): string | undefined {
    const fromOptions = this.options.get(key);
    if (fromOptions !== undefined) return fromOptions;
    if (!source.has(key)) return undefined;
    const def = source.get(key);
    if (def === undefined) return source === this.meta ? undefined : this.meta.get(key);
    return def;
  }
}
