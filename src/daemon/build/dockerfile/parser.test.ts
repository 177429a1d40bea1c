import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isStevedoreError, kindOf } from '../../../engine/errdefs';
import { errorCases, stepsCases } from './cases.fixture';
import { extractBuilderFlags, flagValue, flagValues, parseFlags } from './flags';
import { healthcheckOf, parseDockerfile, parseMount, parseOnbuildTrigger, parseWords, type OnbuildInstruction } from './parser';
import type { Instruction } from './types';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isStevedoreError(err), `not a StevedoreError: ${String(err)}`);
    assert.equal(kindOf(err), 'invalid-argument');
    return (err as Error).message;
  }
  assert.fail('no error');
}

/** The instructions of the only stage of `text`. */
function body(text: string): Instruction[] {
  const df = parseDockerfile(`FROM scratch\n${text}`);
  assert.equal(df.stages.length, 1);
  return df.stages[0]!.instructions;
}
const one = (text: string): Instruction => {
  const b = body(text);
  assert.equal(b.length, 1);
  return b[0]!;
};

describe('parseDockerfile: errors, as Docker 20.10 words them', () => {
  for (const c of errorCases) {
    it(c.why, () => {
      assert.equal(errorOf(() => parseDockerfile(c.text, { name: 'Dockerfile' })), c.error);
    });
  }
  it('names the Dockerfile it was given', () => {
    assert.equal(errorOf(() => parseDockerfile('', { name: 'sub/Dockerfile.dev' })), 'the Dockerfile (sub/Dockerfile.dev) cannot be empty');
    assert.equal(errorOf(() => parseDockerfile('FROM x\nENV a\n', { name: 'df' })), 'failed to parse df: ENV must have two arguments');
  });
  it('without a name, line errors are not prefixed (a Dockerfile sent as the context)', () => {
    assert.equal(errorOf(() => parseDockerfile('FROM x\nENV a\n')), 'ENV must have two arguments');
    assert.equal(errorOf(() => parseDockerfile('')), 'file with no instructions');
    assert.equal(errorOf(() => parseDockerfile('FROM x\nNOPE\n')), 'dockerfile parse error line 2: unknown instruction: NOPE');
  });
  it('refuses a line longer than 64 KiB', () => {
    const long = 'LABEL a=' + 'x'.repeat(70000);
    assert.equal(errorOf(() => parseDockerfile(`FROM x\n${long}\n`)), 'dockerfile line greater than max allowed size of 65535');
    assert.equal(errorOf(() => parseDockerfile(`${long}\n`)), 'file with no instructions');
  });
});

describe('parseDockerfile: Step texts, as Docker 20.10 prints them', () => {
  for (const c of stepsCases) {
    it(c.why, () => {
      const df = parseDockerfile(c.text, { name: 'Dockerfile' });
      const steps = [...df.metaArgs.map((i) => i.original), ...df.stages.flatMap((s) => [s.from.original, ...s.instructions.map((i) => i.original)])];
      assert.deepEqual(steps, c.steps);
    });
  }
});

