#!/bin/bash
# AT-CNN's visual finding (issue 20, item 4): SmoothGrad maps of a standard and an adversarially
# trained model (or more models) on the same test images, as one grid PNG, and per model the
# "map follows the object's shape" score of `advlens explain --shape-score` (Pearson's correlation
# of the map with the image's Sobel edge magnitude), averaged over more images.
# SmoothGrad as AT-CNN's figures: the gradient of the label's cross-entropy, 50 noise samples of
# std 0.1 of the image range; every map on its own display scale (--display-scale each), so each
# model's pattern shows and its score does not depend on the other models.
#
# Usage: scripts/smoothgrad-figure.sh OUT.png DATA MODEL_DIR MODEL_DIR [MODEL_DIR ...]
#   MNIST:    scripts/smoothgrad-figure.sh docs/smoothgrad-mnist.png mnist:test models/mnist-gap-cnn models/mnist-pgd-linf
#   CIFAR-10: scripts/smoothgrad-figure.sh docs/smoothgrad-cifar10.png cifar10:test models/cifar10-standard models/cifar10-pgd-linf-8
# Writes OUT.png (the first IMAGES test images, default 8) and OUT-without-.png.json (the scores over
# the first SCORE_IMAGES, default 200, with the settings), and prints the scores as a Markdown table.
# DATA_DIR (default ../shared/data), WORKERS (default 1), IMAGES, SCORE_IMAGES, START (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ]; then
  sed -n '10,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
cmdline="scripts/smoothgrad-figure.sh $*"
out=$1
data=$2
shift 2
case "$out" in *.png) ;; *) echo "smoothgrad-figure: OUT must end in .png (got $out)" >&2; exit 2 ;; esac
for d in "$@"; do
  [ -f "$d/advlens.json" ] || { echo "smoothgrad-figure: no model card in $d" >&2; exit 2; }
done
DATA_DIR=${DATA_DIR:-../shared/data}
WORKERS=${WORKERS:-1}
IMAGES=${IMAGES:-8}
SCORE_IMAGES=${SCORE_IMAGES:-200}
START=${START:-0}
models=()
for d in "$@"; do models+=(--model "$d"); done
SG=(--method smoothgrad --score ce --target label --spread 0.1 --samples 50 --seed 0 --display-scale each)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/advlens-sgfig-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

node bin/advlens.js explain "${models[@]}" --data "$data" --data-dir "$DATA_DIR" --start "$START" \
  --limit "$IMAGES" "${SG[@]}" --workers "$WORKERS" --out "$tmp/figure" > /dev/null
mkdir -p "$(dirname "$out")"
cp "$tmp/figure/grid.png" "$out"

node bin/advlens.js explain "${models[@]}" --data "$data" --data-dir "$DATA_DIR" --start "$START" \
  --limit "$SCORE_IMAGES" "${SG[@]}" --shape-score --workers "$WORKERS" --json --out "$tmp/scores" \
  > "$tmp/scores.json"
node -e '
const fs = require("fs");
const [file, out, data, start, n, figure, command] = process.argv.slice(1);
const r = JSON.parse(fs.readFileSync(file, "utf8"));
const d = r.provenance;
const scores = (d.shapeScores ?? []).map((s) => ({
  model: s.model,
  method: s.method,
  shapeScore: s.mean,
  images: s.perImage.filter((v) => v !== null).length,
}));
const models = (d.models ?? []).map((m) => ({ name: m.name, architecture: m.architecture }));
fs.writeFileSync(out, JSON.stringify({
  figure, data, start: Number(start), scoreImages: Number(n),
  shapeScore: "Pearson correlation of the SmoothGrad map (display values, each map on its own 99th-percentile scale) with the Sobel edge magnitude of the image, mean over images",
  explainers: d.explainers, models, scores,
  command, explainCommand: d.command, measuredAt: d.measuredAt, versions: d.versions,
}, null, 2) + "\n");
console.log(`| model | shape score (mean over ${n} images of ${data}) |`);
console.log("|---|---:|");
for (const s of scores) console.log(`| ${s.model} | ${s.shapeScore === null ? "n/a" : s.shapeScore.toFixed(3)} |`);
' "$tmp/scores.json" "${out%.png}.json" "$data" "$START" "$SCORE_IMAGES" "$out" "$cmdline"
echo "wrote $out and ${out%.png}.json" >&2
