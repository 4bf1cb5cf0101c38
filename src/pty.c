/* A local command in a new pseudo-terminal (see pty.h).
 *
 * Spawn: the master comes from posix_openpt (close-on-exec from the start), the slave is opened
 * in the parent so the child cannot race us to it, the window size is set before the fork.
 * Between fork and exec the child only makes async-signal-safe calls (the parent may have
 * threads): the environment and everything else it needs are prepared before the fork, and
 * a failure is reported to the parent as {stage, errno} through a close-on-exec pipe, which
 * reads EOF exactly when exec succeeded. */
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ---- time ---- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline for timeout_ms: -1 means none */
static long long deadline_of(int timeout_ms) {
  return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* milliseconds left until deadline: -1 for none, else >= 0 */
static int left_ms(long long deadline) {
  if (deadline < 0) return -1;
  long long left = deadline - now_ms();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL); /* EINTR: the caller loops anyway */
}

/* ---- environment ---- */

/* length of the NAME part of "NAME=value" (or of "NAME") */
static size_t name_len(const char *s) { return strcspn(s, "="); }

static int same_name(const char *a, const char *b) {
  size_t la = name_len(a);
  return la == name_len(b) && memcmp(a, b, la) == 0;
}

/* The child's environment: environ minus the overridden names, then the overrides that set a
 * value (the last one for a name wins). Only the pointer array is allocated. */
static char **build_env(const char *const *over) {
  size_t n = 0, m = 0;
  for (char **e = environ; e && *e; e++) n++;
  for (const char *const *o = over; o && *o; o++) m++;
  char **v = malloc((n + m + 1) * sizeof *v);
  if (!v) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int overridden = 0;
    for (size_t j = 0; j < m && !overridden; j++) overridden = same_name(environ[i], over[j]);
    if (!overridden) v[k++] = environ[i];
  }
  for (size_t j = 0; j < m; j++) {
    if (!strchr(over[j], '=')) continue; /* "NAME": removal only */
    int later = 0;
    for (size_t l = j + 1; l < m && !later; l++) later = same_name(over[j], over[l]);
    if (!later) v[k++] = (char *)over[j];
  }
  v[k] = NULL;
  return v;
}

static const char *env_get(char *const *env, const char *name) {
  size_t ln = strlen(name);
  for (; *env; env++)
    if (strncmp(*env, name, ln) == 0 && (*env)[ln] == '=') return *env + ln + 1;
  return NULL;
}

/* ---- the child, between fork and exec ---- */

enum stage { ST_SIGNALS = 1, ST_SETSID, ST_FDS, ST_CTTY, ST_DUP, ST_CHDIR, ST_EXEC };

struct report {
  int stage;
  int err;
};

struct child_args {
  int slave, errfd;
  unsigned max_fd; /* for the close loop when close_range is missing */
  const char *const *argv;
  char *const *envp;
  const char *path; /* PATH for the lookup of argv[0] */
  const char *cwd;
};

