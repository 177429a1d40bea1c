/**
 * The classic builder (moby builder/dockerfile: builder.go, dispatchers.go,
 * internals.go, copy.go), over a parsed Dockerfile: stages in order, every instruction
 * a step that prints Docker 20.10's lines and leaves an image (`#(nop)` steps too),
 * each step first looked up in the cache. Stages the target does not need are skipped.
 * See docs/build.md.
 */
import * as path from 'node:path';
import { invalidArgument } from '../../engine/errdefs';
import { parseNormalizedNamed, tagNameOnly } from '../../engine/reference';
import type { ContainerConfig, HostConfig } from '../containers/types';
import type { JsonMessage } from '../jsonmessage';
import { type BuildBackend, newStepId } from './backend';
import { BuildArgs } from './buildargs';
import type { BuildContext } from './context';
import { EXPANDING_INSTRUCTIONS, expandWord, expandWords } from './dockerfile/expand';
import { flagValue, flagValues } from './dockerfile/flags';
import { goQuote } from '../../engine/gostr';
import { healthcheckOf, type OnbuildInstruction, parseDockerfile, parseOnbuildTrigger } from './dockerfile/parser';
import type { Dockerfile, Instruction, Stage } from './dockerfile/types';
import { addFromURL, copySources, type CopyOptions } from './copy';
import { mkdirAllNew, resolveInScope } from './fsutil';

/** An error that carries Docker's JSONError code (a failed RUN's exit code). */
export class BuildStepError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export interface BuildOptions {
  buildArgs: Map<string, string | undefined>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  cacheFrom: string[];
  /** the RUN containers' host config (network mode, limits, extra hosts) */
  hostConfig: HostConfig;
  /** X-Registry-Config: registry → credentials */
  auth: Record<string, Record<string, unknown>>;
  signal?: AbortSignal;
}

interface State {
  imageId: string;
  runConfig: ContainerConfig;
  maintainer: string;
  cmdSet: boolean;
  buildArgs: BuildArgs;
  stageName?: string;
  /** where this stage's messages go */
  out: Out;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The first 12 hex of an ID (Docker's TruncateID). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function copyConfig(c: ContainerConfig): ContainerConfig {
  return JSON.parse(JSON.stringify(c)) as ContainerConfig;
}

/** Go's `%q` of a string slice. */
function goQuoteList(l: string[]): string {
  return `[${l.map(goQuote).join(' ')}]`;
}

/** Go's time.Duration String(). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFloat(u / div)}${unit}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    out = `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trimFloat(u / 1e9)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}

/** Which stages the target needs (FROM <stage>, COPY --from=<stage|index>). */
function neededStages(df: Dockerfile, target: number, metaEnv: Map<string, string>): Set<number> {
  const byName = new Map<string, number>();
  df.stages.forEach((s, i) => {
    if (s.name) byName.set(s.name, i);
  });
  const need = new Set<number>();
  const visit = (i: number) => {
    if (need.has(i)) return;
    need.add(i);
    const s = df.stages[i]!;
    let base = s.base;
    try {
      base = expandWord(s.base, metaEnv, df.escapeToken);
    } catch {
      /* reported when the stage runs */
    }
    const b = byName.get(base.toLowerCase());
    if (b !== undefined && b < i) visit(b);
    for (const ins of s.instructions) {
      const from = ins.keyword === 'copy' || ins.keyword === 'add' ? flagValue(ins.flags, 'from') : undefined;
      if (from === undefined) continue;
      const n = byName.get(from.toLowerCase());
      if (n !== undefined && n < i) visit(n);
      else if (/^\d+$/.test(from) && Number(from) < i) visit(Number(from));
    }
  };
  visit(target);
  return need;
}

type Out = (m: JsonMessage) => Promise<void>;

/**
 * The stages' output in the order of the Dockerfile while they run in parallel: the
 * first unfinished stage writes through; later ones are held back and written, in
 * order, once the stages before them finish (Docker's output, stage by stage).
 */
export class OrderedOutput {
  private current = 0;
  private flushing = false;
  private readonly held: JsonMessage[][];
  private readonly finished: boolean[];

  constructor(private readonly n: number, private readonly out: Out) {
    this.held = Array.from({ length: n }, () => []);
    this.finished = Array.from({ length: n }, () => false);
  }

  writer(i: number): Out {
    return async (m) => {
      if (i === this.current && !this.flushing) return this.out(m);
      this.held[i]!.push(m);
    };
  }

