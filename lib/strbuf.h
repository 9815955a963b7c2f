#ifndef BENCHMON_STRBUF_H
#define BENCHMON_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable, always NUL-terminated byte buffer.
 *
 * A strbuf owns buf. STRBUF_INIT gives an empty buffer that allocates on
 * first use; strbuf_release frees it and leaves an empty buffer again;
 * strbuf_detach hands the string to the caller, who frees it.
 *
 * max, when non-zero, caps len: an append that would pass it appends
 * nothing and returns -1 (used for HTTP bodies and file reads, so a runaway
 * peer cannot exhaust memory). Appends return 0 otherwise.
 */
struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t max;
};

extern char strbuf_empty[];
#define STRBUF_INIT { strbuf_empty, 0, 0, 0 }

void strbuf_init(struct strbuf *sb, size_t max);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_reset(struct strbuf *sb);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_addstr(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, int c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s percent-encoded for a URL query (RFC 3986 unreserved characters stay). */
int strbuf_add_urlencoded(struct strbuf *sb, const char *s);
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The value of the hex digit c (0-9, a-f, A-F), or -1 for any other character. */
int hex_digit_value(int c);

#endif
