# benchmon: one flat Makefile. 'make' builds ./benchmon, 'make check' runs every test.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/benchmon
VERSION = 0.1.0

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
# the libslurm ABI we link against (its soname), checked against slurm_api_version() at run time
SLURM_API_MAJOR := $(shell objdump -p $$($(CC) -print-file-name=libslurm.so) 2>/dev/null | sed -n 's/.*SONAME *libslurm\.so\.\([0-9]*\).*/\1/p')
CPPFLAGS_ALL = -I. -D_GNU_SOURCE -DBENCHMON_SLURM_API_MAJOR=$(or $(SLURM_API_MAJOR),0) -DBENCHMON_VERSION='"$(VERSION)"' -DBENCHMON_DATADIR='"$(DATADIR)"' $(CPPFLAGS)
# libcurl, libslurm and libmicrohttpd are loaded at run time (dlopen) by lib/http.c,
# lifecycle/launch-slurm.c and lib/httpd.c,
# so the commands that need neither start fast
LIBS = -lcjson -lcsv -lcrypt -ldl -lm -lpthread

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

LIB_OBJS = lib/xmalloc.o lib/strbuf.o lib/error.o lib/fsutil.o lib/jsonfile.o lib/timeparse.o \
	lib/csvfile.o lib/http.o lib/prom.o lib/sha256.o lib/auth.o lib/httpd.o
SESSION_OBJS = session/validate.o session/session.o session/registry.o session/saves.o session/api.o
LIFECYCLE_OBJS = lifecycle/lifecycle.o lifecycle/health.o lifecycle/launch-slurm.o lifecycle/launch-local.o lifecycle/exporters.o
SERVE_OBJS = serve/serve.o serve/body.o
RENDER_OBJS = render/render.o render/rules.o
REPORT_OBJS = report/run.o report/report.o report/chart.o report/pdf.o
RESULTS_OBJS = results/runs.o results/compare.o results/reference.o
COLLECT_OBJS = collect/collect.o collect/query.o collect/fetch.o collect/artifacts.o collect/health.o collect/kpi.o collect/profile.o collect/promjson.o collect/series.o \
	collect/window.o collect/source.o collect/exposition.o collect/edges.o collect/remoteread.o collect/exprread.o
CLI_OBJS = cli/main.o cli/cmd.o cli/cmd-session-create.o cli/cmd-client-connect.o \
	cli/cmd-service-register.o cli/cmd-start.o cli/cmd-status.o cli/cmd-stop.o \
	cli/cmd-delete.o cli/cmd-sessions.o cli/cmd-reload.o cli/cmd-collect.o cli/cmd-run.o cli/cmd-report.o \
	cli/cmd-runs.o cli/cmd-compare.o cli/cmd-gate.o cli/cmd-exporters.o cli/cmd-serve.o
OBJS = $(LIB_OBJS) $(SESSION_OBJS) $(LIFECYCLE_OBJS) $(RENDER_OBJS) $(REPORT_OBJS) $(COLLECT_OBJS) $(RESULTS_OBJS) $(SERVE_OBJS) $(CLI_OBJS)

FIXTURES = tests/fixtures/load-target tests/fixtures/dcgm-exporter
UNIT_TESTS = tests/unit/test-validate tests/unit/test-timeparse tests/unit/test-render tests/unit/test-registry \
	tests/unit/test-promjson tests/unit/test-sha256 tests/unit/test-kpi tests/unit/test-kpi-property
UNIT_test-validate = session/validate.o lib/strbuf.o lib/xmalloc.o
UNIT_test-timeparse = lib/timeparse.o lib/xmalloc.o
UNIT_test-render = render/render.o lib/fsutil.o lib/timeparse.o lib/strbuf.o lib/xmalloc.o lib/error.o
UNIT_test-promjson = collect/promjson.o collect/series.o lib/strbuf.o lib/xmalloc.o lib/error.o
UNIT_test-sha256 = lib/sha256.o lib/fsutil.o lib/strbuf.o lib/xmalloc.o lib/error.o
UNIT_test-kpi = $(FUZZ_profile)
UNIT_test-kpi-property = $(UNIT_test-kpi)
UNIT_test-registry = session/registry.o session/session.o lib/auth.o session/validate.o lib/sha256.o lib/jsonfile.o lib/fsutil.o \
	lib/timeparse.o lib/strbuf.o lib/xmalloc.o lib/error.o
