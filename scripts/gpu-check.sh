#!/usr/bin/env bash
# Builds lazysweep on a machine with a GPU, checks the GPU engine against the float64 CPU
# engine, runs the GPU benchmarks and prints a short table last.
#
# Usage: scripts/gpu-check.sh [OUT_DIR]
# Needs a Vulkan loader (libvulkan1) and the GPU's Vulkan driver. Set LAZYSWEEP_DATA to run
# the end-to-end comparison on real MNIST; otherwise it uses the embedded MNIST subset.
# Every step's output goes to OUT_DIR (default: gpu-check/) as a log file.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-check}"
mkdir -p "$out"
export NODEVICE_SELECT=1
status=()

step() {
    local name="$1"
    shift
    local started=$SECONDS
    if "$@" >"$out/$name.log" 2>&1; then
        status+=("$name|ok|$((SECONDS - started)) s")
    else
        status+=("$name|FAILED (see $out/$name.log)|$((SECONDS - started)) s")
    fi
}

step build cargo build --release --all-targets
step kernels cargo test --release --test gpu_kernels -- --nocapture
step engine cargo test --release --test gpu_engine -- --nocapture
step precision cargo test --release --test gpu_precision -- --nocapture
step df64 cargo test --release --test gpu_df64 -- --nocapture
step bench_matmul cargo bench --bench gpu_matmul -- --noplot
step bench_step cargo bench --bench gpu_step -- --noplot

# The same small sweep on both engines; the figures in the two results.csv files should
# agree to float32 accuracy.
data_args=(--data mnist-subset)
if [ -n "${LAZYSWEEP_DATA:-}" ]; then
    data_args=(--data mnist)
fi
# The CPU engine takes most of this step's time, so the sweep is kept small enough for the
# whole script to finish within about 10 minutes.
sweep_args=(sweep "${data_args[@]}" --optimizer gd,rmsprop,modified-rmsprop
    --alphas 1e-2:1e2:5 --etas 1e-3:1e1:5 --steps 100 --hidden 1000 --n-train 1000
    --no-plots --batch-cells 75)
rm -rf "$out/sweep-cpu" "$out/sweep-gpu"
step sweep_gpu env RUST_LOG=info target/release/lazysweep "${sweep_args[@]}" --backend gpu \
    --out "$out/sweep-gpu"
step sweep_cpu target/release/lazysweep "${sweep_args[@]}" --backend cpu --out "$out/sweep-cpu"

echo
echo "GPU adapter:"
grep -h -m1 -i "adapter" "$out/engine.log" "$out/sweep_gpu.log" 2>/dev/null | head -1 || true
echo
echo "Matrix-product kernel chosen by measurement:"
grep -h -m1 "measured fastest" "$out/sweep_gpu.log" 2>/dev/null || echo "  (not logged)"
echo
echo "Matrix-product throughput (criterion, Gelem/s = GFLOP/s):"
grep -E "^gpu_matmul|thrpt:" "$out/bench_matmul.log" || echo "  (no benchmark output)"
echo
echo "Training steps (criterion, elem/s = cell-steps/s) and the matrix products' share:"
grep -E "^gpu_engine|thrpt:|one step in|matrix products:" "$out/bench_step.log" ||
    echo "  (no benchmark output)"
echo
if [ -f "$out/sweep-cpu/results.csv" ] && [ -f "$out/sweep-gpu/results.csv" ]; then
    echo "Largest test-accuracy difference between engines over non-diverged cells:"
    # The test_acc column is found by name, so the comparison follows the CSV layout.
    paste -d, "$out/sweep-cpu/results.csv" "$out/sweep-gpu/results.csv" | awk -F, '
        NR == 1 {
            half = NF / 2
            for (i = 1; i <= half; i++) if ($i == "test_acc") col = i
            next
        }
        $col != "" && $(col + half) != "" {
            diff = $col - $(col + half); if (diff < 0) diff = -diff; if (diff > max) max = diff
        }
        END { printf "  %.4f (fraction of the test set)\n", max }'
fi
echo
printf "%-14s %-40s %s\n" step result time
for row in "${status[@]}"; do
    IFS='|' read -r name result time <<<"$row"
    printf "%-14s %-40s %s\n" "$name" "$result" "$time"
done
echo "total: $SECONDS s"
