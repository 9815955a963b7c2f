#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/xmalloc.h"
#include "report/report.h"

#define PDF_TIMEOUT_MS 120000

static const struct cmd_opt opts[] = {
	{ "output", "FILE", "the HTML file to write (also -o FILE); replaced atomically" },
	{ "title", "TEXT", "the page's title (default: \"benchmon report\" and the runs' names)" },
	{ "pdf", "FILE", "also print the page to FILE through headless Chromium (chromium must be installed)" },
	{ "json", NULL, "print what was written as one JSON object" },
	{ NULL, NULL, NULL },
};

/*
 * -o FILE, the short form of --output: cmd_parse leaves words with a single
 * dash to the positional arguments, so it is taken out of them here.
 */
static int take_short_output(struct cmd_args *args, const char **output)
{
	int n = 0;

	for (int i = 0; i < args->argc; i++) {
		if (strcmp(args->argv[i], "-o")) {
			args->argv[n++] = args->argv[i];
			continue;
		}
		if (i + 1 >= args->argc)
			return cmd_usage_error(args->entry, "option '-o' needs a value (FILE)");
		if (*output)
			return cmd_usage_error(args->entry, "the output is given twice");
		*output = args->argv[++i];
	}
	args->argc = n;
	return CMD_OK;
}

static void print_result(const char *output, size_t bytes, const struct report_run *runs, size_t nruns,
			 const struct report_info *info, const char *pdf, int json)
{
	cJSON *root, *list;

	if (!json) {
		char *size = format_bytes(bytes);

		printf("wrote %s (%s, %zu run%s, %zu charts)\n", output, size, nruns, nruns == 1 ? "" : "s",
		       info->charts);
		if (pdf)
			printf("wrote %s\n", pdf);
		free(size);
		return;
	}
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "output", output);
	cJSON_AddNumberToObject(root, "bytes", (double)bytes);
	list = cJSON_AddArrayToObject(root, "runs");
	for (size_t i = 0; i < nruns; i++) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "run_id", runs[i].name);
		cJSON_AddStringToObject(r, "dir", runs[i].dir);
		cJSON_AddItemToArray(list, r);
	}
	cJSON_AddNumberToObject(root, "charts", (double)info->charts);
	json_add_string_or_null(root, "sweep", info->sweep_key);
	json_add_string_or_null(root, "pdf", pdf);
	cJSON_AddNullToObject(root, "error");
	print_json_object(root);
}

static int exec_report(struct cmd_args *args)
{
	const char *output = args_get(args, "output"), *pdf = args_get(args, "pdf"), *title = args_get(args, "title");
	struct report_run *runs = NULL;
	struct report_info info = { 0 };
	struct strbuf page = STRBUF_INIT;
	char *browser = NULL, *default_title = NULL;
	size_t nruns = 0;
	int ret = take_short_output(args, &output);

	if (ret != CMD_OK)
		return ret;
	if (!args->argc)
		return cmd_usage_error(args->entry, "no run directory given");
	if (!output || !*output)
		return cmd_usage_error(args->entry, "no output file given (-o FILE)");
	if (pdf && !*pdf)
		return cmd_usage_error(args->entry, "--pdf must not be empty");
	if (pdf && !strcmp(pdf, output))
		return cmd_usage_error(args->entry, "--pdf '%s' is the HTML output too", pdf);
	ret = CMD_FAIL;
	/* everything that can fail is checked before anything is written */
	if (pdf && !(browser = report_find_browser())) {
		error("--pdf needs headless Chromium: no chromium, chromium-browser or google-chrome on PATH "
		      "(install Debian's 'chromium', or set BENCHMON_CHROMIUM)");
		goto out;
	}
	runs = xcalloc((size_t)args->argc, sizeof(*runs));
	for (int i = 0; i < args->argc; i++) {
		if (report_run_load(&runs[nruns], args->argv[i]) < 0) {
			report_run_release(&runs[nruns]);
			goto out;
		}
		nruns++;
	}
	/* a sweep reads in the order of its label: c1, c4, c16 rather than c1, c16, c4 */
	if (report_sweep_key(runs, nruns))
		report_runs_sort(runs, nruns, report_sweep_key(runs, nruns));
	if (!title) {
		struct strbuf t = STRBUF_INIT;

		strbuf_addstr(&t, "benchmon report:");
		for (size_t i = 0; i < nruns; i++)
			strbuf_addf(&t, "%s %s", i ? "," : "", runs[i].name);
		default_title = strbuf_detach(&t, NULL);
		title = default_title;
	}
	report_render(&page, runs, nruns, title, &info);
	if (write_file_atomic(output, page.buf, page.len, results_mode(0666)) < 0)
		goto out;
	if (pdf && report_print_pdf(browser, output, pdf, PDF_TIMEOUT_MS) < 0)
		goto out;
	print_result(output, page.len, runs, nruns, &info, pdf, args_flag(args, "json"));
	ret = CMD_OK;
out:
	for (size_t i = 0; i < nruns; i++)
		report_run_release(&runs[i]);
	free(runs);
	free(browser);
	free(default_title);
	strbuf_release(&page);
	return ret;
}

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.summary = "write one self-contained HTML report of finished runs",
	.usage = "RUN_DIR... -o FILE [--title TEXT] [--pdf FILE] [--json]",
	.description =
		"Read the run directories that collect or run wrote (MANIFEST.json, kpis.csv,\n"
		"timeseries.csv) and write one HTML file that needs nothing else: no script, no\n"
		"network, charts drawn as inline SVG. Per run: the KPIs with their proven\n"
		"[lower, upper] bounds and status, the findings, the window's time series\n"
		"(throughput, latency quantiles, CPU and GPU utilisation, GPU power and\n"
		"temperature), the same per node and per GPU where timeseries.csv has them, and\n"
		"where the numbers came from (PromQL, Prometheus version, job, targets). With\n"
		"several runs, a table puts them side by side; when the runs share a label with\n"
		"different values (a sweep), each KPI is drawn against it with its bounds as\n"
		"error bars. Long series are drawn with each pixel column's minimum and maximum,\n"
		"so spikes stay visible and a 3-hour run at a 1 s step stays well under 2 MB.",
	.opts = opts,
	.example = "  benchmon report benchmon-results/4242 -o report.html\n"
		   "  benchmon report results/c16 results/c32 results/c64 -o sweep.html --pdf sweep.pdf",
	.max_args = -1,
	.exec = exec_report,
};
