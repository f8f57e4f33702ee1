#!/bin/bash
# Where a node command spends its time, wasm kernels included, by Linux perf's sampling (no hardware
# counters needed: the cpu-clock event works in VMs): V8 writes its code (`--perf-prof`, jitdump),
# `perf inject --jit` turns it into symbols, and the report names each wasm function
# `wasm-function[N]-N-turbofan` (or -liftoff before tier-up); `node --import tsx bench/wasm-exports.ts`
# maps N to the project module's exports. With --annotate N, also the hottest instructions of that
# function and its time per 512-byte stretch of code (which loop of a kernel is hot).
#
#   bench/perf-wasm.sh [--freq 2000] [--top 25] [--annotate 10] -- node --import tsx SCRIPT [ARGS...]
#
# Needs perf (Debian: apt-get install linux-perf). The command runs in the current folder; the jitdump
# and the per-function objects perf makes from it are removed afterwards.
set -eu
freq=2000 top=25 annotate=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    --freq) freq=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    --annotate) annotate=$2; shift 2 ;;
    *) echo "perf-wasm.sh: unknown option $1 (usage: bench/perf-wasm.sh [--freq N] [--top N] [--annotate N] -- node ...)" >&2; exit 2 ;;
  esac
done
[ "${1:-}" = "--" ] && shift
[ "${1:-}" = "node" ] || { echo "perf-wasm.sh: the command must start with node (after --)" >&2; exit 2; }
command -v perf > /dev/null || { echo "perf-wasm.sh: perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
shift
tmp=$(mktemp -d)
before=$(ls jit-*.dump 2> /dev/null || true)
cleanup() {
  for f in jit-*.dump; do
    [ -e "$f" ] || continue
    case " $before " in *" $f "*) continue ;; esac
    pid=${f#jit-}; pid=${pid%.dump}
    rm -f "$f" jitted-"$pid"-*.so
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
perf record -q -k 1 -F "$freq" -o "$tmp/perf.data" node --perf-prof "$@"
perf inject --jit -i "$tmp/perf.data" -o "$tmp/perf.jit.data"
perf report -i "$tmp/perf.jit.data" --stdio --sort sym 2> /dev/null | grep -v '^#' | grep -v '^$' | head -n "$top"
if [ -n "$annotate" ]; then
  sym="JS:wasm-function[$annotate]-$annotate-turbofan"
  perf annotate -i "$tmp/perf.jit.data" --stdio -s "$sym" 2> /dev/null > "$tmp/annotate.txt" || true
  echo
  echo "$sym: hottest instructions (percent of the function)"
  grep -E '^ +[0-9]+\.[0-9]+ :' "$tmp/annotate.txt" | sort -rn | head -n 15
  echo
  echo "$sym: percent per 512-byte stretch of code (offset)"
  python3 - "$tmp/annotate.txt" << 'PY'
import collections, sys
s = collections.Counter()
for line in open(sys.argv[1]):
    p = line.split()
    try:
        pct, addr = float(p[0]), int(p[2].rstrip(':'), 16)
    except (ValueError, IndexError):
        continue
    s[addr // 512 * 512] += pct
for k in sorted(s):
    if s[k] >= 0.5:
        print('%6x %6.2f' % (k, s[k]))
PY
fi
