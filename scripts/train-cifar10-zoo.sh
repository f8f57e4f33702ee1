#!/bin/bash
# Trains the CIFAR-10 zoo (issues 20 and 21: the AT-CNN set and the Int paper's CIFAR-10 set, one
# cifar-cnn per method) one member after another, each with the recipe `advlens zoo --zoo cifar10`
# prints (src/zoo/cifar10.ts: the recipes and, in each card's description, how they differ from the
# papers), into models/cifar10-<member>/ (--resume where a checkpoint is left; members whose card
# exists are skipped). Touch STOP_FILE (default .zoo-stop) to stop between members.
# Usage: scripts/train-cifar10-zoo.sh [member ...]   (default: every missing member, in zoo order)
# Run two at once (one per core) with two disjoint member lists. MODELS=DIR trains elsewhere;
# EXTRA="--limit 128 --epochs 1" adds options (for a quick check of the recipes).
# Ctrl-C or SIGTERM stops the zoo: the member training now gets the signal, finishes its batch,
# checkpoints it (the next run of the script resumes it) and exits; then the script exits 130 / 143.
set -u
cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-../shared/data}
STOP_FILE=${STOP_FILE:-.zoo-stop}
MODELS=${MODELS:-models}
EXTRA=${EXTRA:-}
ADVLENS="node bin/advlens.js"
mkdir -p "$MODELS"
# zoo_field METHOD FIELD: a field of the member in `advlens zoo --zoo cifar10 --json`, or "".
zoo_field() {
  $ADVLENS zoo --zoo cifar10 --models "$MODELS" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const z=JSON.parse(s);const m=[...z.present,...z.missing].find(x=>x.method===process.argv[1]);console.log(m?.[process.argv[2]]??"")})' "$1" "$2"
}
# The training run in progress; INT and TERM are forwarded to it (a terminal's Ctrl-C reaches it
# directly too: advlens train takes both as one request), then the script waits for it and exits.
child=0
stop() {
  if [ "$child" -gt 0 ]; then
    echo "$(date -u +%FT%TZ) $1: stopping; $m checkpoints its last batch (run the script again to resume it)" >&2
    kill -"$1" "$child" 2>/dev/null
    wait "$child"
  else
    echo "$(date -u +%FT%TZ) $1: stopping" >&2
  fi
  exit "$2"
}
trap 'stop INT 130' INT
trap 'stop TERM 143' TERM
members=("$@")
if [ ${#members[@]} -eq 0 ]; then
  mapfile -t members < <($ADVLENS zoo --zoo cifar10 --models "$MODELS" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const m of JSON.parse(s).missing)console.log(m.method)})')
fi
for m in "${members[@]}"; do
  [ -f "$STOP_FILE" ] && { echo "stopped ($STOP_FILE)"; exit 0; }
  dir=$(zoo_field "$m" dir)
  [ -z "$dir" ] && { echo "unknown or trained member: $m"; continue; }
  [ -f "$dir/advlens.json" ] && { echo "$m: trained already ($dir)"; continue; }
  cmd=$(zoo_field "$m" train)
  extra=""
  [ -d "$dir/checkpoint" ] && extra="--resume"
  echo "$(date -u +%FT%TZ) training $m: $cmd $extra"
  # In the background, so that the traps above run while it trains (bash defers a trap until a
  # foreground command ends); `wait` returns as soon as a signal arrives.
  eval "$ADVLENS ${cmd#advlens } --data-dir '$DATA_DIR' $EXTRA $extra &"
  child=$!
  wait "$child"
  status=$?
  child=0
  [ $status -eq 0 ] || { echo "training $m failed"; continue; }
  echo "$(date -u +%FT%TZ) trained $m"
done