  /** Stage `i` is done (or failed): the next ones' held output goes out. */
  async finish(i: number): Promise<void> {
    this.finished[i] = true;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.current < this.n && this.finished[this.current]) {
        this.current++;
        if (this.current < this.n) await this.drain(this.current);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async drain(i: number): Promise<void> {
    const q = this.held[i]!;
    while (q.length > 0) await this.out(q.shift()!);
  }
}

interface StageRun {
  name?: string;
  /** the stage's image; undefined for a stage the target does not need */
  done?: Promise<string>;
}

export class Builder {
  private readonly stageRuns: StageRun[] = [];
  /** `cachefrom`'s images (narrowed by Docker's rule once one is used) */
  private cacheFrom: { ids: string[] } | undefined;
  private readonly write: Out;
  private readonly abort = new AbortController();
  private readonly contextHashes = new Map<string, Promise<string>>();

  constructor(
    private readonly backend: BuildBackend,
    private readonly ctx: BuildContext,
    private readonly opts: BuildOptions,
    write: Out,
  ) {
    this.write = write;
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private say(out: Out, text: string): Promise<void> {
    return out({ stream: text });
  }

  /** Runs the build; returns the final image ID. Throws BuildStepError, invalid-argument, not-found. */
  async build(): Promise<string> {
    const outer = this.opts.signal;
    const onAbort = () => this.abort.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    outer?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.buildStages();
    } finally {
      outer?.removeEventListener('abort', onAbort);
      this.abort.abort();
    }
  }

