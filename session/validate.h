#ifndef BENCHMON_VALIDATE_H
#define BENCHMON_VALIDATE_H

#include <stddef.h>

/*
 * Validation of everything a user hands us that later reaches a file name,
 * prometheus.yml, a file_sd file or the job script. Each check returns 0
 * when the value is acceptable and -1 with *cause set (caller frees) to a
 * message that quotes the value (shortened when huge) and says what is allowed.
 * Being strict here is what lets the renderers stay simple.
 */

#define VALIDATE_ID_MAX 64
#define VALIDATE_HOST_MAX 253

/*
 * A session, run, client or service id: 1-64 characters of [A-Za-z0-9_.-],
 * starting with a letter or digit. what names the flag in messages.
 */
int validate_id(const char *what, const char *value, char **cause);

/* A host name or IPv4 address: [A-Za-z0-9.-], starting with a letter or digit. */
int validate_host(const char *what, const char *value, char **cause);

/* A TCP port, 1-65535, as decimal text. */
int parse_port(const char *what, const char *value, int *port, char **cause);

/* "host:port" or "[ipv6]:port", as an exporter address. */
struct hostport {
	char *host;     /* without brackets */
	int port;
	char *address;  /* normalised "host:port" / "[v6]:port" */
};
int hostport_parse(const char *what, const char *value, struct hostport *hp, char **cause);
void hostport_release(struct hostport *hp);

/*
 * An http(s) metrics endpoint, taken apart the way Prometheus needs it:
 * scheme, address and path go to __scheme__, __address__ and
 * __metrics_path__, and each query parameter to __param_<name>. User info
 * (credentials) and fragments are refused; a missing path means "/metrics".
 */
struct endpoint_param {
	char *name;
	char *value;    /* percent-decoded; Prometheus encodes it again */
};
struct endpoint {
	char *scheme;   /* "http" or "https" */
	char *host;
	int port;
	char *address;  /* host:port, port made explicit */
	char *path;
	struct endpoint_param *params;
	size_t nparams;
};
int endpoint_parse(const char *value, struct endpoint *ep, char **cause);
void endpoint_release(struct endpoint *ep);
/* The endpoint back as a URL (caller frees). */
char *endpoint_url(const struct endpoint *ep);

/* Is host this machine's loopback (localhost, 127.0.0.0/8, ::1)? */
int host_is_loopback(const char *host);

/*
 * Point ep at host instead (keeping port, path and parameters). Used to turn
 * "127.0.0.1" into the node's name, which Prometheus can reach from elsewhere.
 */
void endpoint_set_host(struct endpoint *ep, const char *host);

/* Shorten value for quoting in a message: at most 60 characters, escaped. Caller frees. */
char *quote_for_message(const char *value);

#endif
