#!/usr/bin/env bash
# ./crab kernel-test: builds Debian's linux-source-6.12 with kernel-patch/*.patch and a trimmed guest config
# (cached by the hash of the patches, the config and the source version), boots it with qemu on the host's root
# (read-only, 9p), and runs kernel-patch/test/guest-test.sh inside. See README, "Kernel patch".
#
#   --connections N   connections per VIP per mix (2 VIPs per mix), default 120
#   --cache DIR       where the source, the objects and the kernels are kept, default /var/cache/crab-kernel
#   --accel auto|kvm|tcg
#                     auto (default) tries KVM and falls back to TCG if the guest is not up within 60 s
#   --rebuild         build even if a kernel for this hash is cached
#   --build-only      build (or find) the kernel, run checkpatch, boot nothing
set -euo pipefail

ROOT=$(dirname "$(dirname "$(readlink -f "$0")")")
PATCH_DIR=$ROOT/kernel-patch
PKG=linux-source-6.12
TARBALL=/usr/src/$PKG.tar.xz
# Bump when the way the kernel is built changes, so that no older build is taken for a newer one.
RECIPE=1

say() { printf 'crab: %s\n' "$*" >&2; }
usage_error() { say "$*"; exit 2; }

connections=120
cache=/var/cache/crab-kernel
accel=auto
rebuild=
build_only=
while [ $# -gt 0 ]; do
    case "$1" in
        --connections)
            [[ "${2:-}" =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "--connections ${2:-}: give a number of 1..9999"
            connections=$2; shift 2 ;;
        --cache)
            [ -n "${2:-}" ] || usage_error "--cache needs a directory"
            cache=$(realpath -m -- "$2"); shift 2 ;;
        --accel)
            case "${2:-}" in auto|kvm|tcg) accel=$2 ;; *) usage_error "--accel ${2:-}: use auto, kvm or tcg" ;; esac
            shift 2 ;;
        --rebuild) rebuild=1; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage_error "kernel-test: unknown option $1 (see ./crab kernel-test --help)" ;;
    esac
done