static void report_and_exit(int fd, int stage, int err) {
  struct report r = {stage, err};
  ssize_t n;
  do n = write(fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
  _exit(127);
}

/* execve of argv[0], or a search along path as execvp does (empty entries mean "."); the
 * errno of the search: EACCES if some candidate was not executable, else the last error. */
static void exec_search(const struct child_args *a) {
  const char *file = a->argv[0];
  char *const *argv = (char *const *)a->argv;
  if (strchr(file, '/')) {
    execve(file, argv, a->envp);
    return;
  }
  size_t lf = strlen(file);
  int seen_eacces = 0, last = ENOENT;
  const char *p = a->path;
  for (;;) {
    const char *end = strchr(p, ':');
    size_t ld = end ? (size_t)(end - p) : strlen(p);
    char buf[PATH_MAX];
    if (ld + 1 + lf + 1 <= sizeof buf) {
      size_t k = 0;
      if (ld == 0) buf[k++] = '.';
      else {
        memcpy(buf, p, ld);
        k = ld;
      }
      buf[k++] = '/';
      memcpy(buf + k, file, lf + 1);
      execve(buf, argv, a->envp);
      last = errno;
      if (last == EACCES) seen_eacces = 1;
      /* ENOENT, ENOTDIR, ESTALE, ...: try the next directory, like execvp; anything that
       * says the file was found but is broken stops the search */
      if (last != EACCES && last != ENOENT && last != ENOTDIR && last != ESTALE &&
          last != ENODEV && last != ETIMEDOUT)
        break;
    } else {
      last = ENAMETOOLONG;
    }
    if (!end) break;
    p = end + 1;
  }
  errno = seen_eacces && last != ENOEXEC ? EACCES : last;
}

static void close_from(unsigned lo, unsigned hi, unsigned max_fd) {
  if (lo > hi) return;
  if (close_range(lo, hi, 0) == 0) return;
  if (hi > max_fd) hi = max_fd;
  for (unsigned fd = lo; fd <= hi; fd++) close((int)fd);
}

static void child(const struct child_args *a) {
  int e = a->errfd, s = a->slave;

  /* the report pipe and the slave must not sit on 0..2, which dup2 overwrites */
  if (e < 3) {
    int ne = fcntl(e, F_DUPFD_CLOEXEC, 3);
    if (ne < 0) report_and_exit(e, ST_FDS, errno);
    e = ne;
  }
  if (s < 3) {
    int ns = fcntl(s, F_DUPFD_CLOEXEC, 3);
    if (ns < 0) report_and_exit(e, ST_FDS, errno);
    s = ns;
  }

  /* default dispositions and an empty mask: the runtime may block or ignore signals */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL); /* EINVAL for reserved ones */
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) report_and_exit(e, ST_SIGNALS, errno);

  if (setsid() < 0) report_and_exit(e, ST_SETSID, errno);
  if (ioctl(s, TIOCSCTTY, 0) < 0) report_and_exit(e, ST_CTTY, errno);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(s, fd) < 0) report_and_exit(e, ST_DUP, errno);

  /* everything else goes: s, the master, whatever the parent had open */
  close_from(3, (unsigned)e - 1, a->max_fd);
  close_from((unsigned)e + 1, ~0U, a->max_fd);

  if (a->cwd && chdir(a->cwd) < 0) report_and_exit(e, ST_CHDIR, errno);
  exec_search(a);
  report_and_exit(e, ST_EXEC, errno);
}

/* ---- spawn ---- */

static int fail(char *err, size_t errlen, int saved, const char *fmt, const char *what) {
  if (err && errlen) snprintf(err, errlen, fmt, what, strerror(saved));
  errno = saved;
  return -1;
}

