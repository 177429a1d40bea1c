/** Tasks: containers run by `stevedore-shim` + an OCI runtime. See docs/shim.md. */
export * from './types';
export { RuntimeCreateError, classify, type CreateFailure } from './errors';
export { ShimTaskService, type ShimTaskServiceOptions } from './shim-task-service';
export { parseSignal } from './signals';
