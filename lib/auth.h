#ifndef BENCHMON_AUTH_H
#define BENCHMON_AUTH_H

#include "lib/http.h"

/*
 * The secret that guards a session's Prometheus: its HTTP API answers only
 * requests with basic auth user AUTH_USER and the session's password, kept
 * in the session directory (AUTH_PASSWORD_FILE, mode 0600). Prometheus is
 * given only a bcrypt hash of it (render_web_config). The password is never
 * printed, logged or put in a URL. This is the one file that calls libcrypt.
 * Functions return 0 or -1 after reporting through error().
 */

#define AUTH_USER "benchmon"
#define AUTH_PASSWORD_FILE "prometheus.password"

/* A new random password (hex, from getrandom). Caller frees. */
int auth_password_new(char **password);

/* Write a new password into dir/AUTH_PASSWORD_FILE (atomically, 0600). */
int auth_password_create(const char *dir);

/*
 * The credentials for the session directory dir into *auth (release with
 * http_auth_release). A session made by a benchmon older than the secret has
 * no password file: then auth gets no credentials (user NULL) and 1 is
 * returned, and its Prometheus is reached without any.
 */
int auth_load(const char *dir, struct http_auth *auth);

/* bcrypt ("$2b$") hash of password, as Prometheus's basic_auth_users wants it. Caller frees. */
int auth_bcrypt(const char *password, char **hash);

#endif
