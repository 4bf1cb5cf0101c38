/* A virtual screen over libvterm 0.1.4: program output goes in (screen_feed), text, cells,
 * cursor and title come out; the bytes the terminal sends back to the program come out in two
 * separate streams: replies to the program's queries (cursor position, device attributes, ...)
 * collected during screen_feed, and encoded keys / pastes returned by screen_key and
 * screen_paste. Pure C, no Lua, no globals; one screen is used by one thread at a time.
 *
 * Rows and columns are 1-based everywhere in this API (row 1 is the top line). */
#ifndef DPTY_SCREEN_H
#define DPTY_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#define SCREEN_MAX_DIM 65535          /* rows and cols are each 1..SCREEN_MAX_DIM ... */
#define SCREEN_MAX_CELLS (1L << 20)   /* ... and rows * cols is at most this */
#define SCREEN_MIN_COLS 2             /* a narrower size is taken as this many columns */
#define SCREEN_CELL_CHARS 25          /* room for one cell's UTF-8 text and its NUL */

#define SCREEN_MOD_SHIFT 1u
#define SCREEN_MOD_ALT 2u
#define SCREEN_MOD_CTRL 4u

typedef struct screen screen;

/* 1 if rows x cols is a size screen_new / screen_resize accept, else 0. */
int screen_size_ok(long rows, long cols);

/* A blank screen: UTF-8 input, the alternate screen (ESC[?1049h, ?1047h, ?47h) enabled.
 * NULL when the size is not accepted (screen_size_ok) or memory is short. A size of 1 column
 * is accepted but made SCREEN_MIN_COLS (libvterm 0.1.4 crashes on a wide character in a
 * 1-column row); screen_size reports the size in effect. */
screen *screen_new(int rows, int cols);
void screen_free(screen *s); /* NULL is fine */

/* Feeds program output (any bytes; escape sequences and characters may be split across
 * calls). The bytes pass a filter that keeps libvterm 0.1.4 clear of its known crashes (see
 * screen.c): CSI sequences keep at most 16 parameters, each at most 65535; REP repeats up to
 * the end of the row; OSC strings longer than 16 KiB, DCS strings other than DECRQSS queries
 * and C1 controls written as UTF-8 are dropped.
 * Replies the terminal wants to send to the program are appended to the replies queue.
 * Returns 0, or -1 when memory ran short (a reply or a held-back string was lost; the screen
 * itself is up to date). */
int screen_feed(screen *s, const void *bytes, size_t len);

/* Takes the queued replies: *len bytes at the returned pointer (valid until the next
 * screen_feed or screen_resize), and empties the queue. Send them to the program only when no
 * real terminal is attached (a real terminal answers the same queries itself). */
const char *screen_take_replies(screen *s, size_t *len);

/* Changes the size (at least SCREEN_MIN_COLS columns, as screen_new); the text is not
 * reflowed (libvterm 0.1.4): lines are cut on the right or padded; when the screen gets
 * shorter, rows leave at the top as far as needed to keep the cursor's row. The scrolling
 * margins are reset (as xterm does); the cursor stays. Returns 0, or -1 when the size is not
 * accepted (the screen is unchanged). */
int screen_resize(screen *s, int rows, int cols);
void screen_size(const screen *s, int *rows, int *cols);

/* Text of the screen in UTF-8: one line per row joined by "\n", no trailing "\n"; trailing
 * blanks of each row are trimmed, and so are the empty rows at the bottom (a blank screen is
 * ""); the rows that are left keep their places, so line k of the text is screen_line(k).
 * A wide character is written once (its continuation cell is skipped); unwritten cells
 * before written ones are spaces. The result is valid until the next call on s; NULL when
 * memory is short. */
const char *screen_text(screen *s, size_t *len);

/* One row's text, the same way (trailing blanks trimmed). NULL when row is out of range
 * (1..rows) or memory is short. Valid until the next call on s. */
const char *screen_line(screen *s, int row, size_t *len);

/* The cursor, 1-based, and whether the program shows it (DECTCEM, ESC[?25l / ESC[?25h). */
void screen_cursor(const screen *s, int *row, int *col, int *visible);

typedef struct {
  char chars[SCREEN_CELL_CHARS]; /* the character and its combining marks, UTF-8, NUL-terminated;
                                    " " for a blank cell, "" for the right half of a wide one */
  int width;                     /* 1, 2 for a wide character, 0 for the right half of one */
  char fg[8], bg[8];             /* "#rrggbb", or "" for the terminal's default colour */
  unsigned bold : 1, italic : 1, reverse : 1, blink : 1, strike : 1;
  unsigned underline : 2;        /* 0 none, 1 single, 2 double, 3 curly */
} screen_cell;

/* Fills *out with the cell at (row, col). Returns 0, or -1 when out of range. Colours set with
 * a palette index (SGR 30-37, 90-97, 38;5;n) are given as the RGB libvterm draws them with. */
int screen_cell_at(const screen *s, int row, int col, screen_cell *out);

/* Incremented whenever the screen changes (damage), the cursor moves, or a terminal property
 * changes (title, cursor visibility, alternate screen, ...): equal values mean nothing
 * visible happened in between. */
uint64_t screen_generation(const screen *s);

/* The window title the program set (OSC 0 / OSC 2), "" if none; it may arrive split across
 * feeds. */
const char *screen_title(const screen *s);

/* 1 while the program is on the alternate screen, else 0. */
int screen_altscreen(const screen *s);

/* Parses modifiers: "" or NULL (none), or names joined by '+' or '-': "shift", "alt" (also
 * "meta"), "ctrl" (also "control"), e.g. "ctrl+alt". Returns 0 and *mods (SCREEN_MOD_*), or -1
 * with a message naming the bad part in err (NUL-terminated when errcap > 0). */
int screen_parse_mods(const char *spec, unsigned *mods, char *err, size_t errcap);

/* Encodes a key press as the terminal would send it, given the modes the program set
 * (application cursor keys ESC[?1h, application keypad ESC=, newline mode ESC[20h):
 *   named keys: up down left right home end pgup pgdn (also pageup pagedown) insert delete
 *   f1..f12 enter tab backspace esc (also escape) space;
 *   or exactly one UTF-8 character, e.g. "a", "ö", "€".
 * ctrl with a letter (either case) or one of @ [ \ ] ^ _ ? gives the C0 byte terminals send
 * (ctrl+c "\3", ctrl+m "\r", ctrl+[ ESC, ctrl+? DEL), after an ESC with alt; other keys and
 * characters are encoded by libvterm (e.g. shift+tab ESC[Z, ctrl+up ESC[1;5A, alt+x ESC x).
 * Returns 0 with *len bytes at *out (valid until the next key or paste on s); -1 for a name
 * that is none of these; -2 when memory is short. */
int screen_key(screen *s, const char *name, size_t namelen, unsigned mods, const char **out,
               size_t *len);

/* Encodes a paste of text: the text itself, wrapped in ESC[200~ ... ESC[201~ when the program
 * enabled bracketed paste (ESC[?2004h). The text is passed through unchanged. Returns 0 with
 * *len bytes at *out (valid until the next key or paste on s), or -2 when memory is short. */
int screen_paste(screen *s, const void *text, size_t textlen, const char **out, size_t *len);

#endif