UNIT_TESTS += tests/unit/test-fsutil tests/unit/test-exposition tests/unit/test-chart tests/unit/test-health
UNIT_test-chart = report/chart.o lib/strbuf.o lib/xmalloc.o
UNIT_test-health = render/rules.o collect/health.o collect/fetch.o collect/query.o collect/promjson.o collect/remoteread.o lib/http.o $(FUZZ_profile)
UNIT_test-exposition = collect/exposition.o lib/strbuf.o lib/xmalloc.o
UNIT_test-fsutil = lib/fsutil.o lib/strbuf.o lib/xmalloc.o lib/error.o
UNIT_TESTS += tests/unit/test-compare tests/unit/test-remoteread tests/unit/test-exprread
UNIT_test-exprread = collect/exprread.o collect/query.o collect/promjson.o collect/remoteread.o lib/http.o $(FUZZ_profile)
UNIT_test-remoteread = collect/remoteread.o collect/series.o lib/strbuf.o lib/xmalloc.o
UNIT_test-compare = results/compare.o results/runs.o lib/csvfile.o lib/jsonfile.o lib/fsutil.o lib/timeparse.o \
	lib/strbuf.o lib/xmalloc.o lib/error.o

# fuzz targets (tests/fuzz/fuzz-<name>.c), replayed over their corpora without libFuzzer
FUZZ_TARGETS = timeparse endpoint promjson profile registry exposition serve-body remoteread
FUZZ_REPLAYS = $(FUZZ_TARGETS:%=tests/fuzz/replay-%)
FUZZ_timeparse = lib/timeparse.o lib/xmalloc.o
FUZZ_endpoint = session/validate.o lib/strbuf.o lib/xmalloc.o lib/error.o
FUZZ_exposition = collect/exposition.o lib/strbuf.o lib/xmalloc.o
FUZZ_serve-body = serve/body.o lib/xmalloc.o
FUZZ_remoteread = collect/remoteread.o collect/series.o lib/strbuf.o lib/xmalloc.o
FUZZ_promjson = collect/promjson.o collect/series.o lib/strbuf.o lib/xmalloc.o lib/error.o
FUZZ_profile = collect/profile.o collect/kpi.o collect/series.o render/render.o session/session.o lib/auth.o session/registry.o session/validate.o \
	lib/sha256.o lib/jsonfile.o lib/fsutil.o lib/timeparse.o \
	lib/strbuf.o lib/xmalloc.o lib/error.o
FUZZ_registry = session/registry.o session/session.o lib/auth.o session/validate.o lib/sha256.o lib/jsonfile.o lib/fsutil.o \
	lib/timeparse.o lib/strbuf.o lib/xmalloc.o lib/error.o

all: benchmon

benchmon: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

# the data directory is compiled in: rebuild what embeds it when PREFIX changes
.datadir-stamp: FORCE
	@echo '$(DATADIR)' | cmp -s - $@ || echo '$(DATADIR)' >$@
render/render.o: .datadir-stamp

%.o: %.c
	$(CC) $(CPPFLAGS_ALL) $(WARNINGS) $(CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/test-%: tests/unit/test-%.o $(LIB_OBJS) $(SESSION_OBJS) $(RENDER_OBJS) $(REPORT_OBJS) $(COLLECT_OBJS)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_test-$*) $(LIBS) -lcmocka

