/* The multiplexed-stream demuxer (see frames.h). */
#include "frames.h"

#include <string.h>

void frame_demux_init(frame_demux *d) { memset(d, 0, sizeof *d); }

static int failed(const frame_demux *d) {
  return d->hdr_len == FRAME_HEADER_LEN && d->stream < 0;
}

/* Checks the complete header and starts its frame; -1 (and the failed state) if malformed. */
static int start_frame(frame_demux *d) {
  const unsigned char *h = d->hdr;
  if (h[0] > 3 || h[1] || h[2] || h[3]) {
    d->stream = -1;
    d->left = 0;
    return -1;
  }
  d->stream = h[0];
  d->left = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
  return 0;
}

int frame_demux_feed(frame_demux *d, const unsigned char *in, size_t n, frame_sink_fn sink,
                     void *ud) {
  if (failed(d)) return -1;
  size_t i = 0;
  while (i < n) {
    if (d->hdr_len < FRAME_HEADER_LEN) {
      size_t take = FRAME_HEADER_LEN - d->hdr_len;
      if (take > n - i) take = n - i;
      memcpy(d->hdr + d->hdr_len, in + i, take);
      d->hdr_len += (unsigned)take;
      i += take;
      if (d->hdr_len < FRAME_HEADER_LEN) break;
      if (start_frame(d) < 0) return -1;
    } else {
      size_t take = d->left;
      if (take > n - i) take = n - i;
      d->left -= (uint32_t)take;
      sink(ud, d->stream, in + i, take);
      i += take;
    }
    if (d->hdr_len == FRAME_HEADER_LEN && d->left == 0) d->hdr_len = 0; /* frame done */
  }
  return 0;
}

int frame_demux_idle(const frame_demux *d) { return d->hdr_len == 0 && d->left == 0; }
