#include "session/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"

char *quote_for_message(const char *value)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = strlen(value);

	for (size_t i = 0; i < len && i < 60; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			strbuf_addf(&sb, "\\x%02x", c);
		else
			strbuf_addch(&sb, c);
	}
	if (len > 60)
		strbuf_addf(&sb, "... (%zu bytes)", len);
	return strbuf_detach(&sb, NULL);
}

static int reject(char **cause, const char *what, const char *value, const char *rule)
{
	char *q = quote_for_message(value);

	*cause = xasprintf("invalid %s '%s': %s", what, q, rule);
	free(q);
	return -1;
}

int validate_id(const char *what, const char *value, char **cause)
{
	size_t len = strlen(value);

	if (!len)
		return reject(cause, what, value, "must not be empty");
	if (len > VALIDATE_ID_MAX)
		return reject(cause, what, value, "must be at most 64 characters");
	if (!isalnum((unsigned char)value[0]))
		return reject(cause, what, value, "must start with a letter or digit");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return reject(cause, what, value, "may contain only letters, digits, '_', '.' and '-'");
	}
	return 0;
}

int validate_host(const char *what, const char *value, char **cause)
{
	size_t len = strlen(value);

	if (!len)
		return reject(cause, what, value, "must not be empty");
	if (len > VALIDATE_HOST_MAX)
		return reject(cause, what, value, "must be at most 253 characters");
	if (!isalnum((unsigned char)value[0]))
		return reject(cause, what, value, "must start with a letter or digit");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return reject(cause, what, value, "may contain only letters, digits, '.', '-' and '_'");
	}
	return 0;
}

int parse_port(const char *what, const char *value, int *port, char **cause)
{
	long v = 0;
	size_t len = strlen(value);

	if (!len || len > 5)
		return reject(cause, what, value, "must be a port number from 1 to 65535");
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)value[i]))
			return reject(cause, what, value, "must be a port number from 1 to 65535");
		v = v * 10 + (value[i] - '0');
	}
	if (v < 1 || v > 65535)
		return reject(cause, what, value, "must be a port number from 1 to 65535");
	*port = (int)v;
	return 0;
}

static int validate_ipv6(const char *s)
{
	struct in6_addr addr;

	return inet_pton(AF_INET6, s, &addr) == 1 ? 0 : -1;
}

/*
 * Split "host:port" / "[v6]:port" starting at s and ending at end. With
 * default_port, a missing port is allowed and takes that value.
 */
static int split_hostport(const char *what, const char *whole, const char *s, size_t n,
			  int default_port, char **host, int *port, char **cause)
{
	char *copy = xstrndup(s, n), *colon, *h;
	int ret = -1, is_v6 = 0;

	if (copy[0] == '[') {
		char *close = strchr(copy, ']');

		if (!close) {
			reject(cause, what, whole, "unterminated '[' in host");
			goto out;
		}
		*close = '\0';
		h = copy + 1;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon) {
			reject(cause, what, whole, "expected ':' after ']'");
			goto out;
		}
		if (validate_ipv6(h) < 0) {
			reject(cause, what, whole, "invalid IPv6 address");
			goto out;
		}
		is_v6 = 1;
	} else {
		h = copy;
		colon = strrchr(copy, ':');
	}
	if (colon) {
		*colon = '\0';
		if (parse_port(what, colon + 1, port, cause) < 0) {
			free(*cause);
			reject(cause, what, whole, "port must be a number from 1 to 65535");
			goto out;
		}
	} else if (default_port) {
		*port = default_port;
	} else {
		reject(cause, what, whole, "expected HOST:PORT");
		goto out;
	}
	if (!is_v6 && validate_host(what, h, cause) < 0) {
		free(*cause);
		reject(cause, what, whole, "host may contain only letters, digits, '.', '-' and '_'");
		goto out;
	}
	*host = xstrdup(h);
	ret = 0;
out:
	free(copy);
	return ret;
}

/* "host:port", with an IPv6 host in brackets. */
static char *join_hostport(const char *host, int port)
{
	return xasprintf(strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

int hostport_parse(const char *what, const char *value, struct hostport *hp, char **cause)
{
	memset(hp, 0, sizeof(*hp));
	if (!*value)
		return reject(cause, what, value, "must not be empty");
	if (strlen(value) > VALIDATE_HOST_MAX + 8)
		return reject(cause, what, value, "is too long");
	if (strstr(value, "://"))
		return reject(cause, what, value, "expected HOST:PORT, not a URL");
	if (split_hostport(what, value, value, strlen(value), 0, &hp->host, &hp->port, cause) < 0)
		return -1;
	hp->address = join_hostport(hp->host, hp->port);
	return 0;
}

void hostport_release(struct hostport *hp)
{
	free(hp->host);
	free(hp->address);
	memset(hp, 0, sizeof(*hp));
}

/*
 * Characters allowed raw in a URL path or query: RFC 3986's, less the
 * sub-delimiters no metrics URL needs and shells love ("!$'()*;").
 */
static int is_url_char(unsigned char c)
{
	return c && (isalnum(c) || strchr("-._~&+,=:@/%?", c));
}

/* Decode %XX escapes; fail on a bad escape or a decoded control character. */
static int percent_decode(const char *s, size_t n, char **out)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex_digit_value((unsigned char)s[i + 1]) : -1;

			if (hi < 0 || hex_digit_value((unsigned char)s[i + 2]) < 0)
				goto bad;
			c = hi * 16 + hex_digit_value((unsigned char)s[i + 2]);
			i += 2;
			if (c < 0x20 || c == 0x7f)
				goto bad;
		}
		strbuf_addch(&sb, c);
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
bad:
	strbuf_release(&sb);
	return -1;
}

