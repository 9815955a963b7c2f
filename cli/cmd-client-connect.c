#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/jsonfile.h"
#include "lib/error.h"
#include "lib/xmalloc.h"
#include "session/registry.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "client-id", "C", "the client's id, unique in the session" },
	{ "node", "NODE", "the node the client runs on; 'auto' for this node" },
	{ "node-exporter", "HOST:PORT", "scrape this node_exporter as the client's node metrics" },
	{ "dcgm-exporter", "HOST:PORT", "scrape this dcgm-exporter as the client's GPU metrics" },
	{ "enable-node", NULL, "accepted for compatibility; --node-exporter enables it" },
	{ "enable-dcgm", NULL, "accepted for compatibility; --dcgm-exporter enables it" },
	{ "json", NULL, "print the client as registered, as one JSON object" },
	{ NULL, NULL, NULL },
};

/*
 * An exporter on 127.0.0.1 answers only on its own node; Prometheus may run
 * on another, so register it under the node's name, and say so.
 */
static void rewrite_loopback(struct hostport *hp, const char *node, char **address)
{
	char *was;

	if (!hp->address || !host_is_loopback(hp->host))
		return;
	was = hp->address;
	hp->address = xasprintf("%s:%d", node, hp->port);
	progress("note: %s registered as %s, which Prometheus can reach from the node Slurm gives it", was,
		 hp->address);
	free(was);
	*address = hp->address;
}

static int exec_client_connect(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *id = args_session(args), *v;
	struct client c = { 0 };
	struct hostport node_exp = { 0 }, dcgm_exp = { 0 };
	struct session s = { 0 };
	char *cause = NULL, *node_auto = NULL;
	int ret = CMD_USAGE;

	if (!id)
		return CMD_USAGE;
	c.client_id = (char *)args_get(args, "client-id");
	c.node = (char *)args_get(args, "node");
	if (c.node && !strcmp(c.node, "auto"))
		c.node = node_auto = this_node();
	if (!c.client_id)
		return cmd_usage_error(e, "missing --client-id");
	if (!c.node)
		return cmd_usage_error(e, "missing --node");
	if (validate_id("client id", c.client_id, &cause) < 0 || validate_host("node", c.node, &cause) < 0)
		goto usage;
	if ((v = args_get(args, "node-exporter"))) {
		if (hostport_parse("--node-exporter", v, &node_exp, &cause) < 0)
			goto usage;
		c.node_exporter = node_exp.address;
	}
	if ((v = args_get(args, "dcgm-exporter"))) {
		if (hostport_parse("--dcgm-exporter", v, &dcgm_exp, &cause) < 0)
			goto usage;
		c.dcgm_exporter = dcgm_exp.address;
	}
	ret = CMD_FAIL;
	if (session_load(id, &s) < 0)
		goto out;
	if (session_prometheus_is_remote(&s) && !host_is_loopback(c.node)) {
		rewrite_loopback(&node_exp, c.node, &c.node_exporter);
		rewrite_loopback(&dcgm_exp, c.node, &c.dcgm_exporter);
	}
	if (registry_put_client(&s, &c) < 0)
		goto out;
	ret = CMD_OK;
	if (args_flag(args, "json")) {
		cJSON *root = cJSON_CreateObject();

		cJSON_AddStringToObject(root, "session", s.id);
		cJSON_AddStringToObject(root, "client_id", c.client_id);
		cJSON_AddStringToObject(root, "node", c.node);
		json_add_string_or_null(root, "node_exporter", c.node_exporter);
		json_add_string_or_null(root, "dcgm_exporter", c.dcgm_exporter);
		cJSON_AddNullToObject(root, "error");
		print_json_object(root);
		goto out;
	}
	printf("client '%s' on node %s connected to session '%s'", c.client_id, c.node, s.id);
	if (c.node_exporter)
		printf(", node exporter %s", c.node_exporter);
	if (c.dcgm_exporter)
		printf(", DCGM exporter %s", c.dcgm_exporter);
	printf("\n");
	goto out;
usage:
	ret = cmd_usage_error(e, "%s", cause);
out:
	free(cause);
	free(node_auto);
	hostport_release(&node_exp);
	hostport_release(&dcgm_exp);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_client_connect_entry = {
	.name = "client-connect",
	.summary = "register a client node and its node/DCGM exporters",
	.usage = "--session ID --client-id C --node NODE [--node-exporter HOST:PORT] [--dcgm-exporter HOST:PORT] [--json]",
	.description = "Register a client of the benchmark (a node that runs load or services) and the\n"
		       "exporters that describe it. Connecting the same client id again replaces it.\n"
		       "Safe to run from many nodes at once; a registration made while Prometheus runs\n"
		       "is scraped within seconds, without a restart.",
	.opts = opts,
	.example = "  benchmon client-connect --session bench01 --client-id c1 --node nodeA \\\n"
		   "      --node-exporter nodeA:9100 --dcgm-exporter nodeA:9400",
	.exec = exec_client_connect,
};
