#ifndef BENCHMON_WINDOW_H
#define BENCHMON_WINDOW_H

#include <stdint.h>

/*
 * window.json: the window of one benchmark run, kept next to its artifacts
 * so 'benchmon collect --window FILE' can compute them again later.
 */

struct window_file {
	char *session;
	char *run_id;
	int64_t from_ms, to_ms;          /* the window collected */
	int64_t started_ms, ended_ms;    /* when the command ran */
	int64_t warmup_ms, cooldown_ms;
	char **command;                  /* NULL-terminated argv, or NULL; borrowed, never freed here */
	int exit_status;                 /* the command's, or -1 when unknown */
	char *interrupted_by;            /* "SIGINT"/"SIGTERM", or NULL */
	char **labels;                   /* the run's labels as given to --label ("KEY=VALUE"), NULL-terminated,
					    or NULL: a writer's are borrowed, those read are freed by release */
};

/* Write w to path atomically. */
int window_file_write(const char *path, const struct window_file *w);

/* Read path into w (session, run_id, from and to are required). */
int window_file_read(const char *path, struct window_file *w);
void window_file_release(struct window_file *w);

#endif