static int is_label_name(const char *s, size_t n)
{
	if (!n || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static int parse_query(const char *url, const char *q, struct endpoint *ep, char **cause)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		size_t name_len = eq ? (size_t)(eq - q) : n;
		char *value;

		if (n == 0)
			goto next;
		if (!is_label_name(q, name_len))
			return reject(cause, "endpoint", url,
				      "query parameter names must match [A-Za-z_][A-Za-z0-9_]*");
		if (percent_decode(eq ? eq + 1 : q + n, eq ? n - name_len - 1 : 0, &value) < 0)
			return reject(cause, "endpoint", url, "bad percent-escape in query");
		for (size_t i = 0; i < ep->nparams; i++) {
			if (strlen(ep->params[i].name) == name_len &&
			    !strncmp(ep->params[i].name, q, name_len)) {
				free(value);
				return reject(cause, "endpoint", url,
					      "a query parameter may appear only once");
			}
		}
		ep->params = xrealloc(ep->params, (ep->nparams + 1) * sizeof(*ep->params));
		ep->params[ep->nparams].name = xstrndup(q, name_len);
		ep->params[ep->nparams].value = value;
		ep->nparams++;
next:
		if (!amp)
			break;
		q = amp + 1;
	}
	return 0;
}

int endpoint_parse(const char *value, struct endpoint *ep, char **cause)
{
	const char *rest, *slash, *query;
	size_t len = strlen(value);
	int default_port;

	memset(ep, 0, sizeof(*ep));
	if (!len)
		return reject(cause, "endpoint", value, "must not be empty");
	if (len > 2048)
		return reject(cause, "endpoint", value, "must be at most 2048 characters");
	if (!strncasecmp(value, "http://", 7)) {
		ep->scheme = xstrdup("http");
		rest = value + 7;
		default_port = 80;
	} else if (!strncasecmp(value, "https://", 8)) {
		ep->scheme = xstrdup("https");
		rest = value + 8;
		default_port = 443;
	} else {
		return reject(cause, "endpoint", value, "must be an http:// or https:// URL");
	}
	slash = rest + strcspn(rest, "/?");
	for (const char *p = rest; *p; p++) {
		/* brackets belong to an IPv6 host, and nowhere else */
		int bracket = (*p == '[' || *p == ']') && p < slash;

		if (!bracket && !is_url_char((unsigned char)*p)) {
			endpoint_release(ep);
			return reject(cause, "endpoint", value,
				      "contains a character not allowed in a URL (quote, space, control or non-ASCII)");
		}
	}
	if (memchr(rest, '@', (size_t)(slash - rest))) {
		endpoint_release(ep);
		return reject(cause, "endpoint", value,
			      "must not carry credentials; use --bearer-token-file or a scrape config instead");
	}
	if (slash == rest) {
		endpoint_release(ep);
		return reject(cause, "endpoint", value, "has no host");
	}
	if (split_hostport("endpoint", value, rest, (size_t)(slash - rest), default_port,
			   &ep->host, &ep->port, cause) < 0) {
		endpoint_release(ep);
		return -1;
	}
	ep->address = join_hostport(ep->host, ep->port);
	query = strchr(slash, '?');
	if (*slash == '/') {
		size_t plen = query ? (size_t)(query - slash) : strlen(slash);

		ep->path = xstrndup(slash, plen);
	}
	if (!ep->path || !strcmp(ep->path, "/")) {
		free(ep->path);
		ep->path = xstrdup("/metrics");
	}
	if (strstr(ep->path, "/../") || (strlen(ep->path) >= 3 && !strcmp(ep->path + strlen(ep->path) - 3, "/.."))) {
		endpoint_release(ep);
		return reject(cause, "endpoint", value, "path must not contain '..' segments");
	}
	if (query && parse_query(value, query + 1, ep, cause) < 0) {
		endpoint_release(ep);
		return -1;
	}
	/* the URL as benchmon writes it (explicit port, encoded query) must parse again */
	{
		char *url = endpoint_url(ep);
		size_t url_len = strlen(url);

		free(url);
		if (url_len > 2048) {
			endpoint_release(ep);
			return reject(cause, "endpoint", value,
				      "must be at most 2048 characters (counting the port and the query percent-encoded)");
		}
	}
	return 0;
}

void endpoint_release(struct endpoint *ep)
{
	free(ep->scheme);
	free(ep->host);
	free(ep->address);
	free(ep->path);
	for (size_t i = 0; i < ep->nparams; i++) {
		free(ep->params[i].name);
		free(ep->params[i].value);
	}
	free(ep->params);
	memset(ep, 0, sizeof(*ep));
}

char *endpoint_url(const struct endpoint *ep)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s://%s%s", ep->scheme, ep->address, ep->path);
	for (size_t i = 0; i < ep->nparams; i++) {
		strbuf_addf(&sb, "%c%s=", i ? '&' : '?', ep->params[i].name);
		for (const char *p = ep->params[i].value; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (isalnum(c) || strchr("-._~", c))
				strbuf_addch(&sb, c);
			else
				strbuf_addf(&sb, "%%%02X", c);
		}
	}
	return strbuf_detach(&sb, NULL);
}

int host_is_loopback(const char *host)
{
	return !strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

void endpoint_set_host(struct endpoint *ep, const char *host)
{
	free(ep->host);
	free(ep->address);
	ep->host = xstrdup(host);
	ep->address = join_hostport(ep->host, ep->port);
}
