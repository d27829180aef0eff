#!/usr/bin/env bash
# Capture the benchmark's real inputs (root): 10 s of `make -j2` as tracefs text, 5 s as a
# trace.dat (trace-cmd extract) and, where perf is installed, 5 s as a perf.data
# (perf record -a). Usage: capture_kbuild.sh KERNEL_SRC OUT_DIR
set -euo pipefail
ksrc=$1; out=$2; T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
EVENTS="kmem/mm_page_alloc kmem/mm_page_free kmem/mm_page_free_batched kmem/mm_page_alloc_zone_locked
 kmem/mm_page_pcpu_drain sched/sched_switch tlb/tlb_flush ipi/ipi_send_cpu
 irq_vectors/call_function_single_entry"
old_kb=$(sed 's/ .*//' $T/buffer_size_kb)
run() {  # seconds file-kind
  make -C "$ksrc" clean >/dev/null 2>&1
  echo 0 > $T/tracing_on; echo > $T/trace; echo 400000 > $T/buffer_size_kb
  for e in $EVENTS; do echo 1 > $T/events/$e/enable; done
  setsid make -C "$ksrc" -j2 >/dev/null 2>&1 & w=$!
  sleep 5; echo 1 > $T/tracing_on; sleep "$1"; echo 0 > $T/tracing_on
  kill -- -$w 2>/dev/null || true; wait $w 2>/dev/null || true
  if [ "$2" = text ]; then cat $T/trace > "$out/kbuild-10s.ftrace.txt"
  else trace-cmd extract -o "$out/kbuild-5s.dat" >/dev/null; fi
  for e in $EVENTS; do echo 0 > $T/events/$e/enable; done
  echo > $T/trace
}
run 10 text
run 5 dat
echo "$old_kb" > $T/buffer_size_kb; echo 1 > $T/tracing_on
if command -v perf >/dev/null; then
  make -C "$ksrc" clean >/dev/null 2>&1
  setsid make -C "$ksrc" -j2 >/dev/null 2>&1 & w=$!
  sleep 5
  perf record -q -a -m 1024 -o "$out/kbuild-5s.perf.data" $(for e in $EVENTS; do
    echo "-e ${e/\//:}"; done) -- sleep 5 >/dev/null 2>&1 || echo "perf record failed" >&2
  kill -- -$w 2>/dev/null || true; wait $w 2>/dev/null || true
fi
ls -l "$out"
