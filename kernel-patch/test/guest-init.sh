#!/bin/bash
# PID 1 of the kernel VM test's guest. The root is the host's, read-only over 9p; the host's run directory is
# mounted read-write at /tmp/out. Runs guest-test.sh (or the script crab.test= names on the kernel command line),
# leaves its exit status in /tmp/out/status, and reboots, which ends qemu (-no-reboot).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
# What udev would make: bash's process substitution needs /dev/fd.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs run /run
mount -t bpf bpf /sys/fs/bpf
mkdir -p /tmp/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /tmp/out
test=$(dirname "$(readlink -f "$0")")/guest-test.sh
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        crab.connections=*) export CRAB_KT_CONNECTIONS=${arg#crab.connections=} ;;
        crab.test=*) test=${arg#crab.test=} ;;
    esac
done
echo "crab-guest: up, kernel $(uname -r)"
# Not a pipe into tee: the daemons the test leaves running would hold the pipe open and init would never go on.
"$test" > >(tee /tmp/out/test.log) 2>&1
echo "$?" > /tmp/out/status
sleep 1
sync
echo "crab-guest: done"
echo b > /proc/sysrq-trigger
