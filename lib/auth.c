#include "lib/auth.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define PASSWORD_BYTES 32
/*
 * bcrypt's cost only slows the guessing of weak passwords; ours carry 256
 * random bits. Go's default (10) keeps Prometheus's check of a new
 * request's credentials near 50 ms; it caches the outcome afterwards.
 */
#define BCRYPT_COST 10

/* Fill buf from getrandom, which blocks only until the kernel's pool is first seeded. */
static int random_bytes(unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error("cannot get random bytes: %s", strerror(errno));
		got += (size_t)n;
	}
	return 0;
}

int auth_password_new(char **password)
{
	unsigned char raw[PASSWORD_BYTES];
	struct strbuf sb = STRBUF_INIT;

	*password = NULL;
	if (random_bytes(raw, sizeof(raw)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		strbuf_addf(&sb, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	*password = strbuf_detach(&sb, NULL);
	return 0;
}

int auth_password_create(const char *dir)
{
	char *path = xasprintf("%s/%s", dir, AUTH_PASSWORD_FILE);
	char *password = NULL;
	int ret = -1;

	if (auth_password_new(&password) < 0)
		goto out;
	ret = write_file_atomic(path, password, strlen(password), 0600);
out:
	if (password)
		explicit_bzero(password, strlen(password));
	free(password);
	free(path);
	return ret;
}

int auth_load(const char *dir, struct http_auth *auth)
{
	char *path = xasprintf("%s/%s", dir, AUTH_PASSWORD_FILE);
	struct strbuf sb = STRBUF_INIT;
	int ret;

	memset(auth, 0, sizeof(*auth));
	ret = read_file(path, &sb, 4096, 1);
	if (ret != 0)
		goto out;
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
		sb.buf[--sb.len] = '\0';
	if (!sb.len || strlen(sb.buf) != sb.len) {
		ret = error("'%s' holds no password (corrupted?); 'benchmon start' writes a new one when it is missing",
			    path);
		goto out;
	}
	auth->user = xstrdup(AUTH_USER);
	auth->password = strbuf_detach(&sb, NULL);
out:
	explicit_bzero(sb.buf, sb.len);
	strbuf_release(&sb);
	free(path);
	return ret;
}

int auth_bcrypt(const char *password, char **hash)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *out;
	int ret = -1;

	*hash = NULL;
	/* a NULL random source makes libxcrypt draw the salt from the kernel itself */
	if (!crypt_gensalt_rn("$2b$", BCRYPT_COST, NULL, 0, setting, sizeof(setting))) {
		error("cannot make a bcrypt salt: %s", strerror(errno));
		goto out;
	}
	out = crypt_r(password, setting, data);
	/* libxcrypt fails with NULL or with a string starting with '*' */
	if (!out || out[0] != '$') {
		error("cannot compute a bcrypt hash: %s", strerror(errno));
		goto out;
	}
	*hash = xstrdup(out);
	ret = 0;
out:
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}
