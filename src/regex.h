/* POSIX extended regular expressions over byte strings, for the expect machinery: compiled
 * with regcomp(REG_EXTENDED), run with regexec(REG_STARTEND) so a subject may hold NUL bytes
 * and a search may start at an offset without copying. Pure logic: no I/O, no globals.
 *
 * The name: src/ is on the include path, so <regex.h> finds this file before the system's.
 * It passes the system header through with #include_next, which makes it a superset of it;
 * include it as <regex.h> (the quoted form would skip the system header). */
#ifndef DPTY_REGEX_H
#define DPTY_REGEX_H

#include_next <regex.h>
#include <stddef.h>

#define DPTY_REGEX_ICASE 1   /* REG_ICASE: ignore case */
#define DPTY_REGEX_NEWLINE 2 /* REG_NEWLINE: ^ and $ at line ends; . and [^x] never match \n */

typedef struct dpty_regex dpty_regex;

/* Compiles pattern[0..len). NULL with a message in err (always NUL-terminated when
 * errcap > 0): regerror's text, a NUL byte in the pattern (regcomp reads C strings, and glibc
 * has no REG_PEND), or out of memory. */
dpty_regex *dpty_regex_new(const char *pattern, size_t len, int flags, char *err, size_t errcap);
void dpty_regex_free(dpty_regex *re);

size_t dpty_regex_groups(const dpty_regex *re); /* parenthesised groups (re_nsub) */

/* Searches subject[init..len) for the leftmost-longest match. subject[0] is the beginning of
 * the text: ^ may match there, and only there (or after a newline with DPTY_REGEX_NEWLINE),
 * so a search from init > 0 passes REG_NOTBOL as well; $ matches at len. On a match fills
 * m[0..nm) with offsets from subject (rm_so = rm_eo = -1 for a group that took no part;
 * nm may be 0) and returns 1; returns 0 when nothing matches; -1 with a message in err when
 * regexec fails (out of memory) or the subject is longer than regoff_t can count. */
int dpty_regex_exec(const dpty_regex *re, const char *subject, size_t len, size_t init,
                    regmatch_t *m, size_t nm, char *err, size_t errcap);

#endif
