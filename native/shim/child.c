/* Setup shared by the children the shim forks: see child.h. */
#define _GNU_SOURCE
#include "child.h"
#include <signal.h>
#include <stddef.h>

void child_default_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
}
