/*
 * The pod sandbox's PID 1 for the local cluster's pause image (localhost/meshpilot-pause).
 * It holds the pod's namespaces open and does nothing else: it sleeps until SIGTERM or SIGINT
 * and reaps any child that is re-parented to it (with a shared PID namespace, orphans of the
 * pod's containers land here and would stay zombies otherwise).
 *
 * Built by scripts/cluster/images.mjs with `gcc -Os -static`, so the image needs no libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal = 0;

static void on_stop(int sig) { stop_signal = sig; }

static void on_child(int sig) {
  (void)sig;
  int saved = errno; /* a handler must not clobber errno for the interrupted code */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int install(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = sig == SIGCHLD ? SA_NOCLDSTOP | SA_RESTART : 0;
  return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("meshpilot-pause 1");
    return 0;
  }
  if (getpid() != 1) fputs("pause: warning: not running as PID 1\n", stderr);
  if (install(SIGTERM, on_stop) != 0 || install(SIGINT, on_stop) != 0 || install(SIGCHLD, on_child) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  /* Signals stay blocked except inside sigsuspend, so one that arrives between the test and the
   * wait is delivered by the wait instead of being lost (which pause() would allow). */
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGCHLD);
  sigprocmask(SIG_BLOCK, &blocked, &waiting);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGCHLD);
  while (!stop_signal) sigsuspend(&waiting);
  fprintf(stderr, "pause: shutting down on signal %d\n", (int)stop_signal);
  return 0;
}
