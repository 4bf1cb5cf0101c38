/* The virtual screen: libvterm 0.1.4 (VTerm + VTermScreen) behind the small API of screen.h. */
#include "screen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vterm.h>

/* A growable byte string. */
typedef struct {
  char *p;
  size_t len, cap;
} bytes;

static int bytes_reserve(bytes *b, size_t more) {
  if (more <= b->cap - b->len) return 0;
  if (more > (size_t)-1 / 2 - b->len) return -1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < more) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int bytes_add(bytes *b, const void *p, size_t n) {
  if (bytes_reserve(b, n) < 0) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

/* The input filter between the program's bytes and libvterm 0.1.4, which has these faults:
 *  - a CSI sequence with more than 16 parameters writes past libvterm's array (memory
 *    corruption: any program could crash us);
 *  - REP (CSI n b) before any character was printed loops forever, and REP of a wide character
 *    at the right margin writes through a NULL pointer;
 *  - a DECRQSS query (DCS $ q ...) it does not know makes it pass a length to "%s": a crash;
 *  - a C1 control written as UTF-8 (U+0080..U+009F) is taken for a glyph of width -1: memory
 *    corruption in insert mode;
 *  - the part of an OSC/DCS string (title, DECRQSS) that came in an earlier write than its
 *    terminator is lost, and so is a UTF-8 character split across writes;
 *  - text is decoded into a variable-length array on the stack as long as the write: a write
 *    of a few MB of text overflows the stack;
 *  - a resize leaves the top/left margins and the saved cursor where they were, possibly
 *    outside the screen (screen_resize deals with that, with the help of the filter).
 * So the filter follows libvterm's parser, holds escape sequences until they are complete and
 * gives libvterm:
 *  - CSI sequences rewritten with at most 16 parameters (the rest dropped, as xterm drops what
 *    exceeds its limit), each at most 65535 (larger counts only make libvterm loop);
 *  - REP carried out as the repeated character, up to the end of the row;
 *  - OSC strings whole (up to HOLD_MAX bytes; longer ones are dropped); of DCS strings only the
 *    DECRQSS queries libvterm answers correctly (the filter answers other ones as invalid);
 *  - text in writes of at most TEXT_CHUNK bytes, cut between characters, without C1 controls;
 *  - everything else as it came. */
#define CSI_MAX_ARGS 16
#define CSI_MAX_PARAM 65535L
#define CSI_MISSING (-1L)
#define SEQ_MAX 15 /* leader bytes and intermediates libvterm keeps */
#define HOLD_MAX 16384
#define TEXT_CHUNK 4096

enum { F_NORMAL, F_ESC, F_CSI, F_STRING, F_STRING_ESC };
enum { CSI_LEADER, CSI_ARGS, CSI_INTERMED };

typedef struct {
  int state;
  unsigned char inter[SEQ_MAX]; /* F_ESC: the intermediates after the held ESC */
  int ninter;
  int phase; /* F_CSI: CSI_LEADER, CSI_ARGS or CSI_INTERMED */
  unsigned char leader[SEQ_MAX];
  int nleader;
  long args[CSI_MAX_ARGS];
  unsigned char seps[CSI_MAX_ARGS]; /* ';' or ':' after args[i] */
  int nargs;                        /* args in use (the last one is being read) */
  int args_full;                    /* more parameters came than are kept */
  unsigned char cinter[SEQ_MAX];    /* the CSI's intermediates */
  int ncinter;
  unsigned char str_kind;           /* F_STRING*: ']' (OSC) or 'P' (DCS) */
  int str_drop;                     /* F_STRING*: too long, dropped */
  unsigned char carry[4];           /* an incomplete UTF-8 character at the end of the input */
  int ncarry;
  unsigned char last[4];            /* the last character printed, for REP */
  int nlast;
  int saved, saved_row, saved_col;  /* the cursor position DECSC / ?1048h / ?1049h saved */
} filter;

struct screen {
  VTerm *vt;
  VTermScreen *vts;
  VTermState *state;
  filter f;
  bytes held;    /* the OSC/DCS string being collected */
  bytes replies; /* queued answers to the program's queries */
  bytes keys;    /* the bytes of the last key or paste */
  bytes *out;    /* where libvterm's output goes right now: &replies or &keys */
  bytes text;    /* scratch for screen_text / screen_line */
  int oom;       /* something was lost for lack of memory */
  uint64_t generation;
  int cursor_visible;
  int altscreen;
  char *title;
};

/* ---- libvterm callbacks ---- */

static void on_output(const char *s, size_t len, void *user) {
  screen *scr = user;
  if (bytes_add(scr->out, s, len) < 0) scr->oom = 1;
}

static int on_damage(VTermRect rect, void *user) {
  (void)rect;
  ((screen *)user)->generation++;
  return 1;
}

static int on_movecursor(VTermPos pos, VTermPos oldpos, int visible, void *user) {
  (void)pos, (void)oldpos, (void)visible;
  ((screen *)user)->generation++;
  return 1;
}

/* Must return 1: libvterm only records a property (cursor visibility, ...) that was accepted. */
static int on_settermprop(VTermProp prop, VTermValue *val, void *user) {
  screen *scr = user;
  scr->generation++;
  switch (prop) {
  case VTERM_PROP_CURSORVISIBLE:
    scr->cursor_visible = val->boolean != 0;
    break;
  case VTERM_PROP_ALTSCREEN:
    scr->altscreen = val->boolean != 0;
    break;
  case VTERM_PROP_TITLE: {
    const char *t = val->string ? val->string : "";
    char *copy = strdup(t);
    if (!copy) return 1; /* keep the old title */
    free(scr->title);
    scr->title = copy;
    break;
  }
  default:
    break;
  }
  return 1;
}

static int on_resize(int rows, int cols, void *user) {
  (void)rows, (void)cols;
  ((screen *)user)->generation++;
  return 1;
}

static const VTermScreenCallbacks callbacks = {
    .damage = on_damage,
    .movecursor = on_movecursor,
    .settermprop = on_settermprop,
    .resize = on_resize,
};

/* ---- lifecycle ---- */

int screen_size_ok(long rows, long cols) {
  return rows >= 1 && cols >= 1 && rows <= SCREEN_MAX_DIM && cols <= SCREEN_MAX_DIM &&
         rows * cols <= SCREEN_MAX_CELLS;
}

/* libvterm 0.1.4 writes through a NULL pointer when a wide character lands on a row only
 * one column wide: a screen is at least SCREEN_MIN_COLS wide. */
static int min_cols(int cols) { return cols < SCREEN_MIN_COLS ? SCREEN_MIN_COLS : cols; }

screen *screen_new(int rows, int cols) {
  if (!screen_size_ok(rows, cols)) return NULL;
  cols = min_cols(cols);
  screen *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->vt = vterm_new(rows, cols);
  if (!s->vt) {
    free(s);
    return NULL;
  }
  s->out = &s->replies;
  s->cursor_visible = 1;
  vterm_set_utf8(s->vt, 1);
  vterm_output_set_callback(s->vt, on_output, s);
  s->state = vterm_obtain_state(s->vt);
  s->vts = vterm_obtain_screen(s->vt);
  vterm_screen_enable_altscreen(s->vts, 1);
  /* Damage is merged and delivered once per feed (screen_feed flushes): the generation
   * counter needs to know that something changed, not every cell that did. */
  vterm_screen_set_damage_merge(s->vts, VTERM_DAMAGE_SCROLL);
  vterm_screen_set_callbacks(s->vts, &callbacks, s);
  vterm_screen_reset(s->vts, 1);
  return s;
}

void screen_free(screen *s) {
  if (!s) return;
  vterm_free(s->vt);
  free(s->replies.p);
  free(s->keys.p);
  free(s->text.p);
  free(s->held.p);
  free(s->title);
  free(s);
}

/* ---- program output: the input filter (see the comment above struct filter) ---- */

static void vt_write(screen *s, const void *p, size_t len) {
  const char *c = p;
  while (len > 0) { /* vterm_input_write takes everything, but the API allows less */
    size_t n = vterm_input_write(s->vt, c, len);
    if (n == 0) break;
    c += n;
    len -= n;
  }
}

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* The length of the UTF-8 sequence a lead byte starts (1 for ASCII and for invalid bytes). */
static int utf8_len(unsigned char c) {
  return c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 1) : c >= 0xC0 ? 2 : 1;
}

