#include "buffer.h"

#include <stdlib.h>
#include <string.h>

int buffer_init(buffer *b, size_t cap) {
  b->data = malloc(cap);
  b->start = b->len = 0;
  b->cap = b->data ? cap : 0;
  return b->data ? 0 : -1;
}

void buffer_free(buffer *b) {
  free(b->data);
  b->data = NULL;
  b->start = b->len = b->cap = 0;
}

size_t buffer_append(buffer *b, const void *p, size_t n) {
  if (n > buffer_space(b)) n = buffer_space(b);
  if (n == 0) return 0;
  if (b->start + b->len + n > b->cap) { /* compact: move the queued bytes to the front */
    memmove(b->data, b->data + b->start, b->len);
    b->start = 0;
  }
  memcpy(b->data + b->start + b->len, p, n);
  b->len += n;
  return n;
}

void buffer_consume(buffer *b, size_t n) {
  if (n >= b->len) {
    b->start = b->len = 0;
  } else {
    b->start += n;
    b->len -= n;
  }
}

void buffer_clear(buffer *b) { b->start = b->len = 0; }
