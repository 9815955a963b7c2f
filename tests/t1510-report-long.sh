#!/bin/bash
# benchmon report of a long run: a 3-hour window at a 1 s step on 2 nodes (a synthetic run
# directory) gives a page under 2 MB whose lines keep every pixel column's minimum and maximum,
# so a one-second spike is drawn; the page still loads in Chromium without an error or request.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/chromium.sh"

command -v python3 >/dev/null || test_skip_all "python3 is not available"

test_expect_success 'setup: a 3 h run at a 1 s step with a one-second spike at 5000 s' '
	python3 "$SRC_DIR/bench/gen-run.py" long --seconds 10800 --step 1 --nodes 2 --spike-at 5000 &&
	test "$(grep -c "^throughput_qps,session," long/timeseries.csv)" = 10800
'

test_expect_success 'the report is under 2 MB' '
	benchmon report long -o long.html >out &&
	cat out &&
	test "$(stat -c %s long.html)" -lt 2000000
'

test_expect_success 'drawn points are points of the run, under two per pixel; the extremes and the spike are drawn' '
	python3 - <<-\PY
	import csv, datetime, math, re
	from html.parser import HTMLParser

	def epoch(t):
	    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()

	series = {}
	for r in csv.DictReader(open("long/timeseries.csv")):
	    series.setdefault((r["kpi"], r["scope"]), {})[epoch(r["time"])] = float(r["value"])

	class Page(HTMLParser):
	    def __init__(self):
	        super().__init__()
	        self.paths, self.width = [], None
	    def handle_starttag(self, tag, attrs):
	        a = dict(attrs)
	        if tag == "svg":
	            self.width = int(a["width"])
	        if tag == "path" and "data-points" in a:
	            self.paths.append((self.width, a))

	page = Page()
	page.feed(open("long.html").read())
	assert len(page.paths) >= 8 + 2 * 8, len(page.paths)
	t_from = min(min(s) for s in series.values()) - 1
	t_to = max(max(s) for s in series.values())
	spike = False
	for width, a in page.paths:
	    pts = [tuple(map(float, p.split(","))) for p in a["data-points"].split()]
	    whole = series[(a["data-kpi"], a["data-scope"])]
	    assert int(a["data-n"]) == len(whole) == 10800
	    # the plot is narrower than the chart: fewer than 2 points per pixel of the chart survive
	    assert len(pts) < 2 * width, (a["data-kpi"], len(pts), width)
	    for t, v in pts:
	        assert whole[t] == v or abs(whole[t] - v) <= 1e-9 * abs(v), (t, v, whole[t])
	    # whatever the column width, the extremes of the whole series are drawn
	    assert max(whole.values()) in [v for t, v in pts] and min(whole.values()) in [v for t, v in pts]
	    if a["data-kpi"] == "throughput_qps" and a["data-scope"] == "session":
	        spike = (t_from + 5000, 15000.0) in [(t, v) for t, v in pts]
	assert spike, "the spike at 5000 s is not drawn"
	PY
'

test_expect_success 'the long page loads in Chromium with no console message and no request' '
	command -v chromium >/dev/null || { echo "chromium not installed: skipped"; exit 0; }
	chromium_open long.html long &&
	page_requests long >long.requests && console_messages long >long.console &&
	[ ! -s long.requests ] && [ ! -s long.console ] &&
	png_check long.png 1280 2000 20 5
'

test_done
