#ifndef BENCHMON_CSVFILE_H
#define BENCHMON_CSVFILE_H

#include <stddef.h>

#include "lib/strbuf.h"

/*
 * CSV through libcsv, the one place that calls it (RFC 4180 quoting both ways).
 */

struct csv_rows {
	char ***rows;       /* rows[i][j]: field j of row i */
	size_t *nfields;    /* fields in row i */
	size_t *line;       /* line where row i starts, for messages */
	size_t n;
};

/* Read a whole CSV file; fields are trimmed of surrounding spaces. Blank lines are skipped. */
int csv_read_file(const char *path, struct csv_rows *out);
void csv_rows_release(struct csv_rows *rows);

/* Append one CSV record, ending in "\n", to sb, quoting fields as needed. NULL fields are empty. */
void csv_append_row(struct strbuf *sb, const char *const *fields, size_t n);

#endif
