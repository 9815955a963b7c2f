#!/usr/bin/env python3
"""Write a synthetic finished run directory, as collect leaves one: MANIFEST.json, kpis.csv and
timeseries.csv (session and per-node series), for tests and benchmarks of benchmon report.

gen-run.py DIR [--seconds 10800] [--step 1] [--nodes 1] [--run-id ID] [--spike-at S] [--label K=V]
           [--throughput-scale F] [--seed N]

Deterministic. --spike-at puts one step of throughput at 10 times its level, S seconds into the
window (the spike tests look for it in the drawing).
"""
import argparse, datetime, json, math, os, random

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--seconds", type=int, default=10800)
ap.add_argument("--step", type=float, default=1.0)
ap.add_argument("--nodes", type=int, default=1)
ap.add_argument("--run-id", default="synthetic")
ap.add_argument("--spike-at", type=float, default=None)
ap.add_argument("--label", action="append", default=[])
ap.add_argument("--throughput-scale", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=42)
a = ap.parse_args()

start = datetime.datetime(2026, 1, 5, 10, 0, 0, tzinfo=datetime.timezone.utc)
t0 = start.timestamp()
npoints = int(a.seconds / a.step)
rng = random.Random(a.seed)


def iso(t):
    d = datetime.datetime.fromtimestamp(round(t, 3), datetime.timezone.utc)
    ms = int(round(t * 1000)) % 1000
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (".%03dZ" % ms if ms else "Z")


kpis = [  # name, unit, level, wobble
    ("throughput_qps", "req/s", 1500, 200), ("latency_p50_ms", "ms", 12, 2), ("latency_p95_ms", "ms", 60, 8),
    ("latency_p99_ms", "ms", 75, 10), ("cpu_util_avg_pct", "%", 55, 20), ("mem_used_avg_pct", "%", 30, 3),
    ("load1_avg", "", 3, 1), ("gpu_util_avg_pct", "%", 70, 25), ("gpu_mem_used_avg_mib", "MiB", 40000, 2000),
    ("gpu_temp_max_c", "C", 65, 6), ("gpu_power_avg_w", "W", 280, 60), ("net_rx_bytes_per_s", "B/s", 2e7, 5e6),
    ("net_tx_bytes_per_s", "B/s", 1.8e7, 5e6),
]
scopes = ["session"] + ["node=n%d" % (i + 1) for i in range(a.nodes)]
os.makedirs(a.dir, exist_ok=True)
means = {}
with open(os.path.join(a.dir, "timeseries.csv"), "w") as f:
    f.write("kpi,scope,time,value,unit\n")
    times = [iso(t0 + (j + 1) * a.step) for j in range(npoints)]
    for name, unit, level, wobble in kpis:
        for si, scope in enumerate(scopes):
            total, phase = 0.0, si * 0.7
            rows = []
            for j in range(npoints):
                v = level + wobble * math.sin(j * a.step / 600 + phase) + rng.uniform(-0.1, 0.1) * wobble
                if name == "throughput_qps":
                    v *= a.throughput_scale
                if name == "throughput_qps" and a.spike_at is not None and abs((j + 1) * a.step - a.spike_at) < a.step / 2:
                    v = 10 * level
                v = max(v, 0)
                total += v
                rows.append("%s,%s,%s,%.6g,%s\n" % (name, scope, times[j], v, unit))
            f.write("".join(rows))
            means[(name, scope)] = total / npoints
with open(os.path.join(a.dir, "kpis.csv"), "w") as f:
    f.write("kpi,scope,value,unit,lower,upper,samples,status,method\n")
    for name, unit, level, wobble in kpis:
        for scope in scopes:
            v = means[(name, scope)]
            bounds = ("%.6f" % (v * 0.99), "%.6f" % (v * 1.01)) if name == "throughput_qps" else \
                ("%.6f" % (v * 0.8), "+Inf") if name.startswith("latency") else ("", "")
            f.write("%s,%s,%.6f,%s,%s,%s,%d,ok,sampled\n" % (name, scope, v, unit, bounds[0], bounds[1], npoints))
manifest = {
    "schema_version": 1, "benchmon_version": "0.1.0", "session": "synthetic", "run_id": a.run_id,
    "status": "ok",
    "window": {"from": iso(t0), "to": iso(t0 + npoints * a.step), "step_seconds": a.step, "points": npoints},
    "prometheus": {"url": "http://n1:9090", "version": "2.42.0+ds", "source": "saved",
                   "jobs": [{"job": "4242", "source": "saved", "from": iso(t0 - 60), "to": iso(t0 + npoints * a.step + 60)}]},
    "job": {"launcher": "slurm", "job_id": "4242", "node": "n1"},
    "profile": {"name": "default", "path": "templates/profiles/default.json"},
    "targets": [{"client_id": "c%d" % (i + 1), "kind": "node", "name": None, "node": "n%d" % (i + 1),
                 "address": "n%d:9100" % (i + 1), "health": "up", "up_ratio": 1} for i in range(a.nodes)],
    "queries": [{"kpi": k[0], "promql": "synthetic{session=\"synthetic\"}", "endpoint": "/api/v1/query_range",
                 "series": a.nodes} for k in kpis],
    "findings": [],
}
if a.label:
    manifest["labels"] = dict(kv.split("=", 1) for kv in a.label)
with open(os.path.join(a.dir, "MANIFEST.json"), "w") as f:
    json.dump(manifest, f, indent=2)