  private async buildStages(): Promise<string> {
    const df = parseDockerfile(this.ctx.dockerfile, { name: this.ctx.dockerfileName });
    const stages = [...df.stages];
    let targetIx = stages.length - 1;
    if (this.opts.target) {
      targetIx = stages.findIndex((s) => s.name === this.opts.target!.toLowerCase());
      if (targetIx < 0) throw invalidArgument(`failed to reach build target ${this.opts.target} in Dockerfile`);
    }
    stages.length = targetIx + 1;
    const labels = Object.keys(this.opts.labels).sort();
    if (labels.length > 0) {
      const last = stages[targetIx]!;
      const args = labels.flatMap((k) => [k, this.opts.labels[k]!]);
      const ins: Instruction & { literal?: boolean } = { keyword: 'label', original: `LABEL ${labels.map((k) => `${k}=${this.opts.labels[k]}`).join(' ')}`, flags: [], args, json: false, startLine: 0, endLine: 0, literal: true };
      stages[targetIx] = { ...last, instructions: [...last.instructions, ins] };
    }
    const seen = new Set<string>();
    for (const stage of stages) {
      if (!stage.name) continue;
      if (seen.has(stage.name)) throw invalidArgument(`duplicate name ${stage.name}`);
      seen.add(stage.name);
    }
    if (this.opts.cacheFrom.length > 0) {
      const ids = this.opts.cacheFrom.map((r) => this.backend.findImage(r)).filter((x): x is string => !!x);
      this.cacheFrom = { ids };
    }
    const total = df.metaArgs.length + stages.length + stages.reduce((n, s) => n + s.instructions.length, 0);
    let step = 1;
    const buildArgs = new BuildArgs(this.opts.buildArgs);
    for (const m of df.metaArgs) {
      await this.printStep(this.write, step++, total, m);
      for (const [name, value] of argPairs(m)) {
        const v = value === undefined ? undefined : expandWord(value, buildArgs.allMeta(), df.escapeToken);
        buildArgs.addMetaArg(name, v);
      }
    }
    const need = neededStages({ ...df, stages }, targetIx, buildArgs.allMeta());
    const order = [...need].sort((a, b) => a - b);
    const output = new OrderedOutput(order.length, this.write);
    let failure: { error: unknown } | undefined;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      const first = step;
      step += 1 + stage.instructions.length;
      const run: StageRun = stage.name ? { name: stage.name } : {};
      this.stageRuns.push(run);
      // past Docker: a stage the target does not need is not built
      if (!need.has(i)) continue;
      const pos = order.indexOf(i);
      const out = output.writer(pos);
      // independent stages run at once; one waits for the stages it uses (FROM, COPY --from)
      run.done = (async () => {
        try {
          return await this.runStage(stage, buildArgs.forStage(), df.escapeToken, out, first, total);
        } catch (err) {
          if (!failure) {
            failure = { error: err };
            this.abort.abort(err);
          }
          throw err;
        } finally {
          await output.finish(pos);
        }
      })();
      run.done.catch(() => undefined);
    }
    let last = '';
    for (const i of order) {
      try {
        last = await this.stageRuns[i]!.done!;
      } catch {
        // the first failure, not the cancellations it caused in other stages
        throw failure ? failure.error : new Error('build failed');
      }
    }
    const unused = buildArgs.unused();
    if (unused.length > 0) await this.say(this.write, `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    if (last === '') throw invalidArgument('No image was generated. Is your Dockerfile empty?');
    return last;
  }

  /** Builds one stage: FROM, then its instructions; returns its image. */
  private async runStage(stage: Stage, buildArgs: BuildArgs, escape: string, out: Out, first: number, total: number): Promise<string> {
    let step = first;
    await this.printStep(out, step++, total, stage.from);
    const state = await this.initializeStage(stage, buildArgs, escape, out);
    state.runConfig.Image = state.imageId;
    await this.say(out, ` ---> ${shortId(state.imageId)}\n`);
    for (const ins of stage.instructions) {
      if (this.signal.aborted) throw invalidArgument('Build cancelled');
      await this.printStep(out, step++, total, ins);
      await this.dispatch(state, ins, escape);
      state.runConfig.Image = state.imageId;
      await this.say(out, ` ---> ${shortId(state.imageId)}\n`);
    }
    if (state.imageId) await out({ aux: { ID: state.imageId } });
    return state.imageId;
  }

  /** The image of an earlier stage, by name or index, once it is built; undefined when no stage has that name. */
  private async stageImage(ref: string): Promise<string | undefined> {
    const lower = ref.toLowerCase();
    let run = this.stageRuns.find((s) => s.name === lower);
    if (!run && /^\d+$/.test(ref) && Number(ref) < this.stageRuns.length) run = this.stageRuns[Number(ref)];
    if (!run) return undefined;
    if (!run.done) throw invalidArgument(`stage ${ref} is not built for this target`);
    return run.done;
  }

  private async printStep(out: Out, i: number, n: number, ins: Instruction): Promise<void> {
    await this.say(out, `Step ${i}/${n} : ${ins.original}`);
    await this.say(out, '\n');
  }

  // ---------- FROM ----------

  private async initializeStage(stage: Stage, buildArgs: BuildArgs, escape: string, out: Out): Promise<State> {
    const meta = buildArgs.allMeta();
    if (stage.platform) {
      const p = expandWord(stage.platform, meta, escape);
      checkPlatform(p);
    }
    const name = expandWord(stage.base, meta, escape);
    if (name === '') throw invalidArgument(`base name (${stage.base}) should not be blank`);
    let imageId: string;
    const prior = this.stageRuns.find((s) => s.name !== undefined && s.name === name.toLowerCase());
    if (prior) imageId = await this.stageImage(prior.name!) ?? '';
    else if (name === 'scratch') imageId = '';
    else imageId = await this.getImage(name, out);
    const cfg = imageId ? await this.backend.config(imageId) : undefined;
    const runConfig: ContainerConfig = cfg?.config ? (copyConfig(cfg.config as ContainerConfig) as ContainerConfig) : {};
    if (!(runConfig.Env ?? []).some((e) => e.split('=', 1)[0] === 'PATH')) runConfig.Env = [...(runConfig.Env ?? []), DEFAULT_PATH];
    runConfig.OpenStdin = false;
    runConfig.StdinOnce = false;
    const state: State = { imageId, runConfig, maintainer: '', cmdSet: false, buildArgs, out, ...(stage.name ? { stageName: stage.name } : {}) };
    const triggers = runConfig.OnBuild ?? [];
    if (triggers.length > 0) {
      runConfig.OnBuild = null;
      await this.say(out, `# Executing ${triggers.length} build trigger`);
      if (triggers.length > 1) await this.say(out, 's');
      await this.say(out, '\n');
      for (const t of triggers) {
        state.runConfig.Image = state.imageId;
        await this.dispatch(state, parseOnbuildTrigger(t), '\\');
      }
    }
    return state;
  }