/* Remembers the last printable character of text p[0..n) (whole characters), for REP. */
static void note_last(filter *f, const unsigned char *p, size_t n) {
  size_t j = n;
  while (j > 0 && (p[j - 1] < 0x20 || p[j - 1] == 0x7f)) j--;
  if (j == 0) return;
  size_t k = j - 1;
  while (k > 0 && j - k < 4 && is_cont(p[k])) k--;
  if (p[k] >= 0x80 && (size_t)utf8_len(p[k]) != j - k) { /* invalid: libvterm prints U+FFFD */
    memcpy(f->last, "\xEF\xBF\xBD", 3);
    f->nlast = 3;
    return;
  }
  memcpy(f->last, p + k, j - k);
  f->nlast = (int)(j - k);
}

/* Writes text (whole characters) in chunks cut between characters. */
static void write_chunks(screen *s, const unsigned char *p, size_t n) {
  note_last(&s->f, p, n);
  while (n > 0) {
    size_t len = n < TEXT_CHUNK ? n : TEXT_CHUNK;
    for (int back = 0; len < n && back < 3 && is_cont(p[len]); back++) len--;
    vt_write(s, p, len);
    p += len;
    n -= len;
  }
}

/* Writes text without the C1 controls written as UTF-8 (U+0080..U+009F: libvterm 0.1.4 takes
 * them for glyphs of width -1 and corrupts memory in insert mode); they are dropped. */
