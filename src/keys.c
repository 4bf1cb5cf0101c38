/* Key specs and the key matcher (see keys.h). */
#include "keys.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- key-spec grammar (moby/term ascii.go ToBytes) ---- */

#define GRAMMAR                                                                               \
  "(docker's grammar: ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_, DEL " \
  "or a single character, comma-separated)"

/* Copies s[0..len) into dst for an error message: control and non-ASCII bytes as \xHH,
 * truncated with "..." when it does not fit. */
static void quote_into(char *dst, size_t cap, const char *s, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int wide = c < 0x20 || c >= 0x7f;
    size_t need = wide ? 4 : 1;
    if (o + need + 4 > cap) { /* keep room for "..." and the NUL */
      memcpy(dst + o, "...", 3);
      o += 3;
      break;
    }
    if (wide)
      o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
    else
      dst[o++] = (char)c;
  }
  dst[o] = '\0';
}

static void set_err(char *err, size_t errcap, const char *fmt, ...) {
  if (!err || errcap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errcap, fmt, ap);
  va_end(ap);
}

/* The byte a token stands for, or -1 when the grammar has no such token. */
static int token_byte(const char *tok, size_t len) {
  if (len == 1) return (unsigned char)tok[0];
  if (len == 3 && memcmp(tok, "DEL", 3) == 0) return 0x7f;
  if (len != 6 || memcmp(tok, "ctrl-", 5) != 0) return -1;
  char c = tok[5];
  if (c >= 'a' && c <= 'z') return c - 'a' + 1;
  switch (c) {
  case '@': return 0x00;
  case '[': return 0x1b;
  case '\\': return 0x1c;
  case ']': return 0x1d;
  case '^': return 0x1e;
  case '_': return 0x1f;
  default: return -1;
  }
}

int keys_parse(const char *spec, unsigned char *out, size_t cap, char *err, size_t errcap) {
  char qspec[96], qtok[48];
  size_t limit = cap < KEYS_MAX_SEQ ? cap : KEYS_MAX_SEQ;
  size_t speclen = spec ? strlen(spec) : 0;
  if (speclen == 0) {
    set_err(err, errcap, "empty key spec \"\" %s", GRAMMAR);
    return -1;
  }
  quote_into(qspec, sizeof qspec, spec, speclen);
  size_t n = 0;
  const char *tok = spec;
  for (;;) {
    const char *comma = strchr(tok, ',');
    size_t toklen = comma ? (size_t)(comma - tok) : strlen(tok);
    if (toklen == 0) {
      set_err(err, errcap, "empty key at offset %zu in \"%s\" %s", (size_t)(tok - spec), qspec,
              GRAMMAR);
      return -1;
    }
    int b = token_byte(tok, toklen);
    if (b < 0) {
      quote_into(qtok, sizeof qtok, tok, toklen);
      set_err(err, errcap, "unknown key '%s' in \"%s\" %s", qtok, qspec, GRAMMAR);
      return -1;
    }
    if (n == limit) {
      set_err(err, errcap, "key spec \"%s\" is longer than %zu keys", qspec, limit);
      return -1;
    }
    out[n++] = (unsigned char)b;
    if (!comma) return (int)n;
    tok = comma + 1;
  }
}

/* ---- the matcher ---- */

/* A trie of the bindings. Node 0 is the root; since the root is nobody's child, 0 also means
 * "no node" in child/sibling links. The root's children sit in a 256-entry table, which is
 * also the table of bytes that can start a binding (the fast path scans with it). */
typedef struct {
  int id;           /* binding ending here, or -1 */
  uint32_t child;   /* first child */
  uint32_t sibling; /* next child of the same parent */
  unsigned char byte;
} trie_node;

struct keymatcher {
  trie_node *nodes;
  uint32_t nnodes, cap;
  uint32_t root_child[256];
  unsigned char held[KEYS_MAX_SEQ];
  size_t hlen;
};

