/**
 * Cases for the Dockerfile parser and the word lexer, each checked against Docker 20.10's
 * classic builder (dockerd 20.10.24, `DOCKER_BUILDKIT=0 docker build` of an empty
 * context whose Dockerfile is `text`): the error the daemon answered, the `Step i/n :`
 * lines it printed, or (for the lexer) the `USER` it stored after `ENV` set `env`.
 * The tests (parser.test.ts, expand.test.ts) replay them against our parser.
 */

export interface ErrorCase {
  why: string;
  text: string;
  /** the daemon's message, for a Dockerfile named `Dockerfile` (as the API sends it: the CLI trims a trailing space) */
  error: string;
}

export interface StepsCase {
  why: string;
  text: string;
  /** every `Step i/n : <original>` text, in order */
  steps: string[];
}

export interface ExpandCase {
  why: string;
  word: string;
  env: Record<string, string>;
  /** the result, or the error's message */
  want?: string;
  error?: string;
}

export const errorCases: ErrorCase[] = [
  { why: 'unknown instruction', text: 'FROM scratch\nFOO bar\n', error: 'dockerfile parse error line 2: unknown instruction: FOO' },
  { why: 'unknown instruction, case kept upper', text: 'FROM scratch\nfoo bar\n', error: 'dockerfile parse error line 2: unknown instruction: FOO' },
  { why: 'a heredoc: its body is read as instructions', text: 'FROM scratch\nRUN <<EOF\necho hi\nEOF\n', error: 'dockerfile parse error line 3: unknown instruction: ECHO' },
  { why: 'unknown flag', text: 'FROM scratch\nCOPY --foo=bar a b\n', error: 'dockerfile parse error line 2: Unknown flag: foo' },
  { why: 'RUN --network is not known to 20.10', text: 'FROM scratch\nRUN --network=host true\n', error: 'dockerfile parse error line 2: Unknown flag: network' },
  { why: 'bad RUN --mount', text: 'FROM scratch\nRUN --mount=foo=bar true\n', error: "dockerfile parse error line 2: unexpected key 'foo' in 'foo=bar'" },
  { why: 'bad mount type', text: 'FROM scratch\nRUN --mount=type=nfs true\n', error: 'dockerfile parse error line 2: unsupported mount type "nfs"' },
  { why: 'flag without value', text: 'FROM scratch\nCOPY --from a b\n', error: 'dockerfile parse error line 2: Missing a value on flag: from' },
  { why: 'duplicate flag', text: 'FROM scratch\nCOPY --from=a --from=b a b\n', error: 'dockerfile parse error line 2: Duplicate flag specified: from' },
  { why: 'a flag on ENV', text: 'FROM scratch\nENV --x=1 a=b\n', error: 'dockerfile parse error line 2: Unknown flag: x' },
  { why: 'no FROM first', text: 'LABEL a=b\nFROM scratch\n', error: 'no build stage in current context' },
  { why: 'only comments', text: '# nothing\n\n   \n', error: 'failed to parse Dockerfile: file with no instructions' },
  { why: 'empty file', text: '', error: 'the Dockerfile (Dockerfile) cannot be empty' },
  { why: 'ENV without value', text: 'FROM scratch\nENV a\n', error: 'failed to parse Dockerfile: ENV must have two arguments' },
  { why: 'LABEL without value', text: 'FROM scratch\nLABEL a\n', error: 'failed to parse Dockerfile: LABEL must have two arguments' },
  { why: 'ENV mixing forms', text: 'FROM scratch\nENV a=b c\n', error: 'failed to parse Dockerfile: Syntax error - can\'t find = in "c". Must be of the form: name=value' },
  { why: 'ENV with nothing', text: 'FROM scratch\nENV\n', error: 'dockerfile parse error line 2: ENV requires at least one argument' },
  { why: 'blank ENV name', text: 'FROM scratch\nENV =x\n', error: 'dockerfile parse error line 2: ENV names can not be blank' },
  { why: 'blank LABEL name', text: 'FROM scratch\nLABEL =x\n', error: 'dockerfile parse error line 2: LABEL names can not be blank' },
  { why: 'blank ARG name', text: 'FROM scratch\nARG =x\n', error: 'dockerfile parse error line 2: ARG names can not be blank' },
  { why: 'ARG with nothing', text: 'FROM scratch\nARG\n', error: 'dockerfile parse error line 2: ARG requires at least one argument' },
  { why: 'JSON with a number', text: 'FROM scratch\nCMD ["a", 1]\n', error: 'failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only' },
  { why: 'COPY with one argument', text: 'FROM scratch\nCOPY a\n', error: 'dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined' },
  { why: 'ADD with nothing', text: 'FROM scratch\nADD\n', error: 'dockerfile parse error line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined' },
  { why: 'FROM with two words', text: 'FROM scratch foo\n', error: 'dockerfile parse error line 1: FROM requires either one or three arguments' },
  { why: 'FROM with nothing', text: 'FROM\n', error: 'dockerfile parse error line 1: FROM requires either one or three arguments' },
  { why: 'FROM x BY y', text: 'FROM scratch BY foo\n', error: 'dockerfile parse error line 1: FROM requires either one or three arguments' },
  { why: 'stage name starting with a digit', text: 'FROM scratch AS 1abc\n', error: 'dockerfile parse error line 1: invalid name for build stage: "1abc", name can\'t start with a number or contain symbols' },
  { why: 'stage name with a symbol', text: 'FROM scratch AS a$b\n', error: 'dockerfile parse error line 1: invalid name for build stage: "a$b", name can\'t start with a number or contain symbols' },
  { why: 'unknown FROM flag', text: 'FROM --plat=linux scratch\n', error: 'dockerfile parse error line 1: Unknown flag: plat' },
  { why: 'ONBUILD ONBUILD', text: 'FROM scratch\nONBUILD ONBUILD RUN x\n', error: 'dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed' },
  { why: 'ONBUILD FROM', text: 'FROM scratch\nONBUILD from x\n', error: 'dockerfile parse error line 2: FROM isn\'t allowed as an ONBUILD trigger' },
  { why: 'ONBUILD MAINTAINER', text: 'FROM scratch\nONBUILD MAINTAINER me\n', error: 'dockerfile parse error line 2: MAINTAINER isn\'t allowed as an ONBUILD trigger' },
  { why: 'ONBUILD with nothing', text: 'FROM scratch\nONBUILD\n', error: 'dockerfile parse error line 2: ONBUILD requires at least one argument' },
  { why: 'ONBUILD of a bad ENV fails at parse', text: 'FROM scratch\nONBUILD ENV a\n', error: 'failed to parse Dockerfile: ENV must have two arguments' },
  { why: 'WORKDIR with nothing', text: 'FROM scratch\nWORKDIR\n', error: 'dockerfile parse error line 2: WORKDIR requires exactly one argument' },
  { why: 'USER with nothing', text: 'FROM scratch\nUSER\n', error: 'dockerfile parse error line 2: USER requires exactly one argument' },
  { why: 'MAINTAINER with nothing', text: 'FROM scratch\nMAINTAINER\n', error: 'dockerfile parse error line 2: MAINTAINER requires exactly one argument' },
  { why: 'STOPSIGNAL with nothing', text: 'FROM scratch\nSTOPSIGNAL\n', error: 'dockerfile parse error line 2: STOPSIGNAL requires exactly one argument' },
  { why: 'EXPOSE with nothing', text: 'FROM scratch\nEXPOSE\n', error: 'dockerfile parse error line 2: EXPOSE requires at least one argument' },
  { why: 'VOLUME with nothing', text: 'FROM scratch\nVOLUME\n', error: 'dockerfile parse error line 2: VOLUME requires at least one argument' },
  { why: 'VOLUME with an empty JSON string', text: 'FROM scratch\nVOLUME ["/a", " "]\n', error: 'dockerfile parse error line 2: VOLUME specified can not be an empty string' },
  { why: 'SHELL in shell form', text: 'FROM scratch\nSHELL /bin/sh -c\n', error: 'dockerfile parse error line 2: SHELL requires the arguments to be in JSON form' },
  { why: 'SHELL []', text: 'FROM scratch\nSHELL []\n', error: 'dockerfile parse error line 2: SHELL requires at least one argument' },
  { why: 'HEALTHCHECK with nothing', text: 'FROM scratch\nHEALTHCHECK\n', error: 'dockerfile parse error line 2: HEALTHCHECK requires at least one argument' },
  { why: 'HEALTHCHECK NONE with arguments', text: 'FROM scratch\nHEALTHCHECK NONE x\n', error: 'dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments' },
  { why: 'HEALTHCHECK CMD with nothing', text: 'FROM scratch\nHEALTHCHECK CMD\n', error: 'dockerfile parse error line 2: Missing command after HEALTHCHECK CMD' },
  { why: 'HEALTHCHECK of an unknown type', text: 'FROM scratch\nHEALTHCHECK RUN x\n', error: 'dockerfile parse error line 2: Unknown type "RUN" in HEALTHCHECK (try CMD)' },
  { why: 'HEALTHCHECK with a bad interval', text: 'FROM scratch\nHEALTHCHECK --interval=abc CMD x\n', error: 'dockerfile parse error line 2: time: invalid duration "abc"' },
  { why: 'HEALTHCHECK interval without unit', text: 'FROM scratch\nHEALTHCHECK --interval=5 CMD x\n', error: 'dockerfile parse error line 2: time: missing unit in duration "5"' },
  { why: 'HEALTHCHECK interval with an unknown unit', text: 'FROM scratch\nHEALTHCHECK --timeout=5d CMD x\n', error: 'dockerfile parse error line 2: time: unknown unit "d" in duration "5d"' },
  { why: 'HEALTHCHECK interval too short', text: 'FROM scratch\nHEALTHCHECK --start-period=10us CMD x\n', error: 'dockerfile parse error line 2: Interval "start-period" cannot be less than 1ms' },
  { why: 'HEALTHCHECK zero retries', text: 'FROM scratch\nHEALTHCHECK --retries=0 CMD x\n', error: 'dockerfile parse error line 2: --retries must be at least 1 (not 0)' },
  { why: 'HEALTHCHECK bad retries', text: 'FROM scratch\nHEALTHCHECK --retries=x CMD x\n', error: 'dockerfile parse error line 2: strconv.ParseInt: parsing "x": invalid syntax' },
  { why: 'HEALTHCHECK unknown flag', text: 'FROM scratch\nHEALTHCHECK --foo=1 CMD x\n', error: 'dockerfile parse error line 2: Unknown flag: foo' },
  { why: 'the line of a continued instruction is its first', text: 'FROM scratch\nLABEL a=b \\\n  c=d\nCOPY \\\n a\n', error: 'dockerfile parse error line 4: COPY requires at least two arguments, but only one was provided. Destination could not be determined' },
  { why: 'lines after comments and blanks still count', text: '# c\n\nFROM scratch\n\n# x\nBAR\n', error: 'dockerfile parse error line 6: unknown instruction: BAR' },
  { why: 'bad escape directive', text: '# escape=x\nFROM scratch\n', error: 'failed to parse Dockerfile: invalid escape token \'x\' does not match ` or \\' },
  { why: 'escape directive twice', text: '# escape=`\n# escape=`\nFROM scratch\n', error: 'failed to parse Dockerfile: only one escape parser directive can be used' },
  { why: 'line-level errors come before instruction errors', text: 'FROM scratch\nFOO\nENV a\n', error: 'failed to parse Dockerfile: ENV must have two arguments' },
  { why: 'first error wins', text: 'FROM scratch\nFOO\nBAR\n', error: 'dockerfile parse error line 2: unknown instruction: FOO' },
  { why: 'ONBUILD with a flag', text: 'FROM scratch\nONBUILD --x=1 RUN y\n', error: 'dockerfile parse error line 2: Unknown flag: x' },
  { why: 'a line that is only an escape', text: 'FROM scratch\n\\\n', error: 'dockerfile parse error line 2: unknown instruction: ' },
];