  /** A base or `--from` image: local (unless `pull`), else pulled. */
  private async getImage(name: string, out: Out): Promise<string> {
    const local = this.backend.findImage(name);
    if (local && (!this.opts.pull || name.startsWith('sha256:'))) return local;
    let ref;
    try {
      ref = tagNameOnly(parseNormalizedNamed(name));
    } catch (err) {
      if (local) return local;
      throw err;
    }
    const auth = this.opts.auth[ref.domain] ?? (ref.domain === 'docker.io' ? this.opts.auth['https://index.docker.io/v1/'] : undefined) ?? this.opts.auth[`https://${ref.domain}`] ?? {};
    // with `pull`, a failed pull fails the build even when the image is here, as Docker
    return this.backend.o.pull(ref, { auth, signal: this.signal, onMessage: out });
  }

  // ---------- the steps ----------

  private env(st: State): string[] {
    const e = st.runConfig.Env ?? [];
    return [...e, ...st.buildArgs.filterAllowed(e)];
  }

  private async dispatch(st: State, ins: Instruction & { literal?: boolean }, escape: string): Promise<void> {
    const k = ins.keyword;
    let args = ins.args;
    if (EXPANDING_INSTRUCTIONS.has(k) && !ins.literal && k !== 'arg' && k !== 'expose') {
      const env = this.env(st);
      args = args.map((a) => expandWord(a, env, escape));
    }
    await this.dispatchExpanded(st, ins, args, escape);
  }

  private async dispatchExpanded(st: State, ins: Instruction, args: string[], escape: string): Promise<void> {
    const rc = st.runConfig;
    switch (ins.keyword) {
      case 'env': {
        const parts: string[] = [];
        for (let i = 0; i + 1 < args.length; i += 2) {
          const kv = `${args[i]}=${args[i + 1]}`;
          parts.push(kv);
          const env = rc.Env ?? [];
          const at = env.findIndex((e) => e.split('=', 1)[0] === args[i]);
          if (at >= 0) env[at] = kv;
          else env.push(kv);
          rc.Env = env;
        }
        return this.commitMeta(st, `ENV ${parts.join(' ')}`);
      }
      case 'label': {
        rc.Labels = rc.Labels ?? {};
        const parts: string[] = [];
        for (let i = 0; i + 1 < args.length; i += 2) {
          rc.Labels[args[i]!] = args[i + 1]!;
          parts.push(`${args[i]}=${args[i + 1]}`);
        }
        return this.commitMeta(st, `LABEL ${parts.join(' ')}`);
      }
      case 'maintainer':
        st.maintainer = args.join(' ');
        return this.commitMeta(st, `MAINTAINER ${st.maintainer}`);
      case 'expose': {
        const env = this.env(st);
        const ports = args.flatMap((a) => expandWords(a, env, escape));
        rc.ExposedPorts = rc.ExposedPorts ?? {};
        const specs = new Set<string>();
        for (const p of ports) for (const spec of parsePortSpec(p)) specs.add(spec);
        for (const spec of specs) rc.ExposedPorts[spec] = {};
        // Docker lists the words as written (expanded), sorted
        return this.commitMeta(st, `EXPOSE ${[...ports].sort().join(' ')}`);
      }
      case 'user':
        rc.User = args[0] ?? '';
        return this.commitMeta(st, `USER ${rc.User}`);
      case 'volume': {
        rc.Volumes = rc.Volumes ?? {};
        for (const v of args) {
          if (v.trim() === '') throw invalidArgument('VOLUME specified can not be an empty string');
          rc.Volumes[v] = {};
        }
        return this.commitMeta(st, `VOLUME [${args.join(' ')}]`);
      }
      case 'stopsignal':
        rc.StopSignal = args[0] ?? '';
        return this.commitMeta(st, `STOPSIGNAL ${rc.StopSignal}`);
      case 'arg': {
        const parts: string[] = [];
        const env = this.env(st);
        for (const [name0, value0] of argPairs(ins)) {
          const name = expandWord(name0, env, escape);
          const value = value0 === undefined ? undefined : expandWord(value0, env, escape);
          parts.push(value === undefined ? name : `${name}=${value}`);
          st.buildArgs.addArg(name, value);
        }
        return this.commitMeta(st, `ARG ${parts.join(' ')}`);
      }
      case 'onbuild': {
        const expr = (ins as OnbuildInstruction).expression ?? ins.original.replace(/^\s*onbuild\s+/i, '');
        rc.OnBuild = [...(rc.OnBuild ?? []), expr];
        return this.commitMeta(st, `ONBUILD ${expr}`);
      }
      case 'shell':
        rc.Shell = args;
        return this.commitMeta(st, `SHELL [${args.join(' ')}]`);
      case 'cmd': {
        const cmd = this.cmdLine(st, ins, args);
        rc.Cmd = cmd;
        await this.commitMeta(st, `CMD ${goQuoteList(cmd)}`);
        if (args.length !== 0) st.cmdSet = true;
        return;
      }
      case 'entrypoint': {
        const cmd = this.cmdLine(st, ins, args);
        rc.Entrypoint = cmd;
        if (!st.cmdSet) rc.Cmd = null;
        return this.commitMeta(st, `ENTRYPOINT ${goQuoteList(cmd)}`);
      }
      case 'healthcheck': {
        const h = healthcheckOf(ins);
        const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: h.test };
        if (h.interval) hc.Interval = h.interval;
        if (h.timeout) hc.Timeout = h.timeout;
        if (h.startPeriod) hc.StartPeriod = h.startPeriod;
        if (h.retries) hc.Retries = h.retries;
        if (rc.Healthcheck && rc.Healthcheck.Test && rc.Healthcheck.Test.length > 0 && h.test[0] !== 'NONE') {
          // Docker prints this note when a base image's check is replaced
          await this.say(st.out, `Note: overriding previous HEALTHCHECK: ${goQuoteList(rc.Healthcheck.Test)}\n`);
        }
        rc.Healthcheck = hc;
        const q = `&{${goQuoteList(h.test)} ${goQuote(goDuration(h.interval))} ${goQuote(goDuration(h.timeout))} ${goQuote(goDuration(h.startPeriod))} '${goRune(h.retries)}'}`;
        return this.commitMeta(st, `HEALTHCHECK ${q}`);
      }
      case 'workdir':
        return this.workdir(st, args[0] ?? '');
      case 'run':
        return this.run(st, ins, args);
      case 'copy':
      case 'add':
        return this.copy(st, ins, args);
      default:
        throw invalidArgument(`unknown instruction: ${ins.keyword.toUpperCase()}`);
    }
  }

