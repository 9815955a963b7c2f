/* Unit tests for lib/fsutil.h's mkdir_p: parents, existing directories, an empty path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/fsutil.h"
#include "lib/xmalloc.h"

static int setup_dir(void **state)
{
	char tmpl[] = "/tmp/test-fsutil.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	*state = xstrdup(tmpl);
	return 0;
}

static int teardown_dir(void **state)
{
	remove_tree(*state);
	free(*state);
	return 0;
}

static void test_mkdir_p_parents(void **state)
{
	char *path = xasprintf("%s/a/b//c/", (char *)*state), *leaf = xasprintf("%s/a/b/c", (char *)*state);
	struct stat st;

	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(stat(leaf, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* again: everything exists already */
	assert_int_equal(mkdir_p(path, 0700), 0);
	free(path);
	free(leaf);
}

static void test_mkdir_p_empty(void **state)
{
	(void)state;
	assert_int_equal(mkdir_p("", 0700), -1);
}

static void test_mkdir_p_over_file(void **state)
{
	char *file = xasprintf("%s/f", (char *)*state), *below = xasprintf("%s/f/g", (char *)*state);

	assert_int_equal(write_file_atomic(file, "x", 1, 0600), 0);
	assert_int_equal(mkdir_p(below, 0700), -1);
	free(file);
	free(below);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkdir_p_parents, setup_dir, teardown_dir),
		cmocka_unit_test(test_mkdir_p_empty),
		cmocka_unit_test_setup_teardown(test_mkdir_p_over_file, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