export const stepsCases: StepsCase[] = [
  {
    why: 'continuations are joined as written, comments dropped',
    text: 'FROM scratch\nLABEL a=b \\\n  # comment\n    c="d e"   \\\n\t f=g\n',
    steps: ['FROM scratch', 'LABEL a=b     c="d e"   \t f=g'],
  },
  {
    why: 'leading white space of the first line is dropped, keywords keep their case',
    text: '   from scratch\n\t  label   a=b   \nEnv x=1\n',
    steps: ['from scratch', 'label   a=b', 'Env x=1'],
  },
  {
    why: 'meta args, stages, ONBUILD, EXPOSE are counted and printed as written',
    text: 'ARG A=1 B\nFROM scratch AS base\nONBUILD   RUN echo hi\nEXPOSE 80 443/udp\nFROM scratch\nUSER 1:1\n',
    steps: ['ARG A=1 B', 'FROM scratch AS base', 'ONBUILD   RUN echo hi', 'EXPOSE 80 443/udp', 'FROM scratch', 'USER 1:1'],
  },
  {
    why: 'the escape directive changes the continuation token',
    text: '# escape=`\nFROM scratch\nLABEL a=b `\n  c=d\nWORKDIR C:\\foo\n',
    steps: ['FROM scratch', 'LABEL a=b   c=d', 'WORKDIR C:\\foo'],
  },
  {
    why: 'an escaped escape at the end is not a continuation',
    text: 'FROM scratch\nLABEL a=b\\\\\nLABEL c=d\n',
    steps: ['FROM scratch', 'LABEL a=b\\\\', 'LABEL c=d'],
  },
  {
    why: 'an empty line inside a continuation is skipped (with a warning)',
    text: 'FROM scratch\nLABEL a=b \\\n\n  c=d\n',
    steps: ['FROM scratch', 'LABEL a=b   c=d'],
  },
  {
    why: 'exec forms and JSON with trailing text',
    text: 'FROM scratch\nCMD ["a", "b"]\nENTRYPOINT ["x"] y\nVOLUME ["/v"]\nHEALTHCHECK --interval=5s CMD ["true"]\nSTOPSIGNAL SIGTERM\n',
    steps: ['FROM scratch', 'CMD ["a", "b"]', 'ENTRYPOINT ["x"] y', 'VOLUME ["/v"]', 'HEALTHCHECK --interval=5s CMD ["true"]', 'STOPSIGNAL SIGTERM'],
  },
  {
    why: 'a directive after a blank line is a comment',
    text: '\n# escape=`\nFROM scratch\nLABEL a=b \\\n  c=d\n',
    steps: ['FROM scratch', 'LABEL a=b   c=d'],
  },
  {
    why: 'the syntax directive is accepted and ignored',
    text: '# syntax=docker/dockerfile:1\n# escape=\\\nFROM scratch\nMAINTAINER me <me@x>\n',
    steps: ['FROM scratch', 'MAINTAINER me <me@x>'],
  },
  {
    why: 'Windows line ends and a BOM',
    text: '\ufeffFROM scratch\r\nLABEL a=b \\\r\n  c=d\r\n',
    steps: ['FROM scratch', 'LABEL a=b   c=d'],
  },
];

