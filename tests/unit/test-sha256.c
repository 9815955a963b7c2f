/* Unit tests for lib/sha256.h: the NIST example vectors, split updates, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sha256.h"

static void to_hex(const unsigned char md[32], char hex[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void assert_digest(const void *data, size_t len, const char *expect)
{
	struct sha256_ctx ctx;
	unsigned char md[32];
	char hex[65];

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, md);
	to_hex(md, hex);
	assert_string_equal(hex, expect);
}

static void test_empty(void **state)
{
	(void)state;
	assert_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state)
{
	(void)state;
	assert_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* 448 bits: the padding needs a second block */
static void test_448_bits(void **state)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	assert_digest(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_896_bits(void **state)
{
	const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
			"lmnopqrsmnopqrstnopqrstu";

	(void)state;
	assert_digest(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces */
static void test_million_a(void **state)
{
	struct sha256_ctx ctx;
	unsigned char md[32];
	char hex[65], a[997];
	size_t left = 1000000;

	(void)state;
	memset(a, 'a', sizeof(a));
	sha256_init(&ctx);
	while (left) {
		size_t n = left < sizeof(a) ? left : sizeof(a);

		sha256_update(&ctx, a, n);
		left -= n;
	}
	sha256_final(&ctx, md);
	to_hex(md, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every split of messages around the block and padding boundaries gives the one-shot digest. */
static void test_splits(void **state)
{
	unsigned char msg[130], whole[32], parts[32];

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 1);
	for (size_t len = 0; len <= sizeof(msg); len++) {
		struct sha256_ctx ctx;

		sha256_init(&ctx);
		sha256_update(&ctx, msg, len);
		sha256_final(&ctx, whole);
		for (size_t cut = 0; cut <= len; cut++) {
			sha256_init(&ctx);
			sha256_update(&ctx, msg, cut);
			sha256_update(&ctx, NULL, 0);
			sha256_update(&ctx, msg + cut, len - cut);
			sha256_final(&ctx, parts);
			if (memcmp(whole, parts, 32))
				fail_msg("length %zu split at %zu differs", len, cut);
		}
	}
}

/* sha256_file_hex agrees with sha256sum, for a file larger than one read. */
static void test_file_matches_sha256sum(void **state)
{
	char path[] = "/tmp/test-sha256.XXXXXX", hex[65], cmd[128], want[65] = "";
	unsigned long long size = 0;
	FILE *f, *p;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "line %d of a file bigger than the 64 KiB read buffer\n", i);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(sha256_file_hex(path, hex, &size), 0);
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", want), 1);
	assert_int_equal(pclose(p), 0);
	assert_string_equal(hex, want);
	{
		FILE *g = fopen(path, "r");

		assert_non_null(g);
		assert_int_equal(fseek(g, 0, SEEK_END), 0);
		assert_int_equal(size, (unsigned long long)ftell(g));
		fclose(g);
	}
	unlink(path);
}

static void test_file_empty(void **state)
{
	char path[] = "/tmp/test-sha256.XXXXXX", hex[65];
	unsigned long long size = 42;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sha256_file_hex(path, hex, &size), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(size, 0);
	assert_int_equal(sha256_file_hex(path, hex, NULL), 0);
	unlink(path);
}

/* Missing files and directories fail, leaving the outputs alone. */
static void test_file_errors(void **state)
{
	char hex[65] = "untouched";
	unsigned long long size = 42;

	(void)state;
	assert_int_equal(sha256_file_hex("/nonexistent/benchmon-sha256", hex, &size), -1);
	assert_int_equal(sha256_file_hex("/tmp", hex, &size), -1);
	assert_string_equal(hex, "untouched");
	assert_int_equal(size, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_abc),
		cmocka_unit_test(test_448_bits),
		cmocka_unit_test(test_896_bits),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_file_matches_sha256sum),
		cmocka_unit_test(test_file_empty),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
