#!/bin/bash
# Trains the zoo members that have no card yet, one after another with the zoo's recipe (the command
# `advlens zoo` prints; --resume where a checkpoint is left), then records each one's clean accuracy
# on the official test set and its PGD-200 accuracy at every eps of Table 1 (advlens zoo table
# --record). Needs ../shared/data (or DATA_DIR). Touch STOP_FILE (default .zoo-stop) to stop between
# steps. Usage: scripts/zoo-train-missing.sh [member ...]   (default: every missing member)
set -u
cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-../shared/data}
STOP_FILE=${STOP_FILE:-.zoo-stop}
ADVLENS="node bin/advlens.js"
# zoo_field METHOD FIELD: a field of the member in `advlens zoo --json` (present or missing), or "".
zoo_field() {
  $ADVLENS zoo --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const z=JSON.parse(s);const m=[...z.present,...z.missing].find(x=>x.method===process.argv[1]);console.log(m?.[process.argv[2]]??"")})' "$1" "$2"
}
members=("$@")
if [ ${#members[@]} -eq 0 ]; then
  mapfile -t members < <($ADVLENS zoo --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const m of JSON.parse(s).missing)console.log(m.method)})')
fi
for m in "${members[@]}"; do
  [ -f "$STOP_FILE" ] && { echo "stopped ($STOP_FILE)"; exit 0; }
  dir=$(zoo_field "$m" dir)
  [ -z "$dir" ] && { echo "unknown zoo member: $m"; continue; }
  if [ ! -f "$dir/advlens.json" ]; then
    cmd=$(zoo_field "$m" train)
    extra=""
    [ -d "$dir/checkpoint" ] && extra="--resume"
    echo "$(date -u +%FT%TZ) training $m: $cmd $extra"
    $ADVLENS ${cmd#advlens } $extra || { echo "training $m failed"; continue; }
  fi
  [ -f "$STOP_FILE" ] && { echo "stopped ($STOP_FILE)"; exit 0; }
  $ADVLENS eval --model "$dir" --data mnist:test --data-dir "$DATA_DIR" --record > /dev/null
  $ADVLENS zoo table --data mnist:test --data-dir "$DATA_DIR" --only "$m" --record > /dev/null
  echo "$(date -u +%FT%TZ) recorded $m"
done
