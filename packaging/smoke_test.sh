#!/usr/bin/env bash
# Smoke-test the BUILT bundle the way a user without Python runs it:
#   bash packaging/smoke_test.sh [BUNDLE_DIR]        (default: dist/sr-desktop)
# The bundle is copied (hard links, so it is quick) to a temporary folder outside the repo and
# run there from a temporary working folder with a clean environment (env -i: no PYTHONPATH, no
# virtual environment, a fresh HOME, QT_QPA_PLATFORM=offscreen). Checks --version, models,
# upscale of resources/samples/sample.png against the same command run from source (max abs
# diff <= 1), the GUI's --self-test, and a 5-iteration training run through `sr-desktop train`
# (the entry the wizard starts) whose exported model is then listed and used, then 2 iterations
# of the GAN stage from that model (perceptual loss: a VGG16 with random weights).
# The repo's .venv runs the source side and the image comparison (the test harness only).
# Exits non-zero with a message naming the failed step.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bundle="$(cd "${1:-dist/sr-desktop}" 2>/dev/null && pwd)" || { echo "smoke_test: FAILED: no bundle at ${1:-dist/sr-desktop}; run 'bash packaging/build.sh' first" >&2; exit 2; }
py="$root/.venv/bin/python"
src_cli="$root/.venv/bin/sr-desktop"
[ -x "$bundle/sr-desktop" ] || { echo "smoke_test: FAILED: $bundle/sr-desktop is not an executable" >&2; exit 2; }
[ -x "$py" ] && [ -x "$src_cli" ] || { echo "smoke_test: FAILED: $root/.venv is missing (run bash scripts/test.sh)" >&2; exit 2; }
sample="$root/resources/samples/sample.png"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sr-smoke.XXXXXX")"
keep="${SR_SMOKE_KEEP:-0}"
cleanup() { [ "$keep" = 1 ] && echo "smoke_test: kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
home="$tmp/home"; work="$tmp/work"; mkdir -p "$home" "$work"

# Outside the repo: hard links where possible (same file system), a real copy otherwise.
app="$tmp/sr-desktop"
cp -al "$bundle" "$app" 2>/dev/null || { rm -rf "$app"; cp -a "$bundle" "$app"; } \
    || { echo "smoke_test: FAILED: could not copy the bundle to $app" >&2; exit 2; }

failures=0
log="$tmp/step.log"
fail() { echo "smoke_test: FAILED: $*" >&2; failures=$((failures + 1)); }
# bundle ARGS...: run the copied bundle in a clean environment from $work; output in $log.
bundle_run() {
    (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$home" QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 \
        "$app/sr-desktop" "$@") >"$log" 2>&1
}
# step NAME COMMAND...: run, time it, report; on failure show the output's tail.
step() {
    local name="$1"; shift
    local t0 t1 rc
    t0=$(date +%s.%N)
    "$@"; rc=$?
    t1=$(date +%s.%N)
    if [ $rc -eq 0 ]; then
        printf 'smoke_test: ok   %-34s %6.1f s\n' "$name" "$(echo "$t1 - $t0" | bc)"
    else
        fail "$name (exit $rc)"; tail -n 25 "$log" >&2
    fi
    return $rc
}
expect() { grep -q -- "$1" "$log" || { echo "expected '$1' in the output:" >>"$log"; return 1; }; }

check_version() {
    local want
    want="sr-desktop $("$py" -c 'import sr_desktop; print(sr_desktop.__version__)')"
    bundle_run --version && expect "^$want\$"
}
check_models() { bundle_run models && expect "edsr-x2 .*bundled"; }
check_upscale() {
    bundle_run upscale "$sample" -o "$tmp/out-bundle" --model edsr-x2 --precision fp32 --device cpu || return 1
    (cd "$work" && "$src_cli" upscale "$sample" -o "$tmp/out-src" --model edsr-x2 --precision fp32 --device cpu) >>"$log" 2>&1 || return 1
    "$py" "$root/packaging/compare_images.py" "$tmp/out-bundle/sample.png" "$tmp/out-src/sample.png" --tol 1 --shape 240x320 >>"$log" 2>&1
}
check_self_test() { bundle_run --self-test && expect "self-test OK"; }
check_train() {
    "$py" "$root/packaging/make_tiny_dataset.py" "$tmp/tiny" --vgg "$tmp/vgg16-random.pth" >"$log" 2>&1 || return 1
    bundle_run train "$tmp/tiny" --iters 5 --n-resblocks 1 --n-feats 8 --batch 2 --patch 16 --val-crop 64 \
        --device cpu --run-dir "$tmp/run" --export "$tmp/m.safetensors" || return 1
    [ -s "$tmp/m.safetensors" ] || { echo "no model exported to $tmp/m.safetensors" >>"$log"; return 1; }
}
check_trained_model() {
    # The exported file, used by path, and as a user model in the store of the clean HOME.
    local store="$home/.local/share/sr-desktop/models"
    mkdir -p "$store" && cp "$tmp/m.safetensors" "$store/smoke-x2.safetensors"
    bundle_run models && expect "smoke-x2 .*user" || return 1
    bundle_run upscale "$sample" -o "$tmp/out-trained" --model "$tmp/m.safetensors" --precision fp32 --device cpu || return 1
    (cd "$work" && "$src_cli" upscale "$sample" -o "$tmp/out-trained-src" --model "$tmp/m.safetensors" --precision fp32 --device cpu) >>"$log" 2>&1 || return 1
    "$py" "$root/packaging/compare_images.py" "$tmp/out-trained/sample.png" "$tmp/out-trained-src/sample.png" --tol 1 --shape 240x320 >>"$log" 2>&1
}
check_gan() {
    bundle_run train "$tmp/tiny" --stage gan --init-from "$tmp/m.safetensors" --iters 2 --n-resblocks 1 \
        --n-feats 8 --batch 2 --patch 24 --val-crop 64 --device cpu --vgg-weights "$tmp/vgg16-random.pth" \
        --vgg-layer relu2_2 --run-dir "$tmp/run-gan" --export "$tmp/gan.safetensors" || return 1
    [ -s "$tmp/gan.safetensors" ] || { echo "no model exported to $tmp/gan.safetensors" >>"$log"; return 1; }
}

echo "smoke_test: bundle $bundle ($(du -sh "$bundle" | cut -f1)), run from $app"
step "--version" check_version
step "models (lists edsr-x2)" check_models
step "upscale x2 (same as source)" check_upscale && tail -n 1 "$log"
step "--self-test (GUI, offscreen)" check_self_test && tail -n 1 "$log"
if step "train 5 iterations" check_train; then
    step "models/upscale with trained model" check_trained_model && tail -n 1 "$log"
    step "GAN stage 2 iterations (VGG loss)" check_gan
else
    fail "models/upscale with trained model, GAN stage (skipped: training failed)"
fi

if [ $failures -gt 0 ]; then
    echo "smoke_test: $failures step(s) FAILED" >&2
    exit 1
fi
echo "smoke_test: all steps passed"
