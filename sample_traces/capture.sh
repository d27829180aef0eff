#!/usr/bin/env bash
# Capture the bundled sample traces on a real machine (as root). Usage:
#   [WARMUP=S] [PERF=1] sample_traces/capture.sh NAME SECONDS -- COMMAND...
# writes NAME.ftrace.txt.zst (tracefs 'trace' text) and NAME.tracecmd.txt.zst
# ('trace-cmd extract' of the same buffer, then 'trace-cmd report'), and with
# PERF=1 also NAME.perf.txt.zst ('perf record -a' of the same events, 'perf script').
set -euo pipefail
name=$1; secs=$2; shift 3
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
EVENTS="kmem/mm_page_alloc kmem/mm_page_free kmem/mm_page_free_batched
 kmem/mm_page_alloc_zone_locked kmem/mm_page_pcpu_drain sched/sched_switch
 sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit
 tlb/tlb_flush ipi/ipi_send_cpu ipi/ipi_send_cpumask
 irq_vectors/call_function_entry irq_vectors/call_function_single_entry"
out=$(cd "$(dirname "$0")" && pwd)
echo 0 > $T/tracing_on; echo > $T/trace; echo 8192 > $T/buffer_size_kb
for e in $EVENTS; do echo 1 > $T/events/$e/enable; done
setsid "$@" >/dev/null 2>&1 & wpid=$!
sleep "${WARMUP:-0}"
echo 1 > $T/tracing_on; sleep "$secs"; echo 0 > $T/tracing_on
kill -- -$wpid 2>/dev/null || true; wait $wpid 2>/dev/null || true
zstd -q -19 -f -o "$out/$name.ftrace.txt.zst" < $T/trace
tmp=$(mktemp -d); trace-cmd extract -o "$tmp/t.dat" >/dev/null 2>&1
trace-cmd report -i "$tmp/t.dat" 2>/dev/null | zstd -q -19 -f -o "$out/$name.tracecmd.txt.zst"
for e in $EVENTS; do echo 0 > $T/events/$e/enable; done
echo > $T/trace; echo 1408 > $T/buffer_size_kb; echo 1 > $T/tracing_on
if [ "${PERF:-0}" = 1 ]; then
  pe=$(for e in $EVENTS; do printf -- '-e %s ' "${e/\//:}"; done)
  setsid "$@" >/dev/null 2>&1 & wpid=$!
  sleep "${WARMUP:-0}"
  # shellcheck disable=SC2086
  perf record -q -a $pe -o "$tmp/perf.data" -- sleep "$secs" 2>/dev/null
  kill -- -$wpid 2>/dev/null || true; wait $wpid 2>/dev/null || true
  perf script -i "$tmp/perf.data" 2>/dev/null | zstd -q -19 -f -o "$out/$name.perf.txt.zst"
fi
rm -rf "$tmp"
ls -l "$out/$name".*