int pty_spawn(pty_proc *p, const pty_spawn_opts *o, char *err, size_t errlen) {
  p->fd = -1;
  p->pid = -1;
  p->reaped = 1;
  p->status = -1;
  p->eof = 0;
  if (err && errlen) err[0] = 0;

  if (!o || !o->argv || !o->argv[0]) return fail(err, errlen, EINVAL, "%sno command: %s", "");
  const char *cmd = o->argv[0];
  int rows = o->rows ? o->rows : 24, cols = o->cols ? o->cols : 80;
  if (rows < 1 || rows > USHRT_MAX || cols < 1 || cols > USHRT_MAX)
    return fail(err, errlen, EINVAL, "bad window size for \"%s\": %s", cmd);

  char **envp = build_env(o->env);
  if (!envp) return fail(err, errlen, errno, "cannot start \"%s\": %s", cmd);
  const char *path = env_get(envp, "PATH");
  if (!path) path = DEFAULT_PATH;

  int master = -1, slave = -1, pipefd[2] = {-1, -1}, saved;
  const char *what = "posix_openpt";
  char name[128];

  master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) goto sysfail;
  what = "grantpt";
  if (grantpt(master) < 0) goto sysfail;
  what = "unlockpt";
  if (unlockpt(master) < 0) goto sysfail;
  what = "ptsname";
  int rc = ptsname_r(master, name, sizeof name);
  if (rc != 0) {
    errno = rc;
    goto sysfail;
  }
  what = name;
  slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) goto sysfail;
  what = "TIOCSWINSZ";
  struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
  if (ioctl(master, TIOCSWINSZ, &ws) < 0) goto sysfail;
  what = "fcntl";
  int fl = fcntl(master, F_GETFL);
  if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0) goto sysfail;
  what = "pipe2";
  if (pipe2(pipefd, O_CLOEXEC) < 0) goto sysfail;

  struct rlimit rl;
  unsigned max_fd = 65535;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1048576)
    max_fd = (unsigned)rl.rlim_cur;
  struct child_args a = {slave, pipefd[1], max_fd, o->argv, envp, path, o->cwd};

  what = "fork";
  pid_t pid = fork();
  if (pid < 0) goto sysfail;
  if (pid == 0) child(&a); /* does not return */

  close(slave);
  close(pipefd[1]);
  free(envp);
  struct report r;
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = read(pipefd[0], (char *)&r + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(pipefd[0]);

  if (got == 0) { /* exec succeeded */
    p->fd = master;
    p->pid = pid;
    p->reaped = 0;
    return 0;
  }

  /* the child failed before exec and is exiting: reap it */
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  close(master);
  if (got < sizeof r) return fail(err, errlen, EPROTO, "cannot start \"%s\": %s", cmd);
  switch (r.stage) {
  case ST_EXEC: return fail(err, errlen, r.err, "cannot run \"%s\": %s", cmd);
  case ST_CHDIR: return fail(err, errlen, r.err, "cannot change to directory \"%s\": %s", o->cwd);
  case ST_SETSID: return fail(err, errlen, r.err, "cannot start \"%s\": setsid: %s", cmd);
  case ST_CTTY: return fail(err, errlen, r.err, "cannot start \"%s\": TIOCSCTTY: %s", cmd);
  default: return fail(err, errlen, r.err, "cannot start \"%s\": %s", cmd);
  }

sysfail:
  saved = errno;
  if (master >= 0) close(master);
  if (slave >= 0) close(slave);
  if (pipefd[0] >= 0) close(pipefd[0]);
  if (pipefd[1] >= 0) close(pipefd[1]);
  free(envp);
  if (err && errlen) snprintf(err, errlen, "cannot start \"%s\": %s: %s", cmd, what, strerror(saved));
  errno = saved;
  return -1;
}

/* ---- I/O on the master ---- */

ssize_t pty_read(pty_proc *p, void *buf, size_t len, int timeout_ms) {
  if (p->fd < 0) {
    errno = EBADF;
    return -1;
  }
  if (p->eof) return 0;
  long long deadline = deadline_of(timeout_ms);
  for (;;) {
    ssize_t n = read(p->fd, buf, len);
    if (n > 0) return n;
    /* EIO on a master: every slave fd is closed and the buffered output was read */
    if (n == 0 || errno == EIO) {
      p->eof = 1;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    int left = left_ms(deadline);
    if (left == 0) {
      errno = EAGAIN;
      return -1;
    }
    struct pollfd pf = {p->fd, POLLIN, 0};
    if (poll(&pf, 1, left) < 0 && errno != EINTR) return -1;
  }
}

int pty_write_all(pty_proc *p, const void *data, size_t len, int timeout_ms, size_t *written) {
  const char *d = data;
  size_t off = 0;
  int ret = 0;
  long long deadline = deadline_of(timeout_ms);
  if (p->fd < 0) {
    errno = EBADF;
    ret = -1;
  }
  while (ret == 0 && off < len) {
    ssize_t n = write(p->fd, d + off, len - off);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      ret = -1;
      break;
    }
    int left = left_ms(deadline);
    if (left == 0) {
      errno = ETIMEDOUT;
      ret = -1;
      break;
    }
    struct pollfd pf = {p->fd, POLLOUT, 0};
    int r = poll(&pf, 1, left);
    if (r < 0 && errno != EINTR) {
      ret = -1;
      break;
    }
    /* a hang-up without room would spin: the slave side is gone */
    if (r > 0 && !(pf.revents & POLLOUT) && (pf.revents & (POLLHUP | POLLERR | POLLNVAL))) {
      errno = EIO;
      ret = -1;
    }
  }
  if (written) *written = off;
  return ret;
}

