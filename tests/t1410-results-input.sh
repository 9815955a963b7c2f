#!/bin/bash
# runs, compare and gate on hand-made run directories: edge cases and bad input
# (exit 2 for a wrong command line, 1 for a failure, nothing changed), and
# --label's validation in run and collect.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || test_skip_all "python3 is not available"

# mk DIR ARGS...: a run directory as collect writes it
mk() { make-run "$@" >/dev/null; }

test_expect_success 'setup: five runs at each of two batch sizes, one with findings' '
	for i in 1 2 3 4 5; do
		mk sw/b16-$i --label batch=16 --from $((1764000000 + i * 30)) \
			--kpi throughput_qps=$((100 + i)):$((100 + i)):$((100 + i)) --kpi latency_p99_ms=$i.5:1:10 \
			--kpi gpu_util_avg_pct=/not_applicable &&
		mk sw/b32-$i --label batch=32 --from $((1764001000 + i * 30)) \
			--kpi throughput_qps=$((150 + i)):$((150 + i)):$((150 + i)) --kpi latency_p99_ms=$i.6:1:10 \
			--kpi gpu_util_avg_pct=/not_applicable || exit 1
	done &&
	mk sw/b32-6 --label batch=32 --label note=flaky --from 1764002000 --kpi throughput_qps=/no_data \
		--kpi latency_p99_ms=4:1:10 --finding target_down --finding missing_scrapes:optional --exit 3
'

test_expect_success 'runs lists every run, oldest first, with labels and status' '
	benchmon runs sw >out &&
	cat out &&
	[ "$(tail -n +2 out | wc -l)" = 11 ] &&
	[ "$(sed -n 2p out | cut -c1-8)" = "b16-1   " ] &&
	grep -q "^b32-6 .*batch=32,note=flaky .*ok_with_findings,exit=3 " out
'

