/* Demuxer of Docker's multiplexed stream (non-tty attach/exec/logs output):
 * each frame is header[8] = {stream, 0, 0, 0, size as big-endian 32} then size payload bytes;
 * stream 0 stdin, 1 stdout, 2 stderr, 3 systemerr. Pure logic: no I/O, no globals. */
#ifndef DPTY_FRAMES_H
#define DPTY_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 8

typedef struct {
  unsigned char hdr[FRAME_HEADER_LEN]; /* the header being read */
  unsigned hdr_len;                    /* header bytes read; FRAME_HEADER_LEN while in a payload */
  uint32_t left;                       /* payload bytes still to come */
  int stream;                          /* stream of the current frame; -1 after a malformed header */
} frame_demux;

void frame_demux_init(frame_demux *d);

/* Receives payload pieces; data points into the buffer given to frame_demux_feed. A frame may
 * arrive in several pieces; zero-size frames produce no call. */
typedef void (*frame_sink_fn)(void *ud, int stream, const unsigned char *data, size_t len);

/* Consumes in[0..n): 0, or -1 on a malformed header (stream > 3 or bytes 1..3 nonzero); pieces
 * before the bad header were delivered, and the demuxer stays failed (every later feed is -1). */
int frame_demux_feed(frame_demux *d, const unsigned char *in, size_t n, frame_sink_fn sink,
                     void *ud);

/* 1 when between frames (no partial header or payload), else 0 (also when failed). */
int frame_demux_idle(const frame_demux *d);

#endif
