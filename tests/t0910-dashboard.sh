#!/bin/bash
# The Grafana dashboard template: importable JSON whose every query is scoped to
# the session and asks only for metrics that the default KPI profile names or
# that the exporters benchmon's tests run actually produce.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || test_skip_all "python3 is not installed"
DASH=$SRC_DIR/templates/grafana-dashboard.json
PROFILE=$SRC_DIR/templates/profiles/default.json

# dash.py COMMAND ARGS...: the checks, and a small PromQL lexer to find the
# vector selectors (metric names and their label matchers) of an expression.
cat >"$TEST_DIR/dash.py" <<'EOF'
import json, re, sys

DS_INPUT = "${DS_PROMETHEUS}"
# Not metric names: aggregation modifiers, binary operators, and so on. An
# identifier followed by "(" is a function; the label list after a grouping
# keyword (by (le), on (node) ...) is skipped whole.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "le"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# Grafana's own variables, with values promtool accepts in their place.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h",
            "__interval_ms": "15000", "__range_s": "3600", "__range_ms": "3600000"}
VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
STR = r'''"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`'''
TOKEN = re.compile(r'''
   (?P<ws>\s+)
  |(?P<str>''' + STR + r''')
  |(?P<brace>\{(?:[^{}"'`]|''' + STR + r''')*\})
  |(?P<var>\$\{[^}]*\}|\$\w+|\[\[\w+\]\])
  |(?P<bracket>\[[^\]]*\])
  |(?P<num>(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:[a-zA-Z]+[0-9]*)*)
  |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  |(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^(),<>=@])
''', re.X)
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(' + STR + r')\s*(?:,|$)')


def fail(msg):
    print(msg)
    sys.exit(1)


def lex(expr):
    toks, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError("cannot tokenize %r at %r" % (expr, expr[pos:pos + 20]))
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group()))
        pos = m.end()
    return toks


def matchers(brace):
    """[(label, op, value)] of a {...} token; None if it is no matcher list."""
    body, out, pos = brace[1:-1].strip(), [], 0
    while pos < len(body):
        m = MATCHER.match(body, pos)
        if not m:
            return None
        out.append((m.group(1), m.group(2), m.group(3)[1:-1]))
        pos = m.end()
    return out


def selectors(expr):
    """The vector selectors of expr: [(metric name or None, {...} text or None)]."""
    toks, out, i = lex(expr), [], 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident":
            low = text.lower()
            if low in GROUPING and nxt[1] == "(":
                depth = 0
                for j in range(i + 1, len(toks)):
                    depth += {"(": 1, ")": -1}.get(toks[j][1], 0)
                    if depth == 0:
                        break
                i = j + 1
                continue
            # a function call, or an aggregation with its grouping first: sum by (le) (...)
            if nxt[1] == "(" or low in KEYWORDS or (
                    nxt[0] == "ident" and nxt[1].lower() in ("by", "without")):
                i += 1
                continue
            out.append((text, nxt[1] if nxt[0] == "brace" else None))
            i += 2 if nxt[0] == "brace" else 1
            continue
        if kind == "brace":
            out.append((None, text))
        i += 1
    named = []
    for name, brace in out:
        for label, op, value in (matchers(brace) or []) if brace else []:
            if label == "__name__" and op == "=":
                name = value
        named.append((name, brace))
    return named


def load(path):
    with open(path) as f:
        return json.load(f)


def all_panels(d):
    for p in d.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def queries(d):
    """(where, expr) of every panel target, and of every query variable's selector."""
    for p in all_panels(d):
        for t in p.get("targets", []) or []:
            yield "panel %s %r target %s" % (p.get("id"), p.get("title"), t.get("refId")), t.get("expr", "")
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q or ""
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q)
        if m:
            yield "variable %s" % v["name"], m.group(1)
        elif not re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", q):
            yield "variable %s" % v["name"], q


def is_ds(ds):
    if isinstance(ds, str):
        return ds == DS_INPUT
    return isinstance(ds, dict) and ds.get("uid") == DS_INPUT and ds.get("type", "prometheus") == "prometheus"


