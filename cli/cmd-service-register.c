#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "lib/csvfile.h"
#include "lib/error.h"
#include "lib/http.h"
#include "lib/xmalloc.h"
#include "lifecycle/lifecycle.h"
#include "session/registry.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "client-id", "C", "the client the service belongs to (connect it first)" },
	{ "name", "NAME", "the service's name, unique for its client" },
	{ "endpoint", "URL", "the service's metrics URL, e.g. http://nodeA:8000/metrics" },
	{ "bearer-token-file", "PATH", "scrape with the bearer token in this file (absolute path, readable where Prometheus runs); the token is never copied" },
	{ "from-file", "FILE.csv", "register many services: CSV with columns client_id,name,endpoint (a header row is optional); all or nothing" },
	{ "json", NULL, "print the services registered as one JSON object" },
	{ NULL, NULL, NULL },
};

static int is_header(char **row, size_t n)
{
	return n == 3 && !strcmp(row[0], "client_id") && !strcmp(row[1], "name") && !strcmp(row[2], "endpoint");
}

/* Turn the CSV rows into services; rows point into csv. */
static int services_from_csv(const char *path, struct csv_rows *csv, struct service **svcs, size_t *n)
{
	size_t first = csv->n && is_header(csv->rows[0], csv->nfields[0]);

	*n = 0;
	*svcs = xcalloc(csv->n + 1, sizeof(**svcs));
	for (size_t i = first; i < csv->n; i++) {
		if (csv->nfields[i] != 3)
			return error("%s:%zu: expected 3 fields (client_id,name,endpoint), found %zu", path,
				     csv->line[i], csv->nfields[i]);
		(*svcs)[*n].client_id = csv->rows[i][0];
		(*svcs)[*n].name = csv->rows[i][1];
		(*svcs)[*n].endpoint = csv->rows[i][2];
		(*n)++;
	}
	if (!*n)
		return error("%s: no services in the file", path);
	return 0;
}

static int exec_service_register(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *id = args_session(args);
	const char *file = args_get(args, "from-file"), *field;
	struct service one = { 0 }, *svcs = &one;
	struct csv_rows csv = { 0 };
	struct session s = { 0 };
	size_t n = 1, bad = 0, rewritten = 0;
	int new_auth = 0;
	char *cause = NULL;
	int ret = CMD_FAIL;

	if (!id)
		return CMD_USAGE;
	if (file && (args_get(args, "client-id") || args_get(args, "name") || args_get(args, "endpoint") ||
		     args_get(args, "bearer-token-file")))
		return cmd_usage_error(e, "--from-file cannot be combined with --client-id, --name, --endpoint or "
				       "--bearer-token-file");
	if (!file) {
		one.client_id = (char *)args_get(args, "client-id");
		one.name = (char *)args_get(args, "name");
		one.endpoint = (char *)args_get(args, "endpoint");
		if (!one.client_id)
			return cmd_usage_error(e, "missing --client-id");
		if (!one.name)
			return cmd_usage_error(e, "missing --name");
		if (!one.endpoint)
			return cmd_usage_error(e, "missing --endpoint");
		one.token_file = (char *)args_get(args, "bearer-token-file");
		if (registry_check_service(&one, &cause, &field) < 0 ||
		    (one.token_file && registry_check_token_file(one.token_file, &cause) < 0)) {
			ret = cmd_usage_error(e, "%s", cause);
			free(cause);
			return ret;
		}
	}
	if (session_load(id, &s) < 0)
		goto out;
	if (file) {
		svcs = NULL;
		if (csv_read_file(file, &csv) < 0 || services_from_csv(file, &csv, &svcs, &n) < 0)
			goto out;
	}
	new_auth = one.token_file && !registry_has_auth(&s, one.token_file);
	if (registry_put_services(&s, svcs, n, &rewritten, &bad, &cause) < 0) {
		if (file && bad < n)
			error("%s:%zu: %s; no service was registered", file, csv.line[bad + (csv.n > n)], cause);
		else
			error("%s; nothing was registered", cause);
		goto out;
	}
	if (one.token_file && new_auth) {
		int rc;

		/*
		 * A new token file needs a scrape job of its own: reload a running
		 * Prometheus. libcurl is loaded only here, so that plain
		 * registrations stay fast (the command is not CMD_NEEDS_HTTP).
		 */
		rc = http_global_init() < 0 ? -1 : lifecycle_reload_if_running(&s);
		if (rc < 0)
			warning("registered, but Prometheus was not reloaded; run 'benchmon reload --session %s'", s.id);
		else if (rc > 0)
			progress("Prometheus reloaded with a scrape job for %s", one.token_file);
		http_global_cleanup();
	}
	if (rewritten)
		progress("note: %zu endpoint%s on 127.0.0.1/localhost registered under %s client's node name, "
			 "which Prometheus can reach from the node Slurm gives it", rewritten, rewritten == 1 ? "" : "s",
			 rewritten == 1 ? "its" : "their");
	if (args_flag(args, "json"))
		print_json_object(registry_services_json(&s, svcs, n, rewritten));
	else if (file)
		printf("%zu services registered in session '%s'\n", n, s.id);
	else
		printf("service '%s' of client '%s' registered in session '%s'\n", one.name, one.client_id, s.id);
	ret = CMD_OK;
out:
	free(cause);
	if (svcs != &one)
		free(svcs);
	csv_rows_release(&csv);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_service_register_entry = {
	.name = "service-register",
	.summary = "register a service's /metrics endpoint",
	.usage = "--session ID --client-id C --name NAME --endpoint URL [--bearer-token-file PATH] [--json] | --session ID --from-file FILE.csv [--json]",
	.description = "Register a service under test by its metrics URL. Scheme, host:port, path and\n"
		       "query parameters are kept as Prometheus needs them. Registering the same client\n"
		       "and name again replaces the endpoint. --from-file registers many services in one\n"
		       "atomic step: either all rows are registered or, on any bad row, none.",
	.opts = opts,
	.example = "  benchmon service-register --session bench01 --client-id c1 --name triton \\\n"
		   "      --endpoint http://nodeA:8000/metrics",
	.exec = exec_service_register,
};
