#!/bin/bash
# The target registry: clients, services, --from-file, hostile input, concurrency.
. "$(dirname "$0")/lib.sh"

targets="$BENCHMON_HOME/sessions/reg/targets"

test_expect_success 'setup' '
	benchmon session-create --run-id reg --launcher local >/dev/null
'

test_expect_success 'client-connect writes one file per client, with its exporters' '
	benchmon client-connect --session reg --client-id c1 --node nodeA \
		--node-exporter nodeA:9100 --dcgm-exporter nodeA:9400 --enable-node --enable-dcgm >out &&
	grep -q "client .c1. on node nodeA connected" out &&
	test_path_is_file "$targets/client+c1.json" &&
	[ "$(stat -c %a "$targets/client+c1.json")" = 600 ] &&
	python3 - "$targets/client+c1.json" <<-\PY
	import json, sys
	groups = json.load(open(sys.argv[1]))
	kinds = {g["labels"]["kind"]: g for g in groups}
	assert set(kinds) == {"node", "dcgm"}, kinds
	assert kinds["node"]["targets"] == ["nodeA:9100"]
	assert kinds["dcgm"]["targets"] == ["nodeA:9400"]
	for g in groups:
	    l = g["labels"]
	    assert l["session"] == "reg" and l["client_id"] == "c1" and l["node"] == "nodeA", l
	PY
'

test_expect_success 'a client without exporters is registered too' '
	benchmon client-connect --session reg --client-id c2 --node nodeB &&
	test_path_is_file "$targets/client+c2.json"
'

test_expect_success 'service-register maps the URL to scheme, address, path and params' '
	benchmon service-register --session reg --client-id c1 --name triton \
		--endpoint "https://nodeA:8000/v2/metrics?format=prometheus&x=a%20b" >out &&
	grep -q "service .triton. of client .c1. registered" out &&
	python3 - "$targets"/service+c1+triton+*.json <<-\PY
	import json, sys
	[g] = json.load(open(sys.argv[1]))
	l = g["labels"]
	assert g["targets"] == ["nodeA:8000"], g
	assert l["__scheme__"] == "https" and l["__metrics_path__"] == "/v2/metrics", l
	assert l["__param_format"] == "prometheus" and l["__param_x"] == "a b", l
	assert l["kind"] == "service" and l["service"] == "triton" and l["node"] == "nodeA", l
	PY
'

test_expect_success 'a URL without port or path gets the defaults' '
	benchmon service-register --session reg --client-id c2 --name web --endpoint http://nodeB &&
	grep -q "\"nodeB:80\"" "$targets"/service+c2+web+*.json &&
	grep -q "\"__metrics_path__\":\"/metrics\"" "$targets"/service+c2+web+*.json
'

test_expect_success 'a service of an unknown client is refused and nothing is written' '
	snapshot "$BENCHMON_HOME" >before &&
	test_expect_code 1 benchmon service-register --session reg --client-id ghost --name x --endpoint http://h:1/m 2>err &&
	grep -q "client .ghost. is not connected" err &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success 're-registering a service replaces it' '
	benchmon service-register --session reg --client-id c2 --name web --endpoint http://nodeB:81/m2 &&
	BENCHMON_SESSION=reg benchmon status --json >st.json &&
	python3 -c "
