#!/bin/bash
# Throughput through kubectl, with the engine's and the supervisor's CPU time:
#   bench/scripts/kubectl-throughput.sh [COMPLETIONS] [PARALLELISM]
# Uses target/release/joblite (or $JOBLITE). Complements `cargo run -p bench
# -- throughput`, which drives the API with kube-rs and compares with xargs.
# With PERF=FILE the engine is profiled while the Job runs
# (`perf record -e cpu-clock -g`; build with frame pointers, see README).
set -euo pipefail
N=${1:-5000}; PAR=${2:-8}
BIN=${JOBLITE:-$(dirname "$0")/../../target/release/joblite}
D=$(mktemp -d)
"$BIN" serve --port 0 --data-dir "$D" 2>"$D/log" &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; pkill -f "supervise $D/node" || true; rm -rf "$D"' EXIT
while [ ! -f "$D/engine.json" ]; do sleep 0.01; done
export KUBECONFIG=$D/kubeconfig HOME=$D
cat > "$D/job.yaml" <<Y
apiVersion: batch/v1
kind: Job
metadata: {name: tp}
spec:
  completions: $N
  parallelism: $PAR
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: t, image: none, command: ["/bin/true"]}]
Y
if [ -n "${PERF:-}" ]; then
  perf record -q -e cpu-clock -g -o "$PERF" -p "$SP" 2>/dev/null &
  PP=$!
  sleep 0.5
fi
T0=$(date +%s.%N)
kubectl create -f "$D/job.yaml" >/dev/null
kubectl wait --for=condition=complete job/tp --timeout=900s >/dev/null
T1=$(date +%s.%N)
if [ -n "${PERF:-}" ]; then kill -INT "$PP"; wait "$PP" || true; fi
SUP=$(pgrep -f "supervise $D/node" | head -1)
read -r -a S < "/proc/$SP/stat"; read -r -a P < "/proc/$SUP/stat"
TCK=$(getconf CLK_TCK)
awk -v n="$N" -v p="$PAR" -v t0="$T0" -v t1="$T1" -v s="$(( S[13] + S[14] ))" -v q="$(( P[13] + P[14] ))" -v hz="$TCK" \
  -v ok="$(kubectl get job tp -o jsonpath='{.status.succeeded}')" 'BEGIN {
    secs = t1 - t0
    printf "completions=%d parallelism=%d seconds=%.2f pods/s=%.0f server_cpu_ms/pod=%.2f supervisor_cpu_ms/pod=%.2f succeeded=%s\n",
      n, p, secs, n / secs, s / hz * 1000 / n, q / hz * 1000 / n, ok }'