#define INITIAL_NODES 16u

keymatcher *keymatcher_new(void) {
  keymatcher *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->nodes = malloc(INITIAL_NODES * sizeof *m->nodes);
  if (!m->nodes) {
    free(m);
    return NULL;
  }
  m->cap = INITIAL_NODES;
  keymatcher_clear(m);
  return m;
}

void keymatcher_free(keymatcher *m) {
  if (!m) return;
  free(m->nodes);
  free(m);
}

void keymatcher_clear(keymatcher *m) {
  m->nodes[0] = (trie_node){.id = -1};
  m->nnodes = 1;
  memset(m->root_child, 0, sizeof m->root_child);
  m->hlen = 0;
}

size_t keymatcher_pending(const keymatcher *m) { return m->hlen; }

/* Room for `more` nodes, so that an add never fails halfway. */
static int reserve_nodes(keymatcher *m, size_t more) {
  if (m->nnodes + more <= m->cap) return 0;
  size_t cap = m->cap;
  while (cap < m->nnodes + more) cap *= 2;
  if (cap > UINT32_MAX || cap > SIZE_MAX / sizeof *m->nodes) return -1;
  trie_node *nodes = realloc(m->nodes, cap * sizeof *nodes);
  if (!nodes) return -1;
  m->nodes = nodes;
  m->cap = (uint32_t)cap;
  return 0;
}

static uint32_t find_child(const keymatcher *m, uint32_t node, unsigned char b) {
  if (node == 0) return m->root_child[b];
  for (uint32_t c = m->nodes[node].child; c; c = m->nodes[c].sibling)
    if (m->nodes[c].byte == b) return c;
  return 0;
}

static uint32_t new_child(keymatcher *m, uint32_t node, unsigned char b) {
  uint32_t c = m->nnodes++;
  m->nodes[c] = (trie_node){.id = -1, .byte = b};
  if (node == 0) {
    m->root_child[b] = c;
  } else {
    m->nodes[c].sibling = m->nodes[node].child;
    m->nodes[node].child = c;
  }
  return c;
}

static int has_children(const keymatcher *m, uint32_t node) {
  /* only called for non-root nodes (a binding is never empty) */
  return m->nodes[node].child != 0;
}

int keymatcher_add(keymatcher *m, const unsigned char *seq, size_t len, int id) {
  if (!m || !seq || len == 0 || len > KEYS_MAX_SEQ || id < 0) return -1;
  if (reserve_nodes(m, len) < 0) return -1;
  uint32_t node = 0;
  for (size_t i = 0; i < len; i++) {
    uint32_t c = find_child(m, node, seq[i]);
    node = c ? c : new_child(m, node, seq[i]);
  }
  m->nodes[node].id = id;
  return 0;
}

/* The bytes being resolved: the held bytes followed by the new input, as one stream. */
typedef struct {
  const unsigned char *held;
  size_t hlen;
  const unsigned char *in;
  size_t n, total;
} byte_view;

static unsigned char view_at(const byte_view *v, size_t i) {
  return i < v->hlen ? v->held[i] : v->in[i - v->hlen];
}

/* First position >= s whose byte can start a binding (v->total if none). */
static size_t skip_plain(const keymatcher *m, const byte_view *v, size_t s) {
  while (s < v->hlen && !m->root_child[v->held[s]]) s++;
  if (s < v->hlen || s >= v->total) return s;
  const unsigned char *p = v->in + (s - v->hlen), *end = v->in + v->n;
  while (p < end && !m->root_child[*p]) p++;
  return v->hlen + (size_t)(p - v->in);
}

static void emit_range(const byte_view *v, size_t a, size_t b, keys_emit_fn emit, void *ud) {
  if (a < v->hlen) {
    size_t hb = b < v->hlen ? b : v->hlen;
    if (a < hb) emit(ud, v->held + a, hb - a);
    a = v->hlen;
  }
  if (a < b) emit(ud, v->in + (a - v->hlen), b - a);
}

