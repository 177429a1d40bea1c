/**
 * The Dockerfile front end of the classic builder: parsing (parser.ts), variable
 * substitution (expand.ts), instruction flags (flags.ts) and `.dockerignore`
 * (dockerignore.ts). The shapes are in types.ts. See docs/build-dockerfile.md.
 */
export type { Dockerfile, Instruction, Stage } from './types';
export {
  parseDockerfile, parseOnbuildTrigger, parseWords, parseMount, healthcheckOf,
  type ParseOptions, type OnbuildInstruction, type HealthConfig, type RunMount,
} from './parser';
export { expandWord, expandWords, EXPANDING_INSTRUCTIONS, type ExpandEnv } from './expand';
export { extractBuilderFlags, parseFlags, flagValue, flagValues, type FlagSpec, type FlagKind, type ParsedFlags } from './flags';
export { readDockerignore, DockerignoreMatcher, daemonExcludes, type MatchInfo } from './dockerignore';
