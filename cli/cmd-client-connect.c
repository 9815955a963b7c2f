#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int exec_client_connect(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *id = args_session(args), *field;
	struct client c = { 0 };
	struct hostport owned[2] = { { 0 }, { 0 } };
	struct session s = { 0 };
	char *cause = NULL, *node_auto = NULL, *was[2] = { NULL, NULL };
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
	c.node_exporter = (char *)args_get(args, "node-exporter");
	c.dcgm_exporter = (char *)args_get(args, "dcgm-exporter");
	if (registry_check_client(&c, owned, &cause, &field) < 0)
		goto usage;
	ret = CMD_FAIL;
	if (session_load(id, &s) < 0)
		goto out;
	was[0] = c.node_exporter ? xstrdup(c.node_exporter) : NULL;
	was[1] = c.dcgm_exporter ? xstrdup(c.dcgm_exporter) : NULL;
	if (registry_client_off_loopback(&s, &c, owned)) {
		const char *now[2] = { c.node_exporter, c.dcgm_exporter };

		for (int i = 0; i < 2; i++)
			if (was[i] && strcmp(was[i], now[i]))
				progress("note: %s registered as %s, which Prometheus can reach from the node Slurm "
					 "gives it", was[i], now[i]);
	}
	if (registry_put_client(&s, &c) < 0)
		goto out;
	ret = CMD_OK;
	if (args_flag(args, "json")) {
		print_json_object(registry_client_json(&s, &c));
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
	free(was[0]);
	free(was[1]);
	hostport_release(&owned[0]);
	hostport_release(&owned[1]);
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
