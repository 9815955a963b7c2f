#include "lib/csvfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/xmalloc.h"

struct reader {
	struct csv_rows *out;
	char **fields;
	size_t nfields;
	size_t line;        /* current line, counted from the newlines seen */
	size_t row_line;
	size_t alloc;
};

static void on_field(void *data, size_t len, void *ctx)
{
	struct reader *r = ctx;

	if (!r->nfields)
		r->row_line = r->line;
	r->fields = xrealloc(r->fields, (r->nfields + 1) * sizeof(char *));
	r->fields[r->nfields++] = xstrndup(data ? data : "", data ? len : 0);
}

static void on_row(int terminator, void *ctx)
{
	struct reader *r = ctx;
	struct csv_rows *out = r->out;

	(void)terminator;
	if (r->nfields == 1 && !r->fields[0][0]) {
		free(r->fields[0]);
		r->nfields = 0;
		return;
	}
	if (out->n == r->alloc) {
		r->alloc = r->alloc ? r->alloc * 2 : 256;
		out->rows = xrealloc(out->rows, r->alloc * sizeof(*out->rows));
		out->nfields = xrealloc(out->nfields, r->alloc * sizeof(*out->nfields));
		out->line = xrealloc(out->line, r->alloc * sizeof(*out->line));
	}
	out->rows[out->n] = r->fields;
	out->nfields[out->n] = r->nfields;
	out->line[out->n] = r->row_line;
	out->n++;
	r->fields = NULL;
	r->nfields = 0;
}

int csv_read_file(const char *path, struct csv_rows *out)
{
	struct strbuf sb = STRBUF_INIT;
	struct csv_parser parser;
	struct reader r = { .out = out, .line = 1 };
	int ret = -1;
	size_t start = 0;

	memset(out, 0, sizeof(*out));
	if (read_file(path, &sb, 1u << 30, 0) < 0)
		return -1;
	if (csv_init(&parser, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
		error("cannot set up the CSV parser");
		goto out;
	}
	csv_set_space_func(&parser, NULL);
	/* feed line by line, so messages can name the line */
	for (size_t i = 0; i <= sb.len; i++) {
		if (i < sb.len && sb.buf[i] != '\n')
			continue;
		size_t end = i < sb.len ? i + 1 : i;

		if (csv_parse(&parser, sb.buf + start, end - start, on_field, on_row, &r) != end - start) {
			error("%s:%zu: %s", path, r.line, csv_strerror(csv_error(&parser)));
			csv_free(&parser);
			goto out;
		}
		r.line++;
		start = end;
	}
	if (csv_fini(&parser, on_field, on_row, &r) != 0) {
		error("%s:%zu: %s", path, r.line - 1, csv_strerror(csv_error(&parser)));
		csv_free(&parser);
		goto out;
	}
	csv_free(&parser);
	ret = 0;
out:
	for (size_t i = 0; i < r.nfields; i++)
		free(r.fields[i]);
	free(r.fields);
	if (ret < 0)
		csv_rows_release(out);
	strbuf_release(&sb);
	return ret;
}

void csv_rows_release(struct csv_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		for (size_t j = 0; j < rows->nfields[i]; j++)
			free(rows->rows[i][j]);
		free(rows->rows[i]);
	}
	free(rows->rows);
	free(rows->nfields);
	free(rows->line);
	memset(rows, 0, sizeof(*rows));
}

void csv_append_row(struct strbuf *sb, const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *f = fields[i] ? fields[i] : "";
		size_t need = strlen(f) * 2 + 3;
		char *quoted = xmalloc(need);
		size_t len = csv_write(quoted, need, f, strlen(f));

		if (i)
			strbuf_addch(sb, ',');
		/* csv_write always quotes; keep plain fields plain for readability */
		if (strpbrk(f, ",\"\r\n") || (f[0] == ' ') || (*f && f[strlen(f) - 1] == ' '))
			strbuf_add(sb, quoted, len);
		else
			strbuf_addstr(sb, f);
		free(quoted);
	}
	strbuf_addch(sb, '\n');
}