export const expandCases: ExpandCase[] = [
  { why: 'plain', word: 'hello', env: {}, want: 'hello' },
  { why: '$VAR', word: '$A', env: { A: 'x' }, want: 'x' },
  { why: '${VAR}', word: 'a${A}b', env: { A: 'x' }, want: 'axb' },
  { why: '$VAR stops at a non-name character', word: '$A-b', env: { A: 'x' }, want: 'x-b' },
  { why: 'unset is empty', word: 'a$NOPE.b', env: {}, want: 'a.b' },
  { why: 'a lone dollar stays', word: 'a$ b$', env: {}, want: 'a$ b$' },
  { why: 'positional and special parameters are empty', word: 'x$1y$@z$#', env: {}, want: 'xyz' },
  { why: 'names are case-sensitive', word: '$a$A', env: { A: 'up' }, want: 'up' },
  { why: ':- with unset', word: '${A:-def}', env: {}, want: 'def' },
  { why: ':- with empty', word: '${A:-def}', env: { A: '' }, want: 'def' },
  { why: ':- with set', word: '${A:-def}', env: { A: 'v' }, want: 'v' },
  { why: ':+ with set', word: '${A:+alt}', env: { A: 'v' }, want: 'alt' },
  { why: ':+ with empty', word: '[${A:+alt}]', env: { A: '' }, want: '[]' },
  { why: ':+ with unset', word: '[${A:+alt}]', env: {}, want: '[]' },
  { why: 'nested substitution in the default', word: '${A:-$B}', env: { B: 'b' }, want: 'b' },
  { why: 'quotes in the default', word: '${A:-"x y"}', env: {}, want: 'x y' },
  { why: ':? with set', word: '${A:?oops}', env: { A: 'v' }, want: 'v' },
  { why: ':? with unset', word: '${A:?oops}', env: {}, error: 'failed to process "${A:?oops}": A: oops' },
  { why: ':? with empty and no message', word: '${A:?}', env: { A: '' }, error: 'failed to process "${A:?}": A: is not allowed to be empty' },
  { why: ':? with unset and no message', word: '${A:?}', env: {}, error: 'failed to process "${A:?}": A: is not allowed to be unset' },
  { why: '? with empty is fine', word: '[${A?x}]', env: { A: '' }, want: '[]' },
  { why: '? with unset', word: '${A?gone}', env: {}, error: 'failed to process "${A?gone}": A: gone' },
  { why: '- without colon is not supported by 20.10', word: '${A-b}', env: {}, error: 'failed to process "${A-b}": missing \':\' in substitution' },
  { why: '+ without colon is not supported by 20.10', word: '${A+b}', env: { A: '1' }, error: 'failed to process "${A+b}": missing \':\' in substitution' },
  { why: 'unknown modifier', word: '${A:%b}', env: {}, error: 'failed to process "${A:%b}": unsupported modifier (%) in substitution' },
  { why: 'bad substitution', word: '${}', env: {}, error: 'failed to process "${}": syntax error: bad substitution' },
  { why: 'bad substitution with colon', word: '${:a}', env: {}, error: 'failed to process "${:a}": syntax error: bad substitution' },
  { why: 'missing brace', word: '${A', env: {}, error: 'failed to process "${A": missing \':\' in substitution' },
  { why: 'missing brace after modifier', word: '${A:-x', env: {}, error: 'failed to process "${A:-x": syntax error: missing \'}\'' },
  { why: 'dollar brace at end', word: 'x${', env: {}, error: 'failed to process "x${": syntax error: missing \'}\'' },
  { why: 'single quotes are literal', word: "'$A \\n'", env: { A: 'x' }, want: '$A \\n' },
  { why: 'double quotes expand', word: '"$A b"', env: { A: 'x' }, want: 'x b' },
  { why: 'escaped dollar', word: '\\$A', env: { A: 'x' }, want: '$A' },
  { why: 'escaped dollar in double quotes', word: '"\\$A"', env: { A: 'x' }, want: '$A' },
  { why: 'other escapes stay in double quotes', word: '"a\\nb"', env: {}, want: 'a\\nb' },
  { why: 'escaped quote in double quotes', word: '"a\\"b"', env: {}, want: 'a"b' },
  { why: 'escape outside quotes drops the escape', word: 'a\\nb\\\\c', env: {}, want: 'anb\\c' },
  { why: 'escaped quote outside quotes', word: "it\\'s", env: {}, want: "it's" },
  { why: 'unterminated double quote', word: '"abc', env: {}, error: 'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote' },
  { why: 'unterminated single quote', word: "'abc", env: {}, error: 'failed to process "\'abc": unexpected end of statement while looking for matching single-quote' },
  { why: 'quotes glue to their word', word: 'a"b c"d', env: {}, want: 'ab cd' },
  { why: 'values are not re-expanded', word: '$A', env: { A: '$B' }, want: '$B' },
  { why: 'an escaped brace in a default', word: '${A:-a\\}b}', env: {}, want: 'a}b' },
  { why: 'unicode names', word: '$héllo!', env: { 'héllo': 'v' }, want: 'v!' },
  { why: 'names hold digits and _', word: '$A_1b.c', env: { A_1b: 'v' }, want: 'v.c' },
  { why: 'nested defaults', word: '${A:-${B:-${C:-deep}}}', env: {}, want: 'deep' },
  { why: 'nested alternative', word: '${A:+[${B}]}', env: { A: '1', B: '2' }, want: '[2]' },
  { why: 'single quote inside double quotes', word: '"it\'s $A"', env: { A: 'x' }, want: "it's x" },
  { why: 'a backslash in the error quote', word: '${A:?}\tx', env: {}, error: 'failed to process "${A:?}\\tx": A: is not allowed to be unset' },
  { why: 'an error inside a default', word: '${A:-${B:?no}}', env: {}, error: 'failed to process "${A:-${B:?no}}": B: no' },
];

