/* A local command in a new pseudo-terminal: spawn, read/write the master side, resize,
 * termios, signals, wait with a timeout, close (which never leaves a child behind).
 * Pure C, no Lua; every function reports failures with errno (or a message for spawn). */
#ifndef DPTY_PTY_H
#define DPTY_PTY_H

#include <stddef.h>
#include <sys/types.h>
#include <termios.h>

typedef struct {
  int fd;       /* master side: non-blocking, close-on-exec; -1 once closed */
  pid_t pid;    /* the child: session leader of the pty, its process group id too */
  int reaped;   /* the child was waited for: pid must not be signalled any more */
  int status;   /* once reaped: exit code, or 128 + signal number */
  int eof;      /* the slave side was closed by every process (read gave EIO) */
} pty_proc;

typedef struct {
  const char *const *argv; /* argv[0] is looked up in PATH (the child's PATH) */
  const char *const *env;  /* NULL, or overrides of the inherited environment, NULL-terminated:
                              "NAME=value" sets, "NAME" (no '=') removes */
  const char *cwd;         /* NULL, or the child's working directory */
  int rows, cols;          /* initial window size; 0 means 24 x 80 */
} pty_spawn_opts;

/* Starts opts->argv in a new session whose controlling terminal is a new pty.
 * Returns 0, or -1 with a message in err (e.g. `cannot run "x": No such file or directory`)
 * and errno set; on failure nothing is left open or running. */
int pty_spawn(pty_proc *p, const pty_spawn_opts *opts, char *err, size_t errlen);

/* Reads what is available, waiting up to timeout_ms (< 0: no limit) for the first byte.
 * Returns the byte count; 0 at EOF (the child side closed the terminal and everything it
 * wrote was read); -1 with errno EAGAIN on timeout, or another errno. */
ssize_t pty_read(pty_proc *p, void *buf, size_t len, int timeout_ms);

/* Writes all of data, waiting for room with poll up to timeout_ms in total (< 0: no limit).
 * Returns 0, or -1 with errno (ETIMEDOUT; EIO once the slave side is closed); *written
 * (if not NULL) receives the bytes written either way. */
int pty_write_all(pty_proc *p, const void *data, size_t len, int timeout_ms, size_t *written);

/* TIOCSWINSZ on the master; the kernel sends SIGWINCH to the foreground process group. */
int pty_resize(pty_proc *p, int rows, int cols);
int pty_get_size(pty_proc *p, int *rows, int *cols);

/* The terminal's settings as the child sees them (tcgetattr through the master). */
int pty_termios(pty_proc *p, struct termios *t);

/* The terminal's foreground process group (tcgetpgrp through the master), or -1 with errno. */
pid_t pty_foreground(pty_proc *p);

/* Polls the child without blocking (waitpid WNOHANG): 1 and *code when it has exited,
 * 0 while it runs, -1 with errno. */
int pty_poll_exit(pty_proc *p, int *code);

/* Waits up to timeout_ms (< 0: no limit) for the child: its exit code (or 128 + signal),
 * or -1 with errno ETIMEDOUT (or the error of waitpid). */
int pty_wait(pty_proc *p, int timeout_ms);

enum pty_target {
  PTY_TARGET_CHILD,      /* the child process only */
  PTY_TARGET_GROUP,      /* the child's process group (the session leader's group) */
  PTY_TARGET_FOREGROUND  /* the terminal's foreground process group (what ctrl-c reaches) */
};
/* Sends sig; -1 with errno ESRCH once the child was reaped. */
int pty_kill(pty_proc *p, int sig, enum pty_target target);

/* Closes the master (the child's terminal hangs up), sends SIGHUP to the child and its
 * group, waits up to grace_ms for it to exit, then SIGKILLs and reaps it. Idempotent;
 * returns the child's exit code (or 128 + signal), or -1 if it was never known. */
int pty_close(pty_proc *p, int grace_ms);

#endif