def cmd_structure(path):
    d = load(path)
    if not isinstance(d, dict):
        fail("not a JSON object")
    for key in ("title", "uid"):
        if not isinstance(d.get(key), str) or not d[key].strip():
            fail("no %s" % key)
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        fail("schemaVersion %r < 36" % d.get("schemaVersion"))
    inputs = [i for i in d.get("__inputs", []) if i.get("name") == "DS_PROMETHEUS"]
    if len(inputs) != 1 or inputs[0].get("type") != "datasource" or inputs[0].get("pluginId") != "prometheus":
        fail("no __inputs entry DS_PROMETHEUS of type datasource, pluginId prometheus")
    panels = list(all_panels(d))
    if not panels:
        fail("no panels")
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids) or None in ids:
        fail("panel ids missing or not unique: %r" % ids)
    for p in panels:
        if not p.get("type") or not p.get("title") or not isinstance(p.get("gridPos"), dict):
            fail("panel %r lacks a type, title or gridPos" % p.get("id"))
        if p["type"] == "row":
            if p.get("targets"):
                fail("row %r has targets" % p["title"])
            continue
        targets = p.get("targets") or []
        if not targets:
            fail("panel %r has no targets" % p["title"])
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            fail("panel %r: refIds missing or not unique: %r" % (p["title"], refs))
        for t in targets:
            if not isinstance(t.get("expr"), str) or not t["expr"].strip():
                fail("panel %r target %s has no expr" % (p["title"], t.get("refId")))
    tvars = d.get("templating", {}).get("list")
    if not tvars:
        fail("no templating variables")
    byname = {v.get("name"): v for v in tvars}
    for name in ("session", "node", "service"):
        if name not in byname:
            fail("no template variable %s" % name)
    print("%d panels, %d targets, variables %s" % (
        len(panels), sum(len(p.get("targets") or []) for p in panels), ", ".join(sorted(byname))))