static void write_text(screen *s, const unsigned char *p, size_t n) {
  size_t start = 0, i = 0;
  while (i < n) {
    const unsigned char *q = memchr(p + i, 0xC2, n - i);
    if (!q) break;
    size_t k = (size_t)(q - p);
    if (k + 1 < n && p[k + 1] >= 0x80 && p[k + 1] <= 0x9F) {
      if (k > start) write_chunks(s, p + start, k - start);
      start = i = k + 2;
    } else {
      i = k + 1;
    }
  }
  if (n > start) write_chunks(s, p + start, n - start);
}

/* A run of text (no ESC in it). at_end: the input ends with it, so an incomplete UTF-8
 * character at its end is held for the next feed; otherwise an ESC follows it. */
static void text_run(screen *s, const unsigned char *p, size_t n, int at_end) {
  filter *f = &s->f;
  if (f->ncarry) { /* complete the held character */
    int need = utf8_len(f->carry[0]);
    size_t k = 0;
    while (f->ncarry < need && k < n && is_cont(p[k])) f->carry[f->ncarry++] = p[k++];
    if (f->ncarry < need && k == n && at_end) return; /* still incomplete */
    write_text(s, f->carry, (size_t)f->ncarry);
    f->ncarry = 0;
    p += k;
    n -= k;
  }
  if (at_end && n > 0) {
    size_t j = n - 1;
    while (j > 0 && n - j < 4 && is_cont(p[j])) j--;
    if (p[j] >= 0xC0 && (size_t)utf8_len(p[j]) > n - j) {
      f->ncarry = (int)(n - j);
      memcpy(f->carry, p + j, n - j);
      n = j;
    }
  }
  if (n) write_text(s, p, n);
}

/* REP: the last printed character count times, up to the end of the cursor's row. */
static void repeat_last(screen *s, long count) {
  filter *f = &s->f;
  if (f->nlast == 0) return;
  int rows, cols;
  vterm_get_size(s->vt, &rows, &cols);
  VTermPos pos;
  vterm_state_get_cursorpos(s->state, &pos);
  long room = cols - pos.col;
  if (count > room) count = room;
  if (count < 1) count = 1;
  unsigned char buf[1024];
  size_t per = sizeof buf / (size_t)f->nlast;
  for (size_t i = 0; i < per; i++) memcpy(buf + i * (size_t)f->nlast, f->last, (size_t)f->nlast);
  while (count > 0) {
    size_t k = (size_t)count < per ? (size_t)count : per;
    vt_write(s, buf, k * (size_t)f->nlast);
    count -= (long)k;
  }
}

static void note_saved_cursor(screen *s) {
  VTermPos pos;
  vterm_state_get_cursorpos(s->state, &pos);
  s->f.saved = 1;
  s->f.saved_row = pos.row;
  s->f.saved_col = pos.col;
}