  /** Docker's resolveCmdLine: exec form as is, shell form after the SHELL. */
  private cmdLine(st: State, ins: Instruction, args: string[]): string[] {
    if (ins.json) return args;
    return [...shellOf(st), ...args];
  }

  /** A cache lookup; on a hit the state moves to the cached image. */
  private async probe(st: State, cfg: ContainerConfig): Promise<boolean> {
    if (this.opts.noCache) return false;
    const hit = this.cacheFrom ? await this.backend.probeCacheFrom(st.imageId, cfg, this.cacheFrom) : await this.backend.probeCache(st.imageId, cfg);
    if (!hit) return false;
    await this.say(st.out, ' ---> Using cache\n');
    st.imageId = hit;
    return true;
  }

  /** Docker's `commit(state, comment)`: a metadata-only step (an image with no layer). */
  private async commitMeta(st: State, comment: string): Promise<void> {
    const probe = { ...copyConfig(st.runConfig), Cmd: [...shellOf(st), '#(nop) ', comment] };
    if (await this.probe(st, probe)) return;
    // Docker creates (and removes) a container that never runs; its ID is all that shows
    const id = newStepId();
    await this.say(st.out, ` ---> Running in ${shortId(id)}\n`);
    st.imageId = await this.backend.commit({ parent: st.imageId, config: copyConfig(st.runConfig), containerConfig: { Hostname: shortId(id), ...probe }, containerId: id, ...(st.maintainer ? { author: st.maintainer } : {}) });
    if (this.opts.rm || this.opts.forceRm) await this.say(st.out, `Removing intermediate container ${shortId(id)}\n`);
  }

  private async workdir(st: State, dir: string): Promise<void> {
    const rc = st.runConfig;
    // Docker's normalizeWorkdir: an absolute path as written, a relative one joined to the current
    if (dir === '') throw invalidArgument('cannot normalize nothing');
    rc.WorkingDir = dir.startsWith('/') ? dir : path.posix.join('/', rc.WorkingDir || '/', dir);
    const probe = { ...copyConfig(rc), Cmd: [...shellOf(st), `#(nop) WORKDIR ${rc.WorkingDir}`] };
    if (await this.probe(st, probe)) return;
    const id = newStepId();
    await this.say(st.out, ` ---> Running in ${shortId(id)}\n`);
    const wd = rc.WorkingDir;
    st.imageId = await this.backend.writeStep(
      st.imageId,
      async (root) => {
        mkdirAllNew(resolveInScope(root, wd), { uid: 0, gid: 0 });
      },
      { config: copyConfig(rc), containerConfig: { Hostname: shortId(id), ...probe }, containerId: id, ...(st.maintainer ? { author: st.maintainer } : {}) },
      this.signal,
    );
    if (this.opts.rm || this.opts.forceRm) await this.say(st.out, `Removing intermediate container ${shortId(id)}\n`);
  }