def cmd_datasource(path):
    d = load(path)
    bad = []

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "datasource" and not is_ds(v) and not (
                        where.startswith(".annotations") and isinstance(v, dict) and v.get("type") == "grafana"):
                    bad.append("%s: %r" % (where, v))
                walk(v, where + "." + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s[%d]" % (where, i))
    walk(d, "")
    for p in all_panels(d):
        if p.get("type") != "row" and not is_ds(p.get("datasource")):
            bad.append("panel %r: datasource %r" % (p.get("title"), p.get("datasource")))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query" and not is_ds(v.get("datasource")):
            bad.append("variable %s: datasource %r" % (v.get("name"), v.get("datasource")))
    if bad:
        fail("datasources other than %s:\n  %s" % (DS_INPUT, "\n  ".join(sorted(set(bad)))))


def cmd_session(path):
    d = load(path)
    defined = {v.get("name") for v in d.get("templating", {}).get("list", [])}
    bad = []
    for where, expr in queries(d):
        for m in VAR.finditer(expr):
            name = next(g for g in m.groups() if g)
            if name not in defined and name not in BUILTINS:
                bad.append("%s: undefined variable $%s in %s" % (where, name, expr))
        if where == "variable session":
            continue
        sels = selectors(expr)
        if not sels:
            bad.append("%s: no vector selector in %s" % (where, expr))
        for name, brace in sels:
            ms = matchers(brace) if brace else []
            if ms is None or not any(l == "session" and op == "=" and v in ("$session", "${session}")
                                     for l, op, v in ms):
                bad.append('%s: %s%s does not filter on session="$session"' % (where, name or "", brace or ""))
    if bad:
        fail("\n".join(bad))


def cmd_metrics(path):
    """The metric names the dashboard's queries select, one a line."""
    names = set()
    for where, expr in queries(load(path)):
        for name, brace in selectors(expr):
            if name is None:
                fail("%s: a selector without a metric name: %s" % (where, expr))
            names.add(name)
    print("\n".join(sorted(names)))


def cmd_profile(path):
    """The metric names a KPI profile reads, one a line."""
    names = set()
    for k in load(path)["kpis"]:
        if "metric" in k:
            names.add(k["metric"] + ("_bucket" if k.get("kind") == "histogram_quantiles" else ""))
        for key, v in k.items():
            if key.endswith("expr") and isinstance(v, str):
                names.update(n for n, _ in selectors(v) if n)
    print("\n".join(sorted(names)))


def cmd_exposition(path):
    """The metric names of the samples of a text exposition, one a line."""
    names = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)[{ ]", line)
            if m and not line.startswith("#"):
                names.add(m.group(1))
    print("\n".join(sorted(names)))


def cmd_rules(path):
    """A promtool rules file with every query as a recording rule, variables filled in."""
    d = load(path)
    defined = {v.get("name") for v in d.get("templating", {}).get("list", [])}

    def fill(m):
        name = next(g for g in m.groups() if g)
        if name in BUILTINS:
            return BUILTINS[name]
        if name == "session":
            return "s1"
        if name in defined:
            return ".*"
        fail("undefined variable %s" % m.group())
    rules = []
    for n, (where, expr) in enumerate(queries(d)):
        rules.append({"record": "benchmon_dashboard:query_%d" % n, "expr": VAR.sub(fill, expr),
                      "labels": {"where": where}})
    print(json.dumps({"groups": [{"name": "benchmon-dashboard", "rules": rules}]}, indent=1))


def cmd_inject(path, expr):
    """The dashboard with one more target, expr, on its first non-row panel."""
    d = load(path)
    p = next(p for p in all_panels(d) if p.get("type") != "row")
    p["targets"].append({"refId": "ZZ", "datasource": {"type": "prometheus", "uid": DS_INPUT}, "expr": expr})
    print(json.dumps(d, indent=1))


cmd = sys.argv[1].replace("-", "_")
globals()["cmd_" + cmd](*sys.argv[2:])
EOF
dash() { python3 "$TEST_DIR/dash.py" "$@"; }

# start_fixture LOG NAME ARGS...: run tests/fixtures/NAME in the background,
# stopped at exit, and wait for its "listening on" banner.
start_fixture() {
	local log=$1 name=$2
	shift 2
	"$SRC_DIR/tests/fixtures/$name" "$@" 2>"$log" &
	test_cleanup "kill $!"
	wait_for 10 "grep -q 'listening on' '$log'"
}

# known_metrics OUT: the metric names the profile and the exporters produce,
# gathered by the tests below, plus up, which Prometheus writes for every target.
known_metrics() {
	{ echo up; cat profile.txt node.txt fixtures.txt; } | sort -u >"$1"
}

# unknown_metrics DASHBOARD: the dashboard's metrics that no one produces; fails if any.
unknown_metrics() {
	known_metrics known.txt &&
	dash metrics "$1" >used.txt &&
	comm -23 used.txt known.txt >unknown.txt &&
	if [ -s unknown.txt ]; then echo "unknown metrics:"; cat unknown.txt; return 1; fi
}

test_expect_success 'the dashboard is valid JSON with a title, uid, panels and templating' '
	python3 -m json.tool "$DASH" >/dev/null &&
	dash structure "$DASH" &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"uid\"] == \"benchmon-default\", d[\"uid\"]
assert d[\"title\"] == \"benchmon: benchmark KPIs\", d[\"title\"]
v = {x[\"name\"]: x for x in d[\"templating\"][\"list\"]}
q = lambda n: v[n][\"query\"][\"query\"] if isinstance(v[n][\"query\"], dict) else v[n][\"query\"]
assert q(\"session\") == \"label_values(up, session)\", q(\"session\")
assert q(\"node\") == \"label_values(up{session=\\\"\$session\\\"}, node)\", q(\"node\")
assert q(\"service\") == \"label_values(http_requests_total{session=\\\"\$session\\\"}, service)\", q(\"service\")
for n in (\"node\", \"service\"):
    assert v[n][\"multi\"] and v[n][\"includeAll\"], n
" "$DASH"
'

test_expect_success 'every panel, target and variable uses the ${DS_PROMETHEUS} input' '
	dash datasource "$DASH"
'

test_expect_success 'every query filters on session="$session" and uses only defined variables' '
	dash session "$DASH"
'

test_expect_success 'the metrics of the default profile' '
	dash profile "$PROFILE" >profile.txt &&
	cat profile.txt &&
	grep -qx http_server_request_duration_seconds_bucket profile.txt &&
	grep -qx node_memory_MemTotal_bytes profile.txt &&
	grep -qx DCGM_FI_PROF_GR_ENGINE_ACTIVE profile.txt
'

test_expect_success 'the metrics node_exporter exports' '
	: >node.txt &&
	if command -v prometheus-node-exporter >/dev/null && command -v curl >/dev/null; then
		port=$(free_port 19800) &&
		start_node_exporter "$port" &&
		curl -sf "http://127.0.0.1:$port/metrics" >node.prom &&
		dash exposition node.prom >node.txt &&
		grep -qx node_cpu_seconds_total node.txt
	else
		echo "prometheus-node-exporter or curl is not installed: node metrics from the profile only"
	fi
'

test_expect_success 'the metrics the dcgm-exporter and load-target fixtures export' '
	: >fixtures.txt &&
	if [ -x "$SRC_DIR/tests/fixtures/dcgm-exporter" ] && [ -x "$SRC_DIR/tests/fixtures/load-target" ] &&
		command -v curl >/dev/null; then
		dport=$(free_port 19810) &&
		start_fixture dcgm.log dcgm-exporter --listen "127.0.0.1:$dport" --gpus 1 &&
		lport=$(free_port 19820) &&
		start_fixture load.log load-target --listen "127.0.0.1:$lport" &&
		curl -sf "http://127.0.0.1:$dport/metrics" >dcgm.prom &&
		curl -sf "http://127.0.0.1:$lport/metrics" >load.prom &&
		dash exposition dcgm.prom >>fixtures.txt &&
		dash exposition load.prom >>fixtures.txt &&
		grep -qx DCGM_FI_DEV_GPU_UTIL fixtures.txt &&
		grep -qx http_server_request_duration_seconds_bucket fixtures.txt
	else
		echo "tests/fixtures not built: DCGM and HTTP metrics from the profile only"
	fi
'

test_expect_success 'every metric queried is produced by the profile, an exporter or Prometheus (up)' '
	unknown_metrics "$DASH" &&
	cat used.txt
'

test_expect_success 'every metric of the default profile has a panel' '
	dash metrics "$DASH" >used.txt &&
	comm -23 profile.txt used.txt >missing.txt &&
	if [ -s missing.txt ]; then echo "no panel for:"; cat missing.txt; false; fi
'

test_expect_success 'the checks catch a metric no one exports and a query not scoped to the session' '
	dash inject "$DASH" "sum(rate(bogus_requests_total{session=\"\$session\"}[\$__rate_interval]))" >bogus.json &&
	dash session bogus.json &&
	! unknown_metrics bogus.json &&
	grep -qx bogus_requests_total unknown.txt &&
	dash inject "$DASH" "sum by (node) (node_load1{node=~\"\$node\"})" >unscoped.json &&
	! dash session unscoped.json >out &&
	grep -q "node_load1" out &&
	dash inject "$DASH" "max(node_load1{session=\"\$session\"}) / node_load1" >bare.json &&
	! dash session bare.json &&
	dash inject "$DASH" "rate(http_requests_total{session=\"\$session\"}[\$nosuch])" >undefined.json &&
	! dash session undefined.json
'

test_expect_success 'promtool parses every query (as recording rules)' '
	if command -v promtool >/dev/null; then
		dash rules "$DASH" >rules.json &&
		promtool check rules rules.json &&
		dash inject "$DASH" "sum(rate(http_requests_total{session=\"\$session\"}[\$__rate_interval])" >broken.json &&
		dash rules broken.json >broken-rules.json &&
		! promtool check rules broken-rules.json
	else
		echo "promtool is not installed: queries not parsed"
	fi
'

test_done