describe('parseDockerfile: structure', () => {
  it('splits meta args, stages, names, platforms and bases', () => {
    const df = parseDockerfile('ARG BASE=busybox\nARG V\nFROM --platform=linux/amd64 ${BASE} AS Build\nRUN x\nFROM build as Second\nFROM scratch\n');
    assert.equal(df.metaArgs.length, 2);
    assert.deepEqual(df.metaArgs[0]!.args, ['BASE', 'busybox']);
    assert.deepEqual(df.metaArgs[0]!.argDefault, { BASE: 'busybox' });
    assert.deepEqual(df.metaArgs[1]!.argDefault, { V: undefined });
    assert.equal(df.stages.length, 3);
    const [a, b, c] = df.stages;
    assert.deepEqual([a!.base, a!.name, a!.platform], ['${BASE}', 'build', 'linux/amd64']);
    assert.deepEqual(a!.from.flags, ['--platform=linux/amd64']);
    assert.equal(a!.instructions.length, 1);
    assert.deepEqual([b!.base, b!.name, b!.platform], ['build', 'second', undefined]);
    assert.deepEqual([c!.base, c!.name], ['scratch', undefined]);
    assert.equal(c!.instructions.length, 0);
  });
  it('an ARG after the first FROM belongs to the stage', () => {
    const df = parseDockerfile('FROM x\nARG A=1 B C=\n');
    assert.equal(df.metaArgs.length, 0);
    const arg = df.stages[0]!.instructions[0]!;
    assert.deepEqual(arg.args, ['A', '1', 'B', '', 'C', '']);
    assert.deepEqual(arg.argDefault, { A: '1', B: undefined, C: '' });
  });
  it('ARG keeps quotes for the builder to remove', () => {
    assert.deepEqual(one('ARG A="x y" B=\'z\'').args, ['A', '"x y"', 'B', "'z'"]);
  });
  it('ARG flags are not looked at, as Docker', () => {
    assert.deepEqual(one('ARG --foo=1 A').args, ['A', '']);
  });
  it('records lines', () => {
    const df = parseDockerfile('\n# c\nFROM x\nRUN a \\\n  b \\\n\n  c\nUSER u\n');
    const [run, user] = df.stages[0]!.instructions;
    assert.deepEqual([df.stages[0]!.from.startLine, df.stages[0]!.from.endLine], [3, 3]);
    assert.deepEqual([run!.startLine, run!.endLine], [4, 7]);
    assert.deepEqual([user!.startLine, user!.endLine], [8, 8]);
  });
  it('keyword lower-cased, original kept', () => {
    const i = one('rUn echo hi');
    assert.equal(i.keyword, 'run');
    assert.equal(i.original, 'rUn echo hi');
  });
  it('RUN, CMD, ENTRYPOINT shell form: one string, as written', () => {
    const i = one('RUN  echo "a  b" && \\\n  ls $HOME');
    assert.equal(i.json, false);
    assert.deepEqual(i.args, ['echo "a  b" &&   ls $HOME']);
    assert.deepEqual(one('CMD').args, []);
  });
  it('exec form: the JSON strings', () => {
    const i = one('CMD ["echo", "a b", "\\u0041"]');
    assert.equal(i.json, true);
    assert.deepEqual(i.args, ['echo', 'a b', 'A']);
    assert.deepEqual(one('ENTRYPOINT []').args, []);
    assert.equal(one('ENTRYPOINT []').json, true);
  });
  it('exec form ignores what follows the array, as Go\'s JSON decoder', () => {
    const i = one('RUN ["echo", "hi"] && ls');
    assert.equal(i.json, true);
    assert.deepEqual(i.args, ['echo', 'hi']);
  });
  it('invalid JSON falls back to the shell form', () => {
    for (const text of ['RUN [echo, hi]', "CMD ['a']", 'CMD ["a",]', 'CMD ["a"']) {
      const i = one(text);
      assert.equal(i.json, false, text);
      assert.deepEqual(i.args, [text.slice(4)], text);
    }
  });
  it('COPY, ADD, VOLUME: words or JSON', () => {
    assert.deepEqual(one('COPY  a   b\tc/').args, ['a', 'b', 'c/']);
    const j = one('COPY ["a b", "c"]');
    assert.deepEqual([j.json, j.args], [true, ['a b', 'c']]);
    assert.deepEqual(one('VOLUME /a /b').args, ['/a', '/b']);
    assert.deepEqual(one('VOLUME [" /a "]').args, ['/a']);
  });
  it('COPY flags split off, quotes removed from them', () => {
    const i = one('COPY --from=build --chown="1:1" a b');
    assert.deepEqual(i.flags, ['--from=build', '--chown=1:1']);
    assert.deepEqual(i.args, ['a', 'b']);
    assert.equal(flagValue(i.flags, 'from'), 'build');
    assert.equal(flagValue(i.flags, 'chown'), '1:1');
    assert.equal(flagValue(i.flags, 'chmod'), undefined);
  });
  it('a bare -- ends the flags', () => {
    const i = one('COPY --chown=1 -- --x b');
    assert.deepEqual(i.flags, ['--chown=1']);
    assert.deepEqual(i.args, ['--x', 'b']);
  });
  it('ENV and LABEL: key=value pairs, quotes and escapes kept', () => {
    assert.deepEqual(one('ENV A=1 B="x y" C=a\\ b D=').args, ['A', '1', 'B', '"x y"', 'C', 'a\\ b', 'D', '']);
    assert.deepEqual(one('LABEL "com.x"="v" k==v').args, ['"com.x"', '"v"', 'k', '=v']);
  });
  it('ENV legacy form: the value is the rest of the line', () => {
    assert.deepEqual(one('ENV PATH   /a:/b  c "d"').args, ['PATH', '/a:/b  c "d"']);
    assert.deepEqual(one('LABEL maintainer me you').args, ['maintainer', 'me you']);
  });
  it('EXPOSE: words sorted as Docker sorts them', () => {
    assert.deepEqual(one('EXPOSE 8080 443/udp 80 $P').args, ['$P', '443/udp', '80', '8080']);
  });
  it('USER, WORKDIR, STOPSIGNAL, MAINTAINER: the rest of the line', () => {
    assert.deepEqual(one('USER  a b ').args, ['a b']);
    assert.deepEqual(one('WORKDIR /a dir').args, ['/a dir']);
    assert.deepEqual(one('STOPSIGNAL --x=1 SIGKILL').args, ['SIGKILL']);
    assert.deepEqual(one('MAINTAINER Jane <j@x>').args, ['Jane <j@x>']);
  });
  it('HEALTHCHECK: type then command', () => {
    const i = one('HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1');
    assert.deepEqual(i.args, ['CMD', 'curl -f http://x/ || exit 1']);
    assert.deepEqual(i.flags, ['--interval=5s', '--retries=3']);
    assert.deepEqual(healthcheckOf(i), { test: ['CMD-SHELL', 'curl -f http://x/ || exit 1'], interval: 5e9, timeout: 0, startPeriod: 0, retries: 3 });
    const j = one('HEALTHCHECK --timeout=1m30s --start-period=1.5s CMD ["true", "x"]');
    assert.deepEqual(healthcheckOf(j), { test: ['CMD', 'true', 'x'], interval: 0, timeout: 90e9, startPeriod: 1.5e9, retries: 0 });
    assert.deepEqual(healthcheckOf(one('healthcheck none')).test, ['NONE']);
  });
  it('HEALTHCHECK NONE does not look at its flags, as Docker', () => {
    assert.deepEqual(healthcheckOf(one('HEALTHCHECK --bogus=1 NONE')).test, ['NONE']);
  });
  it('ONBUILD: the trigger, its keyword first; the expression kept as Docker stores it', () => {
    const i = one('ONBUILD  run echo "a  b"   ') as OnbuildInstruction;
    assert.deepEqual(i.args, ['run', 'echo "a  b"']);
    assert.equal(i.original, 'ONBUILD  run echo "a  b"');
    // Docker 20.10 stores the trailing blanks in the image's OnBuild
    assert.equal(i.expression, 'run echo "a  b"   ');
    const c = one('onbuild COPY --from=x a b') as OnbuildInstruction;
    assert.deepEqual(c.args, ['copy', 'a', 'b']);
    assert.equal(c.expression, 'COPY --from=x a b');
  });
  it('SHELL: JSON only', () => {
    const i = one('SHELL ["/bin/bash", "-c"]');
    assert.deepEqual([i.json, i.args], [true, ['/bin/bash', '-c']]);
  });
  it('RUN --mount is accepted here (the builder refuses it as Docker: BuildKit only)', () => {
    const i = one('RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/t make');
    assert.deepEqual(flagValues(i.flags, 'mount'), ['type=cache,target=/root/.cache', 'type=tmpfs,target=/t']);
  });
  it('escape directive: backtick continues lines and escapes in words', () => {
    const df = parseDockerfile('# escape=`\nFROM x\nENV A=a`"b C="x`"y"\nRUN dir `\n  c:\\\n');
    assert.equal(df.escapeToken, '`');
    const [env, run] = df.stages[0]!.instructions;
    assert.deepEqual(env!.args, ['A', 'a`"b', 'C', '"x`"y"']);
    assert.deepEqual(run!.args, ['dir   c:\\']);
  });
  it('syntax directive recorded, only at the top', () => {
    assert.equal(parseDockerfile('# syntax=docker/dockerfile:1.4\nFROM x\n').syntax, 'docker/dockerfile:1.4');
    assert.equal(parseDockerfile('#SYNTAX = a/b \nFROM x\n').syntax, 'a/b');
    assert.equal(parseDockerfile('# hello\n# syntax=a/b\nFROM x\n').syntax, undefined);
    assert.equal(parseDockerfile('FROM x\n# escape=`\nRUN a \\\n b\n').escapeToken, '\\');
  });
  it('an unknown directive ends the directives', () => {
    const df = parseDockerfile('# foo=bar\n# escape=`\nFROM x\n');
    assert.equal(df.escapeToken, '\\');
  });
  it('warns about empty continuation lines with Docker\'s text', () => {
    const df = parseDockerfile('FROM x\nRUN a \\\n\n  b\nRUN c \\\n   \n d\n');
    assert.deepEqual(df.warnings, [
      '[WARNING]: Empty continuation line found in:\n    RUN a   b',
      '[WARNING]: Empty continuation line found in:\n    RUN c  d',
      '[WARNING]: Empty continuation lines will become errors in a future release.',
    ]);
    assert.deepEqual(parseDockerfile('FROM x\nRUN a \\\n# c\n b\n').warnings, []);
  });
  it('a comment is a whole line only', () => {
    assert.deepEqual(one('RUN echo # not a comment').args, ['echo # not a comment']);
    assert.deepEqual(one('   # indented comment\nUSER u').args, ['u']);
  });
  it('a continuation at the end of the file ends the instruction', () => {
    assert.deepEqual(one('RUN a \\').args, ['a']);
  });
});

