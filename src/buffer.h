/* A bounded byte queue: append at the end, consume from the front. */
#ifndef DPTY_BUFFER_H
#define DPTY_BUFFER_H

#include <stddef.h>

typedef struct {
  unsigned char *data;
  size_t start; /* offset of the first unread byte */
  size_t len;   /* bytes queued */
  size_t cap;
} buffer;

int buffer_init(buffer *b, size_t cap); /* 0, or -1 when out of memory */
void buffer_free(buffer *b);
static inline size_t buffer_space(const buffer *b) { return b->cap - b->len; }
static inline const unsigned char *buffer_head(const buffer *b) { return b->data + b->start; }
/* Appends up to the free space; returns the number of bytes taken. */
size_t buffer_append(buffer *b, const void *p, size_t n);
void buffer_consume(buffer *b, size_t n);
void buffer_clear(buffer *b);

#endif