test_expect_success 'runs --csv: one table, labels after the summary columns, empty cells for missing labels' '
	benchmon runs --csv sw >sw.csv &&
	python3 - <<-\PY
	import csv
	rows = list(csv.reader(open("sw.csv")))
	h = rows[0]
	assert h[:10] == ["run_id", "session_id", "from", "to", "throughput_qps", "cpu_util_avg_pct",
	                  "gpu_util_avg_pct", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"], h
	assert h[-4:] == ["findings", "batch", "note", "dir"], h
	d = {r[0]: dict(zip(h, r)) for r in rows[1:]}
	assert len(d) == 11
	assert d["b16-3"]["throughput_qps"] == "103" and d["b16-3"]["note"] == "" and d["b16-3"]["batch"] == "16"
	assert d["b32-6"]["throughput_qps"] == "" and d["b32-6"]["findings"] == "2" and d["b32-6"]["note"] == "flaky"
	assert d["b16-3"]["gpu_util_avg_pct"] == ""
	PY
'

test_expect_success 'runs --json: labels, findings and the session KPIs' '
	benchmon runs --json sw/b32-6 >out.json &&
	python3 - <<-\PY
	import json
	d = json.load(open("out.json"))
	assert len(d) == 1, d
	r = d[0]
	assert r["labels"] == {"batch": "32", "note": "flaky"} and r["exit_status"] == 3, r
	assert r["findings"] == 2 and r["strict_findings"] == 1, r
	assert r["kpis"]["throughput_qps"]["value"] is None and r["kpis"]["throughput_qps"]["status"] == "no_data"
	assert r["kpis"]["latency_p99_ms"]["lower"] == 1
	PY
'

test_expect_success 'runs: an empty directory is no runs; a missing one fails naming it; a torn manifest is skipped' '
	mkdir empty &&
	benchmon runs empty >out &&
	[ "$(wc -l <out)" = 1 ] &&
	test_expect_code 1 benchmon runs nowhere 2>err &&
	grep -q "nowhere" err &&
	mkdir -p torn/t1 && echo "{" >torn/t1/MANIFEST.json && mk torn/ok &&
	benchmon runs torn >out 2>err &&
	grep -q "skipping .torn/t1." err &&
	grep -q "^ok " out &&
	test_expect_code 2 benchmon runs --json --csv sw &&
	(cd sw && mkdir -p benchmon-results && mv b16-1 benchmon-results/ && benchmon runs >../out && mv benchmon-results/b16-1 .) &&
	[ "$(tail -n +2 out | wc -l)" = 1 ]
'

test_expect_success 'compare --by: 5+5 runs, the U test p as enumerating every split gives' '
	benchmon compare --json --by batch=16,32 sw >cmp.json 2>err &&
	! grep -q "fewer than" err &&
	python3 - <<-\PY
	import itertools, json
	d = json.load(open("cmp.json"))
	rows = {r["kpi"]: r for r in d["rows"]}
	t = rows["throughput_qps"]
	# b32-6 has no throughput: n = 5 + 5
	assert t["a"]["n"] == 5 and t["b"]["n"] == 5, t
	a = [101, 102, 103, 104, 105]; b = [151, 152, 153, 154, 155]
	def u(x, y): return sum((i > j) + 0.5 * (i == j) for i in x for j in y)
	allv = a + b; mu = 12.5; obs = abs(u(a, b) - mu); n = 0; ext = 0
	for c in itertools.combinations(range(10), 5):
	    x = [allv[i] for i in c]; y = [allv[i] for i in range(10) if i not in c]
	    n += 1; ext += abs(u(x, y) - mu) >= obs
	assert abs(t["p"] - ext / n) < 1e-12, (t["p"], ext / n)
	assert t["verdict"] == "better" and t["method"] == "utest", t
	assert t["a"]["value"] == 103 and t["b"]["value"] == 153, t
	assert abs(t["change_pct"] - 100.0 * 50 / 103) < 1e-9, t
	l = rows["latency_p99_ms"]
	assert l["b"]["n"] == 6 and l["verdict"] == "~", l
	assert "gpu_util_avg_pct" not in rows
	assert d["geomean"]["a"] > 0 and d["few_runs"] is False
	PY
'

test_expect_success 'compare of a KPI one side lacks says missing; --where filters' '
	benchmon compare sw/b16-1 sw/b32-6 >out &&
	cat out &&
	grep -q "^throughput_qps (req/s) .* missing (n=1+0)$" out &&
	test_expect_code 1 benchmon compare --where note=flaky --by batch=32,16 sw 2>err &&
	grep -q "no runs for B .batch=16. with the --where labels" err &&
	benchmon compare --json --where batch=32 sw/b32-1 sw >w.json 2>/dev/null &&
	python3 -c "import json; d = json.load(open(\"w.json\")); assert len(d[\"b\"][\"runs\"]) == 6, d[\"b\"]"
'

test_expect_success 'compare: bad command lines exit 2 and write nothing' '
	test_expect_code 2 benchmon compare sw/b16-1 2>err && grep -q "give two runs" err &&
	test_expect_code 2 benchmon compare a b c 2>err &&
	test_expect_code 2 benchmon compare --by batch sw 2>err && grep -q "KEY=A,B" err &&
	test_expect_code 2 benchmon compare --by batch=16,16 sw 2>err && grep -q "with itself" err &&
	test_expect_code 2 benchmon compare --by "batch=16,3,2" sw 2>err &&
	test_expect_code 2 benchmon compare --by batch=16,32 2>err && grep -q "directories" err &&
	test_expect_code 2 benchmon compare --csv --json sw/b16-1 sw/b16-2 2>err &&
	test_expect_code 2 benchmon compare --alpha 2 sw/b16-1 sw/b16-2 2>err && grep -q "alpha" err &&
	test_expect_code 2 benchmon compare --tolerance 0.1 sw/b16-1 sw/b16-2 2>err &&
	test_expect_code 2 benchmon compare --where "bad key=1" sw/b16-1 sw/b16-2 2>err &&
	test_expect_code 2 benchmon compare sw/b16-1 --write-reference "" 2>err &&
	test_expect_code 1 benchmon compare sw/b16-1 nowhere 2>err && grep -q nowhere err &&
	test_expect_code 1 benchmon compare --profile nosuch sw/b16-1 sw/b16-2 2>err &&
	test_path_is_missing ref.json
'

test_expect_success 'gate: a warning fails without failing the gate; labels skip; no value fails' '
	cat >ref.json <<-\EOF &&
	{ "references": [
	  { "kpi": "throughput_qps", "ref": 100, "lower": -0.05, "severity": "error" },
	  { "kpi": "latency_p99_ms", "ref": 1, "upper": 0.5, "severity": "warning" },
	  { "kpi": "throughput_qps", "ref": 150, "lower": -0.05, "upper": 0.05, "labels": { "batch": "32" } } ] }
	EOF
	benchmon gate sw/b16-3 --reference ref.json --junit j.xml >out &&
	cat out &&
	grep -q "^PASS   error    throughput_qps .* \[95, +Inf\]$" out &&
	grep -q "^FAIL   warning  latency_p99_ms .* 3.5  \[-Inf, 1.5\]$" out &&
	grep -q "^SKIP .*the run.s label batch is 16, not 32" out &&
	grep -q "^VALID$" out &&
	python3 -c "import xml.dom.minidom as m; d = m.parse(\"j.xml\"); s = d.getElementsByTagName(\"testsuite\")[0]; assert s.getAttribute(\"failures\") == \"0\" and s.getAttribute(\"skipped\") == \"1\", s.toxml()" &&
	test_expect_code 1 benchmon gate sw/b32-6 --reference ref.json --json >out.json &&
	python3 - <<-\PY
	import json
	d = json.load(open("out.json"))
	assert d["verdict"] == "INVALID", d
	r = " | ".join(d["reasons"])
	assert "target_down" in r and "missing_scrapes" not in r and "exited with status 3" in r, r
	t = [x for x in d["results"] if x["kpi"] == "throughput_qps"]
	assert all(x["result"] == "FAIL" and x["value"] is None for x in t), t
	PY
'

test_expect_success 'gate: INVALID by findings alone exits 0, 1 with --strict' '
	mk inv --kpi throughput_qps=200:200:200 --finding counter_reset &&
	benchmon gate inv --reference ref.json >out &&
	grep -q "^INVALID$" out && grep -q "finding counter_reset" out &&
	test_expect_code 1 benchmon gate inv --reference ref.json --strict >out
'

test_expect_success 'gate: bad references and command lines' '
	echo "{" >bad.json &&
	test_expect_code 1 benchmon gate sw/b16-1 --reference bad.json 2>err && grep -q "bad.json" err &&
	echo "{\"references\": [{\"kpi\": \"x\"}]}" >bad.json &&
	test_expect_code 1 benchmon gate sw/b16-1 --reference bad.json 2>err && grep -q "reference 1: needs a numeric \"ref\"" err &&
	echo "{\"references\": [{\"kpi\": \"x\", \"ref\": 1, \"severity\": \"fatal\"}]}" >bad.json &&
	test_expect_code 1 benchmon gate sw/b16-1 --reference bad.json 2>err && grep -q "severity" err &&
	echo "{\"references\": [{\"kpi\": \"x\", \"ref\": 1, \"lower\": 0.2, \"upper\": 0.1}]}" >bad.json &&
	test_expect_code 1 benchmon gate sw/b16-1 --reference bad.json 2>err && grep -q "lower.* is above" err &&
	test_expect_code 1 benchmon gate nowhere --reference ref.json 2>err && grep -q nowhere err &&
	test_expect_code 2 benchmon gate sw/b16-1 2>err && grep -q "missing --reference" err &&
	test_expect_code 2 benchmon gate --reference ref.json 2>err &&
	test_expect_code 1 benchmon gate sw/b16-1 --reference ref.json --junit nodir/j.xml 2>err &&
	test_path_is_missing nodir
'

test_expect_success 'compare --write-reference: median of the baseline, bounded on the worse side' '
	benchmon compare --by batch=16,32 sw --write-reference w.json --tolerance 0.2 >/dev/null 2>&1 &&
	python3 - <<-\PY
	import json
	refs = {r["kpi"]: r for r in json.load(open("w.json"))["references"]}
	t = refs["throughput_qps"]
	assert t["ref"] == 103 and t["lower"] == -0.2 and t["upper"] is None and t["severity"] == "error", t
	assert t["labels"] == {"batch": "16"}, t
	l = refs["latency_p99_ms"]
	assert l["ref"] == 3.5 and l["upper"] == 0.2 and l["lower"] is None, l
	assert "gpu_util_avg_pct" not in refs
	PY
	benchmon gate sw/b16-2 --reference w.json >out && grep -q "^VALID$" out &&
	benchmon gate sw/b32-2 --reference w.json >out && grep -q "^SKIP" out
'

test_expect_success '--label: bad labels are usage errors, before anything runs' '
	benchmon session-create --run-id s1 --launcher local >/dev/null &&
	for l in "nokey" "=v" "1a=v" "a-b=v" "a=x,y" "a=x\"y" "run_id=1" "findings=2" \
		"a=$(printf "%0300d" 0)" "$(printf "k%0070d" 0)=v" "a=$(printf "x\ny")"; do
		test_expect_code 2 benchmon collect --session s1 --last 1m --out o --label "$l" 2>err || { echo "$l"; exit 1; }
		test_expect_code 2 benchmon run --session s1 --out o2 --label "$l" -- true 2>err || { echo "$l"; exit 1; }
	done &&
	test_expect_code 2 benchmon run --session s1 --out o2 --label a=1 --label a=2 -- true 2>err &&
	grep -q "label key .a. given twice" err &&
	set -- && for i in $(seq 33); do set -- "$@" --label "k$i=v"; done &&
	test_expect_code 2 benchmon collect --session s1 --last 1m --out o "$@" 2>err &&
	grep -q "at most 32" err &&
	test_path_is_missing o && test_path_is_missing o2 &&
	test_expect_code 1 benchmon run --session s1 --out o2 --label mem_used_avg_pct=1 -- touch ran 2>err &&
	grep -q "label key .mem_used_avg_pct. is the name of a KPI of profile .default." err &&
	test_path_is_missing ran && test_path_is_missing o2
'

test_done