int pty_resize(pty_proc *p, int rows, int cols) {
  if (p->fd < 0) {
    errno = EBADF;
    return -1;
  }
  if (rows < 1 || rows > USHRT_MAX || cols < 1 || cols > USHRT_MAX) {
    errno = EINVAL;
    return -1;
  }
  struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
  return ioctl(p->fd, TIOCSWINSZ, &ws);
}

int pty_get_size(pty_proc *p, int *rows, int *cols) {
  struct winsize ws;
  if (p->fd < 0) {
    errno = EBADF;
    return -1;
  }
  if (ioctl(p->fd, TIOCGWINSZ, &ws) < 0) return -1;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return 0;
}

int pty_termios(pty_proc *p, struct termios *t) {
  if (p->fd < 0) {
    errno = EBADF;
    return -1;
  }
  return tcgetattr(p->fd, t);
}

pid_t pty_foreground(pty_proc *p) {
  if (p->fd < 0) {
    errno = EBADF;
    return -1;
  }
  return tcgetpgrp(p->fd);
}

/* ---- the child process ---- */

int pty_poll_exit(pty_proc *p, int *code) {
  if (p->reaped) {
    if (p->status < 0) {
      errno = ECHILD;
      return -1;
    }
    *code = p->status;
    return 1;
  }
  int st;
  pid_t r;
  do r = waitpid(p->pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    /* someone else reaped it: the pid may be reused, never signal it again */
    if (errno == ECHILD) p->reaped = 1;
    return -1;
  }
  if (r == 0) return 0;
  if (WIFEXITED(st)) p->status = WEXITSTATUS(st);
  else if (WIFSIGNALED(st)) p->status = 128 + WTERMSIG(st);
  else return 0; /* stopped/continued: not asked for, still there */
  p->reaped = 1;
  *code = p->status;
  return 1;
}

int pty_wait(pty_proc *p, int timeout_ms) {
  long long deadline = deadline_of(timeout_ms);
  int step = 1, code;
  for (;;) {
    int r = pty_poll_exit(p, &code);
    if (r < 0) return -1;
    if (r > 0) return code;
    int left = left_ms(deadline);
    if (left == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    sleep_ms(left > 0 && left < step ? left : step);
    if (step < 20) step *= 2;
  }
}

int pty_kill(pty_proc *p, int sig, enum pty_target target) {
  if (p->reaped || p->pid <= 0) {
    errno = ESRCH;
    return -1;
  }
  switch (target) {
  case PTY_TARGET_CHILD: return kill(p->pid, sig);
  case PTY_TARGET_GROUP: return kill(-p->pid, sig);
  case PTY_TARGET_FOREGROUND: {
    pid_t pg = pty_foreground(p);
    if (pg < 0) return -1;
    if (pg == 0) pg = p->pid; /* no foreground group recorded: the session leader's */
    return kill(-pg, sig);
  }
  }
  errno = EINVAL;
  return -1;
}

int pty_close(pty_proc *p, int grace_ms) {
  if (p->fd >= 0) {
    close(p->fd); /* the slave side hangs up */
    p->fd = -1;
  }
  if (!p->reaped && p->pid > 0) {
    int code;
    if (pty_poll_exit(p, &code) == 0) {
      kill(-p->pid, SIGHUP);
      kill(p->pid, SIGHUP);
      kill(-p->pid, SIGCONT); /* a stopped group would never see the hang-up */
      kill(p->pid, SIGCONT);
      if (pty_wait(p, grace_ms < 0 ? 0 : grace_ms) < 0 && errno == ETIMEDOUT) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        pty_wait(p, -1);
      }
    }
  }
  return p->reaped ? p->status : -1;
}