import json; d = json.load(open(\"st.json\"))
web = [t for t in d[\"targets\"] if t[\"name\"] == \"web\"]
assert len(web) == 1 and web[0][\"address\"] == \"nodeB:81\", web
assert d[\"clients\"] == 2, d
"
'

# Each entry: a flag and a hostile value; every one must fail with 2 and change nothing.
hostile_cases() {
	printf "%s\n" \
		"client-id|../etc" "client-id|a/b" "client-id|" "client-id|x\$(id)" "client-id|a\"b" "client-id|a b" \
		"node|a;b" "node|" "node|\`id\`" "node|a/b" \
		"node-exporter|nodeA" "node-exporter|nodeA:0" "node-exporter|nodeA:99999" "node-exporter|http://nodeA:9100" \
		"node-exporter|a b:1" "node-exporter|[zz]:1" "dcgm-exporter|x:y" "dcgm-exporter|:9400"
}
test_expect_success 'hostile client-connect input: exit 2, nothing changed' '
	snapshot "$BENCHMON_HOME" >before &&
	hostile_cases | while IFS="|" read -r flag value; do
		set -- --client-id c9 --node n9
		case $flag in
		client-id) set -- --client-id "$value" --node n9 ;;
		node) set -- --client-id c9 --node "$value" ;;
		*) set -- --client-id c9 --node n9 "--$flag" "$value" ;;
		esac
		test_expect_code 2 benchmon client-connect --session reg "$@" 2>err || { echo "accepted: $flag=$value"; exit 1; }
		grep -q "invalid\|missing\|expected" err || { cat err; exit 1; }
	done &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success 'hostile service-register input: exit 2, nothing changed' '
	snapshot "$BENCHMON_HOME" >before &&
	for ep in "" "nodeA:8000/metrics" "ftp://nodeA/x" "http://" "http:///metrics" "http://u:p@nodeA/m" \
		"http://nodeA/m#frag" "http://nodeA/a b" "http://nodeA/\"q\"" "http://nodeA/\$(id)" \
		"http://nodeA/x
y" "http://nodeA:0/m" "http://nodeA:65536/m" "http://nodeA/../../etc/passwd" \
		"http://nodeA/m?bad-name=1" "http://nodeA/m?a=1&a=2" "http://nodeA/m?x=%zz" \
		"http://$(head -c 3000 /dev/zero | tr "\0" a)/m" "javascript:alert(1)"; do
		test_expect_code 2 benchmon service-register --session reg --client-id c1 --name s9 --endpoint "$ep" 2>err ||
			{ echo "accepted endpoint: $ep"; exit 1; }
		grep -q "invalid endpoint" err || { cat err; exit 1; }
	done &&
	for name in "" "../x" "a b" "a:b" "x\$(id)" "$(head -c 10000 /dev/zero | tr "\0" a)"; do
		test_expect_code 2 benchmon service-register --session reg --client-id c1 --name "$name" --endpoint http://a:1/m 2>err ||
			{ echo "accepted name: $name"; exit 1; }
	done &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

# The kernel passes no single argument over 128 KiB (MAX_ARG_STRLEN): the
# largest ones go on the command line and in the environment, and 1 MB fields
# come through the files benchmon reads.
test_expect_success 'the largest arguments and 1 MB fields: exit 2, nothing changed' '
	big=$(head -c 131000 /dev/zero | tr "\0" a) &&
	head -c 1048576 /dev/zero | tr "\0" b >mb &&
	snapshot "$BENCHMON_HOME" >before &&
	test_expect_code 2 benchmon client-connect --session "$big" --client-id c1 --node n1 2>err &&
	test_expect_code 2 benchmon client-connect --session reg --client-id "$big" --node n1 2>err &&
	test_expect_code 2 benchmon client-connect --session reg --client-id c1 --node "$big" 2>err &&
	test_expect_code 2 benchmon service-register --session reg --client-id c1 --name s1 --endpoint "http://a:1/$big" 2>err &&
	test_expect_code 2 benchmon collect --session reg --from-iso "$big" --to-iso now --out o --run-id r 2>err &&
	BENCHMON_SESSION=$big test_expect_code 2 benchmon status 2>err &&
	# error messages quote a bounded prefix, never the whole value
	[ "$(wc -c <err)" -lt 2000 ] &&
	{ printf "c1,s1,http://a:1/"; cat mb; printf "\n"; } >mb.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file mb.csv 2>err &&
	{ printf "c1,"; cat mb; printf ",http://a:1/m\n"; } >mb2.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file mb2.csv 2>err &&
	[ "$(wc -c <err)" -lt 2000 ] &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success 'hostile session ids never reach the file system' '
	for id in "../reg" "/etc" "reg/../reg" "."; do
		test_expect_code 2 benchmon client-connect --session "$id" --client-id c1 --node n1 2>err || exit 1
	done
'

test_expect_success '--from-file registers every row at once (header optional, quoted fields)' '
	printf "client_id,name,endpoint\nc1,vllm,http://nodeA:8001/metrics\nc2,\"qdrant\",\"http://nodeB:6333/metrics?a=1,2\"\n" >svc.csv &&
	benchmon service-register --session reg --from-file svc.csv >out &&
	grep -q "^2 services registered" out &&
	test_path_is_file "$targets"/service+c1+vllm+*.json &&
	test_path_is_file "$targets"/service+c2+qdrant+*.json &&
	printf "c1,vllm2,http://nodeA:8002/metrics\n" >noheader.csv &&
	benchmon service-register --session reg --from-file noheader.csv
'

test_expect_success '--from-file is all or nothing, and names the bad line' '
	snapshot "$BENCHMON_HOME" >before &&
	printf "client_id,name,endpoint\nc1,a,http://nodeA:1/m\nc1,b,not-a-url\nc1,c,http://nodeA:3/m\n" >bad.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file bad.csv 2>err &&
	grep -q "bad.csv:3:" err && grep -q "no service was registered" err &&
	printf "c1,a,http://nodeA:1/m\nc1,b\n" >short.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file short.csv 2>err &&
	grep -q "short.csv:2: expected 3 fields" err &&
	printf "c1,a,http://nodeA:1/m\nghost,b,http://nodeA:2/m\n" >ghost.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file ghost.csv 2>err &&
	grep -q "ghost.csv:2:.*not connected" err &&
	printf "c1,\"unterminated,http://x:1/m\n" >broken.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file broken.csv 2>err &&
	: >empty.csv &&
	test_expect_code 1 benchmon service-register --session reg --from-file empty.csv 2>err &&
	test_expect_code 1 benchmon service-register --session reg --from-file missing.csv 2>err &&
	grep -q "cannot open .missing.csv." err &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success '--from-file cannot be mixed with single-service flags' '
	test_expect_code 2 benchmon service-register --session reg --from-file svc.csv --name x
'

test_expect_success '32 concurrent client-connects lose nothing' '
	for i in $(seq 1 32); do
		benchmon client-connect --session reg --client-id "par$i" --node "n$i" --node-exporter "n$i:9100" >/dev/null &
	done &&
	wait &&
	[ "$(ls "$targets" | grep -c "^client+par")" = 32 ] &&
	BENCHMON_SESSION=reg benchmon status --json >st.json &&
	python3 -c "
import json; d = json.load(open(\"st.json\"))
assert sum(1 for t in d[\"targets\"] if t[\"client_id\"].startswith(\"par\")) == 32
"
'

test_expect_success 'concurrent service registrations into one session lose nothing' '
	for p in $(seq 1 8); do
		( for i in $(seq 1 25); do
			benchmon service-register --session reg --client-id c1 --name "p$p-s$i" --endpoint "http://nodeA:$((1000 + i))/m" >/dev/null || exit 1
		done ) &
	done &&
	wait &&
	[ "$(ls "$targets" | grep -c "^service+c1+p")" = 200 ]
'

# view NAME...: per service NAME of client c1, the URLs of every target group
# Prometheus reads for it (targets/*.json and each auth directory's *.json)
view() {
	python3 - "$targets" "$@" <<-\PY
	import glob, json, sys
	root, names = sys.argv[1], sys.argv[2:]
	urls = {n: [] for n in names}
	for f in sorted(glob.glob(root + "/*.json") + glob.glob(root + "/auth/*/*.json")):
	    for g in json.load(open(f)):
	        l = g["labels"]
	        if l.get("client_id") == "c1" and l.get("service") in urls:
	            urls[l["service"]].append(l["__benchmon_url"])
	for n in names:
	    print(n, " ".join(urls[n]))
	PY
}

test_expect_success 'a single registration after --from-file: Prometheus reads one endpoint per name' '
	printf "c1,bweb,http://nodeA:7001/m\nc1,bapi,http://nodeA:7002/m\n" >batch.csv &&
	benchmon service-register --session reg --from-file batch.csv >/dev/null &&
	benchmon service-register --session reg --client-id c1 --name bweb --endpoint http://nodeA:7003/m >/dev/null &&
	view bweb bapi >actual &&
	printf "bweb http://nodeA:7003/m\nbapi http://nodeA:7002/m\n" >expect &&
	test_cmp expect actual &&
	BENCHMON_SESSION=reg benchmon status --json >st.json &&
	python3 -c "
import json; d = json.load(open(\"st.json\"))
assert [t[\"url\"] for t in d[\"targets\"] if t[\"name\"] == \"bweb\"] == [\"http://nodeA:7003/m\"], d
"
'

test_expect_success '--from-file after a single registration replaces it too' '
	benchmon service-register --session reg --from-file batch.csv >/dev/null &&
	view bweb bapi >actual &&
	printf "bweb http://nodeA:7001/m\nbapi http://nodeA:7002/m\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'with and without --bearer-token-file at once, 100 times: registered once, never lost' '
	printf "secret" >"$TEST_DIR/token" &&
	for i in $(seq 1 100); do
		benchmon service-register --session reg --client-id c1 --name race --endpoint "http://nodeA:1/plain$i" >/dev/null &
		a=$!
		benchmon service-register --session reg --client-id c1 --name race --endpoint "http://nodeA:2/token$i" \
			--bearer-token-file "$TEST_DIR/token" >/dev/null &
		b=$!
		wait $a && wait $b || { echo "round $i: a registration failed"; exit 1; }
		# only service+c1+race+* files hold race (checked once below), so counting them suffices
		find "$targets" -name "service+c1+race+*.json" >files &&
		[ "$(wc -l <files)" = 1 ] &&
		grep -qE "\"http://nodeA:(1/plain|2/token)$i\"" $(cat files) || { echo "round $i:"; cat files; exit 1; }
	done &&
	view race >actual &&
	grep -qE "^race http://nodeA:(1/plain|2/token)100$" actual
'

test_expect_success 'temporary file names carry the host name and the pid' '
	mkdir -p "$targets/client+tmpx.json/in-the-way" &&
	test_expect_code 1 benchmon client-connect --session reg --client-id tmpx --node n1 2>err &&
	grep -qE "client\+tmpx\.json\.tmp\.$(hostname)\.[0-9]+. to" err &&
	! ls "$targets" | grep -q "\.tmp\." &&
	rm -r "$targets/client+tmpx.json"
'

test_expect_success '--node auto uses this node'"'"'s name' '
	benchmon client-connect --session reg --client-id auto1 --node auto >out &&
	grep -q "on node $(hostname -s) connected" out
'

test_expect_success 'loopback targets are registered under the node name when Prometheus may run elsewhere' '
	benchmon session-create --run-id remote --launcher slurm >/dev/null &&
	benchmon client-connect --session remote --client-id c1 --node nodeA \
		--node-exporter 127.0.0.1:9100 --dcgm-exporter localhost:9400 2>err &&
	grep -q "note: 127.0.0.1:9100 registered as nodeA:9100" err &&
	grep -q "\"nodeA:9100\"" "$BENCHMON_HOME/sessions/remote/targets/client+c1.json" &&
	grep -q "\"nodeA:9400\"" "$BENCHMON_HOME/sessions/remote/targets/client+c1.json" &&
	benchmon service-register --session remote --client-id c1 --name svc --endpoint http://localhost:8000/m 2>err &&
	grep -q "note: 1 endpoint on 127.0.0.1/localhost" err &&
	grep -q "\"nodeA:8000\"" "$BENCHMON_HOME"/sessions/remote/targets/service+c1+svc+*.json
'

test_expect_success 'loopback targets stay as given when Prometheus runs on loopback too' '
	benchmon session-create --run-id local1 --launcher slurm --listen 127.0.0.1 >/dev/null &&
	benchmon client-connect --session local1 --client-id c1 --node nodeA --node-exporter 127.0.0.1:9100 2>err &&
	! grep -q note err &&
	grep -q "\"127.0.0.1:9100\"" "$BENCHMON_HOME/sessions/local1/targets/client+c1.json"
'

test_expect_success 'inside a Slurm job session-create defaults the id to the job id' '
	SLURM_JOB_ID=777 benchmon session-create --launcher local >/dev/null &&
	test_path_is_dir "$BENCHMON_HOME/sessions/777"
'

test_expect_success 'leftover temporary files are ignored by readers' '
	echo "[{\"targets\":[\"half" >"$targets/service+c1+x.json.tmp.12345" &&
	BENCHMON_SESSION=reg benchmon status --json >/dev/null
'

test_expect_success 'a corrupted registry file is named' '
	echo "[{\"targets\":[\"half" >"$targets/service+c1+bad.json" &&
	test_expect_code 1 benchmon status --session reg 2>err &&
	grep -q "service+c1+bad.json" err &&
	rm "$targets/service+c1+bad.json"
'

test_done
