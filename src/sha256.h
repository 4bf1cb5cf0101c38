/* SHA-256 (FIPS 180-4), for the names of the docker CLI's context store directories
 * (contexts/meta/<sha256hex(name)>) and for short stable keys. Pure logic, no I/O. */
#ifndef DPTY_SHA256_H
#define DPTY_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t total;          /* bytes fed so far */
  unsigned char block[64]; /* a partial block */
  size_t used;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char digest[32]);
/* digest of data as 64 lowercase hex digits and a NUL */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
