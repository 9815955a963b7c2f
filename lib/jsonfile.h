#ifndef BENCHMON_JSONFILE_H
#define BENCHMON_JSONFILE_H

#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

/*
 * cJSON glue shared by the state files, the registry and the artifacts.
 */

/*
 * Parse the JSON file at path into *out (caller frees with cJSON_Delete).
 * A file that is missing returns 1 when missing_ok; one that does not parse
 * is reported with its path and the hint, if any, as the way out.
 */
int json_read_file(const char *path, size_t max, int missing_ok, cJSON **out, const char *hint);

/* Write root to path atomically (pretty when pretty is set), mode 0600. */
int json_write_file(const char *path, const cJSON *root, int pretty);

/* The same with the given mode, for results (fsutil.h's results_mode). */
int json_write_file_mode(const char *path, const cJSON *root, int pretty, mode_t mode);

/* A string member, or NULL when absent or not a string. */
const char *json_string(const cJSON *obj, const char *key);

/* A string member duplicated, or NULL. Caller frees. */
char *json_strdup(const cJSON *obj, const char *key);

/* A numeric member, or def when absent, not a number, or outside int64_t. */
int64_t json_int(const cJSON *obj, const char *key, int64_t def);

/* Add key: value, or key: null when value is NULL. */
void json_add_string_or_null(cJSON *obj, const char *key, const char *value);

/* Add key: v, or key: null when !has; an infinite v as the string "+Inf" or "-Inf", which JSON cannot hold as a number. */
void json_add_number_or_null(cJSON *obj, const char *key, int has, double v);

/* Add key as an RFC 3339 time (lib/timeparse.h's format_time_ms). */
void json_add_time(cJSON *obj, const char *key, int64_t ms);

#endif