shopt -s nullglob
series=("$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch)
shopt -u nullglob
[ ${#series[@]} -gt 0 ] || { say "no patches in $PATCH_DIR"; exit 1; }
version=$(dpkg-query -W -f='${Version}' $PKG)
key=$( { cat "${series[@]}" "$PATCH_DIR/guest.config"; echo "$version recipe $RECIPE"; } | sha256sum | cut -c1-16)
image=$cache/bzImage-$key
tree=$cache/$PKG
obj=$cache/obj
mkdir -p "$cache"

# The series is applied to a fresh extraction of the tarball, and the result synced into the build tree by
# content (rsync --checksum, without keeping the extraction's old times): files the series does not change keep
# their times, so make (objects in $obj) rebuilds only what a change of the series or of the source touches.
prepare_tree() {
    local scratch=$cache/scratch p
    rm -rf "$scratch"
    mkdir -p "$scratch"
    tar -C "$scratch" -xaf "$TARBALL"
    for p in "${series[@]}"; do
        if ! patch -d "$scratch/$PKG" -p1 -s -f --dry-run < "$p" >/dev/null; then
            rm -rf "$scratch"
            say "$p does not apply to $PKG $version"
            exit 1
        fi
        patch -d "$scratch/$PKG" -p1 -s -f < "$p"
    done
    if [ -d "$tree" ]; then
        rsync -rl --checksum --delete --exclude=/.git "$scratch/$PKG/" "$tree/"
        rm -rf "$scratch"
    else
        mv "$scratch/$PKG" "$tree"
        rmdir "$scratch"
    fi
    say "applied ${#series[@]} patches to $PKG $version (patch -p1)"
}

checkpatch() {
    local p out
    for p in "${series[@]}"; do
        # The system's python3 first: spdxcheck.py needs its ply module.
        out=$(cd "$tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --quiet --show-types "$p" 2>&1 || true)
        printf 'crab: checkpatch --strict %s: %s\n' "$(basename "$p")" \
            "$(grep -E '^total:' <<< "$out" || echo "clean")" >&2
        grep -E '^(ERROR|WARNING|CHECK):' <<< "$out" | sed 's/^/crab:   /' >&2 || true
    done
}

build_kernel() {
    local opt
    (cd "$tree" && make -s O="$obj" ARCH=x86_64 tinyconfig >/dev/null &&
        scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "$PATCH_DIR/guest.config" >/dev/null &&
        make -s O="$obj" ARCH=x86_64 olddefconfig)
    for opt in $(grep -oE '^CONFIG_[A-Z0-9_]+=y' "$PATCH_DIR/guest.config"); do
        grep -qx "$opt" "$obj/.config" || { say "guest.config: $opt did not survive olddefconfig"; exit 1; }
    done
    say "building bzImage (nice -n 10 make -j$(nproc); about 16 min cold on 2 idle cores, $cache/build.log)"
    local t=$SECONDS
    if ! (cd "$tree" && nice -n 10 make O="$obj" ARCH=x86_64 -j"$(nproc)" bzImage) > "$cache/build.log" 2>&1; then
        tail -n 30 "$cache/build.log" >&2
        say "kernel build failed (whole log in $cache/build.log)"
        exit 1
    fi
    cp "$obj/arch/x86/boot/bzImage" "$image.tmp"
    mv "$image.tmp" "$image"
    say "built $image in $((SECONDS - t)) s"
}

if [ -n "$rebuild" ] || [ ! -f "$image" ] || [ -n "$build_only" ]; then
    prepare_tree
    checkpatch
fi
if [ -n "$rebuild" ] || [ ! -f "$image" ]; then
    build_kernel
else
    say "kernel for hash $key cached: $image"
fi
[ -z "$build_only" ] || exit 0

run=$(mktemp -d "$cache/run.XXXXXX")
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
    mkdir -p "$cache/last-run"
    cp -f "$run"/console.log "$run"/test.log "$run"/summary "$cache/last-run/" 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
cp "$ROOT/bench/target/crab.jar" "$run/crab.jar"
gcc -O2 -Wall -o "$run/crabkt" "$PATCH_DIR/test/crabkt.c"

append="console=ttyS0 loglevel=4 panic=-1 root=root rootfstype=9p ro"
append+=" rootflags=trans=virtio,version=9p2000.L,msize=262144 init=$PATCH_DIR/test/guest-init.sh"
append+=" crab.connections=$connections"

# boot ACCEL CPU: starts qemu in the background, its console in $run/console.log (and on stderr).
boot() {
    : > "$run/console.log"
    qemu-system-x86_64 -accel "$1" -cpu "$2" -smp 2 -m 2048 -nographic -no-reboot -net none \
        -kernel "$image" -append "$append" \
        -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
        -virtfs local,path="$run",mount_tag=out,security_model=none,multidevs=remap \
        < /dev/null > "$run/console.log" 2>&1 &
    qemu_pid=$!
}

# Waits for qemu to end (the guest reboots when done), showing the guest's lines; at most limit seconds.
follow() {
    local limit=$1 shown=0 t=$SECONDS lines
    while kill -0 "$qemu_pid" 2>/dev/null; do
        lines=$(wc -l < "$run/console.log")
        if [ "$lines" -gt "$shown" ]; then
            sed -n "$((shown + 1)),${lines}p" "$run/console.log" | grep -E '^\[ *[0-9]+s\]|crab-guest|PASS|FAIL' >&2 || true
            shown=$lines
        fi
        if [ $((SECONDS - t)) -gt "$limit" ]; then
            say "the guest did not finish within $limit s"
            kill "$qemu_pid" 2>/dev/null || true
            break
        fi
        sleep 2
    done
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
    sed -n "$((shown + 1)),\$p" "$run/console.log" | grep -E '^\[ *[0-9]+s\]|crab-guest|PASS|FAIL' >&2 || true
}

t0=$SECONDS
used=
if [ "$accel" != tcg ] && [ -w /dev/kvm ]; then
    boot kvm host
    for _ in $(seq 30); do
        grep -q 'crab-guest: up' "$run/console.log" && used=kvm && break
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 2
    done
    if [ -z "$used" ]; then
        [ "$accel" = kvm ] && { tail -n 20 "$run/console.log" >&2; say "the guest did not come up under KVM"; exit 1; }
        say "the guest did not come up under KVM within 60 s: using TCG"
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
        qemu_pid=
    fi
elif [ "$accel" = kvm ]; then
    say "--accel kvm: /dev/kvm is missing or not writable"
    exit 1
fi
if [ -z "$used" ]; then
    used=tcg
    boot tcg,thread=multi max
fi
say "booting $image under $used"
follow 2700
status=$(cat "$run/status" 2>/dev/null || echo none)
say "guest ($used) ran $((SECONDS - t0)) s; logs in $cache/last-run"
if [ "$status" != 0 ]; then
    if [ "$status" = none ]; then tail -n 40 "$run/console.log" >&2; fi
    say "kernel-test failed (guest status $status)"
    exit 1
fi
say "kernel-test passed"
