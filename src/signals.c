#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* A signal handler cannot know which loop it belongs to, so the write ends of the open
 * watches are listed here (one per event loop; a process normally has one). */
#define MAX_WATCHES 8
static volatile int watch_fds[MAX_WATCHES] = {-1, -1, -1, -1, -1, -1, -1, -1};

static void on_signal(int sig) {
  int saved_errno = errno;
  unsigned char b = (unsigned char)sig;
  for (int i = 0; i < MAX_WATCHES; i++)
    if (watch_fds[i] >= 0) (void)!write(watch_fds[i], &b, 1);
  errno = saved_errno;
}

int signals_open(signal_watch *w) {
  memset(w, 0, sizeof *w);
  if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  for (int i = 0; i < MAX_WATCHES; i++) {
    if (watch_fds[i] < 0) {
      watch_fds[i] = w->pipe[1];
      return 0;
    }
  }
  close(w->pipe[0]);
  close(w->pipe[1]);
  errno = EMFILE;
  return -1;
}

int signals_watch(signal_watch *w, int sig) {
  struct sigaction sa;
  if (sig <= 0 || sig >= NSIG) {
    errno = EINVAL;
    return -1;
  }
  if (w->watched[sig]) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &w->saved[sig]) != 0) return -1;
  w->watched[sig] = 1;
  return 0;
}

int signals_ignore(signal_watch *w, int sig) {
  struct sigaction sa;
  if (w->watched[sig]) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &w->saved[sig]) != 0) return -1;
  w->watched[sig] = 1;
  return 0;
}

int signals_next(signal_watch *w) {
  unsigned char b;
  ssize_t n = read(w->pipe[0], &b, 1);
  return n == 1 ? b : 0;
}

void signals_close(signal_watch *w) {
  for (int s = 1; s < NSIG; s++)
    if (w->watched[s]) (void)sigaction(s, &w->saved[s], NULL);
  memset(w->watched, 0, sizeof w->watched);
  for (int i = 0; i < MAX_WATCHES; i++)
    if (watch_fds[i] == w->pipe[1]) watch_fds[i] = -1;
  if (w->pipe[0] >= 0) close(w->pipe[0]);
  if (w->pipe[1] >= 0) close(w->pipe[1]);
  w->pipe[0] = w->pipe[1] = -1;
}
