#!/bin/sh
# Runs every fuzz target for $1 seconds (default 600), one after another,
# at the lowest priority, single job; then minimises each corpus in place.
# Usage: fuzz/run-all.sh [seconds] [target...]
set -eu
cd "$(dirname "$0")"
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-"decode_body strategic_merge_patch selectors quantity index_set supervisor_protocol"}
for t in $targets; do
    mkdir -p corpus/$t
    echo "== $t: ${secs}s"
    nice -n 19 cargo +nightly fuzz run -O "$t" corpus/$t -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 2>&1 \
        | grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|stat::new_units_added)|==[0-9]+==|panicked|SUMMARY|Test unit written|artifact_prefix' || true
    nice -n 19 cargo +nightly fuzz cmin -O "$t" corpus/$t > /dev/null 2>&1 || echo "cmin of $t failed"
    echo "== $t: $(ls corpus/$t | wc -l) corpus files"
done