  private async run(st: State, ins: Instruction, args: string[]): Promise<void> {
    if (flagValues(ins.flags, 'mount').length > 0) throw invalidArgument(buildkitOnly('--mount'));
    const rc = st.runConfig;
    const cmdFromArgs = this.cmdLine(st, ins, args);
    const buildArgs = st.buildArgs.filterAllowed(rc.Env ?? []);
    let saveCmd = cmdFromArgs;
    if (buildArgs.length > 0) {
      const used = buildArgs.filter((e) => st.buildArgs.isReferencedOrNotBuiltin(e.split('=', 1)[0]!)).sort();
      saveCmd = [`|${used.length}`, ...used, ...cmdFromArgs];
    }
    const probe: ContainerConfig = { ...copyConfig(rc), Cmd: saveCmd };
    if (saveCmd.length > 0) probe.Entrypoint = null;
    if (await this.probe(st, probe)) return;
    if (!st.imageId) throw invalidArgument('Please provide a source image with `from` prior to run');
    const runCfg: ContainerConfig = { ...copyConfig(rc), Cmd: cmdFromArgs, Env: [...(rc.Env ?? []), ...buildArgs], Image: st.imageId };
    if (saveCmd.length > 0) runCfg.Entrypoint = [''];
    delete runCfg.Healthcheck;
    let created = '';
    try {
      const { id, exitCode } = await this.backend.runContainer(
        runCfg,
        this.opts.hostConfig,
        async (cid) => {
          created = cid;
          await this.say(st.out, ` ---> Running in ${shortId(cid)}\n`);
        },
        (stream, data) => this.say(st.out, stream === 1 ? data.toString('utf8') : `\u001b[91m${data.toString('utf8')}\u001b[0m`),
        this.signal,
      );
      if (exitCode !== 0) throw new BuildStepError(`The command '${cmdFromArgs.join(' ')}' returned a non-zero code: ${exitCode}`, exitCode);
      st.imageId = await this.backend.commitContainer(id, { parent: st.imageId, config: copyConfig(rc), containerConfig: probe, ...(st.maintainer ? { author: st.maintainer } : {}) }, this.signal);
      if (this.opts.rm || this.opts.forceRm) await this.removeContainer(st, id);
    } catch (err) {
      if (created && this.opts.forceRm) await this.removeContainer(st, created);
      throw err;
    }
  }

  private async removeContainer(st: State, id: string): Promise<void> {
    try {
      await this.backend.o.containers.remove(id, { force: true });
      await this.say(st.out, `Removing intermediate container ${shortId(id)}\n`);
    } catch (err) {
      await this.say(st.out, `Could not remove intermediate container ${shortId(id)}: ${(err as Error).message}\n`);
    }
  }

