#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/http.h"

#ifndef BENCHMON_VERSION
#define BENCHMON_VERSION "0.0.0-dev"
#endif

const char benchmon_version[] = BENCHMON_VERSION;

static void print_overview(FILE *out)
{
	fprintf(out, "usage: benchmon <command> [options]\n"
		     "       benchmon help <command> | benchmon <command> -h | benchmon --version\n\n"
		     "Monitor a benchmark on a Slurm cluster: register what to scrape, run Prometheus\n"
		     "as a Slurm job, and compute the benchmark window's KPIs.\n\nCommands:\n");
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(out, "  %-18s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fprintf(out, "\nEnvironment: BENCHMON_HOME (state, default ~/.benchmon), BENCHMON_SESSION\n"
		     "(stands for --session), SLURM_CONF (the Slurm configuration).\n"
		     "Exit status: 0 on success, 1 when a command fails, 2 when the command line is wrong.\n");
}

/* Flush stdout and report a write error (a full disk, a closed pipe) as a failure. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "benchmon: error: cannot write to standard output\n");
		return status ? status : CMD_FAIL;
	}
	return status;
}

/*
 * collect fills its memory with millions of points, and on 4 KiB pages a
 * third of its CPU time went to page faults. glibc backs malloc with
 * transparent huge pages only when GLIBC_TUNABLES says so at start-up, so a
 * command that needs it runs itself again once with the tunable added. A
 * GLIBC_TUNABLES that already sets glibc.malloc.hugetlb (to 0, say, under
 * valgrind) is left alone; if the exec fails, the command runs as it is.
 */
static void reexec_with_huge_pages(char **argv)
{
	const char *tunables = getenv("GLIBC_TUNABLES");
	char *value;
	size_t len;

	if (tunables && strstr(tunables, "glibc.malloc.hugetlb"))
		return;
	len = (tunables ? strlen(tunables) + 1 : 0) + sizeof("glibc.malloc.hugetlb=1");
	value = malloc(len);
	if (!value)
		return;
	snprintf(value, len, "%s%sglibc.malloc.hugetlb=1", tunables ? tunables : "", tunables ? ":" : "");
	/* the new image records the user's umask again */
	umask(user_umask);
	if (setenv("GLIBC_TUNABLES", value, 1) == 0)
		execv("/proc/self/exe", argv);
	/* still here: run without */
	umask(077);
	if (tunables)
		setenv("GLIBC_TUNABLES", tunables, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	free(value);
}

int main(int argc, char **argv)
{
	const struct cmd_entry *entry;
	struct cmd_args args;
	int status;

	/* the state is private to its owner; results follow the user's umask (fsutil.h) */
	user_umask = umask(077);
	if (argc < 2) {
		print_overview(stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("benchmon %s\n", benchmon_version);
		return finish_stdout(CMD_OK);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		print_overview(stdout);
		return finish_stdout(CMD_OK);
	}
	entry = cmd_find(argv[1]);
	if (!entry) {
		fprintf(stderr, "benchmon: error: unknown command '%s'\n", argv[1]);
		print_overview(stderr);
		return CMD_USAGE;
	}
	if (entry->flags & CMD_HUGE_PAGES) {
		reexec_with_huge_pages(argv);
		/*
		 * Blocks of a few MB (a histogram's steps, a series' samples)
		 * come and go by the hundred: from mmap, each is a fresh range
		 * the kernel zeroes (a third of collect's time); from the heap,
		 * kept after free, the next one reuses it.
		 */
		mallopt(M_MMAP_THRESHOLD, 64 << 20);
		mallopt(M_TRIM_THRESHOLD, 256 << 20);
	}
	status = cmd_parse(entry, argc - 2, argv + 2, &args);
	if (status == CMD_HELP_SHOWN) {
		cmd_args_release(&args);
		return finish_stdout(CMD_OK);
	}
	if (status == CMD_OK && (entry->flags & CMD_NEEDS_HTTP) && http_global_init() < 0)
		status = CMD_FAIL;
	if (status == CMD_OK)
		status = entry->exec(&args);
	if (entry->flags & CMD_NEEDS_HTTP)
		http_global_cleanup();
	cmd_args_release(&args);
	return finish_stdout(status);
}

/* 'benchmon help [CMD]' lives here, next to the overview it prints. */
static int cmd_help_exec(struct cmd_args *args)
{
	const struct cmd_entry *entry;

	if (!args->argc) {
		print_overview(stdout);
		return CMD_OK;
	}
	entry = cmd_find(args->argv[0]);
	if (!entry) {
		fprintf(stderr, "benchmon: error: unknown command '%s'\n", args->argv[0]);
		return CMD_USAGE;
	}
	cmd_print_help(entry);
	return CMD_OK;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.summary = "show the commands, or one command's help",
	.usage = "[COMMAND]",
	.description = "Show the list of commands, or the full help of COMMAND.",
	.example = "  benchmon help start",
	.max_args = 1,
	.exec = cmd_help_exec,
};
