#include "collect/remoteread.h"

#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/*
 * The wire formats, from Prometheus's prompb/remote.proto and types.proto:
 *
 *   ReadRequest { repeated Query queries = 1; repeated ResponseType accepted_response_types = 2; }
 *   Query { int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2; repeated LabelMatcher matchers = 3; }
 *   LabelMatcher { Type type = 1 (EQ, NEQ, RE, NRE); string name = 2; string value = 3; }
 *   ChunkedReadResponse { repeated ChunkedSeries chunked_series = 1; int64 query_index = 2; }
 *   ChunkedSeries { repeated Label labels = 1; repeated Chunk chunks = 2; }
 *   Label { string name = 1; string value = 2; }
 *   Chunk { int64 min_time_ms = 1; int64 max_time_ms = 2; Encoding type = 3 (XOR = 1); bytes data = 4; }
 *
 * The request is snappy-compressed (here as literals only, which every
 * snappy reader takes); the response is a stream of frames, each a uvarint
 * length, a big-endian CRC-32C of the message and the message.
 */

#define RESPONSE_STREAMED_XOR_CHUNKS 1
#define CHUNK_XOR 1
/* Prometheus sends frames of about 1 MB (--storage.remote.read-max-bytes-in-frame); anything far larger is not it */
#define FRAME_MAX (64u << 20)
/* Prometheus's staleness marker: a NaN of its own, never a sample's value */
#define STALE_NAN_BITS 0x7ff0000000000002ULL

const char *const remoteread_headers[] = {
	"Content-Type: application/x-protobuf",
	"Content-Encoding: snappy",
	"X-Prometheus-Remote-Read-Version: 0.1.0",
	NULL,
};

enum matcher_type { MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE };

/* ---- the request ---- */

static void put_uvarint(struct strbuf *sb, uint64_t v)
{
	while (v >= 0x80) {
		strbuf_addch(sb, (char)(v | 0x80));
		v >>= 7;
	}
	strbuf_addch(sb, (char)v);
}

static void put_bytes_field(struct strbuf *sb, unsigned field, const char *data, size_t len)
{
	put_uvarint(sb, (uint64_t)field << 3 | 2);
	put_uvarint(sb, len);
	strbuf_add(sb, data, len);
}

static void put_varint_field(struct strbuf *sb, unsigned field, uint64_t v)
{
	put_uvarint(sb, (uint64_t)field << 3);
	put_uvarint(sb, v);
}

static int name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A PromQL string at p into out; the text after it, or NULL for one with an escape we do not read. */
static const char *read_string(const char *p, struct strbuf *out)
{
	char quote = *p++;

	for (; *p && *p != quote; p++) {
		if (*p != '\\' || quote == '`') {
			strbuf_addch(out, *p);
			continue;
		}
		switch (*++p) {
		case '\\': case '"': case '\'':
			strbuf_addch(out, *p);
			break;
		case 'n':
			strbuf_addch(out, '\n');
			break;
		case 't':
			strbuf_addch(out, '\t');
			break;
		case 'r':
			strbuf_addch(out, '\r');
			break;
		default:
			return NULL;
		}
	}
	return *p ? p + 1 : NULL;
}

/* One LabelMatcher message for name op value. */
static void put_matcher(struct strbuf *query, enum matcher_type type, const char *name, size_t name_len,
			const char *value, size_t value_len)
{
	struct strbuf m = STRBUF_INIT;

	if (type != MATCH_EQ)
		put_varint_field(&m, 1, type);
	put_bytes_field(&m, 2, name, name_len);
	put_bytes_field(&m, 3, value, value_len);
	put_bytes_field(query, 3, m.buf, m.len);
	strbuf_release(&m);
}

