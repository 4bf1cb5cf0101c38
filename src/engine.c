#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_head.h"
#include "sha256.h"

extern char **environ;

#define USER_AGENT "dpty/" DPTY_VERSION

int dynbuf_add(dynbuf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void dynbuf_free(dynbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  request *r = ud;
  return dynbuf_add(&r->response, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  request *r = ud;
  size_t len = size * n;
  /* A 1xx interim response or a redirect starts a new head: keep only the last. */
  if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
    r->response_head.len = 0;
    const char *sp = memchr(p, ' ', len);
    r->interim = sp && (size_t)(sp - p) + 1 < len && sp[1] == '1';
  } else if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
    if (!r->interim) r->head_done = 1;
  }
  return dynbuf_add(&r->response_head, p, len) == 0 ? len : 0;
}

#define SET(h, opt, val)                                                            \
  do {                                                                              \
    CURLcode rc_ = curl_easy_setopt(h, opt, val);                                   \
    if (rc_ != CURLE_OK) {                                                          \
      snprintf(err, errcap, "libcurl refused option %s: %s", #opt, curl_easy_strerror(rc_)); \
      goto fail;                                                                    \
    }                                                                               \
  } while (0)

/* ---- command transport (ssh://) ---------------------------------------------------
 * Each connection runs the target's command (ssh ... docker system dial-stdio) with its
 * stdin and stdout on a unix stream socket that libcurl speaks HTTP over. The command's
 * stderr goes to a pipe: ssh's reason for failing ("Host key verification failed.")
 * becomes part of the error message. libcurl knows the connections of a command by a
 * made-up unix socket path (no name lookup, no reuse across commands).
 *
 * How the socket is made: libcurl 7.88 (Debian 12) ignores CURL_SOCKOPT_ALREADY_CONNECTED
 * and calls connect() on whatever the open-socket callback returns (fixed in 8.0.0 by
 * "cf-socket: if socket is already connected, return CURLE_OK"), so a socketpair cannot be
 * handed over. Instead the callback returns a fresh socket and points the address libcurl
 * connects it to at a listening socket of its own (in a new 0700 directory, one per
 * connection; not the abstract namespace: libcurl takes the path as the connection's
 * address and does not reuse a connection whose address is empty), held by a forked child
 * that accepts exactly that connection (SO_PEERCRED: it must come from us), removes the
 * socket file and its directory, puts the connection on its stdin/stdout and execs the
 * command. */

struct engine_command {
  char **argv;
  char *path;   /* argv[0] found in PATH (resolved before fork: the child only execs) */
  char key[48]; /* "/dpty-command/<hex>": the connection cache's name for it */
};

/* A running command; the list is per process, as libcurl may close a connection (and
 * call close_command_socket) long after the request that opened it is gone. */
typedef struct child {
  curl_socket_t fd; /* the socket libcurl speaks over */
  pid_t pid;        /* 0 once reaped */
  int status;       /* from waitpid, once reaped */
  int errfd;        /* read end of its stderr, -1 once at EOF */
  char key[48];
  char argv0[64];
  char dir[80];     /* the directory of its listening socket, until it is removed */
  dev_t dir_dev;    /* ... and which one it is (the child removes it first: a later */
  ino_t dir_ino;    /*     directory of the same name is not ours) */
  dynbuf said;      /* its stderr so far (the last few KB) */
  struct child *next;
} child;

static child *children;

/* How the last command of each key that ended on its own ended (or could not start). */
#define OUTCOMES 8
static struct {
  char key[48];
  char text[640];
} outcomes[OUTCOMES];
static unsigned next_outcome;

static void command_free(engine_command *c) {
  if (!c) return;
  if (c->argv)
    for (char **a = c->argv; *a; a++) free(*a);
  free(c->argv);
  free(c->path);
  free(c);
}

static engine_command *command_new(const engine_target *t, char *err, size_t errcap) {
  size_t n = 0;
  while (n < ENGINE_MAX_COMMAND && t->command[n]) n++;
  engine_command *c = calloc(1, sizeof *c);
  if (!c || !(c->argv = calloc(n + 1, sizeof *c->argv))) {
    snprintf(err, errcap, "out of memory");
    command_free(c);
    return NULL;
  }
  sha256_ctx h;
  sha256_init(&h);
  for (size_t i = 0; i < n; i++) {
    if (!(c->argv[i] = strdup(t->command[i]))) {
      snprintf(err, errcap, "out of memory");
      command_free(c);
      return NULL;
    }
    sha256_update(&h, t->command[i], strlen(t->command[i]) + 1);
  }
  unsigned char d[32];
  sha256_final(&h, d);
  int k = snprintf(c->key, sizeof c->key, "/dpty-command/");
  for (int i = 0; i < 12; i++) k += snprintf(c->key + k, sizeof c->key - (size_t)k, "%02x", d[i]);
  return c;
}

static void set_outcome(const char *key, const char *text) {
  unsigned slot = next_outcome;
  for (unsigned i = 0; i < OUTCOMES; i++)
    if (strcmp(outcomes[i].key, key) == 0) slot = i;
  if (slot == next_outcome) next_outcome = (next_outcome + 1) % OUTCOMES;
  snprintf(outcomes[slot].key, sizeof outcomes[slot].key, "%s", key);
  snprintf(outcomes[slot].text, sizeof outcomes[slot].text, "%s", text ? text : "");
}

/* Reads what the command wrote to stderr without blocking; keeps the last 4 KB. */
static void child_drain(child *c) {
  while (c->errfd >= 0) {
    char buf[1024];
    ssize_t n = read(c->errfd, buf, sizeof buf);
    if (n > 0) {
      if (c->said.len > 4096) { /* keep the tail: the reason comes last */
        memmove(c->said.data, c->said.data + c->said.len - 1024, 1024);
        c->said.len = 1024;
      }
      if (dynbuf_add(&c->said, buf, (size_t)n) != 0) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close(c->errfd); /* EOF (the command is gone) or an error */
    c->errfd = -1;
  }
}

/* Waits up to ms for the child to end; 1 when it has (status set), 0 if it runs on. */
static int child_wait(child *c, int ms) {
  for (int waited = 0;; waited += 2) {
    pid_t w = waitpid(c->pid, &c->status, WNOHANG);
    if (w < 0 && errno == EINTR) continue;
    if (w != 0) { /* ended, or not ours to wait for (ECHILD): either way, done */
      if (w < 0) c->status = 0;
      c->pid = 0;
      return 1;
    }
    if (waited >= ms) return 0;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
}

/* Its stderr, on one line: "Host key verification failed." */
static void child_words(child *c, char *out, size_t cap) {
  size_t o = 0;
  int space = 0;
  out[0] = '\0';
  for (size_t i = 0; i < c->said.len && o + 2 < cap; i++) {
    unsigned char ch = (unsigned char)c->said.data[i];
    if (ch == '\r' || ch == '\n' || ch == '\t' || ch == ' ') {
      space = o > 0;
      continue;
    }
    if (ch < 0x20 || ch == 0x7f) continue;
    if (space) out[o++] = ' ';
    space = 0;
    out[o++] = (char)ch;
  }
  out[o] = '\0';
}

/* A child that ended on its own leaves its outcome for error messages. */
static void child_ended(child *c) {
  char words[512], text[640];
  child_drain(c);
  child_words(c, words, sizeof words);
  if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0) {
    set_outcome(c->key, "");
    return;
  }
  if (WIFSIGNALED(c->status))
    snprintf(text, sizeof text, "%s was killed by signal %d%s%s", c->argv0, WTERMSIG(c->status),
             words[0] ? ": " : "", words);
  else
    snprintf(text, sizeof text, "%s exited with status %d%s%s", c->argv0, WEXITSTATUS(c->status),
             words[0] ? ": " : "", words);
  set_outcome(c->key, text);
}

/* The listening socket's file and directory (the child removes them once connected). */
static void remove_dir(child *c) {
  struct stat st;
  if (!c->dir[0]) return;
  if (lstat(c->dir, &st) == 0 && st.st_dev == c->dir_dev && st.st_ino == c->dir_ino) {
    char path[96];
    snprintf(path, sizeof path, "%s/s", c->dir);
    unlink(path);
    rmdir(c->dir);
  }
  c->dir[0] = '\0';
}

/* The connection is closed: the command has nothing more to do. One that has spoken may be
 * on its way out with a reason (that is how a failing ssh ends): give it a moment; else
 * it is told to stop (as the docker CLI does: SIGTERM, then SIGKILL). */
static void child_finish(child *c) {
  child_drain(c);
  if (c->pid) {
    if (child_wait(c, c->said.len ? 300 : 0)) {
      child_ended(c);
    } else {
      kill(c->pid, SIGTERM);
      if (!child_wait(c, 2000)) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR) {
        }
        c->pid = 0;
      }
    }
  }
  if (c->errfd >= 0) close(c->errfd);
  remove_dir(c);
  dynbuf_free(&c->said);
  free(c);
}

