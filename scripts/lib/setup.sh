#!/usr/bin/env bash
# Installs what the build and the tests need on a Debian or Ubuntu machine, once.
# Sourced by scripts/run and scripts/test; safe to run again (it only installs what is missing).
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

qemu_major() {
    command -v qemu-system-aarch64 >/dev/null 2>&1 || { echo 0; return; }
    qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1
}

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq
        apt_updated=1
    fi
}

install_qemu() {
    local major
    major=$(qemu_major)
    if [ "${major:-0}" -ge 9 ]; then
        return
    fi
    log "QEMU ${major} found, 9 or newer needed: installing"
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
        local list=/etc/apt/sources.list.d/bookworm-backports.sources
        if [ ! -f "$list" ]; then
            log "adding bookworm-backports (QEMU 10) to $list"
            as_root tee "$list" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
            apt_updated=0
        fi
        apt_update_once
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-arm >/dev/null
    else
        apt_update_once
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm >/dev/null
    fi
    major=$(qemu_major)
    if [ "${major:-0}" -lt 9 ]; then
        log "error: QEMU ${major} installed, but this project needs QEMU 9 or newer"
        exit 1
    fi
}

# Whether a tool is installed, looking in the sbin folders too (not on a user's PATH).
have_tool() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

install_packages() {
    local missing=()
    command -v dtc >/dev/null 2>&1 || missing+=(device-tree-compiler)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    # Board images (scripts/mkimage, tests/tests/boards.rs): FAT, partition tables, mtools,
    # Debian's archive key for fetching firmware packages (U-Boot for QEMU among them: the
    # host's own u-boot-qemu is not used, scripts/mkimage fetches trixie's).
    have_tool mkfs.fat || missing+=(dosfstools)
    have_tool sfdisk || missing+=(fdisk)
    have_tool mcopy || missing+=(mtools)
    # scripts/test checks every shell script with it.
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    have_tool dpkg-deb || missing+=(dpkg)
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_update_once
        log "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The debugger for `scripts/run --gdb` and the gdb test (tests/tests/gdb.rs): installed only
# when asked for, as most runs never need it.
install_gdb() {
    if ! command -v gdb-multiarch >/dev/null 2>&1; then
        apt_update_once
        log "installing gdb-multiarch"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdb-multiarch >/dev/null
    fi
}

# The toolchain, targets and components rust-toolchain.toml names, read from that file so the
# two never disagree.
toolchain_field() { # KEY: prints the values of `KEY = "x"` or `KEY = ["x", "y"]`, one a line
    sed -n "s/^$1 *= *//p" "$REPO_ROOT/rust-toolchain.toml" | tr -d '[]",' | tr ' ' '\n' | sed '/^$/d'
}

# Adds whatever of the pinned toolchain, its targets and its components is missing, every
# time, and says what it added. Never relies on rustup installing on demand
# (RUSTUP_AUTO_INSTALL=0 is a common setting), and works where rustup already holds the
# toolchain without the bare-metal targets.
install_rust() {
    if ! command -v rustup >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/rustup" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            log "installing rustup"
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
    fi
    local toolchain have wanted item missing kind
    toolchain=$(toolchain_field channel)
    [ -n "$toolchain" ] || { log "error: no channel in rust-toolchain.toml"; exit 1; }
    if ! rustup toolchain list | grep -q "^${toolchain}[-( ]"; then
        log "installing Rust toolchain $toolchain"
        rustup toolchain install "$toolchain" --profile minimal ||
            { log "error: rustup could not install toolchain $toolchain"; exit 1; }
    fi
    for kind in target component; do
        if [ "$kind" = target ]; then
            wanted=$(toolchain_field targets)
        else
            wanted=$(toolchain_field components)
        fi
        have=$(rustup "$kind" list --installed --toolchain "$toolchain" 2>/dev/null)
        missing=()
        for item in $wanted; do
            # Components are listed with the host triple appended (clippy-x86_64-unknown-linux-gnu).
            printf '%s\n' "$have" | grep -q -e "^$item\$" -e "^$item-[a-z0-9_]*-[a-z0-9_]*-" || missing+=("$item")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
            log "adding Rust ${kind}s to $toolchain: ${missing[*]}"
            rustup "$kind" add --toolchain "$toolchain" "${missing[@]}" ||
                { log "error: rustup $kind add ${missing[*]} failed"; exit 1; }
        fi
    done
}

# Adds one more Rust target to the pinned toolchain if it is missing: for builds only one
# command needs (scripts/bench linux: aarch64-unknown-linux-musl), kept out of
# rust-toolchain.toml so that every other set-up does not download it.
install_rust_target() { # TARGET
    local toolchain
    toolchain=$(toolchain_field channel)
    if ! rustup target list --installed --toolchain "$toolchain" 2>/dev/null | grep -qx "$1"; then
        log "adding Rust target $1 to $toolchain"
        rustup target add --toolchain "$toolchain" "$1" ||
            { log "error: rustup target add $1 failed"; exit 1; }
    fi
}

setup_all() {
    install_packages
    install_qemu
    install_rust
}