static void csi_dispatch(screen *s, unsigned char final) {
  filter *f = &s->f;
  if (final == 'b' && f->nleader == 0 && f->ncinter == 0) {
    long n = f->args[0];
    repeat_last(s, n == CSI_MISSING || n == 0 ? 1 : n);
    return;
  }
  if (final == 'h' && f->nleader == 1 && f->leader[0] == '?' && f->ncinter == 0) {
    for (int i = 0; i < f->nargs; i++)
      if (f->args[i] == 1048 || f->args[i] == 1049) note_saved_cursor(s); /* saves the cursor */
  }
  char buf[2 + SEQ_MAX + CSI_MAX_ARGS * 7 + SEQ_MAX + 1];
  size_t len = 0;
  buf[len++] = 0x1b;
  buf[len++] = '[';
  memcpy(buf + len, f->leader, (size_t)f->nleader);
  len += (size_t)f->nleader;
  for (int i = 0; i < f->nargs; i++) {
    if (f->args[i] != CSI_MISSING) len += (size_t)snprintf(buf + len, sizeof buf - len, "%ld", f->args[i]);
    if (i + 1 < f->nargs) buf[len++] = (char)f->seps[i];
  }
  memcpy(buf + len, f->cinter, (size_t)f->ncinter);
  len += (size_t)f->ncinter;
  buf[len++] = (char)final;
  vt_write(s, buf, len);
}

/* String bytes (after "ESC ]" or "ESC P"): collected in held. */
static void string_add(screen *s, const void *p, size_t n) {
  if (s->f.str_drop) return;
  if (s->held.len + n <= HOLD_MAX && bytes_add(&s->held, p, n) == 0) return;
  if (s->held.len + n <= HOLD_MAX) s->oom = 1;
  s->held.len = 0;
  s->f.str_drop = 1;
}

/* DECRQSS queries libvterm 0.1.4 answers; for any other it crashes. */
static int decrqss_known(const char *q, size_t n) {
  return (n == 1 && (q[0] == 'm' || q[0] == 'r' || q[0] == 's')) ||
         (n == 2 && (memcmp(q, " q", 2) == 0 || memcmp(q, "\"q", 2) == 0));
}

/* The string ended (BEL or ST): give it to libvterm, whole. */
static void string_done(screen *s) {
  filter *f = &s->f;
  if (!f->str_drop && f->str_kind == ']') {
    string_add(s, "\x1b\\", 2);
    if (!f->str_drop) vt_write(s, s->held.p, s->held.len);
  } else if (!f->str_drop) {
    /* DCS: the command without C0 controls (libvterm takes them out too), at most 5 bytes */
    char cmd[8];
    size_t n = 0;
    for (size_t i = 0; i < s->held.len && n < sizeof cmd; i++)
      if ((unsigned char)s->held.p[i] >= 0x20) cmd[n++] = s->held.p[i];
    if (n >= 2 && memcmp(cmd, "$q", 2) == 0) {
      if (decrqss_known(cmd + 2, n - 2)) {
        char seq[16] = "\x1bP";
        memcpy(seq + 2, cmd, n);
        memcpy(seq + 2 + n, "\x1b\\", 2);
        vt_write(s, seq, n + 4);
      } else if (bytes_add(s->out, "\x1bP0$r\x1b\\", 7) < 0) { /* "not a valid request" */
        s->oom = 1;
      }
    } /* other DCS strings mean nothing to libvterm 0.1.4 */
  }
  s->held.len = 0;
  f->str_drop = 0;
  f->state = F_NORMAL;
}

/* The string was cancelled (CAN, SUB, or ESC not followed by '\'): libvterm never sees it. */
static void string_abort(screen *s) {
  s->held.len = 0;
  s->f.str_drop = 0;
}