/* The Query message's matchers for selector, appended to query. Returns 0, or -1 with *err set. */
static int put_selector(struct strbuf *query, const char *selector, char **err)
{
	const char *p = skip_space(selector), *start = p;

	if (*p && *p != '{' && !name_start(*p) && *p != ':')
		goto bad;
	while (name_char(*p) || *p == ':')
		p++;
	if (p > start)
		put_matcher(query, MATCH_EQ, "__name__", 8, start, (size_t)(p - start));
	p = skip_space(p);
	if (*p == '{') {
		for (p = skip_space(p + 1); *p != '}'; p = skip_space(p)) {
			const char *name = p;
			size_t name_len;
			enum matcher_type type;
			struct strbuf value = STRBUF_INIT;

			if (!name_start(*p))
				goto bad;
			while (name_char(*p))
				p++;
			name_len = (size_t)(p - name);
			p = skip_space(p);
			if (p[0] == '=' && p[1] == '~')
				type = MATCH_RE, p += 2;
			else if (p[0] == '!' && p[1] == '~')
				type = MATCH_NRE, p += 2;
			else if (p[0] == '!' && p[1] == '=')
				type = MATCH_NEQ, p += 2;
			else if (p[0] == '=')
				type = MATCH_EQ, p += 1;
			else
				goto bad;
			p = skip_space(p);
			if ((*p != '"' && *p != '\'' && *p != '`') || !(p = read_string(p, &value))) {
				strbuf_release(&value);
				goto bad;
			}
			put_matcher(query, type, name, name_len, value.buf, value.len);
			strbuf_release(&value);
			p = skip_space(p);
			if (*p == ',')
				p++;
			else if (*p != '}')
				goto bad;
		}
		p++;
	}
	if (*skip_space(p) || p == skip_space(selector))
		goto bad;
	return 0;
bad:
	*err = xasprintf("'%s' is not a selector remote read takes", selector);
	return -1;
}

char *remoteread_request(const char *selector, int64_t start_ms, int64_t end_ms, size_t *len, char **err)
{
	struct strbuf query = STRBUF_INIT, req = STRBUF_INIT, out = STRBUF_INIT;

	put_varint_field(&query, 1, (uint64_t)start_ms);
	put_varint_field(&query, 2, (uint64_t)end_ms);
	if (put_selector(&query, selector, err) < 0) {
		strbuf_release(&query);
		return NULL;
	}
	put_bytes_field(&req, 1, query.buf, query.len);
	/* accepted_response_types, packed */
	put_uvarint(&req, 2 << 3 | 2);
	put_uvarint(&req, 1);
	put_uvarint(&req, RESPONSE_STREAMED_XOR_CHUNKS);
	/* snappy: the length, then literals of at most 64 KiB (tag 61: a two-byte length follows) */
	put_uvarint(&out, req.len);
	for (size_t at = 0; at < req.len; at += 65536) {
		size_t n = req.len - at < 65536 ? req.len - at : 65536;

		strbuf_addch(&out, (char)(61 << 2));
		strbuf_addch(&out, (char)((n - 1) & 0xff));
		strbuf_addch(&out, (char)((n - 1) >> 8));
		strbuf_add(&out, req.buf + at, n);
	}
	strbuf_release(&query);
	strbuf_release(&req);
	*len = out.len;
	return strbuf_detach(&out, NULL);
}

/* ---- the response ---- */

struct remoteread_stream {
	int64_t start_ms, end_ms;
	int keep_stale;
	struct remoteread_sink sink;
	struct strbuf buf;       /* bytes not yet parsed: at most one frame */
	struct strbuf head;      /* the body's first bytes, for messages */
	struct label *labels;    /* the series being read (its chunks may span frames) */
	size_t nlabels;
	int begun;               /* its first sample was handed over */
	int64_t last_t;          /* and the last one's time */
	int64_t *t;              /* one chunk's samples in the range, for the sink */
	double *v;
	size_t n, cap;
	char *err;
};

static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
		crc32c_table[i] = c;
	}
}

static uint32_t crc32c_soft(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	if (!crc32c_table[1])
		crc32c_init();
	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE 4.2's crc32 instruction computes CRC-32C: 8 bytes a cycle instead of one a table lookup */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const unsigned char *p, size_t n)
{
	uint64_t c = 0xffffffffu;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; n; p++, n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return (uint32_t)c ^ 0xffffffffu;
}

static uint32_t crc32c(const unsigned char *p, size_t n)
{
	static int have_sse42 = -1;

	if (have_sse42 < 0)
		have_sse42 = __builtin_cpu_supports("sse4.2");
	return have_sse42 ? crc32c_sse42(p, n) : crc32c_soft(p, n);
}
#else
static uint32_t crc32c(const unsigned char *p, size_t n)
{
	return crc32c_soft(p, n);
}
#endif

/* A uvarint at *p (before end): 0, or -1 when it is cut short or too long. */
static int get_uvarint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* One field of a message: its number, wire type, and value (varint) or bytes (length-delimited). */
struct field {
	unsigned num, wire;
	uint64_t v;
	const unsigned char *data;
	size_t len;
};

static int get_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
	uint64_t key;

	if (get_uvarint(p, end, &key) < 0)
		return -1;
	f->num = (unsigned)(key >> 3);
	f->wire = (unsigned)(key & 7);
	switch (f->wire) {
	case 0:
		return get_uvarint(p, end, &f->v);
	case 1:
		if (end - *p < 8)
			return -1;
		*p += 8;
		return 0;
	case 2:
		if (get_uvarint(p, end, &f->v) < 0 || f->v > (uint64_t)(end - *p))
			return -1;
		f->data = *p;
		f->len = (size_t)f->v;
		*p += f->len;
		return 0;
	case 5:
		if (end - *p < 4)
			return -1;
		*p += 4;
		return 0;
	default:
		return -1;
	}
}

