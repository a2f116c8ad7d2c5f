#!/bin/bash
# Engine restart on a store of finished pods: time until /readyz answers,
# and the RSS then.
#   bench/scripts/restart-time.sh make DIR BIN N   # a store with an N-pod Job done
#   bench/scripts/restart-time.sh time DIR BIN     # restart BIN on it
# (BIN: a joblite binary; DIR is kept, remove it when done.)
set -euo pipefail
cmd=$1 D=$2 BIN=$3
start() { "$BIN" serve --port 0 --data-dir "$D" 2>>"$D/log" & SP=$!; }
stop() { kill $SP; wait $SP 2>/dev/null || true; pkill -f "supervise $D/node" || true; sleep 0.5; }
export HOME=$D
if [ "$cmd" = make ]; then
  mkdir -p "$D"; start
  while [ ! -f "$D/engine.json" ]; do sleep 0.01; done
  export KUBECONFIG=$D/kubeconfig
  cat > "$D/job.yaml" <<Y
apiVersion: batch/v1
kind: Job
metadata: {name: tp}
spec:
  completions: $4
  parallelism: 8
  template:
    spec:
      restartPolicy: Never
      containers: [{name: t, image: none, command: ["/bin/true"]}]
Y
  kubectl create -f "$D/job.yaml" >/dev/null
  kubectl wait --for=condition=complete job/tp --timeout=900s >/dev/null
  stop; exit 0
fi
rm -f "$D/engine.json"
T0=$(date +%s.%N); start
while [ ! -f "$D/engine.json" ]; do sleep 0.005; done
export KUBECONFIG=$D/kubeconfig
until kubectl get --raw /readyz >/dev/null 2>&1; do sleep 0.01; done
T1=$(date +%s.%N)
RSS=$(awk '/VmRSS/{print $2}' /proc/$SP/status)
stop
awk -v a=$T0 -v b=$T1 -v r=$RSS 'BEGIN{printf "ready in %.2f s, RSS %.1f MiB\n", b-a, r/1024}'