.PRECIOUS: tests/fuzz/%.o
tests/fuzz/replay-%: tests/fuzz/fuzz-%.o tests/fuzz/replay.o $(LIB_OBJS) $(SESSION_OBJS) $(RENDER_OBJS) $(COLLECT_OBJS) $(SERVE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $< tests/fuzz/replay.o $(FUZZ_$*) $(LIBS)

tests/fixtures/%: tests/fixtures/%.c
	$(CC) $(CPPFLAGS_ALL) $(WARNINGS) $(CFLAGS) -o $@ $<

deps:
	sh scripts/install-deps.sh

# check and demo install what they need first, then build
check:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(FIXTURES) $(FUZZ_REPLAYS)
	@FUZZ_TARGETS="$(FUZZ_TARGETS)" sh tests/run-all.sh $(UNIT_TESTS)

# the fault campaign (Slurm and Prometheus failures, full and read-only disks) and 10M KPI property cases:
# minutes, not seconds
check-long: all $(FIXTURES) tests/unit/test-kpi-property
	@KPI_PROPERTY_CASES=$${KPI_PROPERTY_CASES:-10000000} TEST_SCRIPTS="tests/long/t*.sh" sh tests/run-all.sh \
		tests/unit/test-kpi-property

# every benchmon the shell tests run goes through valgrind (slow: pick tests with TESTS=)
check-valgrind: all $(FIXTURES)
	@VALGRIND=1 sh tests/run-all.sh

demo:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory all $(FIXTURES)
	@bash scripts/demo.sh

# the same across nodes: a 4-node cluster on this machine, exporters on a job's nodes, Prometheus on another
demo-cluster:
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory all $(FIXTURES)
	@bash scripts/demo-cluster.sh

# replay every fuzz corpus through a plain build of its target (no clang needed)
fuzz-smoke: $(FUZZ_REPLAYS)
	@sh tests/fuzz/smoke.sh $(FUZZ_TARGETS)

# fuzz one target with libFuzzer, ASan and UBSan, growing its corpus:
# make fuzz FUZZ=promjson FUZZ_SECONDS=600 (needs clang)
FUZZ ?= timeparse
FUZZ_SECONDS ?= 60
fuzz:
	clang $(CPPFLAGS_ALL) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o tests/fuzz/libfuzzer-$(FUZZ) tests/fuzz/fuzz-$(FUZZ).c $(FUZZ_$(FUZZ):.o=.c) $(LIBS)
	mkdir -p tests/fuzz/crashes
	tests/fuzz/libfuzzer-$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
		-artifact_prefix=tests/fuzz/crashes/$(FUZZ)- tests/fuzz/corpus/$(FUZZ)

lint:
	@! grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets|localtime)\s*\(' $$(git ls-files '*.c' '*.h') \
		|| { echo "lint: banned function (see STYLE)"; exit 1; }

# figures and ratios, never pass/fail: registration, the response parser, collect vs direct queries,
# report of a 3-hour run, the HTTP API against the CLI
bench: all bench/promjson-bench bench/synth-exporter
	sh bench/registration.sh
	bash bench/status.sh
	bench/promjson-bench 500 10800 3
	bash bench/collect.sh
	bash bench/capacity.sh
	bash bench/collect-long.sh
	bash bench/results.sh
	bash bench/report.sh
	bash bench/serve.sh

bench/synth-exporter: bench/synth-exporter.c
	$(CC) $(CFLAGS) -O2 -o $@ $< -lm

bench/promjson-bench: bench/promjson-bench.o collect/promjson.o collect/series.o lib/strbuf.o lib/xmalloc.o lib/error.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/templates/profiles
	install -m 0755 benchmon $(DESTDIR)$(BINDIR)/benchmon
	install -m 0644 templates/*.in $(DESTDIR)$(DATADIR)/templates/
	install -d $(DESTDIR)$(DATADIR)/templates/rules
	install -m 0644 templates/rules/*.yml.in $(DESTDIR)$(DATADIR)/templates/rules/
	install -m 0644 templates/profiles/*.json $(DESTDIR)$(DATADIR)/templates/profiles/
	install -m 0644 templates/grafana-dashboard.json $(DESTDIR)$(DATADIR)/templates/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/lmod/benchmon
	install -m 0644 doc/benchmon.1 $(DESTDIR)$(PREFIX)/share/man/man1/benchmon.1
	install -m 0644 doc/benchmon.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/benchmon
	install -m 0644 packaging/lmod/benchmon/$(VERSION).lua $(DESTDIR)$(PREFIX)/share/lmod/benchmon/$(VERSION).lua

clean:
	rm -f tests/fuzz/*.o tests/fuzz/*.d $(FUZZ_REPLAYS) tests/fuzz/libfuzzer-* bench/*.o bench/*.d bench/promjson-bench bench/synth-exporter
	rm -f benchmon .datadir-stamp $(OBJS) $(OBJS:.o=.d) tests/unit/*.o tests/unit/*.d $(UNIT_TESTS) $(FIXTURES)

.PHONY: all deps check check-long check-valgrind demo demo-cluster fuzz fuzz-smoke lint bench install clean FORCE
-include $(OBJS:.o=.d) $(wildcard tests/unit/*.d tests/fuzz/*.d)
