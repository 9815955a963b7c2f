#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>

#include "lib/strbuf.h"

int progress_quiet;

static _Thread_local struct strbuf *captured;

void error_capture(struct strbuf *sb)
{
	captured = sb;
}

static void report(const char *prefix, const char *fmt, va_list ap, int capture)
{
	if (capture && captured) {
		if (captured->len)
			strbuf_addstr(captured, "; ");
		strbuf_vaddf(captured, fmt, ap);
		return;
	}
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("benchmon: error: ", fmt, ap, 1);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("benchmon: warning: ", fmt, ap, 0);
	va_end(ap);
}

void progress(const char *fmt, ...)
{
	va_list ap;

	if (progress_quiet)
		return;
	va_start(ap, fmt);
	report("benchmon: ", fmt, ap, 0);
	va_end(ap);
	fflush(stderr);
}
