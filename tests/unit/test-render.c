/* Unit tests for render/render.h: escaping, templates, prometheus.yml, job.sh and the web config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "render/render.h"

/* Scratch directory of the running test, removed by its teardown. */
static char scratch[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int scratch_setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/bm-test-render-XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	return 0;
}

static int scratch_teardown(void **state)
{
	(void)state;
	unsetenv("BENCHMON_DATADIR");
	return nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_join(const char *a, const char *b)
{
	return xasprintf("%s/%s", a, b);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The whole file, NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, alloc = 0, n;

	if (!f)
		return NULL;
	do {
		if (alloc - len < 4096) {
			alloc = alloc * 2 + 4096;
			buf = realloc(buf, alloc + 1);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, alloc - len, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Run argv, return its stdout (caller frees) and its exit status in *status. */
static char *run_capture(char *const argv[], int *status)
{
	int fds[2];
	pid_t pid;
	char *buf = NULL;
	size_t len = 0, alloc = 0;
	ssize_t n;
	int wstatus;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		if (alloc - len < 4096) {
			alloc = alloc * 2 + 4096;
			buf = realloc(buf, alloc + 1);
			assert_non_null(buf);
		}
		n = read(fds[0], buf + len, alloc - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	buf[len] = '\0';
	return buf;
}

/* The source tree: three levels above this binary (tests/unit/test-render), else the cwd. */
static char *source_root(void)
{
	char exe[4096], *root, *probe;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		root = strdup(dirname(dirname(dirname(exe))));
		probe = path_join(root, "templates/prometheus.yml.in");
		if (access(probe, R_OK) == 0) {
			free(probe);
			return root;
		}
		free(probe);
		free(root);
	}
	root = getcwd(NULL, 0);
	assert_non_null(root);
	return root;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error("expected to find\n%s\nin\n%s\n", needle ? needle : "(null)",
			    haystack ? haystack : "(null)");
		fail();
	}
}

static void test_yaml_quote_plain(void **state)
{
	char *q = yaml_quote("node01:9100");

	(void)state;
	assert_string_equal(q, "\"node01:9100\"");
	free(q);
	q = yaml_quote("");
	assert_string_equal(q, "\"\"");
	free(q);
}

static void test_yaml_quote_escapes_quotes_and_backslash(void **state)
{
	char *q = yaml_quote("a\"b\\c");

	(void)state;
	assert_string_equal(q, "\"a\\\"b\\\\c\"");
	free(q);
}

static void test_yaml_quote_escapes_newline_and_controls(void **state)
{
	char *q = yaml_quote("a\nb\tc\rd\x01\x1f\x7f");

	(void)state;
	assert_string_equal(q, "\"a\\x0ab\\x09c\\x0dd\\x01\\x1f\\x7f\"");
	free(q);
}

static void test_yaml_quote_keeps_utf8(void **state)
{
	char *q = yaml_quote("caf\xc3\xa9 \xe2\x9c\x93");

	(void)state;
	assert_string_equal(q, "\"caf\xc3\xa9 \xe2\x9c\x93\"");
	free(q);
}

static void test_yaml_quote_keeps_single_quote_and_dollar(void **state)
{
	char *q = yaml_quote("it's $HOME #x: y");

	(void)state;
	assert_string_equal(q, "\"it's $HOME #x: y\"");
	free(q);
}

static void test_shell_quote_plain(void **state)
{
	char *q = shell_quote("/home/u/.benchmon");

	(void)state;
	assert_string_equal(q, "'/home/u/.benchmon'");
	free(q);
	q = shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

static void test_shell_quote_single_quotes(void **state)
{
	char *q = shell_quote("it's");

	(void)state;
	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = shell_quote("''");
	assert_string_equal(q, "''\\'''\\'''");
	free(q);
}

static void test_shell_quote_leaves_specials_inside_quotes(void **state)
{
	char *q;

	(void)state;
	q = shell_quote("$(x)");
	assert_string_equal(q, "'$(x)'");
	free(q);
	q = shell_quote("`id`");
	assert_string_equal(q, "'`id`'");
	free(q);
	q = shell_quote("a\nb");
	assert_string_equal(q, "'a\nb'");
	free(q);
}

/* sh -c "printf %s <quoted>" must print s back byte for byte, and run nothing. */
static void test_shell_quote_survives_real_sh(void **state)
{
	char *marker = path_join(scratch, "pwned");
	char *sub = NULL, *tick = NULL;
	const char *inputs[16];
	size_t n = 0;

	(void)state;
	sub = xasprintf("$(touch %s)", marker);
	tick = xasprintf("`touch %s`", marker);
	inputs[n++] = sub;
	inputs[n++] = tick;
	inputs[n++] = "'";
	inputs[n++] = "''";
	inputs[n++] = "a'b'c'";
	inputs[n++] = "it's $HOME and ${PATH} and $1 $@ $$";
	inputs[n++] = "line1\nline2\n";
	inputs[n++] = "back\\slash \\' \\\\";
	inputs[n++] = "\"double\" ; | & > /dev/null < x * ? [a] ~ # !";
	inputs[n++] = "%s %d %n -- -n";
	inputs[n++] = " \t leading and trailing \t ";
	inputs[n++] = "ctl\x01\x1b[31m\x7f";
	inputs[n++] = "caf\xc3\xa9";
	inputs[n++] = "";
	for (size_t i = 0; i < n; i++) {
		char *q = shell_quote(inputs[i]);
		char *cmd = xasprintf("printf %%s %s", q);
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };
		char *out;
		int status;

		out = run_capture(argv, &status);
		assert_int_equal(status, 0);
		if (strcmp(out, inputs[i]))
			fail_msg("sh -c \"printf %%s %s\" printed '%s', expected '%s'", q, out, inputs[i]);
		free(out);
		free(cmd);
		free(q);
	}
	assert_int_equal(access(marker, F_OK), -1);
	free(tick);
	free(sub);
	free(marker);
}

/* Point BENCHMON_DATADIR at the scratch directory and write templates/name there. */
static void put_template(const char *name, const char *text)
{
	char *dir = path_join(scratch, "templates");
	char *path = path_join(dir, name);

	mkdir(dir, 0700);
	write_text(path, text);
	assert_int_equal(setenv("BENCHMON_DATADIR", scratch, 1), 0);
	free(path);
	free(dir);
}

static void test_templates_dir_from_env(void **state)
{
	char *expect = path_join(scratch, "templates");
	char *dir;

	(void)state;
	assert_int_equal(setenv("BENCHMON_DATADIR", scratch, 1), 0);
	dir = render_templates_dir();
	assert_string_equal(dir, expect);
	free(dir);
	free(expect);
}

static void test_template_substitutes_vars(void **state)
{
	const struct render_var vars[] = {
		{ "NAME", "world" },
		{ "AGE", "42" },
		{ "EMPTY", "" },
		{ NULL, NULL },
	};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("greeting.in", "Hello @NAME@, you are @AGE@ (@NAME@)@EMPTY@!\n@AGE@");
	assert_int_equal(render_template("greeting.in", vars, &out), 0);
	assert_string_equal(out.buf, "Hello world, you are 42 (world)!\n42");
	strbuf_release(&out);
}

static void test_template_values_not_expanded_again(void **state)
{
	const struct render_var vars[] = {
		{ "A", "@B@" },
		{ "B", "b" },
		{ NULL, NULL },
	};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("nested.in", "[@A@][@B@]");
	assert_int_equal(render_template("nested.in", vars, &out), 0);
	assert_string_equal(out.buf, "[@B@][b]");
	strbuf_release(&out);
}

static void test_template_unknown_placeholder_fails(void **state)
{
	const struct render_var vars[] = {
		{ "NAME", "world" },
		{ NULL, NULL },
	};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("typo.in", "Hello @NAEM@\n");
	assert_int_equal(render_template("typo.in", vars, &out), -1);
	strbuf_release(&out);
}

static void test_template_unterminated_placeholder_fails(void **state)
{
	const struct render_var vars[] = {
		{ "NAME", "world" },
		{ NULL, NULL },
	};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("open.in", "Hello @NAME\n");
	assert_int_equal(render_template("open.in", vars, &out), -1);
	strbuf_release(&out);
}

static void test_template_without_placeholders(void **state)
{
	const char *text = "plain text\nno placeholders here: $HOME 'x' \"y\"\n";
	const struct render_var vars[] = { { NULL, NULL } };
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("plain.in", text);
	assert_int_equal(render_template("plain.in", vars, &out), 0);
	assert_string_equal(out.buf, text);
	strbuf_release(&out);
	put_template("empty.in", "");
	assert_int_equal(render_template("empty.in", vars, &out), 0);
	assert_int_equal(out.len, 0);
	strbuf_release(&out);
}

static void test_template_missing_file_fails(void **state)
{
	const struct render_var vars[] = { { NULL, NULL } };
	struct strbuf out = STRBUF_INIT;

	(void)state;
	put_template("present.in", "x");
	assert_int_equal(render_template("absent.in", vars, &out), -1);
	strbuf_release(&out);
}

static char param_glob[4096], param_web[4096];

/* Values filled by hand, for files in dir, using the source tree's templates. */
static void fill_params(struct render_params *p, const char *dir, int64_t scrape_interval_ms)
{
	char *root = source_root();

	memset(p, 0, sizeof(*p));
	snprintf(param_glob, sizeof(param_glob), "%s/targets/*.json", dir);
	snprintf(param_web, sizeof(param_web), "%s/web.yml", dir);
	p->session = "render-test";
	p->dir = dir;
	p->targets_glob = param_glob;
	p->listen = "127.0.0.1";
	p->port = 19090;
	p->scrape_interval_ms = scrape_interval_ms;
	p->retention_ms = 3600000;
	p->web_config = param_web;
	assert_int_equal(setenv("BENCHMON_DATADIR", root, 1), 0);
	free(root);
}

static int file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

/* promtool, when installed, must accept the rendered file (what: "config" or "web-config"). */
static void promtool_check_as(const char *what, const char *config)
{
	char *argv[] = { "promtool", "check", (char *)what, (char *)config, NULL };
	char *out;
	int status;

	if (access("/usr/bin/promtool", X_OK) != 0)
		return;
	out = run_capture(argv, &status);
	if (status != 0)
		fail_msg("promtool check %s '%s' failed (%d): %s", what, config, status, out);
	free(out);
}

static void promtool_check(const char *config)
{
	promtool_check_as("config", config);
}

static void test_prometheus_config_contents(void **state)
{
	struct render_params s;
	char *path, *text, *glob_line;

	(void)state;
	fill_params(&s, scratch, 1000);
	assert_int_equal(render_prometheus_config(&s), 0);
	path = path_join(scratch, "prometheus.yml");
	text = slurp(path);
	assert_non_null(text);
	assert_contains(text, "scrape_interval: 1s\n");
	assert_contains(text, "scrape_timeout: 1s\n");
	assert_contains(text, "evaluation_interval: 1s\n");
	glob_line = xasprintf("- \"%s/targets/*.json\"\n", scratch);
	assert_contains(text, glob_line);
	assert_contains(text, "refresh_interval: 5s\n");
	assert_contains(text, "render-test");
	assert_null(strchr(text, '@'));
	assert_int_equal(file_mode(path), 0600);
	promtool_check(path);
	free(glob_line);
	free(text);
	free(path);
}

static void test_prometheus_config_timeout_capped_at_10s(void **state)
{
	struct render_params s;
	char *path, *text;

	(void)state;
	fill_params(&s, scratch, 30000);
	assert_int_equal(render_prometheus_config(&s), 0);
	path = path_join(scratch, "prometheus.yml");
	text = slurp(path);
	assert_non_null(text);
	assert_contains(text, "scrape_interval: 30s\n");
	assert_contains(text, "scrape_timeout: 10s\n");
	promtool_check(path);
	free(text);
	free(path);
}

static void test_prometheus_config_missing_template_fails(void **state)
{
	struct render_params s;
	char *path;

	(void)state;
	fill_params(&s, scratch, 1000);
	assert_int_equal(setenv("BENCHMON_DATADIR", scratch, 1), 0);
	assert_int_equal(render_prometheus_config(&s), -1);
	path = path_join(scratch, "prometheus.yml");
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

static void test_job_script_contents(void **state)
{
	struct render_params s;
	char *path, *text, *dir_q, *line;
	char *argv[] = { "bash", "-n", NULL, NULL };
	int status;

	(void)state;
	fill_params(&s, scratch, 1000);
	assert_int_equal(render_job_script(&s), 0);
	path = path_join(scratch, "job.sh");
	text = slurp(path);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "#!/bin/bash\n", 12), 0);
	dir_q = shell_quote(scratch);
	line = xasprintf("\nsession_dir=%s\n", dir_q);
	assert_contains(text, line);
	assert_contains(text, "\nlisten='127.0.0.1'\n");
	assert_contains(text, "\nport=19090\n");
	assert_contains(text, "\nretention=1h\n");
	free(line);
	line = xasprintf("--web.config.file='%s/web.yml' ", scratch);
	assert_contains(text, line);
	assert_contains(text, "--web.enable-lifecycle");
	assert_null(strstr(text, "admin-api"));
	assert_null(strchr(text, '@'));
	assert_int_equal(file_mode(path), 0700);
	argv[2] = path;
	free(run_capture(argv, &status));
	assert_int_equal(status, 0);
	free(line);
	free(dir_q);
	free(text);
	free(path);
}

/* A session directory with a quote, a dollar and a command substitution in its name. */
static void test_job_script_hostile_dir(void **state)
{
	const char *name = "it's $HOME $(touch pwned) \"x\" dir";
	char *dir = path_join(scratch, name);
	char *path, *text, *dir_q, *yml, *glob_q, *glob, *out, *cwd, *marker;
	char *syntax[] = { "bash", "-n", NULL, NULL };
	char *eval[] = { "bash", "-c", "eval \"$(grep '^session_dir=' \"$1\")\" && printf %s \"$session_dir\"",
			 "bash", NULL, NULL };
	struct render_params s;
	int status;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	fill_params(&s, dir, 1000);
	assert_int_equal(render_job_script(&s), 0);
	assert_int_equal(render_prometheus_config(&s), 0);

	path = path_join(dir, "job.sh");
	text = slurp(path);
	assert_non_null(text);
	dir_q = shell_quote(dir);
	assert_contains(text, dir_q);
	syntax[2] = path;
	free(run_capture(syntax, &status));
	assert_int_equal(status, 0);
	eval[4] = path;
	/* run in the scratch directory, so a failed quote would leave scratch/pwned behind */
	cwd = getcwd(NULL, 0);
	assert_non_null(cwd);
	assert_int_equal(chdir(scratch), 0);
	out = run_capture(eval, &status);
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	assert_int_equal(status, 0);
	assert_string_equal(out, dir);
	marker = path_join(scratch, "pwned");
	assert_int_equal(access(marker, F_OK), -1);
	free(marker);

	yml = path_join(dir, "prometheus.yml");
	free(text);
	text = slurp(yml);
	assert_non_null(text);
	glob = xasprintf("%s/targets/*.json", dir);
	glob_q = yaml_quote(glob);
	assert_contains(text, glob_q);
	promtool_check(yml);

	free(glob_q);
	free(glob);
	free(yml);
	free(out);
	free(dir_q);
	free(text);
	free(path);
	free(dir);
}

/* Services with a bearer token get a job per token file, which Prometheus reads by path. */
static void test_prometheus_config_auth_jobs(void **state)
{
	const struct render_auth_job jobs[] = {
		{ "0123abcd", "/s/auth/0123abcd/*.json", "/home/u/tok\"en" },
		{ "4567ef01", "/s/auth/4567ef01/*.json", "/home/u/other" },
	};
	struct render_params s;
	char *path, *text;

	(void)state;
	fill_params(&s, scratch, 1000);
	s.auth_jobs = jobs;
	s.nauth_jobs = 2;
	assert_int_equal(render_prometheus_config(&s), 0);
	path = path_join(scratch, "prometheus.yml");
	text = slurp(path);
	assert_non_null(text);
	assert_contains(text, "job_name: benchmon-auth-0123abcd\n");
	assert_contains(text, "credentials_file: \"/home/u/tok\\\"en\"\n");
	assert_contains(text, "- \"/s/auth/0123abcd/*.json\"\n");
	assert_contains(text, "job_name: benchmon-auth-4567ef01\n");
	assert_contains(text, "credentials_file: \"/home/u/other\"\n");
	free(text);
	free(path);
}

/* The web config holds the user and the hash, nothing else, private, and promtool accepts it. */
static void test_web_config(void **state)
{
	const char *hash = "$2b$10$qJJZHwDSdhpVkq4Hn5Pbu.5FDclOMfkdNWtA.9vucjDuSb.lvivVe";
	struct render_params s;
	char *path, *text, *line;

	(void)state;
	fill_params(&s, scratch, 1000);
	path = path_join(scratch, "web.yml");
	assert_int_equal(render_web_config(path, "benchmon", hash), 0);
	text = slurp(path);
	assert_non_null(text);
	line = xasprintf("\nbasic_auth_users:\n  \"benchmon\": \"%s\"\n", hash);
	assert_contains(text, line);
	assert_null(strchr(text, '@'));
	assert_int_equal(file_mode(path), 0600);
	promtool_check_as("web-config", path);
	free(line);
	free(text);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_quote_plain),
		cmocka_unit_test(test_yaml_quote_escapes_quotes_and_backslash),
		cmocka_unit_test(test_yaml_quote_escapes_newline_and_controls),
		cmocka_unit_test(test_yaml_quote_keeps_utf8),
		cmocka_unit_test(test_yaml_quote_keeps_single_quote_and_dollar),
		cmocka_unit_test(test_shell_quote_plain),
		cmocka_unit_test(test_shell_quote_single_quotes),
		cmocka_unit_test(test_shell_quote_leaves_specials_inside_quotes),
		cmocka_unit_test_setup_teardown(test_shell_quote_survives_real_sh, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_templates_dir_from_env, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_substitutes_vars, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_values_not_expanded_again, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_unknown_placeholder_fails, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_unterminated_placeholder_fails, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_without_placeholders, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_template_missing_file_fails, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_prometheus_config_contents, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_prometheus_config_timeout_capped_at_10s, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_prometheus_config_missing_template_fails, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_job_script_contents, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_job_script_hostile_dir, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_prometheus_config_auth_jobs, scratch_setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_web_config, scratch_setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
