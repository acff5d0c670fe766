#!/usr/bin/env bash
# bench-broker.sh — load figures of `rolehop broker` under wrk, each next to
# a plain net/http handler measured in the same run (BENCHMARKS.md).
#
#   scripts/bench-broker.sh [SECONDS]     (default 10 s per wrk run)
#
# Runs BenchmarkBrokerWrk (broker/wrk_bench_test.go) once:
#   1. the authenticated console redirect (test STS 20 ms, federation fake
#      10 ms per call) vs a handler sleeping 30 ms and answering 302;
#   2. ACS logins (one signed SAMLResponse posted again and again, each
#      verified and turned into a session; replay cache off for the run)
#      vs a handler that parses the form and decodes the base64;
#   3. resident memory (VmRSS) idle and with 10,000 live sessions, each made
#      through the ACS, vs a plain server keeping 10,000 such sessions.
# Needs wrk (Debian package wrk; scripts/install-peers.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench-broker: wrk not found; run make peers" >&2; exit 1; }
echo "bench-broker: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(wrk --version 2>&1 | head -1)" >&2
ROLEHOP_BENCH_SECONDS=${1:-10} go test -run '^$' -bench BrokerWrk -benchtime 1x -timeout 20m ./broker/ | sed -n '/^| /p'
