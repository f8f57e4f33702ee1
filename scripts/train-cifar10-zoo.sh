#!/bin/bash
# Trains the CIFAR-10 model set of issues 20 (AT-CNN's table) and 21 (the Int paper's CIFAR-10
# tables) one after another, each with the recipe below, into models/cifar10-<member>/ (--resume
# where a checkpoint is left; members whose card exists are skipped). Touch STOP_FILE (default
# .zoo-stop) to stop between members. Usage: scripts/train-cifar10-zoo.sh [member ...] (default: all,
# in the order below); MODELS=DIR trains elsewhere. Run two at once (one per core) with two disjoint member lists.
#
# How the recipes differ from the papers (also written into each card's description):
# - architecture cifar-cnn (six 3x3 convs 32-32-64-64-128-128 with batch norm, GAP, dense; 0.29 M
#   parameters) for every member, in place of AT-CNN's ResNet-18 and the Int paper's "Small" CNN: it
#   has the GAP head CAM needs and trains at ~200 images/s on one core here;
# - SGD with momentum 0.9, weight decay 5e-4, cosine schedule, shift 4 and flip augmentation, batch 64;
#   30 epochs for the standard model, 15 for PGD-L-inf 8/255, 10 for the other robust models
#   (the papers train 100-200 epochs);
# - the inner attack of L-inf adversarial training is FGSM with a random start and step 1.25 eps
#   (Wong et al. 2020, "fast is better than free"), where the papers use PGD-7/10; L2 uses 2 steps of
#   0.6 eps from a random start; eps ramps up over the first 10% of the run;
# - AT-CNN's L2 budgets 4, 8, 12 (at 224x224x3, [0,1] units) are scaled by sqrt(32*32*3 / (224*224*3))
#   = 1/7 to 0.571, 1.143 and 1.714 at 32x32, which keeps the per-pixel RMS of the perturbation.
set -u
cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-../shared/data}
STOP_FILE=${STOP_FILE:-.zoo-stop}
ADVLENS="node bin/advlens.js"
MODELS=${MODELS:-models}   # where the member folders go
EXTRA=${EXTRA:-}           # more train options (tests: EXTRA="--limit 128")
COMMON="--data cifar10:train --data-dir $DATA_DIR --arch cifar-cnn --batch-size 64 --optimizer sgd --lr 0.05 --momentum 0.9 --weight-decay 5e-4 --schedule cosine --augment shift:4,flip --seed 1 --eval-data cifar10:test"
DIFF="Recipe differs from the paper: cifar-cnn (0.29 M parameters, GAP head) not ResNet-18/Small CNN; SGD+cosine, fewer epochs"
FAST="inner attack FGSM with random start, step 1.25 eps (Wong et al. 2020), not PGD-7/10"
linf() { # linf EPS255 EPOCHS
  local e; e=$(node -e "console.log(+(${1}/255).toFixed(6), +(1.25*${1}/255).toFixed(6))")
  set -- "$1" "$2" $e
  echo "--method pgd --norm linf --eps $3 --attack-steps 1 --attack-step-size $4 --epochs $2"
}
l2() { # l2 EPS EPOCHS
  local a; a=$(node -e "console.log(+(0.6*${1}).toFixed(6))")
  echo "--method pgd --norm l2 --eps $1 --attack-steps 2 --attack-step-size $a --epochs $2"
}
recipe() {
  case "$1" in
    standard) echo "--method normal --epochs 30|$DIFF (30 epochs)." ;;
    underfit) echo "--method underfit --epochs 2|$DIFF; AT-CNN's Underfit: the standard recipe stopped after 2 epochs." ;;
    pgd-linf-8) echo "$(linf 8 15)|$DIFF (15 epochs); $FAST." ;;
    pgd-linf-4) echo "$(linf 4 10)|$DIFF (10 epochs); $FAST." ;;
    pgd-linf-2) echo "$(linf 2 10)|$DIFF (10 epochs); $FAST." ;;
    pgd-linf-1) echo "$(linf 1 10)|$DIFF (10 epochs); $FAST." ;;
    pgd-l2-12) echo "$(l2 1.714 10)|$DIFF (10 epochs); AT-CNN's L2 budget 12 at 224x224 scaled by 1/7 to 1.714; inner PGD 2 steps of 0.6 eps." ;;
    pgd-l2-8) echo "$(l2 1.143 10)|$DIFF (10 epochs); AT-CNN's L2 budget 8 at 224x224 scaled by 1/7 to 1.143; inner PGD 2 steps of 0.6 eps." ;;
    pgd-l2-4) echo "$(l2 0.571 10)|$DIFF (10 epochs); AT-CNN's L2 budget 4 at 224x224 scaled by 1/7 to 0.571; inner PGD 2 steps of 0.6 eps." ;;
    fgsm-8) echo "--method fgsm --eps 0.031373 --epochs 10|$DIFF (10 epochs); FGSM training at 8/255 as AT-CNN (no random start)." ;;
    fgsm-4) echo "--method fgsm --eps 0.015686 --epochs 10|$DIFF (10 epochs); FGSM training at 4/255 as AT-CNN (no random start)." ;;
    *) return 1 ;;
  esac
}
ALL=(standard pgd-linf-8 underfit fgsm-8 pgd-linf-4 pgd-l2-8 pgd-linf-2 pgd-linf-1 pgd-l2-12 pgd-l2-4 fgsm-4)
members=("$@")
[ ${#members[@]} -eq 0 ] && members=("${ALL[@]}")
for m in "${members[@]}"; do
  [ -f "$STOP_FILE" ] && { echo "stopped ($STOP_FILE)"; exit 0; }
  r=$(recipe "$m") || { echo "unknown member: $m (use one of ${ALL[*]})"; continue; }
  dir="$MODELS/cifar10-$m"
  [ -f "$dir/advlens.json" ] && { echo "$m: trained already ($dir)"; continue; }
  extra=()
  [ -d "$dir/checkpoint" ] && extra=(--resume)
  echo "$(date -u +%FT%TZ) training $m"
  # shellcheck disable=SC2086
  $ADVLENS train $COMMON ${r%%|*} --description "${r#*|}" --out "$dir" $EXTRA "${extra[@]}" || { echo "training $m failed"; continue; }
  echo "$(date -u +%FT%TZ) trained $m"
done
