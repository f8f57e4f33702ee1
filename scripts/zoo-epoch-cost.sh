#!/bin/bash
# The cost of each training method of a zoo, as CPU seconds per training image (Figure 3 of Boopathy
# et al.: computation time per epoch for the MNIST Small model trained with different methods).
# Each member's own training command (from its card, `advlens zoo --json`) is run twice on one
# worker, on the first SMALL and the first LARGE training images for one epoch, into a temporary
# folder (no evaluation); the difference of the two runs' CPU time (user + system, from
# /usr/bin/time) over LARGE - SMALL images is the cost per image, free of start-up and loading,
# and CPU time rather than wall time keeps other work on the machine out of it (mostly: caches
# and memory bandwidth are shared). Times the zoo's epoch (its training-set size) to give seconds
# per epoch. Prints TSV: method, cpu seconds per image, seconds per epoch, images per epoch.
# Usage: scripts/zoo-epoch-cost.sh [mnist|cifar10] [SMALL] [LARGE]   (default mnist 320 960)
# ONLY="pgd-linf ig-norm" measures those members alone (keep Adv among them for the ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
ZOO=${1:-mnist}
SMALL=${2:-320}
LARGE=${3:-960}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ADVLENS="node bin/advlens.js"
$ADVLENS zoo --zoo "$ZOO" --json > "$TMP/zoo.json"
node -e '
const z = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const only = (process.env.ONLY ?? "").split(/\s+/).filter(Boolean);
for (const m of z.present) if (!only.length || only.includes(m.method)) console.log([m.method, m.command].join("\t"));
' "$TMP/zoo.json" > "$TMP/members.tsv"
cpu() { # cpu SECONDS of one run: args...
  /usr/bin/time -f "%U %S" -o "$TMP/t" "$@" > /dev/null 2> "$TMP/err" || { echo "failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
  awk '{print $1 + $2}' "$TMP/t"
}
printf 'method\tcpu_s_per_image\ts_per_epoch\timages_per_epoch\n'
while IFS=$'\t' read -r method cmd; do
  # The member's command without its output, resume and evaluation; one worker, one epoch.
  args=$(echo "$cmd" | sed -E 's/^advlens //; s/ --out [^ ]+//; s/ --resume//; s/ --eval-data [^ ]+//; s/ --epochs [^ ]+//; s/ --workers [^ ]+//')
  n=$(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const m=c.present.find(x=>x.method===process.argv[2]);const t=JSON.parse(require("fs").readFileSync(m.cardPath,"utf8")).training;console.log(t?.recipe?.examples ?? t?.examples ?? 0)' "$TMP/zoo.json" "$method")
  a=$(eval cpu $ADVLENS $args --epochs 1 --workers 1 --limit "$SMALL" --out "$TMP/a-$method")
  b=$(eval cpu $ADVLENS $args --epochs 1 --workers 1 --limit "$LARGE" --out "$TMP/b-$method")
  node -e 'const [a,b,s,l,n,m]=process.argv.slice(1);const per=(b-a)/(l-s);console.log([m,per.toFixed(5),(per*n).toFixed(1),n].join("\t"))' "$a" "$b" "$SMALL" "$LARGE" "$n" "$method"
done < "$TMP/members.tsv"
