#!/usr/bin/env bash
# Regenerate the committed reference outputs under reports/ : the one way they are written
# (`cosim run` and `cosim cost` without --out write to the git-ignored runs/ folder).
#
#   scripts/regenerate_reports.sh            # all of them (about an hour on a shared 2-core machine)
#   scripts/regenerate_reports.sh digits_mlp cost_vit_b16 sweeps/write_noise_x_rule   # some
#
# Each folder is emptied first, so no stale figure survives. Single-threaded BLAS, as the
# references were made (README: speed tip). Runs `python -m cosim` from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# OpenBLAS's Haswell (AVX2) GEMM kernels on every x86-64 machine: kernels chosen by CPU round
# differently in the last bits and long runs diverge from there (README: reproducibility).
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
PY=${PYTHON:-python}

TRAINED="digits_mlp digits_all_rules eapu_paper_denoise eapu_paper_srx2"
COST_ONLY="cost_resnet18_cifar cost_resnet18_imagenet cost_resnet50_imagenet cost_vit_b16"
SWEEPS="sweeps/write_noise_x_rule sweeps/device_family_x_rule sweeps/bp_eapu_ratio_neurosim sweeps/bp_eapu_ratio_digits sweeps/buffer_size_denoise"
SWEEP_FILES="report.md report.html results.csv"    # plus the figures (*.png)

regenerate() {
  local name=$1 out="reports/$1"
  echo "== $name" >&2
  case " $TRAINED " in *" $name "*)
    rm -rf "$out"; $PY -m cosim run "workloads/$name.yaml" --out "$out" --quiet; return ;;
  esac
  case " $COST_ONLY " in *" $name "*)
    rm -rf "$out"; $PY -m cosim cost "workloads/$name.yaml" --out "$out" --quiet; return ;;
  esac
  case " $SWEEPS " in *" $name "*)
    local tmp; tmp=$(mktemp -d)
    $PY -m cosim sweep "workloads/$name.yaml" --out "$tmp/sweep" --quiet
    rm -rf "$out"; mkdir -p "$out"
    for f in $SWEEP_FILES; do cp "$tmp/sweep/$f" "$out/"; done
    cp "$tmp"/sweep/*.png "$out/"
    case $name in      # issue 13's tables and charts of these sweeps (reports/issue13/)
      sweeps/bp_eapu_ratio_*) $PY reports/issue13/ratio_sweep.py "$tmp/sweep" --png "$out/ratio_vs_pulse_width.png" > "$out/ratios.md" ;;
      sweeps/buffer_size_denoise) $PY reports/issue13/buffer_sweep.py "$tmp/sweep" --png "$out/spill_and_energy.png" > "$out/buffer.md" ;;
    esac
    rm -rf "$tmp"; return ;;
  esac
  echo "unknown reference '$name'; known: $TRAINED $COST_ONLY $SWEEPS" >&2; exit 2
}

for name in ${@:-$TRAINED $COST_ONLY $SWEEPS}; do regenerate "$name"; done