struct bits {
	const unsigned char *p;
	size_t len;   /* bytes */
	size_t pos;   /* bits read */
};

/* The next n bits (1 to 64), most significant first. */
static int get_bits(struct bits *b, unsigned n, uint64_t *out)
{
	uint64_t v = 0;

	if (b->pos + n > b->len * 8)
		return -1;
	if (n <= 56 && (b->pos >> 3) + 8 <= b->len) {
		const unsigned char *q = b->p + (b->pos >> 3);
		uint64_t w = (uint64_t)q[0] << 56 | (uint64_t)q[1] << 48 | (uint64_t)q[2] << 40 | (uint64_t)q[3] << 32 |
			     (uint64_t)q[4] << 24 | (uint64_t)q[5] << 16 | (uint64_t)q[6] << 8 | q[7];

		*out = (w << (b->pos & 7)) >> (64 - n);
		b->pos += n;
		return 0;
	}
	while (n) {
		unsigned avail = 8 - (unsigned)(b->pos & 7), take = n < avail ? n : avail;

		v = v << take | ((b->p[b->pos >> 3] >> (avail - take)) & ((1u << take) - 1));
		n -= take;
		b->pos += take;
	}
	*out = v;
	return 0;
}

static int get_bit_uvarint(struct bits *b, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint64_t byte;

		if (get_bits(b, 8, &byte) < 0)
			return -1;
		*v |= (byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return 0;
	}
	return -1;
}

/* A value after the first: unchanged, or XORed with the bits that changed (Gorilla). */
static int get_xor_value(struct bits *b, uint64_t *val, unsigned *leading, unsigned *trailing)
{
	uint64_t bit, x, sig;
	unsigned mbits;

	if (get_bits(b, 1, &bit) < 0)
		return -1;
	if (!bit)
		return 0;
	if (get_bits(b, 1, &bit) < 0)
		return -1;
	if (bit) {
		if (get_bits(b, 5, &x) < 0 || get_bits(b, 6, &sig) < 0)
			return -1;
		*leading = (unsigned)x;
		mbits = sig ? (unsigned)sig : 64;
		if (*leading + mbits > 64)
			return -1;
		*trailing = 64 - *leading - mbits;
	}
	mbits = 64 - *leading - *trailing;
	if (!mbits || mbits > 64)
		return -1;
	if (mbits > 32) {
		uint64_t hi, lo;

		if (get_bits(b, mbits - 32, &hi) < 0 || get_bits(b, 32, &lo) < 0)
			return -1;
		x = hi << 32 | lo;
	} else if (get_bits(b, mbits, &x) < 0) {
		return -1;
	}
	*val ^= x << *trailing;
	return 0;
}

static void add_sample(struct remoteread_stream *st, int64_t t, uint64_t bits)
{
	if (t < st->start_ms || t > st->end_ms || (bits == STALE_NAN_BITS && !st->keep_stale))
		return;
	if ((st->begun || st->n) && t <= (st->n ? st->t[st->n - 1] : st->last_t)) {
		if (!st->err)
			st->err = xasprintf("samples out of order in a chunk at %lld ms", (long long)t);
		return;
	}
	if (st->n == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 256;
		st->t = xrealloc(st->t, st->cap * sizeof(*st->t));
		st->v = xrealloc(st->v, st->cap * sizeof(*st->v));
	}
	st->t[st->n] = t;
	memcpy(&st->v[st->n++], &bits, sizeof(double));
}

/* Hand a chunk's samples to the sink, beginning the series at its first. */
static void hand_over(struct remoteread_stream *st)
{
	if (!st->n || st->err)
		return;
	if (!st->begun) {
		st->sink.begin(st->sink.ctx, st->labels, st->nlabels);
		st->begun = 1;
	}
	st->sink.samples(st->sink.ctx, st->t, st->v, st->n);
	st->last_t = st->t[st->n - 1];
	st->n = 0;
}

