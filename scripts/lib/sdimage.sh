#!/usr/bin/env bash
# Builds SD-card (disk) images without root and without loop mounts: a FAT file system made in
# a plain file (mkfs.fat -C) and filled with mtools, an MBR partition table written by sfdisk
# into a sparse image file, and dd to put the pieces at their sectors. Sourced by scripts/mkimage.
set -euo pipefail

export MTOOLS_SKIP_CHECK=1
SECTOR=512

sd_log() { printf '[mkimage] %s\n' "$*" >&2; }
sd_die() { printf '[mkimage] error: %s\n' "$*" >&2; exit 1; }

sd_need_tools() {
    local tool missing=()
    for tool in mkfs.fat mcopy mmd mdir sfdisk dd truncate; do
        command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin" command -v "$tool" >/dev/null 2>&1 ||
            missing+=("$tool")
    done
    [ "${#missing[@]}" -eq 0 ] ||
        sd_die "missing tools: ${missing[*]} (Debian packages dosfstools, mtools, fdisk; scripts/test installs them)"
    export PATH="$PATH:/sbin:/usr/sbin"
}

# Creates an empty FAT32 file system of SIZE_MIB in FILE.
sd_fat_new() { # FILE SIZE_MIB LABEL
    rm -f "$1"
    mkfs.fat -F 32 -n "$3" -C "$1" $(($2 * 1024)) >/dev/null
}

# Copies SRC into the FAT image at DEST (a path like /extlinux/extlinux.conf), making folders.
sd_fat_put() { # FAT SRC DEST
    local fat=$1 src=$2 dest=$3 dir=
    local part
    IFS=/ read -r -a parts <<<"${dest#/}"
    for part in "${parts[@]:0:${#parts[@]}-1}"; do
        dir=$dir/$part
        mmd -D s -i "$fat" "::$dir" 2>/dev/null || true
    done
    mcopy -o -i "$fat" "$src" "::$dest"
}

# Writes a disk image: SIZE = end of the partition, MBR with one FAT32 (LBA) partition from
# START sector holding the FAT image, marked bootable.
sd_disk_new() { # OUT FAT START_SECTOR
    local out=$1 fat=$2 start=$3 sectors
    sectors=$(($(stat -c %s "$fat") / SECTOR))
    rm -f "$out"
    truncate -s $(((start + sectors) * SECTOR)) "$out"
    printf 'label: dos\nunit: sectors\n\nstart=%d, size=%d, type=c, bootable\n' "$start" "$sectors" |
        sfdisk --quiet --no-reread --no-tell-kernel "$out" >/dev/null
    dd if="$fat" of="$out" bs=$SECTOR seek="$start" conv=notrunc,sparse status=none
}

# Writes FILE into the disk image at SECTOR, leaving the rest as it is.
sd_put_raw() { # OUT FILE SECTOR
    dd if="$2" of="$1" bs=$SECTOR seek="$3" conv=notrunc status=none
}
