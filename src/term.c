#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

int term_raw(term_state *t, int fd) {
  struct termios raw;
  t->active = 0;
  t->fd = -1;
  if (tcgetattr(fd, &t->saved) != 0) return -1;
  for (int i = 0; i < 3; i++) t->saved_flags[i] = fcntl(i, F_GETFL);
  raw = t->saved;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) return -1;
  t->fd = fd;
  t->active = 1;
  return 0;
}

void term_restore(term_state *t) {
  if (!t->active) return;
  int saved_errno = errno;
  t->active = 0;
  /* Interrupted by a signal? Try again: leaving the terminal raw is the worst outcome. */
  while (tcsetattr(t->fd, TCSANOW, &t->saved) != 0 && errno == EINTR) {
  }
  for (int i = 0; i < 3; i++) {
    int now = fcntl(i, F_GETFL);
    if (t->saved_flags[i] >= 0 && now >= 0 && now != t->saved_flags[i])
      (void)fcntl(i, F_SETFL, t->saved_flags[i]);
  }
  errno = saved_errno;
}

int term_size(int fd, int *rows, int *cols) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return 0;
}