/* An XOR chunk's samples (Prometheus's tsdb/chunkenc/xor.go) into the current series. */
static int decode_xor(struct remoteread_stream *st, const unsigned char *data, size_t len)
{
	struct bits b = { data, len, 16 };
	unsigned count, leading = 0, trailing = 0;
	uint64_t ut, val = 0, delta = 0;
	int64_t t = 0;

	if (len < 2)
		return -1;
	count = (unsigned)data[0] << 8 | data[1];
	for (unsigned i = 0; i < count; i++) {
		if (i == 0) {
			if (get_bit_uvarint(&b, &ut) < 0 || get_bits(&b, 64, &val) < 0)
				return -1;
			t = (int64_t)(ut >> 1) ^ -(int64_t)(ut & 1);
		} else if (i == 1) {
			if (get_bit_uvarint(&b, &delta) < 0 || get_xor_value(&b, &val, &leading, &trailing) < 0)
				return -1;
			/* in unsigned arithmetic, as Prometheus does: a corrupt chunk wraps instead of overflowing */
			t = (int64_t)((uint64_t)t + delta);
		} else {
			/* the delta of the delta: 0, or 14, 17, 20 or 64 bits after a prefix of 1s */
			static const unsigned widths[] = { 14, 17, 20 };
			unsigned ones = 0;
			uint64_t bit = 1, x = 0;
			int64_t dod = 0;

			while (ones < 4 && bit) {
				if (get_bits(&b, 1, &bit) < 0)
					return -1;
				ones += (unsigned)bit;
			}
			if (ones == 4) {
				if (get_bits(&b, 64, &x) < 0)
					return -1;
				dod = (int64_t)x;
			} else if (ones) {
				unsigned w = widths[ones - 1];

				if (get_bits(&b, w, &x) < 0)
					return -1;
				dod = x > (1ULL << (w - 1)) ? (int64_t)x - (int64_t)(1ULL << w) : (int64_t)x;
			}
			delta += (uint64_t)dod;
			t = (int64_t)((uint64_t)t + delta);
			if (get_xor_value(&b, &val, &leading, &trailing) < 0)
				return -1;
		}
		add_sample(st, t, val);
	}
	hand_over(st);
	return 0;
}

static void labels_free(struct label *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ls[i].name);
		free(ls[i].value);
	}
	free(ls);
}

/* End the current series, if begun, and start afresh. */
static void flush_series(struct remoteread_stream *st)
{
	if (st->begun && !st->err)
		st->sink.end(st->sink.ctx);
	labels_free(st->labels, st->nlabels);
	st->labels = NULL;
	st->nlabels = 0;
	st->begun = 0;
	st->n = 0;
}

static int same_labels(const struct remoteread_stream *st, const struct label *ls, size_t n)
{
	if (!st->labels || st->nlabels != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(st->labels[i].name, ls[i].name) || strcmp(st->labels[i].value, ls[i].value))
			return 0;
	return 1;
}