static void filter_input(screen *s, const unsigned char *p, size_t n) {
  filter *f = &s->f;
  size_t i = 0;
  while (i < n) {
    if (f->state == F_NORMAL) {
      const unsigned char *e = memchr(p + i, 0x1b, n - i);
      size_t end = e ? (size_t)(e - p) : n;
      text_run(s, p + i, end - i, !e);
      i = end;
      if (e) {
        i++;
        f->state = F_ESC;
        f->ninter = 0;
      }
      continue;
    }
    if (f->state == F_STRING) { /* collect up to the next byte that may end the string */
      size_t j = i;
      while (j < n && p[j] != 0x07 && p[j] != 0x1b && p[j] != 0x18 && p[j] != 0x1a && p[j] != 0x00 &&
             p[j] != 0x7f)
        j++;
      if (j > i) string_add(s, p + i, j - i);
      i = j;
      if (i == n) break;
    }
    unsigned char c = p[i++];
    if (c == 0x00 || c == 0x7f) continue; /* ignored by libvterm everywhere */
    if (c == 0x18 || c == 0x1a) {         /* CAN, SUB: back to normal, the sequence dropped */
      if (f->state == F_STRING || f->state == F_STRING_ESC) string_abort(s);
      f->state = F_NORMAL;
      continue;
    }
    switch (f->state) {
    case F_STRING:
      if (c == 0x07) { /* BEL ends the string */
        string_done(s);
      } else { /* ESC */
        f->state = F_STRING_ESC;
      }
      continue;
    case F_STRING_ESC:
      if (c == '\\') { /* ST */
        string_done(s);
        continue;
      }
      if (c < 0x20 && c != 0x1b) { /* executed inside the string */
        string_add(s, &c, 1);
        continue;
      }
      string_abort(s); /* ESC then something else: a new escape sequence */
      f->state = F_ESC;
      f->ninter = 0;
      if (c == 0x1b) continue;
      break; /* c follows the ESC */
    case F_CSI:
      if (c == 0x1b) { /* cancels the CSI */
        f->state = F_ESC;
        f->ninter = 0;
        continue;
      }
      if (c < 0x20) { /* executed inside the sequence */
        vt_write(s, &c, 1);
        continue;
      }
      if (f->phase == CSI_LEADER) {
        if (c >= 0x3c && c <= 0x3f) {
          if (f->nleader < SEQ_MAX) f->leader[f->nleader++] = c;
          continue;
        }
        f->phase = CSI_ARGS;
      }
      if (f->phase == CSI_ARGS) {
        if (c >= '0' && c <= '9') {
          if (f->args_full) continue;
          long *a = &f->args[f->nargs - 1];
          if (*a == CSI_MISSING) *a = 0;
          *a = *a * 10 + (c - '0');
          if (*a > CSI_MAX_PARAM) *a = CSI_MAX_PARAM;
          continue;
        }
        if (c == ';' || c == ':') {
          if (f->nargs == CSI_MAX_ARGS) f->args_full = 1;
          if (f->args_full) continue;
          f->seps[f->nargs - 1] = c;
          f->args[f->nargs++] = CSI_MISSING;
          continue;
        }
        f->phase = CSI_INTERMED;
      }
      if (c >= 0x20 && c <= 0x2f) {
        if (f->ncinter < SEQ_MAX) f->cinter[f->ncinter++] = c;
        continue;
      }
      if (c >= 0x40 && c <= 0x7e) csi_dispatch(s, c);
      /* else an invalid CSI: dropped with c, as libvterm does */
      f->state = F_NORMAL;
      continue;
    default:
      break;
    }
    /* F_ESC: an ESC (not yet given to libvterm) and f->inter */
    if (c == 0x1b) {
      f->ninter = 0;
    } else if (c < 0x20) { /* executed inside the sequence */
      vt_write(s, &c, 1);
    } else if (c == '[') {
      f->state = F_CSI;
      f->phase = CSI_LEADER;
      f->nleader = f->ncinter = 0;
      f->nargs = 1;
      f->args[0] = CSI_MISSING;
      f->args_full = 0;
    } else if (c == ']' || c == 'P') { /* OSC, DCS */
      f->state = F_STRING;
      f->str_kind = c;
      f->str_drop = 0;
      s->held.len = 0;
      if (c == ']') string_add(s, "\x1b]", 2); /* a DCS is rebuilt by string_done */
    } else if (c <= 0x2f) { /* an intermediate */
      if (f->ninter < SEQ_MAX) f->inter[f->ninter++] = c;
    } else if (c < 0x7f) { /* the final byte */
      unsigned char seq[2 + SEQ_MAX];
      seq[0] = 0x1b;
      memcpy(seq + 1, f->inter, (size_t)f->ninter);
      seq[1 + f->ninter] = c;
      if (c == '7' && f->ninter == 0) note_saved_cursor(s); /* DECSC */
      vt_write(s, seq, (size_t)f->ninter + 2);
      if (c == 'c' && f->ninter == 0) f->nlast = 0; /* RIS */
      f->state = F_NORMAL;
    } /* bytes >= 0x80 are ignored inside an escape sequence, as libvterm does */
  }
}

int screen_feed(screen *s, const void *data, size_t len) {
  s->oom = 0;
  s->out = &s->replies;
  filter_input(s, data, len);
  vterm_screen_flush_damage(s->vts);
  return s->oom ? -1 : 0;
}

const char *screen_take_replies(screen *s, size_t *len) {
  *len = s->replies.len;
  s->replies.len = 0;
  return s->replies.p ? s->replies.p : "";
}

