#!/bin/bash
# benchmon run's edge readings over a 10-minute window: throughput within 0.1% of the target's
# own count (t0812 with one long window).
EDGES_WINDOWS=${EDGES_WINDOWS:-600} exec bash "$(dirname "$0")/../t0812-run-edges.sh"
