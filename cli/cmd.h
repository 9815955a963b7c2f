#ifndef BENCHMON_CMD_H
#define BENCHMON_CMD_H

#include <stddef.h>

/*
 * The subcommand table. Each cli/cmd-<name>.c exports one const struct
 * cmd_entry; cmd.c lists them in cmd_table[]. Adding a command is one new
 * file and one new line there.
 *
 * Only cli/ decides the exit status. Handlers return one of:
 */
#define CMD_OK 0      /* success */
#define CMD_FAIL 1    /* the command failed (Slurm, Prometheus, files, state) */
#define CMD_USAGE 2   /* the command line is wrong: unknown flag, missing or invalid value */
#define CMD_HELP_SHOWN -1 /* cmd_parse printed the help: exit 0 without running */

#define CMD_NEEDS_HTTP 0x1  /* load libcurl before running (others never pay for it) */
#define CMD_HUGE_PAGES 0x2  /* holds millions of points: run with malloc on transparent huge pages */

struct cmd_opt {
	const char *name;      /* long option without "--"; NULL ends the list */
	const char *arg;       /* argument placeholder for help, or NULL for a flag; ending in "..." it may
				  be given more than once (args_list), otherwise the last one given counts */
	const char *help;
};

struct cmd_args;

struct cmd_entry {
	const char *name;
	const char *alias;     /* another exact name, or NULL */
	const char *summary;   /* one line for 'benchmon help' */
	const char *usage;     /* the synopsis after "benchmon <name> " */
	const char *description;
	const struct cmd_opt *opts;
	const char *example;
	int max_args;          /* positional arguments allowed; -1 for any number */
	int flags;
	int (*exec)(struct cmd_args *args);
};

struct cmd_args {
	const struct cmd_entry *entry;
	const char **values;   /* per opts[] index: the value, "" for a flag given, NULL if absent */
	const char ***lists;   /* per opts[] index of a repeatable option: every value, in order, NULL-terminated */
	int argc;              /* positional arguments */
	char **argv;
};

extern const struct cmd_entry *const cmd_table[];

/* The entry called name (or with that alias), or NULL. Exact match only. */
const struct cmd_entry *cmd_find(const char *name);

/*
 * Parse argv (after the command name) into args: CMD_OK, CMD_USAGE after a
 * message, or CMD_HELP_SHOWN. Always release args afterwards.
 */
int cmd_parse(const struct cmd_entry *entry, int argc, char **argv, struct cmd_args *args);
void cmd_args_release(struct cmd_args *args);

/* Print the full help of a command to stdout. */
void cmd_print_help(const struct cmd_entry *entry);

/* Print "usage: benchmon <name> <usage>" to stderr and return CMD_USAGE. */
int cmd_usage_error(const struct cmd_entry *entry, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The value of --name, or NULL. */
const char *args_get(const struct cmd_args *args, const char *name);
/* Every value of the repeatable option --name, NULL-terminated (never NULL); their count in *n. */
const char *const *args_list(const struct cmd_args *args, const char *name, size_t *n);
/* Was the flag --name given? */
int args_flag(const struct cmd_args *args, const char *name);

/*
 * The session id from --session or BENCHMON_SESSION, validated. Returns NULL
 * after printing a usage error; the caller returns CMD_USAGE.
 */
const char *args_session(const struct cmd_args *args);

/*
 * The run id to use when none is given: inside a Slurm job
 * $SLURM_JOB_ID (with .$SLURM_STEP_ID in a step), else fallback. Caller frees.
 */
char *default_run_id(const char *fallback);

/* This node's short host name. Caller frees. */
char *this_node(void);

struct session;
/*
 * Print the session's settings and run state as one JSON object (for --json).
 * Every command's JSON names an error "error" (null when none); "last_error"
 * and status's "problem" are kept beside it for scripts that read them.
 */
int print_session_json(const struct session *s);

struct cJSON;
/* Print root, pretty, as the one JSON object of a command's --json, and free it. */
void print_json_object(struct cJSON *root);

struct collect_result;
/* Print a collect's KPIs and findings as a table, or as JSON. */
void collect_print(const struct collect_result *res, const char *out_dir, int json);

extern const char benchmon_version[];

extern const struct cmd_entry cmd_session_create_entry;
extern const struct cmd_entry cmd_client_connect_entry;
extern const struct cmd_entry cmd_service_register_entry;
extern const struct cmd_entry cmd_start_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_collect_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_stop_entry;
extern const struct cmd_entry cmd_delete_entry;
extern const struct cmd_entry cmd_sessions_entry;
extern const struct cmd_entry cmd_reload_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_runs_entry;
extern const struct cmd_entry cmd_compare_entry;
extern const struct cmd_entry cmd_gate_entry;
extern const struct cmd_entry cmd_exporters_entry;
extern const struct cmd_entry cmd_serve_entry;
extern const struct cmd_entry cmd_help_entry;

#endif