enum scan_kind { SCAN_PASS, SCAN_HOLD, SCAN_FIRE };
typedef struct {
  enum scan_kind kind;
  int id;     /* SCAN_FIRE: the binding */
  size_t end; /* SCAN_FIRE: stream position just after it */
} scan_result;

/* Walks the trie from position s (a byte that starts a binding). SCAN_HOLD: the stream ran out
 * while a binding may still follow; SCAN_FIRE: a binding matched, either with nothing longer
 * possible or as the longest complete one before a mismatch (or before the end, when eof);
 * SCAN_PASS: the byte at s starts no binding here and passes through. */
static scan_result scan_at(const keymatcher *m, const byte_view *v, size_t s, int eof) {
  scan_result r = {SCAN_PASS, -1, 0};
  uint32_t node = 0;
  for (size_t j = s; j < v->total; j++) {
    node = find_child(m, node, view_at(v, j));
    if (!node) break;
    if (m->nodes[node].id >= 0) {
      r.id = m->nodes[node].id;
      r.end = j + 1;
      if (!has_children(m, node)) break; /* nothing longer can match: fire now */
    }
    if (j + 1 == v->total && !eof) {
      r.kind = SCAN_HOLD;
      return r;
    }
  }
  if (r.id >= 0) r.kind = SCAN_FIRE;
  return r;
}

/* New held bytes: the stream from s to its end (a prefix of a binding, so it fits). */
static void hold_tail(keymatcher *m, const byte_view *v, size_t s) {
  size_t k = 0;
  if (s < v->hlen) {
    k = v->hlen - s;
    memmove(m->held, m->held + s, k);
    s = v->hlen;
  }
  size_t rest = v->total - s;
  if (rest) memcpy(m->held + k, v->in + (s - v->hlen), rest);
  m->hlen = k + rest;
}

/* Drops the stream up to `end`; returns how many input bytes that consumed. */
static size_t consume_to(keymatcher *m, const byte_view *v, size_t end) {
  if (end <= v->hlen) {
    memmove(m->held, m->held + end, v->hlen - end);
    m->hlen = v->hlen - end;
    return 0;
  }
  m->hlen = 0;
  return end - v->hlen;
}

/* The matcher proper, for feed (eof = 0) and flush (eof = 1). Plain bytes accumulate into one
 * run from the stream start, emitted once the run ends (held, match or end of stream). State
 * changes only after the emits, so an emit that longjmps (a Lua error) leaves it as it was. */
static size_t resolve(keymatcher *m, const unsigned char *in, size_t n, int eof,
                      keys_emit_fn emit, void *ud, int *match) {
  byte_view v = {m->held, m->hlen, in, n, m->hlen + n};
  size_t s = 0;
  *match = -1;
  for (;;) {
    s = skip_plain(m, &v, s);
    if (s == v.total) break;
    scan_result r = scan_at(m, &v, s, eof);
    if (r.kind == SCAN_PASS) { /* re-scan from the next byte: "a a a b" finds "a a b" */
      s++;
      continue;
    }
    emit_range(&v, 0, s, emit, ud);
    if (r.kind == SCAN_HOLD) {
      hold_tail(m, &v, s);
      return n;
    }
    *match = r.id;
    return consume_to(m, &v, r.end);
  }
  emit_range(&v, 0, v.total, emit, ud);
  m->hlen = 0;
  return n;
}

size_t keymatcher_feed(keymatcher *m, const unsigned char *in, size_t n, keys_emit_fn emit,
                       void *ud, int *match) {
  if (!in) n = 0;
  return resolve(m, in, n, 0, emit, ud, match);
}

int keymatcher_flush(keymatcher *m, keys_emit_fn emit, void *ud) {
  int match;
  resolve(m, NULL, 0, 1, emit, ud, &match);
  return match;
}
