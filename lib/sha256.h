#ifndef BENCHMON_SHA256_H
#define BENCHMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 (FIPS 180-4), for the checksums of collected artifacts in the
 * manifest. Not constant-time and not meant for secrets.
 *
 * Use: sha256_init, any number of sha256_update calls (data may be split
 * anywhere, len may be 0), then sha256_final, which writes the 32-byte
 * digest; the context must be initialised again before reuse. A context
 * owns no memory.
 */
struct sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;         /* message length so far */
	unsigned char buf[64];   /* a partial block */
	size_t nbuf;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, unsigned char out[32]);

/*
 * Hash the file at path, reading it in chunks: hex gets the digest as 64
 * lowercase hex digits and a NUL, *size (when size is not NULL) the number
 * of bytes read. Returns 0, or -1 after error("cannot read '%s': ...")
 * with hex and *size left alone.
 */
int sha256_file_hex(const char *path, char hex[65], unsigned long long *size);

#endif
