#ifndef BENCHMON_SERVE_BODY_H
#define BENCHMON_SERVE_BODY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "session/registry.h"

/*
 * Decoding of benchmon serve's request bodies: strict JSON, so that what a
 * client sends means one thing. A body must be one JSON value and nothing
 * after it, without NUL bytes; an object must not repeat a key or carry one
 * the route does not know; every field has one type. Each call returns 0,
 * or -1 with *cause (caller frees) and *field (the offending JSON name, or
 * NULL for the body as a whole). Strings in the results point into root.
 */

/* Parse body (len bytes) into *root; caller frees with cJSON_Delete. */
int body_parse(const char *body, size_t len, cJSON **root, char **cause, const char **field);

/*
 * POST /v1/clients: {"client_id", "node", "node_exporter"?, "dcgm_exporter"?,
 * "heartbeat_timeout_s"?}. *timeout_s is -1 when not given.
 */
int body_client(const cJSON *root, struct client *c, int64_t *timeout_s, char **cause, const char **field);

/*
 * POST /v1/services: one service {"client_id", "name", "endpoint",
 * "bearer_token_file"?}, an array of them, or {"services": [...]}. A
 * bearer_token_file is allowed only for a body of one service (as on the
 * command line). *svcs is allocated (caller frees the array only).
 */
int body_services(const cJSON *root, struct service **svcs, size_t *n, char **cause, const char **field);

/* PUT .../heartbeat: {} or {"timeout_s": N}, N whole seconds 0..BODY_TIMEOUT_MAX; *timeout_s -1 when absent. */
#define BODY_TIMEOUT_MAX (366 * 86400)
int body_heartbeat(const cJSON *root, int64_t *timeout_s, char **cause, const char **field);

#endif
