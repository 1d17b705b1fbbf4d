#!/usr/bin/env bash
# Fetches arm64 (or any architecture's) Debian packages without root and without touching the
# host's apt state: a private sources list, lists and cache under build/cache/debian/<suite>,
# `apt-get download`, then `dpkg-deb -x`. Sourced by scripts/mkimage.
#
#   debian_root PKG [ARCH]   prints the folder PKG is extracted into (fetching it first if it is
#                            not cached); the package's files lie under it as in the .deb
#   debian_root_part PKG PATTERN [ARCH]
#                            the same, extracting only the files whose paths match the shell
#                            PATTERN (a big package's one folder, say)
#
# Settings (environment): MK_DEBIAN_SUITE (default trixie), MK_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), MK_CACHE_DIR (default build/cache), MK_DEBIAN_REFRESH=1 to
# update the package lists even when a cached copy exists.
set -euo pipefail

MK_DEBIAN_SUITE=${MK_DEBIAN_SUITE:-trixie}
MK_DEBIAN_MIRROR=${MK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MK_DEBIAN_KEYRING=${MK_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

debian_log() { printf '[debian] %s\n' "$*" >&2; }
debian_die() { printf '[debian] error: %s\n' "$*" >&2; exit 1; }

# The private apt folder for one suite and architecture.
debian_dir() { # ARCH
    echo "${MK_CACHE_DIR:?MK_CACHE_DIR must be set}/debian/$MK_DEBIAN_SUITE-$1"
}

# apt-get/apt-cache with every state and configuration path redirected into debian_dir.
debian_apt() { # ARCH TOOL ARGS...
    local arch=$1 tool=$2 dir
    shift 2
    dir=$(debian_dir "$arch")
    "$tool" -q \
        -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=/dev/null" \
        -o "Dir::Cache=$dir/cache" -o "Dir::Cache::archives=$dir/cache/archives" \
        -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/empty" \
        -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$dir/empty" \
        -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)" \
        -o "Acquire::Languages=none" \
        "$@"
}

# Updates the private package lists once per cache (or always with MK_DEBIAN_REFRESH=1).
debian_update() { # ARCH
    local arch=$1 dir
    dir=$(debian_dir "$arch")
    if [ -f "$dir/lists/.updated" ] && [ "${MK_DEBIAN_REFRESH:-0}" != 1 ]; then
        return
    fi
    command -v apt-get >/dev/null 2>&1 || debian_die "apt-get is needed to fetch Debian packages"
    [ -f "$MK_DEBIAN_KEYRING" ] ||
        debian_die "$MK_DEBIAN_KEYRING is missing (install the debian-archive-keyring package)"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/empty"
    printf 'deb [signed-by=%s] %s %s main non-free-firmware\n' \
        "$MK_DEBIAN_KEYRING" "$MK_DEBIAN_MIRROR" "$MK_DEBIAN_SUITE" >"$dir/sources.list"
    debian_log "updating package lists for $MK_DEBIAN_SUITE/$arch (main, non-free-firmware)"
    if ! debian_apt "$arch" apt-get update >"$dir/update.log" 2>&1; then
        cat "$dir/update.log" >&2
        debian_die "apt-get update for $MK_DEBIAN_SUITE/$arch failed (network to $MK_DEBIAN_MIRROR?)"
    fi
    touch "$dir/lists/.updated"
}

# Prints the first package a metapackage depends on (linux-image-arm64 -> linux-image-6.x-arm64).
debian_dependency() { # ARCH PKG
    local arch=$1 pkg=$2 dep
    debian_update "$arch"
    dep=$(debian_apt "$arch" apt-cache depends "$pkg" 2>/dev/null | sed -n 's/^ *Depends: //p' | head -n1)
    [ -n "$dep" ] || debian_die "package $pkg not found (or has no dependency) in $MK_DEBIAN_SUITE/$arch"
    echo "$dep"
}

# Downloads PKG's .deb into the cache (once) and prints its path.
debian_deb() { # PKG ARCH
    local pkg=$1 arch=$2 dir deb
    dir=$(debian_dir "$arch")
    deb=$(ls -t "$dir/debs/${pkg}_"*.deb 2>/dev/null | head -n1)
    if [ -n "$deb" ] && [ "${MK_DEBIAN_REFRESH:-0}" != 1 ]; then
        echo "$deb"
        return
    fi
    debian_update "$arch"
    mkdir -p "$dir/debs"
    debian_log "downloading $pkg ($MK_DEBIAN_SUITE/$arch)"
    if ! (cd "$dir/debs" && debian_apt "$arch" apt-get download "$pkg") >"$dir/download.log" 2>&1; then
        cat "$dir/download.log" >&2
        debian_die "could not download $pkg from $MK_DEBIAN_SUITE/$arch"
    fi
    deb=$(ls -t "$dir/debs/${pkg}_"*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || debian_die "apt-get download left no ${pkg}_*.deb in $dir/debs"
    echo "$deb"
}

debian_root() { # PKG [ARCH]
    local pkg=$1 arch=${2:-arm64} root deb
    root=$(debian_dir "$arch")/root/$pkg
    if [ -f "$root/.extracted" ] && [ "${MK_DEBIAN_REFRESH:-0}" != 1 ]; then
        echo "$root"
        return
    fi
    deb=$(debian_deb "$pkg" "$arch")
    rm -rf "$root"
    mkdir -p "$root"
    dpkg-deb -x "$deb" "$root"
    basename "$deb" >"$root/.extracted"
    debian_log "unpacked $(basename "$deb")"
    echo "$root"
}

debian_root_part() { # PKG PATTERN [ARCH]
    local pkg=$1 pattern=$2 arch=${3:-arm64} root deb marker
    root=$(debian_dir "$arch")/root/$pkg
    marker="$root/.extracted-$(printf '%s' "$pattern" | cksum | cut -d' ' -f1)"
    if [ -f "$marker" ] && [ "${MK_DEBIAN_REFRESH:-0}" != 1 ]; then
        echo "$root"
        return
    fi
    deb=$(debian_deb "$pkg" "$arch")
    mkdir -p "$root"
    # A tar pattern that matches nothing is an error; it then says which.
    if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --wildcards "$pattern" 2>"$root/.tar.log"; then
        cat "$root/.tar.log" >&2
        debian_die "$(basename "$deb") has no files matching $pattern"
    fi
    basename "$deb" >"$marker"
    debian_log "unpacked $pattern from $(basename "$deb")"
    echo "$root"
}
