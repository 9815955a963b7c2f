#ifndef BENCHMON_XMALLOC_H
#define BENCHMON_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Allocation helpers that never return NULL: on out-of-memory they print
 * one line and abort, because no caller could do anything better.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