describe('parseOnbuildTrigger', () => {
  it('parses one trigger', () => {
    const i = parseOnbuildTrigger('RUN echo hi');
    assert.deepEqual([i.keyword, i.args, i.original], ['run', ['echo hi'], 'RUN echo hi']);
  });
  it('refuses what Docker refuses', () => {
    assert.equal(errorOf(() => parseOnbuildTrigger('RUN a\nRUN b')), 'onbuild trigger should be a single expression');
    assert.equal(errorOf(() => parseOnbuildTrigger('NOPE x')), 'unknown instruction: NOPE');
    assert.equal(errorOf(() => parseOnbuildTrigger('')), 'file with no instructions');
    assert.equal(errorOf(() => parseOnbuildTrigger('FROM x')), '*instructions.Stage is not a command type');
  });
});

describe('parseMount (RUN --mount, as Docker checks it)', () => {
  it('defaults and kinds', () => {
    assert.deepEqual(parseMount('target=/x'), { type: 'bind', target: '/x', readOnly: true, required: false });
    assert.deepEqual(parseMount('type=cache,target=/c,id=a,sharing=LOCKED,mode=0755,uid=1'), {
      type: 'cache', target: '/c', readOnly: false, required: false, cacheId: 'a', cacheSharing: 'locked', mode: 0o755, uid: 1,
    });
    assert.equal(parseMount('type=secret,id=s,required').required, true);
    assert.equal(parseMount('type=bind,rw').readOnly, false);
    assert.deepEqual(parseMount('"type=bind","target=/a,b"').target, '/a,b');
  });
  const bad: Array<[string, string]> = [
    ['type=x', 'unsupported mount type "x"'],
    ['ro=maybe', 'invalid value for ro: maybe'],
    ['required', "unexpected key 'required' for mount type 'bind'"],
    ['foo', "invalid field 'foo' must be a key=value pair"],
    ['type=bind,mode=0755', 'mode not allowed for "bind" type mounts'],
    ['type=cache,uid=x', 'invalid value x for uid'],
    ['type=cache,mode=9', 'invalid value 9 for mode'],
    ['sharing=bad', 'unsupported sharing value "bad"'],
    ['type=tmpfs,sharing=shared', 'invalid cache sharing set for tmpfs mount'],
    ['type=secret', 'invalid secret mount. one of source, target required'],
    ['type=secret,from=x,id=a', 'secret mount should not have a from'],
    ['type=secret,source=a,id=b', "both source and id can't be set"],
  ];
  for (const [value, message] of bad) {
    it(`refuses ${value}`, () => assert.throws(() => parseMount(value), { message }));
  }
});

