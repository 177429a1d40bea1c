/* What every child the shim forks does before exec (runtime, logger, exec'd process). */
#ifndef STEVEDORE_SHIM_CHILD_H
#define STEVEDORE_SHIM_CHILD_H

/* Unblocks every signal and sets SIGPIPE, SIGHUP and SIGINT back to their defaults: a
 * blocked mask and ignored dispositions survive exec, and the program must not inherit
 * the shim's. Async-signal-safe; call it in the child between fork and exec. */
void child_default_signals(void);

#endif