int screen_resize(screen *s, int rows, int cols) {
  if (!screen_size_ok(rows, cols)) return -1;
  s->out = &s->replies;
  vterm_set_size(s->vt, rows, min_cols(cols));
  /* libvterm 0.1.4 keeps the top and left margins across a resize, so they can end up past
   * the bottom or right edge (memory corruption on the next scroll). Reset the margins, as
   * xterm does on a resize: DECSTBM and DECSLRM without parameters; both home the cursor,
   * so put it back. */
  VTermPos pos;
  vterm_state_get_cursorpos(s->state, &pos);
  char seq[96];
  int n = snprintf(seq, sizeof seq, "\x1b[r\x1b[s");
  /* A saved cursor position now outside the screen is saved again, moved in (DECSC also
   * saves the pen, so the pen in use now replaces the one saved: a small loss). */
  filter *f = &s->f;
  cols = min_cols(cols);
  if (f->saved && (f->saved_row >= rows || f->saved_col >= cols)) {
    f->saved_row = f->saved_row < rows ? f->saved_row : rows - 1;
    f->saved_col = f->saved_col < cols ? f->saved_col : cols - 1;
    n += snprintf(seq + n, sizeof seq - (size_t)n, "\x1b[%d;%dH\x1b" "7", f->saved_row + 1, f->saved_col + 1);
  }
  n += snprintf(seq + n, sizeof seq - (size_t)n, "\x1b[%d;%dH", pos.row + 1, pos.col + 1);
  vt_write(s, seq, (size_t)n);
  vterm_screen_flush_damage(s->vts);
  return 0;
}

void screen_size(const screen *s, int *rows, int *cols) { vterm_get_size(s->vt, rows, cols); }

/* ---- reading ---- */

/* UTF-8 of one code point into out (at least 4 bytes); returns the length. Values that are
 * not Unicode scalar values become U+FFFD. */
static size_t utf8_put(uint32_t c, char *out) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

#define CONTINUATION ((uint32_t)-1) /* libvterm's mark for the right half of a wide character */

/* A cell's characters as UTF-8 into out (SCREEN_CELL_CHARS bytes, NUL-terminated): " " for a
 * blank cell, "" for the right half of a wide one. Returns the length. */
static size_t cell_chars(const VTermScreenCell *c, char *out) {
  if (c->chars[0] == CONTINUATION) {
    out[0] = 0;
    return 0;
  }
  if (c->chars[0] == 0) {
    out[0] = ' ';
    out[1] = 0;
    return 1;
  }
  size_t n = 0;
  for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c->chars[i]; i++) n += utf8_put(c->chars[i], out + n);
  out[n] = 0;
  return n;
}

/* Appends row r (0-based) to b, trailing blanks trimmed. */
static int add_row(const screen *s, int r, int cols, bytes *b) {
  if (bytes_reserve(b, (size_t)cols * (SCREEN_CELL_CHARS - 1)) < 0) return -1;
  size_t keep = b->len; /* length up to the last non-blank */
  for (int c = 0; c < cols; c++) {
    VTermScreenCell cell;
    if (!vterm_screen_get_cell(s->vts, (VTermPos){r, c}, &cell)) break;
    size_t n = cell_chars(&cell, b->p + b->len);
    b->len += n;
    if (n && !(n == 1 && b->p[b->len - 1] == ' ')) keep = b->len;
  }
  b->len = keep;
  return 0;
}

const char *screen_text(screen *s, size_t *len) {
  int rows, cols;
  vterm_get_size(s->vt, &rows, &cols);
  bytes *b = &s->text;
  b->len = 0;
  size_t keep = 0; /* length up to the end of the last non-empty row */
  for (int r = 0; r < rows; r++) {
    if (r > 0 && bytes_add(b, "\n", 1) < 0) return NULL;
    size_t before = b->len;
    if (add_row(s, r, cols, b) < 0) return NULL;
    if (b->len > before) keep = b->len;
  }
  b->len = keep;
  if (bytes_reserve(b, 1) < 0) return NULL;
  b->p[b->len] = 0;
  *len = b->len;
  return b->p;
}

const char *screen_line(screen *s, int row, size_t *len) {
  int rows, cols;
  vterm_get_size(s->vt, &rows, &cols);
  if (row < 1 || row > rows) return NULL;
  bytes *b = &s->text;
  b->len = 0;
  if (add_row(s, row - 1, cols, b) < 0 || bytes_reserve(b, 1) < 0) return NULL;
  b->p[b->len] = 0;
  *len = b->len;
  return b->p;
}