/* argv[0] as execve needs it: a path with a slash as is, else the first PATH entry that
 * has it executable. NULL with errno set when there is none. */
static char *find_program(const char *name) {
  if (strchr(name, '/')) return strdup(name);
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path;;) {
    const char *e = strchr(p, ':');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    size_t len = (n ? n : 1) + 1 + strlen(name) + 1;
    char *full = malloc(len);
    if (!full) return NULL;
    snprintf(full, len, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
    if (access(full, X_OK) == 0) return full;
    free(full);
    if (!e) break;
    p = e + 1;
  }
  errno = ENOENT;
  return NULL;
}

/* The forked child: only async-signal-safe calls until execve. */
static void command_child(int listener, int errfd, const char *path, char *const argv[], pid_t parent,
                          const char *sockpath, const char *dir) {
  static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGWINCH, SIGALRM, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU};
  struct sigaction dfl;
  sigset_t none;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &dfl, NULL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid(); /* its own session: keys typed at our terminal (ctrl-c) are no signals for it */
  /* ends with us (as the docker CLI's Pdeathsig), also while it waits for the connection */
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(126);
  int conn;
  for (;;) {
    conn = accept(listener, NULL, NULL);
    if (conn < 0) {
      if (errno == EINTR) continue;
      _exit(126);
    }
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == parent) break;
    close(conn); /* someone else found the name: not theirs */
  }
  close(listener);
  unlink(sockpath);
  rmdir(dir);
  if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0 || dup2(errfd, 2) < 0) _exit(126);
  if (conn > 2) close(conn);
  if (errfd > 2) close(errfd);
  execve(path, argv, environ);
  static const char msg[] = "cannot execute the connection command\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(127);
}

