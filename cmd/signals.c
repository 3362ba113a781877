/* SIGINT/SIGTERM for the long-running verbs: the first asks to stop, the second ends the process. */
#include <signal.h>
#include <string.h>
#include "cli.h"

volatile int cli_interrupted;

static void on_signal(int sig)
{
    cli_interrupted = 1;
    signal(sig, SIG_DFL); /* a second signal ends the process; the state survives it */
}

/*
 * Install the handlers for the rest of the process. The library polls
 * cli_interrupted (verbs pass its address as the cancel or stop flag) and
 * finishes or undoes the work in hand before returning.
 */
void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