export interface IgnoreCase {
  why: string;
  /** the .dockerignore lines */
  dockerignore: string[];
  /** the regular files of the context (besides Dockerfile and .dockerignore) */
  files: string[];
  /** those the docker CLI 28 sends (what `COPY . /ctx/` copies), sorted */
  sent: string[];
  /** whether the daemon drops Dockerfile and .dockerignore (the CLI always sends them) */
  dropsBuildFiles?: boolean;
}

const tree = ['a.txt', 'b.md', 'dir/a.txt', 'dir/sub/a.txt', 'dir/sub/keep.md', 'dir/x.go', 'other/dir/a.txt', 'other/keep', 'node_modules/m/index.js', 'node_modules/m/README.md', 'x+y', 'a.b'];

export const ignoreCases: IgnoreCase[] = [
  { why: 'nothing ignored', dockerignore: [], files: tree, sent: [...tree].sort() },
  { why: 'a file at the root only', dockerignore: ['a.txt'], files: tree, sent: tree.filter((f) => f !== 'a.txt').sort() },
  { why: 'a directory excludes everything below it', dockerignore: ['dir'], files: tree, sent: tree.filter((f) => !f.startsWith('dir/')).sort() },
  { why: '* does not cross /', dockerignore: ['*.txt'], files: tree, sent: tree.filter((f) => f !== 'a.txt').sort() },
  { why: '**/ crosses directories', dockerignore: ['**/a.txt'], files: tree, sent: tree.filter((f) => !f.endsWith('a.txt')).sort() },
  { why: 'dir/**', dockerignore: ['dir/**'], files: tree, sent: tree.filter((f) => !f.startsWith('dir/')).sort() },
  { why: 'a/**/b', dockerignore: ['dir/**/a.txt'], files: tree, sent: tree.filter((f) => f !== 'dir/a.txt' && f !== 'dir/sub/a.txt').sort() },
  { why: 'an exception re-includes', dockerignore: ['*.md', '!b.md'], files: tree, sent: [...tree].sort() },
  { why: 'the last match wins', dockerignore: ['!b.md', '*.md'], files: tree, sent: tree.filter((f) => f !== 'b.md').sort() },
  { why: 'an exception inside an excluded directory', dockerignore: ['dir', '!dir/sub/keep.md'], files: tree, sent: tree.filter((f) => !f.startsWith('dir/') || f === 'dir/sub/keep.md').sort() },
  { why: 'exception with a wildcard below the directory', dockerignore: ['dir', '!dir/*.go'], files: tree, sent: tree.filter((f) => !f.startsWith('dir/') || f === 'dir/x.go').sort() },
  { why: 'a **/ exception cannot reach into a skipped directory', dockerignore: ['other', '!**/keep'], files: tree, sent: tree.filter((f) => !f.startsWith('other/')).sort() },
  { why: 'everything but', dockerignore: ['*', '!dir', 'dir/sub'], files: tree, sent: ['dir/a.txt', 'dir/x.go'], dropsBuildFiles: true },
  { why: 'leading / and ./ and .. are cleaned', dockerignore: ['/a.txt', './b.md', 'dir/../x+y'], files: tree, sent: tree.filter((f) => !['a.txt', 'b.md', 'x+y'].includes(f)).sort() },
  { why: '? and classes ([!x] is not a negation: it is ! or x)', dockerignore: ['?.txt', 'a.[a-c]', 'dir/[!x]*'], files: tree, sent: tree.filter((f) => !['a.txt', 'a.b', 'dir/x.go'].includes(f)).sort() },
  { why: 'comments and blanks; # only at the start', dockerignore: ['# a.txt', '', '   ', '  b.md  '], files: tree, sent: tree.filter((f) => f !== 'b.md').sort() },
  { why: 'a pattern on a nested directory name matches the path from the root only', dockerignore: ['sub'], files: tree, sent: [...tree].sort() },
  { why: '**/name matches at any depth', dockerignore: ['**/sub', 'node_modules'], files: tree, sent: tree.filter((f) => !f.startsWith('dir/sub/') && !f.startsWith('node_modules/')).sort() },
  { why: 'regexp characters are literal', dockerignore: ['x+y'], files: tree, sent: tree.filter((f) => f !== 'x+y').sort() },
];