void screen_cursor(const screen *s, int *row, int *col, int *visible) {
  VTermPos pos;
  vterm_state_get_cursorpos(s->state, &pos);
  *row = pos.row + 1;
  *col = pos.col + 1;
  *visible = s->cursor_visible;
}

static void color_hex(const screen *s, VTermColor col, int is_default, char out[8]) {
  if (is_default) {
    out[0] = 0;
    return;
  }
  vterm_screen_convert_color_to_rgb(s->vts, &col);
  snprintf(out, 8, "#%02x%02x%02x", col.rgb.red, col.rgb.green, col.rgb.blue);
}

int screen_cell_at(const screen *s, int row, int col, screen_cell *out) {
  int rows, cols;
  vterm_get_size(s->vt, &rows, &cols);
  if (row < 1 || row > rows || col < 1 || col > cols) return -1;
  VTermScreenCell c;
  if (!vterm_screen_get_cell(s->vts, (VTermPos){row - 1, col - 1}, &c)) return -1;
  memset(out, 0, sizeof *out);
  cell_chars(&c, out->chars);
  out->width = c.chars[0] == CONTINUATION ? 0 : c.width;
  color_hex(s, c.fg, VTERM_COLOR_IS_DEFAULT_FG(&c.fg), out->fg);
  color_hex(s, c.bg, VTERM_COLOR_IS_DEFAULT_BG(&c.bg), out->bg);
  out->bold = c.attrs.bold;
  out->italic = c.attrs.italic;
  out->reverse = c.attrs.reverse;
  out->blink = c.attrs.blink;
  out->strike = c.attrs.strike;
  out->underline = c.attrs.underline;
  return 0;
}

uint64_t screen_generation(const screen *s) { return s->generation; }

const char *screen_title(const screen *s) { return s->title ? s->title : ""; }

int screen_altscreen(const screen *s) { return s->altscreen; }

/* ---- keys ---- */

int screen_parse_mods(const char *spec, unsigned *mods, char *err, size_t errcap) {
  static const struct {
    const char *name;
    unsigned bit;
  } names[] = {{"shift", SCREEN_MOD_SHIFT}, {"alt", SCREEN_MOD_ALT},      {"meta", SCREEN_MOD_ALT},
               {"ctrl", SCREEN_MOD_CTRL},   {"control", SCREEN_MOD_CTRL}, {NULL, 0}};
  *mods = 0;
  if (!spec || !*spec) return 0;
  const char *p = spec;
  for (;;) {
    size_t n = strcspn(p, "+-");
    int found = 0;
    for (int i = 0; names[i].name; i++) {
      if (strlen(names[i].name) == n && strncmp(p, names[i].name, n) == 0) {
        *mods |= names[i].bit;
        found = 1;
        break;
      }
    }
    if (!found) {
      if (errcap > 0)
        snprintf(err, errcap, "unknown modifier \"%.*s\" in \"%s\" (shift, alt, ctrl joined by +)",
                 (int)(n > 64 ? 64 : n), p, spec);
      return -1;
    }
    if (!p[n]) return 0;
    p += n + 1;
  }
}

static const struct {
  const char *name;
  VTermKey key;
} key_names[] = {
    {"up", VTERM_KEY_UP},         {"down", VTERM_KEY_DOWN},         {"left", VTERM_KEY_LEFT},
    {"right", VTERM_KEY_RIGHT},   {"home", VTERM_KEY_HOME},         {"end", VTERM_KEY_END},
    {"pgup", VTERM_KEY_PAGEUP},   {"pgdn", VTERM_KEY_PAGEDOWN},     {"pageup", VTERM_KEY_PAGEUP},
    {"pagedown", VTERM_KEY_PAGEDOWN}, {"insert", VTERM_KEY_INS},    {"delete", VTERM_KEY_DEL},
    {"enter", VTERM_KEY_ENTER},   {"tab", VTERM_KEY_TAB},           {"backspace", VTERM_KEY_BACKSPACE},
    {"esc", VTERM_KEY_ESCAPE},    {"escape", VTERM_KEY_ESCAPE},     {NULL, VTERM_KEY_NONE}};

