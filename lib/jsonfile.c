#include "lib/jsonfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

int json_read_file(const char *path, size_t max, int missing_ok, cJSON **out, const char *hint)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = read_file(path, &sb, max, missing_ok);

	*out = NULL;
	if (ret != 0)
		goto out;
	*out = cJSON_ParseWithLength(sb.buf, sb.len);
	if (!*out) {
		ret = error("'%s' is not valid JSON (corrupted?)%s%s", path, hint ? "; " : "", hint ? hint : "");
		goto out;
	}
out:
	strbuf_release(&sb);
	return ret;
}

int json_write_file(const char *path, const cJSON *root, int pretty)
{
	return json_write_file_mode(path, root, pretty, 0600);
}

int json_write_file_mode(const char *path, const cJSON *root, int pretty, mode_t mode)
{
	char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	struct strbuf sb = STRBUF_INIT;
	int ret;

	if (!text)
		return error("cannot format JSON for '%s'", path);
	strbuf_addstr(&sb, text);
	strbuf_addch(&sb, '\n');
	ret = write_file_atomic(path, sb.buf, sb.len, mode);
	strbuf_release(&sb);
	cJSON_free(text);
	return ret;
}

const char *json_string(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

char *json_strdup(const cJSON *obj, const char *key)
{
	const char *s = json_string(obj, key);

	return s ? xstrdup(s) : NULL;
}

int64_t json_int(const cJSON *obj, const char *key, int64_t def)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	/* a hand-edited or corrupted file can hold any number: out of range (or NaN) is as good as absent */
	if (!cJSON_IsNumber(item) || !(item->valuedouble > -9.2e18 && item->valuedouble < 9.2e18))
		return def;
	return (int64_t)item->valuedouble;
}

void json_add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

void json_add_number_or_null(cJSON *obj, const char *key, int has, double v)
{
	if (!has)
		cJSON_AddNullToObject(obj, key);
	else if (isinf(v))
		cJSON_AddStringToObject(obj, key, v > 0 ? "+Inf" : "-Inf");
	else
		cJSON_AddNumberToObject(obj, key, v);
}

void json_add_time(cJSON *obj, const char *key, int64_t ms)
{
	char *text = format_time_ms(ms);

	cJSON_AddStringToObject(obj, key, text);
	free(text);
}