/**
 * patterns, a path, whether the docker CLI 28 leaves that path out of the context (the
 * paths starting with `/` or `.` test our normalisation; the CLI never sends those).
 */
export const matchCases: Array<[string[], string, boolean]> = [
  [['*'], 'a', true],
  [['*'], 'a/b', true],
  [['*/b'], 'a/b', true],
  [['*/b'], 'b', false],
  [['a'], 'a/b/c', true],
  [['a/b'], 'a', false],
  [['a/b'], 'a/b/c', true],
  [['a*'], 'abc/d', true],
  [['a?c'], 'abc', true],
  [['a?c'], 'a/c', false],
  [['**'], 'x/y/z', true],
  [['**/x'], 'x', true],
  [['**/x'], 'a/b/x', true],
  [['**/x'], 'a/bx', false],
  [['**x'], 'a/bx', true],
  [['a/**'], 'a/b', true],
  [['a/**'], 'ab', false],
  [['a**'], 'ab', true],
  [['a/**/b'], 'a/b', true],
  [['a/**/b'], 'a/x/y/b', true],
  [['a/**/b'], 'a/x/y/bc', false],
  [['*.go', '!keep.go'], 'keep.go', false],
  [['*.go', '!keep.go'], 'd/keep.go', false],
  [['*.go', '!keep.go'], 'other.go', true],
  [['d', '!d/keep'], 'd/keep', false],
  [['d', '!d/keep'], 'd/keep/x', false],
  [['d', '!d/keep'], 'd/other', true],
  [['[a-c].txt'], 'b.txt', true],
  [['[^a-c].txt'], 'b.txt', false],
  [['[^a-c].txt'], 'd.txt', true],
  [['\\*.txt'], '*.txt', true],
  [['\\*.txt'], 'a.txt', false],
  [['a.txt'], 'abtxt', false],
  [['a+b(c)|{d}$'], 'a+b(c)|{d}$', true],
  [['a]'], 'a]', true],
  [['x'], '/x', true],
  [['x'], './x', true],
  [['*'], '.', false],
  [['é?'], 'éà', true],
  [['.'], 'a', false],
];