/* The code point of a string holding exactly one UTF-8 character, or -1. */
static long one_utf8_char(const unsigned char *p, size_t n) {
  if (n == 0) return -1;
  unsigned char b = p[0];
  size_t need;
  uint32_t c, min;
  if (b < 0x80) need = 1, c = b, min = 0;
  else if ((b & 0xE0) == 0xC0) need = 2, c = b & 0x1F, min = 0x80;
  else if ((b & 0xF0) == 0xE0) need = 3, c = b & 0x0F, min = 0x800;
  else if ((b & 0xF8) == 0xF0) need = 4, c = b & 0x07, min = 0x10000;
  else return -1;
  if (n != need) return -1;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return -1;
    c = c << 6 | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
  return (long)c;
}

static VTermModifier vmods(unsigned mods) {
  VTermModifier m = VTERM_MOD_NONE;
  if (mods & SCREEN_MOD_SHIFT) m |= VTERM_MOD_SHIFT;
  if (mods & SCREEN_MOD_ALT) m |= VTERM_MOD_ALT;
  if (mods & SCREEN_MOD_CTRL) m |= VTERM_MOD_CTRL;
  return m;
}

/* Points libvterm's output at the key buffer, emptied. */
static void keys_begin(screen *s) {
  s->keys.len = 0;
  s->oom = 0;
  s->out = &s->keys;
}

static int keys_end(screen *s, const char **out, size_t *len) {
  s->out = &s->replies;
  if (s->oom) return -2;
  *out = s->keys.p ? s->keys.p : "";
  *len = s->keys.len;
  return 0;
}

int screen_key(screen *s, const char *name, size_t namelen, unsigned mods, const char **out,
               size_t *len) {
  VTermModifier m = vmods(mods);
  VTermKey key = VTERM_KEY_NONE;
  long ch = -1;
  for (int i = 0; key_names[i].name; i++) {
    if (strlen(key_names[i].name) == namelen && memcmp(key_names[i].name, name, namelen) == 0) {
      key = key_names[i].key;
      break;
    }
  }
  if (key == VTERM_KEY_NONE) {
    if (namelen == 5 && memcmp(name, "space", 5) == 0) {
      ch = ' ';
    } else if ((namelen == 2 || namelen == 3) && name[0] == 'f' && name[1] >= '1' && name[1] <= '9') {
      int n = name[1] - '0';
      if (namelen == 3) n = name[2] >= '0' && name[2] <= '9' ? n * 10 + (name[2] - '0') : 0;
      if (n >= 1 && n <= 12) key = VTERM_KEY_FUNCTION(n);
    }
    if (key == VTERM_KEY_NONE && ch < 0) ch = one_utf8_char((const unsigned char *)name, namelen);
    if (key == VTERM_KEY_NONE && ch < 0) return -1;
  }
  keys_begin(s);
  if (key != VTERM_KEY_NONE) {
    vterm_keyboard_key(s->vt, key, m);
  } else {
    if ((m & VTERM_MOD_CTRL) && ((ch >= '@' && ch <= '_') || (ch >= 'a' && ch <= 'z') || ch == '?')) {
      /* The C0 byte every terminal sends (libvterm 0.1.4 sends CSI u for ctrl+i, j, m, [, @
       * and capitals, which programs in containers rarely understand). */
      unsigned char b = ch == '?' ? 0x7f : (unsigned char)(ch & 0x1f);
      if (m & VTERM_MOD_ALT) vterm_keyboard_key(s->vt, VTERM_KEY_ESCAPE, VTERM_MOD_NONE);
      if (bytes_add(&s->keys, &b, 1) < 0) s->oom = 1;
      return keys_end(s, out, len);
    }
    if ((m & VTERM_MOD_ALT) && !(m & VTERM_MOD_CTRL) && ch >= 0x80) {
      /* libvterm 0.1.4 writes alt+<non-ASCII> as ESC and one truncated byte: send ESC, then
       * the character (what xterm's metaSendsEscape does). */
      vterm_keyboard_key(s->vt, VTERM_KEY_ESCAPE, VTERM_MOD_NONE);
      m &= ~VTERM_MOD_ALT;
    }
    vterm_keyboard_unichar(s->vt, (uint32_t)ch, m);
  }
  return keys_end(s, out, len);
}

int screen_paste(screen *s, const void *text, size_t textlen, const char **out, size_t *len) {
  keys_begin(s);
  vterm_keyboard_start_paste(s->vt); /* ESC[200~ only in bracketed paste mode */
  if (bytes_add(&s->keys, text, textlen) < 0) s->oom = 1;
  vterm_keyboard_end_paste(s->vt);
  return keys_end(s, out, len);
}
