/**
 * The parsed Dockerfile, as the builder reads it (docs/build.md). The parser
 * (parser.ts) keeps each instruction's words as written; variable substitution happens
 * in the builder, step by step, with the environment of that step (expand.ts), as
 * Docker's classic builder does.
 */

/** One instruction, with its flags split off and its arguments split per its own rules. */
export interface Instruction {
  /** lower case: `from`, `run`, `copy`, … */
  keyword: string;
  /** the instruction as Docker prints it in `Step i/n : <original>` (continuations joined) */
  original: string;
  /** `--from=build`, `--chown=1:1`, `--platform=…` as written, in order */
  flags: string[];
  /**
   * Arguments. Exec form (`json`): the JSON array's strings. Shell form of RUN/CMD/
   * ENTRYPOINT/SHELL: one string. ENV/LABEL/ARG: alternating key, value (`ARG`: a value
   * of `undefined` is written as a missing entry: see `argDefault`). Others: the words.
   */
  args: string[];
  /** exec (JSON array) form */
  json: boolean;
  /** for ARG: name → default, when one was given */
  argDefault?: Record<string, string | undefined>;
  /** 1-based line of the keyword, and of the instruction's last line */
  startLine: number;
  endLine: number;
}

export interface Stage {
  /** `FROM x AS name` (lower case), if any */
  name?: string;
  /** the base as written (substituted later with the meta args): `busybox`, `scratch`, `${BASE}`, a stage name */
  base: string;
  /** `--platform=` of the FROM, if any */
  platform?: string;
  /** the FROM itself */
  from: Instruction;
  /** every instruction after FROM, in order */
  instructions: Instruction[];
}

export interface Dockerfile {
  /** the escape character (`\` or a backtick from the `escape` directive) */
  escapeToken: string;
  /** the `syntax` directive, if present (the classic builder ignores it, as Docker's does) */
  syntax?: string;
  /** ARG instructions before the first FROM */
  metaArgs: Instruction[];
  stages: Stage[];
  /** Docker's parser warnings (e.g. empty continuation lines), printed as Docker prints them */
  warnings: string[];
}
