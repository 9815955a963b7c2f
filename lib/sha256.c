#include "lib/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"

static const uint32_t k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

/* Fold one 64-byte block into the state. */
static void compress_soft(uint32_t h[8], const unsigned char *block)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
		       (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

/*
 * The same with the SHA extensions (Intel since Ice Lake, AMD since Zen):
 * collect hashes every artifact it writes, tens of MB for a long window,
 * five times faster this way. The state is kept as ABEF and CDGH, the
 * order sha256rnds2 wants; each round group adds four words of the message
 * schedule, the later ones computed by sha256msg1 and sha256msg2.
 */
__attribute__((target("sha,sse4.1"))) static void compress_shani(uint32_t h[8], const unsigned char *block)
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);   /* CDAB */
	__m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);  /* EFGH */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);                                         /* ABEF */
	__m128i abef, cdgh, w[4];

	s1 = _mm_blend_epi16(s1, t, 0xF0);                                               /* CDGH */
	abef = s0;
	cdgh = s1;
	for (int i = 0; i < 16; i++) {
		__m128i m;

		if (i < 4)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block + 16 * i)), swap);
		else
			w[i % 4] = _mm_sha256msg2_epu32(
				_mm_add_epi32(_mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]),
					      _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4)),
				w[(i + 3) % 4]);
		m = _mm_add_epi32(w[i % 4], _mm_loadu_si128((const __m128i *)&k[4 * i]));
		s1 = _mm_sha256rnds2_epu32(s1, s0, m);
		s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
	}
	s0 = _mm_add_epi32(s0, abef);
	s1 = _mm_add_epi32(s1, cdgh);
	t = _mm_shuffle_epi32(s0, 0x1B);                                                 /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);                                                /* DCHG */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xF0));               /* DCBA */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));                  /* HGFE */
}

static void compress(uint32_t h[8], const unsigned char *block)
{
	static int have_sha = -1;

	if (have_sha < 0) {
		unsigned a, b, c, d;

		/* CPUID leaf 7: SHA is EBX bit 29; leaf 1: SSE4.1 is ECX bit 19 */
		have_sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1) && __get_cpuid(1, &a, &b, &c, &d) &&
			   (c >> 19 & 1);
	}
	if (have_sha)
		compress_shani(h, block);
	else
		compress_soft(h, block);
}
#else
static void compress(uint32_t h[8], const unsigned char *block)
{
	compress_soft(h, block);
}
#endif

/* Start a new digest with the initial hash value of FIPS 180-4, 5.3.3. */
void sha256_init(struct sha256_ctx *ctx)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->h, h0, sizeof(h0));
	ctx->nbytes = 0;
	ctx->nbuf = 0;
}

/* Add data, buffering a partial block for the next call. */
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!len)
		return;
	ctx->nbytes += len;
	if (ctx->nbuf) {
		size_t take = 64 - ctx->nbuf < len ? 64 - ctx->nbuf : len;

		memcpy(ctx->buf + ctx->nbuf, p, take);
		ctx->nbuf += take;
		p += take;
		len -= take;
		if (ctx->nbuf < 64)
			return;
		compress(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		compress(ctx->h, p);
	if (len) {
		memcpy(ctx->buf, p, len);
		ctx->nbuf = len;
	}
}

/* Pad with 0x80, zeros and the bit length, then write the digest big-endian. */
void sha256_final(struct sha256_ctx *ctx, unsigned char out[32])
{
	uint64_t bits = ctx->nbytes * 8;

	ctx->buf[ctx->nbuf++] = 0x80;
	if (ctx->nbuf > 56) {
		memset(ctx->buf + ctx->nbuf, 0, 64 - ctx->nbuf);
		compress(ctx->h, ctx->buf);
		ctx->nbuf = 0;
	}
	memset(ctx->buf + ctx->nbuf, 0, 56 - ctx->nbuf);
	for (int i = 0; i < 8; i++)
		ctx->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	compress(ctx->h, ctx->buf);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)ctx->h[i];
	}
}

/* Digest of a file, read in chunks so artifacts of any size take no memory. */
int sha256_file_hex(const char *path, char hex[65], unsigned long long *size)
{
	static const char digits[] = "0123456789abcdef";
	struct sha256_ctx ctx;
	unsigned char chunk[65536], md[32];
	unsigned long long total = 0;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error("cannot read '%s': %s", path, strerror(errno));
	sha256_init(&ctx);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error("cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		sha256_update(&ctx, chunk, (size_t)n);
		total += (unsigned long long)n;
	}
	sha256_final(&ctx, md);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	if (size)
		*size = total;
	ret = 0;
out:
	close(fd);
	return ret;
}
