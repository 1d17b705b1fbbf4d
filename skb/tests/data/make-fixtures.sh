#!/usr/bin/env bash
# Regenerates the device-tree fixtures in this folder (run once; the outputs are committed, so
# the tests need neither QEMU nor dtc). Needs qemu-system-aarch64 (10.0), dtc, fdtput, fdtget
# and python3; the QEMU-patched Raspberry Pi tree starts from boards/bcm2711-rpi-4-b.dtb.
#
# usage: skb/tests/data/make-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")"
boards=boards
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# QEMU pads the trees it dumps to 1 MiB or more of free space; cut each blob after its last
# block (totalsize too), which keeps every byte of the tree itself, FDT_NOP tokens included.
trim() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
blob = bytearray(open(sys.argv[1], 'rb').read())
magic, total, structs, strings, rsv, version, last, boot, strings_size, structs_size = struct.unpack('>10I', blob[:40])
end = max(structs + structs_size, strings + strings_size)
blob[4:8] = struct.pack('>I', end)
open(sys.argv[2], 'wb').write(bytes(blob[:end]))
EOF
}

dump() { # dump OUT MACHINE-OPTIONS [QEMU ARGS...]
    local out=$1 machine=$2
    shift 2
    qemu-system-aarch64 -M "$machine,dumpdtb=$work/dump.dtb" "$@" -display none -serial null
    trim "$work/dump.dtb" "$out"
}

# QEMU's own virt trees, with the options the project boots them with.
dump qemu-virt-gicv3.dtb virt,gic-version=3 -cpu cortex-a72 -smp 6 -m 1G
dump qemu-virt-gicv2.dtb virt,gic-version=2 -cpu cortex-a72 -smp 6 -m 1G
dump qemu-virt-el2.dtb virt,gic-version=3,virtualization=on -cpu cortex-a72 -smp 6 -m 1G

# Trees as QEMU hands them to a kernel after patching a given -dtb (FDT_NOP tokens where it
# removed nodes). A dummy kernel makes QEMU load (and patch, and dump) the tree.
head -c 4096 /dev/zero >"$work/kernel.img"
dump qemu-raspi4b-patched.dtb raspi4b -dtb "$boards/bcm2711-rpi-4-b.dtb" -kernel "$work/kernel.img"

# The RK3399 shape on QEMU virt (DESIGN.md): cores 0-3 Cortex-A53 capacity 485 in cluster 0,
# cores 4-5 Cortex-A72 capacity 1024 in cluster 1; then through QEMU's patching.
qemu-system-aarch64 -M virt,gic-version=3,dumpdtb="$work/big-little.dtb" -cpu cortex-a72 -smp 6 -m 1G \
    -display none -serial null
for n in 0 1 2 3 4 5; do
    if [ $n -lt 4 ]; then model=arm,cortex-a53 capacity=485; else model=arm,cortex-a72 capacity=1024; fi
    fdtput -t s "$work/big-little.dtb" /cpus/cpu@$n compatible $model
    fdtput -t i "$work/big-little.dtb" /cpus/cpu@$n capacity-dmips-mhz $capacity
done
fdtput -r "$work/big-little.dtb" /cpus/cpu-map/socket0/cluster0/core4 /cpus/cpu-map/socket0/cluster0/core5
fdtput -c -p "$work/big-little.dtb" /cpus/cpu-map/socket0/cluster1/core0 /cpus/cpu-map/socket0/cluster1/core1
fdtput -t x "$work/big-little.dtb" /cpus/cpu-map/socket0/cluster1/core0 cpu \
    "$(fdtget -t x "$work/big-little.dtb" /cpus/cpu@4 phandle)"
fdtput -t x "$work/big-little.dtb" /cpus/cpu-map/socket0/cluster1/core1 cpu \
    "$(fdtget -t x "$work/big-little.dtb" /cpus/cpu@5 phandle)"
dump qemu-virt-big-little-patched.dtb virt,gic-version=3 -cpu cortex-a72 -smp 6 -m 1G \
    -dtb "$work/big-little.dtb" -kernel "$work/kernel.img"

# Hand-written trees for what no board at hand shows.
for source in synthetic/*.dts; do
    dtc -q -I dts -O dtb -o "${source%.dts}.dtb" "$source"
done
ls -l ./*.dtb synthetic/*.dtb
