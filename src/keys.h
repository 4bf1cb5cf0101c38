/* Key specs (docker's detach-key grammar) and the key matcher of the input path.
 * Pure logic: no I/O, no globals. */
#ifndef DPTY_KEYS_H
#define DPTY_KEYS_H

#include <stddef.h>

#define KEYS_MAX_SEQ 32 /* longest key sequence, in bytes */

/* Parses a key spec in moby/term's ToBytes grammar ("ctrl-p,ctrl-q", "ctrl-x,x", "DEL", ...)
 * into out (at most cap and at most KEYS_MAX_SEQ bytes). Returns the byte length, or -1 with
 * a message naming the offending token in err (always NUL-terminated when errcap > 0). */
int keys_parse(const char *spec, unsigned char *out, size_t cap, char *err, size_t errcap);

/* The matcher: a set of byte sequences (bindings), each with an id >= 0.
 * Bytes that may start a binding are held until they resolve; everything else passes
 * through emit, in order, coalesced where possible. */
typedef void (*keys_emit_fn)(void *ud, const unsigned char *bytes, size_t len);
typedef struct keymatcher keymatcher;

keymatcher *keymatcher_new(void); /* NULL on OOM */
void keymatcher_free(keymatcher *m);

/* 0 ok; -1 on a bad length (0 or > KEYS_MAX_SEQ), a negative id, or OOM.
 * Adding an existing sequence replaces its id. */
int keymatcher_add(keymatcher *m, const unsigned char *seq, size_t len, int id);

/* Removes every binding and drops the held bytes (they are not emitted). */
void keymatcher_clear(keymatcher *m);

/* Processes in[0..n). Stops right after the first complete match: sets *match to its id and
 * returns the number of input bytes consumed (possibly 0 when the match was made of held
 * bytes; feed the rest, even an empty rest, until *match is -1). Without a match *match = -1
 * and the return is n. A held prefix that a longer binding may still extend stays held,
 * across calls. */
size_t keymatcher_feed(keymatcher *m, const unsigned char *in, size_t n, keys_emit_fn emit,
                       void *ud, int *match);

/* Resolves the held bytes as if no further byte could extend them (the caller's key timeout):
 * returns the id of the longest binding at the start of the held bytes (bytes after it stay
 * held: call again while keymatcher_pending() > 0), or -1 once every held byte was emitted. */
int keymatcher_flush(keymatcher *m, keys_emit_fn emit, void *ud);

size_t keymatcher_pending(const keymatcher *m); /* number of held bytes */

#endif