static char *dup_bytes(const unsigned char *p, size_t n)
{
	char *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int parse_label(const unsigned char *p, const unsigned char *end, struct label *l)
{
	struct field f;

	l->name = l->value = NULL;
	while (p < end) {
		if (get_field(&p, end, &f) < 0)
			return -1;
		if (f.wire == 2 && (f.num == 1 || f.num == 2)) {
			char **to = f.num == 1 ? &l->name : &l->value;

			free(*to);
			*to = dup_bytes(f.data, f.len);
		}
	}
	if (!l->name)
		l->name = xstrdup("");
	if (!l->value)
		l->value = xstrdup("");
	return 0;
}

static int parse_chunk(struct remoteread_stream *st, const unsigned char *p, const unsigned char *end)
{
	struct field f;
	int64_t min = 0, max = 0;
	uint64_t type = 0;
	const unsigned char *data = NULL;
	size_t len = 0;

	while (p < end) {
		if (get_field(&p, end, &f) < 0)
			return -1;
		if (f.num == 1 && f.wire == 0)
			min = (int64_t)f.v;
		else if (f.num == 2 && f.wire == 0)
			max = (int64_t)f.v;
		else if (f.num == 3 && f.wire == 0)
			type = f.v;
		else if (f.num == 4 && f.wire == 2)
			data = f.data, len = f.len;
	}
	if (max < st->start_ms || min > st->end_ms)
		return 0;
	if (type != CHUNK_XOR) {
		if (!st->err)
			st->err = xasprintf("a chunk of encoding %llu, not XOR (a native histogram?)",
					    (unsigned long long)type);
		return 0;
	}
	return data ? decode_xor(st, data, len) : -1;
}

static int parse_series(struct remoteread_stream *st, const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q = p;
	struct label *ls = NULL;
	size_t n = 0;
	struct field f;

	while (q < end) {
		if (get_field(&q, end, &f) < 0)
			goto bad;
		if (f.num == 1 && f.wire == 2) {
			ls = xrealloc(ls, (n + 1) * sizeof(*ls));
			if (parse_label(f.data, f.data + f.len, &ls[n++]) < 0)
				goto bad;
		}
	}
	if (!same_labels(st, ls, n)) {
		flush_series(st);
		st->labels = ls;
		st->nlabels = n;
	} else {
		labels_free(ls, n);
	}
	ls = NULL;
	n = 0;
	while (p < end) {
		if (get_field(&p, end, &f) < 0)
			goto bad;
		if (f.num == 2 && f.wire == 2 && parse_chunk(st, f.data, f.data + f.len) < 0)
			goto bad;
	}
	return 0;
bad:
	labels_free(ls, n);
	return -1;
}

static int parse_frame(struct remoteread_stream *st, const unsigned char *p, const unsigned char *end)
{
	struct field f;

	while (p < end) {
		if (get_field(&p, end, &f) < 0)
			return -1;
		if (f.num == 1 && f.wire == 2 && parse_series(st, f.data, f.data + f.len) < 0)
			return -1;
	}
	return 0;
}

int remoteread_is_stale(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits == STALE_NAN_BITS;
}

struct remoteread_stream *remoteread_stream_new(int64_t start_ms, int64_t end_ms, int keep_stale,
						const struct remoteread_sink *sink)
{
	struct remoteread_stream *st = xcalloc(1, sizeof(*st));

	st->keep_stale = keep_stale;
	st->sink = *sink;
	st->start_ms = start_ms;
	st->end_ms = end_ms;
	strbuf_init(&st->buf, 0);
	strbuf_init(&st->head, 0);
	return st;
}

void remoteread_stream_feed(struct remoteread_stream *st, const char *data, size_t len)
{
	size_t used = 0;

	if (st->head.len < 200)
		strbuf_add(&st->head, data, len < 200 - st->head.len ? len : 200 - st->head.len);
	if (st->err)
		return;
	strbuf_add(&st->buf, data, len);
	for (;;) {
		const unsigned char *base = (const unsigned char *)st->buf.buf;
		const unsigned char *p = base + used, *end = base + st->buf.len;
		uint64_t size;
		uint32_t crc;

		if (p == end || get_uvarint(&p, end, &size) < 0)
			break; /* the length is not all here yet (or is garbage: finish says so) */
		if (size > FRAME_MAX) {
			st->err = xasprintf("a frame of %llu bytes", (unsigned long long)size);
			return;
		}
		if ((uint64_t)(end - p) < 4 + size)
			break;
		crc = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (crc32c(p + 4, (size_t)size) != crc) {
			st->err = xstrdup("a frame whose checksum does not match");
			return;
		}
		if (parse_frame(st, p + 4, p + 4 + size) < 0) {
			if (!st->err)
				st->err = xstrdup("a frame that is not a ChunkedReadResponse");
			return;
		}
		if (st->err)
			return;
		used = (size_t)(p + 4 + size - base);
	}
	if (used) {
		memmove(st->buf.buf, st->buf.buf + used, st->buf.len - used);
		st->buf.len -= used;
		st->buf.buf[st->buf.len] = '\0';
	}
}

int remoteread_stream_finish(struct remoteread_stream *st, char **err)
{
	if (!st->err && st->buf.len)
		st->err = xasprintf("the stream ends inside a frame (%zu bytes left over)", st->buf.len);
	flush_series(st);
	if (st->err) {
		*err = xstrdup(st->err);
		return -1;
	}
	return 0;
}

const char *remoteread_stream_text(const struct remoteread_stream *st)
{
	return st->head.buf ? st->head.buf : "";
}

void remoteread_stream_free(struct remoteread_stream *st)
{
	if (!st)
		return;
	labels_free(st->labels, st->nlabels);
	free(st->t);
	free(st->v);
	strbuf_release(&st->buf);
	strbuf_release(&st->head);
	free(st->err);
	free(st);
}