  private async copy(st: State, ins: Instruction, args: string[]): Promise<void> {
    const isAdd = ins.keyword === 'add';
    const name = isAdd ? 'ADD' : 'COPY';
    if (flagValue(ins.flags, 'chmod') !== undefined) throw invalidArgument(buildkitOnly('--chmod'));
    const from = flagValue(ins.flags, 'from');
    let chown = flagValue(ins.flags, 'chown');
    if (chown !== undefined) chown = expandWord(chown, this.env(st), '\\');
    if (args.length < 2) throw invalidArgument(`${name} requires at least two arguments`);
    const srcs = args.slice(0, -1);
    let dest = args[args.length - 1]!;
    const endsInSlash = dest.endsWith('/');
    if (!dest.startsWith('/')) {
      dest = path.posix.join('/', st.runConfig.WorkingDir || '/', dest);
      if (endsInSlash && !dest.endsWith('/')) dest += '/';
    }
    let sourceImage: string | undefined;
    if (from !== undefined) {
      if (isAdd) throw invalidArgument('Unknown flag: from');
      sourceImage = await this.copySourceImage(from, st.out);
    }
    // the context does not change during a build: its checksums are remembered (not --from's files)
    const copyOpts: CopyOptions = { name, srcs, dest, chown, allowRemote: isAdd, decompress: isAdd, signal: this.signal, ...(sourceImage === undefined ? { hashes: this.contextHashes } : {}) };
    const run = async (srcRoot: string) => {
      const plan = await copySources(srcRoot, copyOpts, isAdd ? (u) => addFromURL(u, this.signal) : undefined);
      try {
        // as Docker writes it: no space after --chown, the destination as written
        const chownStr = chown ? `--chown=${chown}` : '';
        const comment = `${name} ${chownStr}${plan.hash} in ${args[args.length - 1]} `;
        const probe = { ...copyConfig(st.runConfig), Cmd: [...shellOf(st), `#(nop) ${comment}`] };
        if (await this.probe(st, probe)) return;
        st.imageId = await this.backend.writeStep(st.imageId, (root) => plan.apply(root), { config: copyConfig(st.runConfig), containerConfig: probe, ...(st.maintainer ? { author: st.maintainer } : {}) }, this.signal);
      } finally {
        plan.close();
      }
    };
    if (sourceImage === undefined) return run(this.ctx.dir);
    return this.backend.withImageFiles(sourceImage, run);
  }

  /** COPY --from: a stage by name or index, else an image (pulled if missing). */
  private async copySourceImage(from: string, out: Out): Promise<string> {
    const stage = await this.stageImage(from);
    if (stage !== undefined) return stage;
    if (/^\d+$/.test(from)) throw invalidArgument('index out of bounds');
    try {
      return await this.getImage(from, out);
    } catch (err) {
      throw invalidArgument(`invalid from flag value ${from}: ${(err as Error).message}`, err);
    }
  }
}

/** Docker 20.10's refusal of a BuildKit-only flag in the classic builder. */
function buildkitOnly(flag: string): string {
  return `the ${flag} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`;
}

/** The SHELL in effect (Docker's getShell): also the prefix of every `#(nop)` comment. */
function shellOf(st: State): string[] {
  return st.runConfig.Shell && st.runConfig.Shell.length > 0 ? st.runConfig.Shell : ['/bin/sh', '-c'];
}

/** ARG's name/default pairs. */
function argPairs(ins: Instruction): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (let i = 0; i < ins.args.length; i += 2) {
    const name = ins.args[i]!;
    const value = ins.argDefault && Object.prototype.hasOwnProperty.call(ins.argDefault, name) ? ins.argDefault[name] : ins.args[i + 1];
    out.push([name, value]);
  }
  return out;
}

/** Go's `%q` of an int (a rune literal). */
function goRune(n: number): string {
  if (n >= 0x20 && n < 0x7f) return n === 0x27 ? "\\'" : n === 0x5c ? '\\\\' : String.fromCharCode(n);
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
  if (named[n]) return named[n]!;
  if (n < 0x100) return `\\x${n.toString(16).padStart(2, '0')}`;
  return n < 0x10000 ? `\\u${n.toString(16).padStart(4, '0')}` : `\\U${n.toString(16).padStart(8, '0')}`;
}

/** nat.ParsePortSpec for EXPOSE: `80`, `80/udp`, `8000-8002/tcp`. Throws invalid-argument. */
export function parsePortSpec(p: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
  if (!m) throw invalidArgument(`Invalid containerPort: ${p.split('/')[0]}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (hi < lo || hi > 65535) throw invalidArgument(`Invalid containerPort: ${p.split('/')[0]}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let n = lo; n <= hi; n++) out.push(`${n}/${proto}`);
  return out;
}

/** `platform` of FROM or of the request: linux or linux/<this machine's arch>. Throws invalid-argument. */
export function checkPlatform(p: string): void {
  if (p === '') return;
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const parts = p.toLowerCase().split('/');
  if (parts[0] !== 'linux' || (parts[1] !== undefined && parts[1] !== arch && !(arch === 'amd64' && parts[1] === 'x86_64'))) {
    throw invalidArgument(`platform ${p} is not supported by this daemon: only linux/${arch}`);
  }
}

/** Is `err` one Docker reports with a code (a failed RUN)? */
export function stepErrorCode(err: unknown): number | undefined {
  return err instanceof BuildStepError ? err.code : undefined;
}