static curl_socket_t open_command_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr) {
  engine_command *cmd = clientp;
  int listener = -1, sock = -1, ep[2] = {-1, -1};
  char text[640];
  (void)purpose;
  child *c = calloc(1, sizeof *c);
  if (!c) return CURL_SOCKET_BAD;
  c->errfd = -1;
  snprintf(c->key, sizeof c->key, "%s", cmd->key);
  snprintf(c->argv0, sizeof c->argv0, "%s", cmd->argv[0]);
  if (!cmd->path && !(cmd->path = find_program(cmd->argv[0]))) {
    if (errno == ENOENT)
      snprintf(text, sizeof text, "cannot run %s: it is not installed (not found in PATH)", cmd->argv[0]);
    else
      snprintf(text, sizeof text, "cannot run %s: %s", cmd->argv[0], strerror(errno));
    goto fail;
  }
  /* the listener, in a directory of its own that only we may enter */
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) > 60) tmp = "/tmp";
  snprintf(c->dir, sizeof c->dir, "%s/dpty-XXXXXX", tmp);
  if (!mkdtemp(c->dir)) {
    snprintf(text, sizeof text, "cannot run %s: cannot make a directory in %s: %s", cmd->argv[0], tmp,
             strerror(errno));
    c->dir[0] = '\0';
    goto fail;
  }
  struct stat st;
  if (lstat(c->dir, &st) == 0) {
    c->dir_dev = st.st_dev;
    c->dir_ino = st.st_ino;
  }
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s/s", c->dir);
  socklen_t sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun.sun_path) + 1);
  if ((listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
      bind(listener, (struct sockaddr *)&sun, sunlen) != 0 || listen(listener, 4) != 0 ||
      (sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || pipe2(ep, O_CLOEXEC) != 0) {
    snprintf(text, sizeof text, "cannot run %s: no socket for it: %s", cmd->argv[0], strerror(errno));
    goto fail;
  }
  pid_t parent = getpid();
  c->pid = fork();
  if (c->pid < 0) {
    c->pid = 0;
    snprintf(text, sizeof text, "cannot run %s: %s", cmd->argv[0], strerror(errno));
    goto fail;
  }
  if (c->pid == 0) command_child(listener, ep[1], cmd->path, cmd->argv, parent, sun.sun_path, c->dir);
  close(listener);
  close(ep[1]);
  memcpy(&addr->addr, &sun, sunlen); /* libcurl connects sock there */
  addr->addrlen = sunlen;
  c->fd = sock;
  c->errfd = ep[0];
  if (fcntl(c->errfd, F_SETFL, O_NONBLOCK) != 0) { /* a blocking read would hang us: don't read it */
    close(c->errfd);
    c->errfd = -1;
  }
  c->next = children;
  children = c;
  return sock;
fail:
  set_outcome(cmd->key, text);
  remove_dir(c);
  if (listener >= 0) close(listener);
  if (sock >= 0) close(sock);
  for (int i = 0; i < 2; i++)
    if (ep[i] >= 0) close(ep[i]);
  free(c);
  return CURL_SOCKET_BAD;
}

static int close_command_socket(void *clientp, curl_socket_t fd) {
  (void)clientp;
  child *c = NULL;
  for (child **p = &children; *p; p = &(*p)->next) {
    if ((*p)->fd == fd) {
      c = *p;
      *p = c->next;
      break;
    }
  }
  int rc = close(fd);
  if (c) child_finish(c);
  return rc;
}

/* Why the command of this key failed, if it did: its exit and its words. Commands still
 * running are looked at first: one that has ended (or is ending, having spoken) says more
 * than an older outcome. 1 with out set, or 0. */
static int command_failure(const engine_command *cmd, char *out, size_t cap) {
  if (!cmd) return 0;
  for (child *c = children; c; c = c->next) {
    if (strcmp(c->key, cmd->key) != 0 || !c->pid) continue;
    child_drain(c);
    if (child_wait(c, c->said.len ? 300 : 0)) child_ended(c);
  }
  for (unsigned i = 0; i < OUTCOMES; i++) {
    if (strcmp(outcomes[i].key, cmd->key) == 0 && outcomes[i].text[0]) {
      snprintf(out, cap, "%s", outcomes[i].text);
      return 1;
    }
  }
  return 0;
}

/* What to check when ssh itself failed (its status 255: no login, no host key, no route). */
static const char *command_hint(const engine_command *cmd, const char *said) {
  const char *base = strrchr(cmd->argv[0], '/');
  base = base ? base + 1 : cmd->argv[0];
  if (strcmp(base, "ssh") == 0 && strstr(said, "exited with status 255"))
    return " (dpty runs ssh with BatchMode=yes: the host key must be known and the login must need no "
           "password; more ssh options go in DPTY_SSH_OPTS)";
  return "";
}

/* ---- targets ---------------------------------------------------------------------- */

static int is_https(const engine_target *t) {
  return t->base_url && strncmp(t->base_url, "https://", 8) == 0;
}

int engine_target_check(const engine_target *t, char *err, size_t errcap) {
  if (!t->base_url || !t->base_url[0]) {
    snprintf(err, errcap, "the Engine target has no base URL");
    return -1;
  }
  if (strncmp(t->base_url, "http://", 7) != 0 && !is_https(t)) {
    snprintf(err, errcap, "the Engine target's base URL %s is neither http:// nor https://", t->base_url);
    return -1;
  }
  if (t->unix_path && t->command[0]) {
    snprintf(err, errcap, "the Engine target has both a unix socket and a command");
    return -1;
  }
  return 0;
}

static void describe_target(const engine_target *t, char *out, size_t cap) {
  if (t->name && t->name[0])
    snprintf(out, cap, "%s", t->name);
  else if (t->unix_path)
    snprintf(out, cap, "unix://%s", t->unix_path);
  else
    snprintf(out, cap, "%s", t->base_url);
}

/* How a handle reaches the Engine: unix socket, TLS settings, or the command. */
static int apply_target(CURL *h, const engine_target *t, engine_command *cmd, char *err, size_t errcap) {
  if (t->unix_path || cmd) {
    /* a socket of our own: no proxy from the environment applies to it */
    SET(h, CURLOPT_PROXY, "");
    SET(h, CURLOPT_UNIX_SOCKET_PATH, cmd ? cmd->key : t->unix_path);
  }
  if (cmd) {
    SET(h, CURLOPT_OPENSOCKETFUNCTION, open_command_socket);
    SET(h, CURLOPT_OPENSOCKETDATA, cmd);
    SET(h, CURLOPT_CLOSESOCKETFUNCTION, close_command_socket);
    SET(h, CURLOPT_CLOSESOCKETDATA, NULL);
  }
  if (getenv("DPTY_CURL_VERBOSE")) SET(h, CURLOPT_VERBOSE, 1L);
  if (is_https(t)) {
    SET(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2); /* the docker CLI's minimum */
    SET(h, CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
    SET(h, CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
    if (t->tls_ca) SET(h, CURLOPT_CAINFO, t->tls_ca);
    if (t->tls_cert) SET(h, CURLOPT_SSLCERT, t->tls_cert);
    if (t->tls_key) SET(h, CURLOPT_SSLKEY, t->tls_key);
  }
  return 0;
fail:
  return -1;
}

/* A message for a failed connection or transfer: what happened, and what to check. */
static void describe_failure(const engine_target *t, const engine_command *cmd, CURLcode rc,
                             const char *detail, char *out, size_t cap) {
  char where[512], said[700];
  describe_target(t, where, sizeof where);
  const char *why = detail && detail[0] ? detail : curl_easy_strerror(rc);
  if (cmd && command_failure(cmd, said, sizeof said)) {
    snprintf(out, cap, "Cannot connect to the Docker daemon at %s: %s%s", where, said, command_hint(cmd, said));
    return;
  }
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
    snprintf(out, cap, "Cannot connect to the Docker daemon at %s (%s). Is the docker daemon running?", where, why);
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
    snprintf(out, cap,
             "the Docker daemon at %s presented a TLS certificate that does not verify (%s): check the CA "
             "certificate (ca.pem in DOCKER_CERT_PATH, the context's TLS files, or tls.ca)%s%s",
             where, why, t->tls_ca ? "; it was " : "", t->tls_ca ? t->tls_ca : "");
    break;
  case CURLE_SSL_CACERT_BADFILE:
    snprintf(out, cap, "cannot use the CA certificate %s for the Docker daemon at %s (%s)",
             t->tls_ca ? t->tls_ca : "(system default)", where, why);
    break;
  case CURLE_SSL_CERTPROBLEM:
    snprintf(out, cap, "cannot use the client certificate %s and key %s for the Docker daemon at %s (%s)",
             t->tls_cert ? t->tls_cert : "(none)", t->tls_key ? t->tls_key : "(none)", where, why);
    break;
  case CURLE_SSL_CONNECT_ERROR:
    snprintf(out, cap,
             "TLS handshake with the Docker daemon at %s failed (%s): does it listen with TLS there, and "
             "does it accept your client certificate (cert.pem, key.pem)?",
             where, why);
    break;
  case CURLE_PARTIAL_FILE:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
    if (is_https(t) && strstr(why, "alert"))
      snprintf(out, cap,
               "the Docker daemon at %s ended the TLS connection (%s): does it accept your client "
               "certificate (cert.pem, key.pem)?",
               where, why);
    else
      snprintf(out, cap, "lost the connection to the Docker daemon at %s (%s)", where, why);
    break;
  default:
    snprintf(out, cap, "request to the Docker daemon at %s failed: %s", where, why);
  }
}

/* ---- requests --------------------------------------------------------------------- */

static char *join_url(const engine_target *t, const char *path) {
  size_t n = strlen(t->base_url) + strlen(path) + 1;
  char *url = malloc(n);
  if (url) snprintf(url, n, "%s%s", t->base_url, path);
  return url;
}

request *request_new(const engine_target *t, const char *method, const char *path,
                     const char *const *headers, const char *body, size_t body_len,
                     long timeout_ms, char *err, size_t errcap) {
  if (engine_target_check(t, err, errcap) != 0) return NULL;
  request *r = calloc(1, sizeof *r);
  char *url = join_url(t, path);
  if (!r || !url) {
    snprintf(err, errcap, "out of memory");
    free(url);
    free(r);
    return NULL;
  }
  r->easy = curl_easy_init();
  if (!r->easy) {
    snprintf(err, errcap, "libcurl could not create a handle");
    goto fail;
  }
  if (t->command[0] && !(r->command = command_new(t, err, errcap))) goto fail;
  SET(r->easy, CURLOPT_URL, url);
  if (apply_target(r->easy, t, r->command, err, errcap) != 0) goto fail;
  SET(r->easy, CURLOPT_NOSIGNAL, 1L);
  SET(r->easy, CURLOPT_USERAGENT, USER_AGENT);
  SET(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
  SET(r->easy, CURLOPT_WRITEFUNCTION, on_body);
  SET(r->easy, CURLOPT_WRITEDATA, r);
  SET(r->easy, CURLOPT_HEADERFUNCTION, on_header);
  SET(r->easy, CURLOPT_HEADERDATA, r);
  SET(r->easy, CURLOPT_PRIVATE, r);
  SET(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  if (timeout_ms > 0) SET(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (strcmp(method, "HEAD") == 0) {
    SET(r->easy, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0) {
    SET(r->easy, CURLOPT_CUSTOMREQUEST, method);
    r->body = malloc(body_len + 1);
    if (!r->body) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    if (body_len) memcpy(r->body, body, body_len);
    r->body[body_len] = '\0';
    SET(r->easy, CURLOPT_POSTFIELDS, r->body);
    SET(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  for (const char *const *h = headers; h && *h; h++) {
    struct curl_slist *l = curl_slist_append(r->headers, *h);
    if (!l) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    r->headers = l;
  }
  if (!body_len) { /* no body: no Content-Type (curl would claim a form) */
    struct curl_slist *l = curl_slist_append(r->headers, "Content-Type:");
    if (!l) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    r->headers = l;
  }
  SET(r->easy, CURLOPT_HTTPHEADER, r->headers);
  free(url);
  return r;
fail:
  free(url);
  request_free(r);
  return NULL;
}

void request_free(request *r) {
  if (!r) return;
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->body);
  command_free(r->command); /* after the cleanup, which may still close its connection */
  dynbuf_free(&r->response);
  dynbuf_free(&r->response_head);
  free(r);
}

void request_describe_error(const request *r, const engine_target *t, char *out, size_t cap) {
  describe_failure(t, r->command, r->result, r->errbuf, out, cap);
}

/* ---- hijack ----------------------------------------------------------------------- */

static long elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Waits until the socket is ready for `events`, within the remaining time. */
static int wait_socket(curl_socket_t s, short events, const struct timespec *start, int timeout_ms) {
  for (;;) {
    long left = timeout_ms - elapsed_ms(start);
    if (left <= 0) return 0;
    struct pollfd p = {.fd = s, .events = events};
    int n = poll(&p, 1, (int)left);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

int engine_hijack(const engine_target *t, const char *method, const char *path,
                  const char *content_type, const char *body, size_t body_len, int timeout_ms,
                  hijack_conn *conn, long *status, char *refusal, size_t refcap, char *err,
                  size_t errcap) {
  char where[512], errbuf[CURL_ERROR_SIZE] = "";
  dynbuf req = {0}, resp = {0};
  struct timespec start;
  CURLcode rc;
  const char *base_path = "";
  memset(conn, 0, sizeof *conn);
  conn->sock = CURL_SOCKET_BAD;
  *status = 0;
  clock_gettime(CLOCK_MONOTONIC, &start);
  if (engine_target_check(t, err, errcap) != 0) return -1;
  describe_target(t, where, sizeof where);

  /* For tcp://host:port/base the base path prefixes the request target. */
  if (!t->unix_path) {
    const char *p = strstr(t->base_url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (p) base_path = p;
  }
  conn->easy = curl_easy_init();
  if (!conn->easy) {
    snprintf(err, errcap, "libcurl could not create a handle");
    return -1;
  }
  if (t->command[0] && !(conn->command = command_new(t, err, errcap))) goto fail;
  SET(conn->easy, CURLOPT_URL, t->base_url);
  if (apply_target(conn->easy, t, conn->command, err, errcap) != 0) goto fail;
  SET(conn->easy, CURLOPT_CONNECT_ONLY, 1L);
  SET(conn->easy, CURLOPT_NOSIGNAL, 1L);
  SET(conn->easy, CURLOPT_ERRORBUFFER, errbuf);
  SET(conn->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
  SET(conn->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  SET(conn->easy, CURLOPT_TCP_KEEPIDLE, 30L);
  rc = curl_easy_perform(conn->easy);
  if (rc != CURLE_OK) {
    describe_failure(t, conn->command, rc, errbuf, err, errcap);
    goto fail;
  }
  rc = curl_easy_getinfo(conn->easy, CURLINFO_ACTIVESOCKET, &conn->sock);
  if (rc != CURLE_OK || conn->sock == CURL_SOCKET_BAD) {
    snprintf(err, errcap, "libcurl gave no socket for %s", where);
    goto fail;
  }

  char head[1024];
  int n = snprintf(head, sizeof head,
                   "%s %s%s HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: " USER_AGENT
                   "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   method, base_path, path, content_type ? content_type : "text/plain", body_len);
  if (n < 0 || (size_t)n >= sizeof head) {
    snprintf(err, errcap, "request path too long: %s", path);
    goto fail;
  }
  if (dynbuf_add(&req, head, (size_t)n) || (body_len && dynbuf_add(&req, body, body_len))) {
    snprintf(err, errcap, "out of memory");
    goto fail;
  }
  for (size_t sent = 0; sent < req.len;) {
    size_t k = 0;
    rc = curl_easy_send(conn->easy, req.data + sent, req.len - sent, &k);
    if (rc == CURLE_AGAIN) {
      if (wait_socket(conn->sock, POLLOUT, &start, timeout_ms) <= 0) {
        snprintf(err, errcap, "timed out sending to the Docker daemon at %s", where);
        goto fail;
      }
      continue;
    }
    if (rc != CURLE_OK) {
      describe_failure(t, conn->command, rc, errbuf, err, errcap);
      goto fail;
    }
    sent += k;
  }

  http_head h;
  int parsed = 0, eof = 0;
  for (;;) {
    char chunk[16384];
    size_t k = 0;
    rc = curl_easy_recv(conn->easy, chunk, sizeof chunk, &k);
    if (rc == CURLE_AGAIN) {
      int w = wait_socket(conn->sock, POLLIN, &start, timeout_ms);
      if (w <= 0) {
        snprintf(err, errcap, "the Docker daemon at %s did not answer %s %s in time", where, method,
                 path);
        goto fail;
      }
      continue;
    }
    if (rc != CURLE_OK) {
      describe_failure(t, conn->command, rc, errbuf, err, errcap);
      goto fail;
    }
    if (k == 0) eof = 1;
    if (k && dynbuf_add(&resp, chunk, k)) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    if (!parsed) {
      parsed = http_head_parse(resp.data ? resp.data : "", resp.len, &h);
      if (parsed < 0) {
        snprintf(err, errcap, "the Docker daemon at %s sent a malformed response to %s %s", where,
                 method, path);
        goto fail;
      }
      if (parsed > 0 && (h.status == 101 || h.status == 200)) break;
    }
    if (eof) {
      if (!parsed) {
        char said[700];
        if (command_failure(conn->command, said, sizeof said))
          snprintf(err, errcap, "Cannot connect to the Docker daemon at %s: %s%s", where, said,
                   command_hint(conn->command, said));
        else
          snprintf(err, errcap, "the Docker daemon at %s closed the connection before answering %s %s",
                   where, method, path);
        goto fail;
      }
      break; /* a refusal: its plain-text body ran to the end of the connection */
    }
  }
  *status = h.status;
  /* errbuf ends with this call; the connection does not */
  rc = curl_easy_setopt(conn->easy, CURLOPT_ERRORBUFFER, NULL);
  if (rc != CURLE_OK) {
    snprintf(err, errcap, "libcurl refused option CURLOPT_ERRORBUFFER: %s", curl_easy_strerror(rc));
    goto fail;
  }
  if (h.status != 101 && h.status != 200) {
    size_t blen = resp.len - h.head_len;
    const char *b = resp.data + h.head_len;
    while (blen && (b[blen - 1] == '\n' || b[blen - 1] == '\r')) blen--;
    snprintf(refusal, refcap, "%.*s", (int)blen, b);
    /* Errors from a JSON-speaking layer still come as {"message": ...}: leave that to Lua. */
    dynbuf_free(&resp);
    dynbuf_free(&req);
    hijack_close(conn);
    return 1;
  }
  conn->leftover_len = resp.len - h.head_len;
  if (conn->leftover_len) {
    conn->leftover = malloc(conn->leftover_len);
    if (!conn->leftover) {
      snprintf(err, errcap, "out of memory");
      goto fail;
    }
    memcpy(conn->leftover, resp.data + h.head_len, conn->leftover_len);
  }
  dynbuf_free(&resp);
  dynbuf_free(&req);
  return 0;
fail:
  dynbuf_free(&resp);
  dynbuf_free(&req);
  hijack_close(conn);
  return -1;
}

void hijack_close(hijack_conn *c) {
  if (c->easy) curl_easy_cleanup(c->easy); /* a command's connection: ends the command too */
  c->easy = NULL;
  c->sock = CURL_SOCKET_BAD;
  command_free(c->command);
  c->command = NULL;
  free(c->leftover);
  c->leftover = NULL;
  c->leftover_len = 0;
}

int hijack_shutdown_write(hijack_conn *c) {
  if (c->sock == CURL_SOCKET_BAD) {
    errno = EBADF;
    return -1;
  }
  if (shutdown(c->sock, SHUT_WR) != 0 && errno != ENOTCONN) return -1;
  return 0;
}