describe('flags', () => {
  it('extractBuilderFlags', () => {
    const cases: Array<[string, string, string[]]> = [
      ['a b', 'a b', []],
      ['--x=1 a', 'a', ['--x=1']],
      ['--x="a b" --y=\'c\' rest of it', 'rest of it', ['--x=a b', '--y=c']],
      ['--x=a\\ b c', 'c', ['--x=a b']],
      ['-x a', '-x a', []],
      ['--x', '', ['--x']],
      ['--x=1 -- --y', ' --y', ['--x=1']],
      ['--=""  a', 'a', ['--=']],
    ];
    for (const [line, rest, flags] of cases) assert.deepEqual(extractBuilderFlags(line), { rest, flags }, line);
  });
  it('parseFlags: kinds and Docker\'s errors', () => {
    const spec = { s: 'string', b: 'bool', m: 'strings' } as const;
    const p = parseFlags(['--s=v', '--b', '--m=1', '--m=2'], spec);
    assert.equal(p.values.get('s'), 'v');
    assert.equal(p.values.get('b'), 'true');
    assert.deepEqual(p.lists.get('m'), ['1', '2']);
    assert.deepEqual(p.used, ['s', 'b', 'm']);
    assert.equal(parseFlags(['--b=FALSE'], spec).values.get('b'), 'false');
    assert.throws(() => parseFlags(['--b='], spec), { message: 'Missing a value on flag: b' });
    assert.throws(() => parseFlags(['--b=yes'], spec), { message: 'Expecting boolean value for flag b, not: yes' });
    assert.throws(() => parseFlags(['--s'], spec), { message: 'Missing a value on flag: s' });
    assert.throws(() => parseFlags(['--s=1', '--s=2'], spec), { message: 'Duplicate flag specified: s' });
    assert.throws(() => parseFlags(['--z=1'], spec), { message: 'Unknown flag: z' });
    assert.throws(() => parseFlags(['-z'], spec), { message: 'Arg should start with -- : -z' });
    assert.equal(parseFlags(['--', '--z'], spec).used.length, 0);
  });
});

describe('parseWords (ENV, LABEL, ARG words)', () => {
  const cases: Array<[string, string[]]> = [
    ['a b  c', ['a', 'b', 'c']],
    ['a="b c" d', ['a="b c"', 'd']],
    ["a='b \\' c", ["a='b \\'", 'c']],
    ['a\\ b c', ['a\\ b', 'c']],
    ['a=b\\', ['a=b']],
    ['""', ['""']],
    ['a="x\\"y" b', ['a="x\\"y"', 'b']],
    ['  ', []],
  ];
  for (const [rest, words] of cases) it(JSON.stringify(rest), () => assert.deepEqual(parseWords(rest, '\\'), words));
});
