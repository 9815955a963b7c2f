#ifndef BENCHMON_ERROR_H
#define BENCHMON_ERROR_H

/*
 * Reporting to the user, on stderr.
 *
 * error() prints "benchmon: error: <message>" and returns -1, so library
 * code can write `return error("cannot open '%s': %s", path, strerror(errno));`.
 * Messages are lowercase, without a trailing period, and name the subject.
 * warning() prints "benchmon: warning: <message>".
 * progress() prints "benchmon: <message>" for long waits; it is silent when
 * progress_quiet is set (--json output, tests that want clean stderr).
 */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern int progress_quiet;

struct strbuf;
/*
 * Until called again with NULL, the calling thread's errors go into sb
 * (joined by "; ") instead of stderr: a server answers them to its client.
 * Warnings and progress still go to stderr.
 */
void error_capture(struct strbuf *sb);

#endif
