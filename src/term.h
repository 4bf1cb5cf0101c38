/* The host terminal: raw mode and its restoration, window size. */
#ifndef DPTY_TERM_H
#define DPTY_TERM_H

#include <termios.h>

typedef struct {
  int fd;               /* the terminal put in raw mode (stdin), -1 when none */
  struct termios saved; /* settings before raw mode */
  int saved_flags[3];   /* fcntl(F_GETFL) of fds 0, 1, 2 before the session */
  int active;
} term_state;

/* Saves fd's settings and the file-status flags of fds 0..2, then applies raw mode
 * (cfmakeraw, as `docker run -it`). Returns 0, or -1 with errno set. */
int term_raw(term_state *t, int fd);
/* Puts back what term_raw saved; idempotent; safe in any exit path. */
void term_restore(term_state *t);
/* Window size of fd: 0 and rows/cols, or -1 when fd is not a terminal. */
int term_size(int fd, int *rows, int *cols);

#endif
