#!/usr/bin/env bash
# Fuzzes every input that crosses a trust boundary with cargo-fuzz (libFuzzer), SECONDS per target
# (default 60): netlink replies (ethtool TSINFO, the rtnetlink link dump), linuxptp log lines,
# the node's profile JSON from the ConfigMap through the agent's renderer, ptp4l.conf text, the
# *Opts splitting and owned-options check, the YAML/JSON `ptp-operator render` reads, and ptp4l's
# management replies.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # e.g. scripts/fuzz.sh 300 profiles options
#
# Needs the nightly toolchain; installs cargo-fuzz when missing. Without nightly, or when
# cargo-fuzz cannot be installed, it warns loudly and exits 0 (nothing was fuzzed).
# Builds go to $CARGO_TARGET_DIR/fuzz (default target/fuzz), the growing corpus of each target
# to target/fuzz-corpus/<target> (outside git, kept between runs), seeded from the committed
# crates/ptp-fuzz/seeds/<target>; crashes of the last run to target/fuzz-artifacts/<target>/. Exits
# non-zero on a crash, printing the reproducer and how to replay it.
#
# The fuzzed code is safe Rust: panics and arithmetic overflow are the bugs, so the targets are
# built with debug assertions (overflow checks) and without AddressSanitizer, which would only
# slow them down; with 16 codegen units and the dependencies unoptimised (crates/ptp-fuzz/
# Cargo.toml) so that the build, which includes kube and k8s-openapi, stays short.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${1:-60}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi

warn() {
    printf '\n********************************************************************\n' >&2
    printf '*** WARNING: %s\n' "$@" >&2
    printf '********************************************************************\n\n' >&2
}

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    warn "the nightly toolchain is missing (rustup toolchain install nightly)" "fuzzing SKIPPED: nothing was fuzzed"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "==> cargo-fuzz is missing: installing it (cargo install cargo-fuzz --locked)"
    if ! cargo install cargo-fuzz --locked; then
        warn "cargo-fuzz could not be installed" "fuzzing SKIPPED: nothing was fuzzed"
        exit 0
    fi
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir/fuzz"
corpus_root="$target_dir/fuzz-corpus"
artifacts_root="$target_dir/fuzz-artifacts"
flags=(--sanitizer none --debug-assertions --codegen-units 16)

# target, extra read-only seed directories (besides crates/ptp-fuzz/seeds/<target>)
all_targets=(
    "tsinfo"
    "link_dump"
    "logparse"
    "profiles"
    "ptp4l_conf"
    "options"
    "render_input config/samples"
    "mgmt"
)
fuzz_dir=crates/ptp-fuzz
selected=()
for entry in "${all_targets[@]}"; do
    read -r name _ <<<"$entry"
    if [[ $# -eq 0 ]] || [[ " $* " == *" $name "* ]]; then
        selected+=("$entry")
    fi
done
if [[ ${#selected[@]} -eq 0 ]]; then
    echo "no such target: $*" >&2
    exit 2
fi

start=$(date +%s)
echo "==> building the fuzz targets ($fuzz_dir; the dependencies are built once for all of them)"
cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" "${flags[@]}"
echo "==> built in $(($(date +%s) - start))s"
failed=()
for entry in "${selected[@]}"; do
    read -r name extra <<<"$entry"
    corpus="$corpus_root/$name"
    artifacts="$artifacts_root/$name"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [[ -d "$fuzz_dir/seeds/$name" ]] && seeds+=("$root/$fuzz_dir/seeds/$name")
    for dir in $extra; do seeds+=("$root/$dir"); done
    echo "==> fuzzing $name for ${seconds}s (corpus $corpus)"
    if ! cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "${flags[@]}" "$name" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -artifact_prefix="$artifacts/" -print_final_stats=1; then
        failed+=("$name")
        for input in "$artifacts"/*; do
            [[ -f "$input" ]] || continue
            echo "!!! $name: reproducer $input"
            echo "!!!   replay: cargo +nightly fuzz run --fuzz-dir $fuzz_dir ${flags[*]} $name $input"
        done
    fi
done

echo "==> fuzzing took $(($(date +%s) - start))s for ${#selected[@]} target(s)"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]} (reproducers above, under $artifacts_root)" >&2
    exit 1
fi
echo "no crash found"
