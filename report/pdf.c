#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "report/report.h"

char *report_find_browser(void)
{
	static const char *const names[] = { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" };
	const char *env = getenv("BENCHMON_CHROMIUM"), *path = getenv("PATH");

	if (env && *env)
		return access(env, X_OK) ? NULL : xstrdup(env);
	for (size_t i = 0; path && i < sizeof(names) / sizeof(names[0]); i++) {
		const char *p = path;

		while (*p) {
			size_t len = strcspn(p, ":");
			char *candidate = xasprintf("%.*s/%s", (int)len, len ? p : ".", names[i]);

			if (!access(candidate, X_OK))
				return candidate;
			free(candidate);
			p += len + (p[len] == ':');
		}
	}
	return NULL;
}

/* Wait for pid up to timeout_ms, then kill it: its exit status, or -1 when killed or failed. */
static int wait_child(pid_t pid, int timeout_ms, int *timed_out)
{
	int64_t deadline = now_ms() + timeout_ms;
	int status;

	*timed_out = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() > deadline) {
			*timed_out = 1;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(50);
	}
}

int report_print_pdf(const char *browser, const char *html, const char *pdf, int timeout_ms)
{
	char profile[] = "/tmp/benchmon-chromium.XXXXXX";
	char *abs = realpath(html, NULL);
	char *tmp = NULL, *url = NULL, *print_arg = NULL, *profile_arg = NULL;
	int ret = -1, status, timed_out = 0;
	struct strbuf body = STRBUF_INIT;
	struct stat st;
	pid_t pid;

	if (!abs) {
		error("cannot resolve '%s': %s", html, strerror(errno));
		goto out;
	}
	if (!mkdtemp(profile)) {
		error("cannot create a browser profile directory: %s", strerror(errno));
		goto out;
	}
	/* printed inside the throw-away profile, then copied into place atomically */
	tmp = xasprintf("%s/print.pdf", profile);
	url = xasprintf("file://%s", abs);
	print_arg = xasprintf("--print-to-pdf=%s", tmp);
	profile_arg = xasprintf("--user-data-dir=%s", profile);
	pid = fork();
	if (pid < 0) {
		error("cannot fork: %s", strerror(errno));
		goto out_profile;
	}
	if (!pid) {
		int devnull = open("/dev/null", O_RDWR);

		/* Chromium talks a lot on stderr even when it succeeds */
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		/* the page loads nothing, and the browser is kept from fetching anything of its own */
		execl(browser, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		      "--disable-extensions", "--disable-background-networking", "--disable-sync",
		      "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
		      profile_arg, print_arg, url, (char *)NULL);
		_exit(127);
	}
	status = wait_child(pid, timeout_ms, &timed_out);
	if (timed_out) {
		error("'%s' did not print '%s' within %d s", browser, html, timeout_ms / 1000);
		goto out_tmp;
	}
	if (status != 0 || stat(tmp, &st) < 0 || st.st_size == 0) {
		error("'%s' failed to print '%s' (exit status %d)", browser, html, status);
		goto out_tmp;
	}
	if (read_file(tmp, &body, 0, 0) < 0 || write_file_atomic(pdf, body.buf, body.len, results_mode(0666)) < 0)
		goto out_tmp;
	ret = 0;
out_tmp:
	strbuf_release(&body);
out_profile:
	remove_tree(profile);
out:
	free(abs);
	free(tmp);
	free(url);
	free(print_arg);
	free(profile_arg);
	return ret;
}
