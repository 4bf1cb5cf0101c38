/* POSIX extended regular expressions: see regex.h. */
#include <regex.h> /* src/regex.h, which includes the system's */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dpty_regex {
  regex_t re;
};

static void set_err(char *err, size_t errcap, const char *msg) {
  if (errcap > 0) snprintf(err, errcap, "%s", msg);
}

dpty_regex *dpty_regex_new(const char *pattern, size_t len, int flags, char *err, size_t errcap) {
  if (memchr(pattern, '\0', len)) {
    set_err(err, errcap, "contains a NUL byte (a regex cannot match NUL: use a plain string or a Lua pattern)");
    return NULL;
  }
  dpty_regex *r = malloc(sizeof *r);
  if (!r) {
    set_err(err, errcap, "out of memory");
    return NULL;
  }
  int cflags = REG_EXTENDED;
  if (flags & DPTY_REGEX_ICASE) cflags |= REG_ICASE;
  if (flags & DPTY_REGEX_NEWLINE) cflags |= REG_NEWLINE;
  int rc = regcomp(&r->re, pattern, cflags); /* pattern[len] is NUL: Lua strings end with one */
  if (rc != 0) {
    if (errcap > 0) regerror(rc, &r->re, err, errcap);
    free(r); /* a failed regcomp leaves nothing to regfree */
    return NULL;
  }
  return r;
}

void dpty_regex_free(dpty_regex *r) {
  if (!r) return;
  regfree(&r->re);
  free(r);
}

size_t dpty_regex_groups(const dpty_regex *r) { return r->re.re_nsub; }

int dpty_regex_exec(const dpty_regex *r, const char *subject, size_t len, size_t init,
                    regmatch_t *m, size_t nm, char *err, size_t errcap) {
  regmatch_t one;
  if (init > len) return 0;
  regoff_t so = (regoff_t)init, eo = (regoff_t)len;
  if (eo < 0 || (size_t)eo != len) {
    set_err(err, errcap, "subject too long for regexec");
    return -1;
  }
  if (nm == 0) {
    m = &one;
    nm = 1;
  }
  m[0].rm_so = so;
  m[0].rm_eo = eo;
  /* glibc decides ^ at init > 0 from the character before it; libcs that take subject + init
   * as the beginning of the text (the BSDs) need REG_NOTBOL to agree. */
  int eflags = REG_STARTEND | (init > 0 ? REG_NOTBOL : 0);
  int rc = regexec(&r->re, subject, nm, m, eflags);
  if (rc == 0) return 1;
  if (rc == REG_NOMATCH) return 0;
  if (errcap > 0) regerror(rc, &r->re, err, errcap);
  return -1;
}
