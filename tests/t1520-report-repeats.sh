#!/bin/bash
# benchmon report of a sweep with repetitions (synthetic run directories): runs are grouped by the
# swept label and compared as benchmon compare does, with the Mann-Whitney U test, whose exact p
# for two fully separated groups is known by hand: 2 / C(8, 4) = 0.0286 for 4 + 4 runs, and
# 2 / C(6, 3) = 0.1 for 3 + 3 (not significant, with a warning). Each run has its own noise,
# so no two values tie and the test is exact.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || test_skip_all "python3 is not available"

# verdicts HTML KPI: the data-verdict attributes of KPI's row in the side-by-side table
verdicts() {
	python3 - "$@" <<-\PY
	import re, sys
	page = open(sys.argv[1]).read()
	table = re.search(r"<table class=\"comparison\">.*?</table>", page, re.S).group(0)
	row = re.search(r"<tr data-kpi=\"%s\">(.*?)</tr>" % sys.argv[2], table, re.S).group(1)
	for m in re.finditer(r"data-verdict=\"([^\"]*)\">(.*?)</td>", row):
	    p = re.search(r"p=([0-9.]+)", m.group(2))
	    print(m.group(1), p.group(1) if p else "-")
	PY
}

test_expect_success 'setup: 4 runs at batch 16 and 4 at batch 32, twice the throughput' '
	for i in 1 2 3 4; do
		python3 "$SRC_DIR/bench/gen-run.py" "runs/b16-$i" --seconds 60 --run-id "b16-$i" --label batch=16 --seed "$i" &&
		python3 "$SRC_DIR/bench/gen-run.py" "runs/b32-$i" --seconds 60 --run-id "b32-$i" --label batch=32 \
			--throughput-scale 2 --seed "$((i + 10))" || exit 1
	done
'

test_expect_success '4 + 4 runs: throughput better at p = 0.029 (exact U test), runs ordered by the label' '
	benchmon report runs/b32-* runs/b16-* -o four.html --json >four.json &&
	grep -q "\"sweep\":[[:space:]]*\"batch\"" four.json &&
	verdicts four.html throughput_qps >actual &&
	echo "better 0.029" >expect && test_cmp expect actual &&
	verdicts four.html latency_p50_ms >actual &&
	# the same latency level on both sides, noise apart
	[ "$(cut -d" " -f1 actual)" = "~" ] &&
	! grep -q "Fewer than 4 runs" four.html &&
	python3 -c "
import re
page = open(\"four.html\").read()
order = re.findall(r\"<section class=\\\"run\\\" id=\\\"run-[0-9]+\\\" data-run=\\\"([^\\\"]*)\\\"\", page)
assert [o.split(\"-\")[0] for o in order] == [\"b16\"] * 4 + [\"b32\"] * 4, order
assert len(re.findall(r\"class=\\\"point\\\"\", page)) >= 8 * 10
"
'

test_expect_success '3 + 3 runs: not significant (p = 0.1), and a warning about too few runs' '
	benchmon report runs/b16-1 runs/b16-2 runs/b16-3 runs/b32-1 runs/b32-2 runs/b32-3 -o three.html >out &&
	verdicts three.html throughput_qps >actual &&
	echo "~ 0.100" >expect && test_cmp expect actual &&
	grep -q "Fewer than 4 runs on a side" three.html
'

test_done
