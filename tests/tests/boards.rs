//! Board images: the SD-card images `scripts/mkimage` builds from `build/Image` and Debian's
//! firmware packages (partition table, boot-partition files, U-Boot at the Rockchip offsets),
//! and the same bytes booted under QEMU: the Raspberry Pi 4 kernel and device tree taken off
//! the Pi SD image on `raspi4b` (spin tables, mini-UART console), and U-Boot finding the kernel
//! through extlinux on a disk with the Rockchip layout on `virt` at EL2 (PSCI over `smc`).
//!
//! The images are built on first use (the first run downloads the packages into
//! `build/cache/`; later runs reuse them). Needs mtools, fdisk and dosfstools
//! (`scripts/test` installs them); the U-Boot boot runs the trixie `u-boot-qemu` that
//! `scripts/mkimage qemu-virt-uboot` fetches.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use system_tests::{build_dir, built, Qemu, Run};

const SECTOR: u64 = 512;
/// Where each image's boot partition starts (scripts/mkimage).
const RPI_PART_SECTOR: u64 = 8192;
const RK_PART_SECTOR: u64 = 32768;
const RK_IDBLOADER_SECTOR: u64 = 64;
/// Where SPL reads u-boot.itb on every RK3399 board Debian builds U-Boot for but the Puma
/// (Debian's `u-boot-install-rockchip`, which writes it at 512 on the Puma alone).
const RK_ITB_SECTOR: u64 = 16384;
const PUMA_ITB_SECTOR: u64 = 512;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The download cache scripts/mkimage uses (it is told this folder).
fn cache_dir() -> PathBuf {
    std::env::var_os("MK_CACHE_DIR").map_or_else(|| build_dir().join("cache"), PathBuf::from)
}

/// Images built in this test process; building is serialised (one package cache).
static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Builds `build/sdcard/<name>.img` with `scripts/mkimage <args>` once per test run.
fn sd_image(name: &str, args: &[&str]) -> PathBuf {
    let out = build_dir().join("sdcard").join(format!("{name}.img"));
    let mut guard = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let done = guard.get_or_insert_with(HashSet::new);
    if !done.contains(name) {
        let status = Command::new(repo_root().join("scripts/mkimage"))
            .args(args)
            .arg("--image")
            .arg(built("Image"))
            .arg(&out)
            .env("MK_CACHE_DIR", cache_dir())
            .status()
            .expect("running scripts/mkimage");
        assert!(status.success(), "scripts/mkimage {args:?} failed: {status}");
        done.insert(name.to_owned());
    }
    out
}

/// One MBR partition entry.
#[derive(Debug, PartialEq)]
struct Partition {
    bootable: bool,
    kind: u8,
    start: u64,
    sectors: u64,
}

/// The used primary partitions of an MBR disk image.
fn partitions(image: &Path) -> Vec<Partition> {
    let bytes = read_range(image, 0, 512);
    assert_eq!(&bytes[510..512], &[0x55, 0xaa], "{} has no MBR signature", image.display());
    (0..4)
        .map(|i| &bytes[446 + 16 * i..446 + 16 * (i + 1)])
        .filter(|e| e[4] != 0)
        .map(|e| Partition {
            bootable: e[0] == 0x80,
            kind: e[4],
            start: u64::from(u32::from_le_bytes([e[8], e[9], e[10], e[11]])),
            sectors: u64::from(u32::from_le_bytes([e[12], e[13], e[14], e[15]])),
        })
        .collect()
}

fn read_range(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.seek(SeekFrom::Start(offset)).expect("seek");
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes).unwrap_or_else(|e| panic!("{} at {offset}: {e}", path.display()));
    bytes
}

fn mtools(tool: &str) -> Command {
    let mut command = Command::new(tool);
    command.env("MTOOLS_SKIP_CHECK", "1");
    command
}

/// Every file path in the FAT file system at `start_sector` of `image` (lower case).
fn fat_files(image: &Path, start_sector: u64) -> HashSet<String> {
    let output = mtools("mdir")
        .args(["-/", "-b", "-i"])
        .arg(format!("{}@@{}", image.display(), start_sector * SECTOR))
        .arg("::/")
        .output()
        .expect("mdir (mtools) must be installed");
    assert!(output.status.success(), "mdir: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim_start_matches("::").trim_end_matches('/').to_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
}

/// One file from the FAT file system, copied out.
fn fat_read(image: &Path, start_sector: u64, path: &str) -> Vec<u8> {
    // Tests run in parallel and may copy the same file: each copy gets its own name.
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let copy = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dest = std::env::temp_dir().join(format!(
        "mk-boards-{}-{copy}-{}",
        std::process::id(),
        path.replace('/', "_")
    ));
    let status = mtools("mcopy")
        .args(["-n", "-o", "-i"])
        .arg(format!("{}@@{}", image.display(), start_sector * SECTOR))
        .arg(format!("::{path}"))
        .arg(&dest)
        .status()
        .expect("mcopy (mtools) must be installed");
    assert!(status.success(), "mcopy {path} from {}", image.display());
    let bytes = std::fs::read(&dest).expect("copied file");
    let _ = std::fs::remove_file(&dest);
    bytes
}

/// Where a Debian package is unpacked in the mkimage cache.
fn package_root(package: &str) -> PathBuf {
    let debian = cache_dir().join("debian");
    let entries = std::fs::read_dir(&debian).unwrap_or_else(|e| panic!("{}: {e}", debian.display()));
    entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("root").join(package))
        .find(|root| root.join(".extracted").exists())
        .unwrap_or_else(|| panic!("{package} is not unpacked under {}", debian.display()))
}

/// A file of an unpacked Debian package in the mkimage cache.
fn package_file(package: &str, path: &str) -> Vec<u8> {
    let root = package_root(package);
    std::fs::read(root.join(path.trim_start_matches('/'))).unwrap_or_else(|e| panic!("{package}:{path}: {e}"))
}

/// The device trees of Debian's kernel package (as unpacked by scripts/mkimage) in `vendor/`
/// whose names start with `prefix`: (file name, bytes), sorted by name.
fn linux_trees(vendor: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let debian = cache_dir().join("debian");
    let mut trees = Vec::new();
    for suite in std::fs::read_dir(&debian).into_iter().flatten().filter_map(Result::ok) {
        let root = suite.path().join("root");
        for package in std::fs::read_dir(&root).into_iter().flatten().filter_map(Result::ok) {
            let lib = package.path().join("usr/lib");
            for kernel in std::fs::read_dir(&lib).into_iter().flatten().filter_map(Result::ok) {
                for tree in
                    std::fs::read_dir(kernel.path().join(vendor)).into_iter().flatten().filter_map(Result::ok)
                {
                    let name = tree.file_name().to_string_lossy().into_owned();
                    if name.starts_with(prefix) && name.ends_with(".dtb") {
                        trees.push((name, std::fs::read(tree.path()).expect("a tree")));
                    }
                }
            }
        }
    }
    trees.sort();
    trees
}

fn assert_one_bootable_fat32(image: &Path, start: u64) -> Partition {
    let mut parts = partitions(image);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let part = parts.remove(0);
    assert!(part.bootable, "{part:?}");
    assert_eq!(part.kind, 0x0c, "FAT32 (LBA) partition expected: {part:?}");
    assert_eq!(part.start, start, "{part:?}");
    let size = std::fs::metadata(image).expect("image").len();
    assert_eq!((part.start + part.sectors) * SECTOR, size, "the partition ends the image");
    part
}

fn assert_core_up(run: &Run, core: usize, class: &str, build: &str) {
    let lines = run.lines_starting(&format!("core {core} up "));
    assert_eq!(lines.len(), 1, "core {core} must print exactly one up line, got {lines:?}");
    assert!(
        lines[0].ends_with(&format!("class={class} cpu-driver={build} el=1")),
        "core {core}: {:?}",
        lines[0]
    );
}

fn extlinux(image: &Path) -> String {
    String::from_utf8(fat_read(image, RK_PART_SECTOR, "/extlinux/extlinux.conf")).expect("UTF-8")
}

#[test]
fn rpi4_sd_image_holds_firmware_config_device_tree_and_the_kernel() {
    let image = sd_image("rpi4", &["rpi4"]);
    assert_one_bootable_fat32(&image, RPI_PART_SECTOR);
    let files = fat_files(&image, RPI_PART_SECTOR);
    for name in ["/start4.elf", "/fixup4.dat", "/config.txt", "/bcm2711-rpi-4-b.dtb", "/kernel8.img"] {
        assert!(files.contains(name), "{name} missing from the boot partition: {files:?}");
    }
    assert!(!files.contains("/cmdline.txt"), "no cmdline.txt without --bootargs");
    assert!(!files.contains("/bl31.bin"), "no armstub without --armstub-tfa");
    assert_eq!(fat_read(&image, RPI_PART_SECTOR, "/kernel8.img"), std::fs::read(built("Image")).unwrap());
    let firmware = "usr/lib/raspi-firmware";
    for name in ["start4.elf", "fixup4.dat"] {
        assert!(
            fat_read(&image, RPI_PART_SECTOR, &format!("/{name}"))
                == package_file("raspi-firmware", &format!("{firmware}/{name}")),
            "{name} differs from raspi-firmware's"
        );
    }
    let config = String::from_utf8(fat_read(&image, RPI_PART_SECTOR, "/config.txt")).unwrap();
    let settings: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    for setting in ["arm_64bit=1", "enable_uart=1", "kernel=kernel8.img"] {
        assert!(settings.contains(&setting), "config.txt lacks {setting}: {config}");
    }
    assert!(!settings.iter().any(|s| s.starts_with("armstub")), "{config}");
    let dtb = fat_read(&image, RPI_PART_SECTOR, "/bcm2711-rpi-4-b.dtb");
    assert_eq!(&dtb[..4], &[0xd0, 0x0d, 0xfe, 0xed], "the device tree must be a DTB");
}

#[test]
fn rpi4_card_carries_every_bcm2711_tree_and_lets_the_firmware_choose() {
    let image = sd_image("rpi4", &["rpi4"]);
    let files = fat_files(&image, RPI_PART_SECTOR);
    let kernel_trees = linux_trees("broadcom", "bcm2711-rpi-");
    assert!(kernel_trees.len() >= 3, "Debian ships the 4 B, 400 and CM4 trees: {kernel_trees:?}");
    for (name, bytes) in &kernel_trees {
        assert!(files.contains(&format!("/{name}")), "{name} missing: {files:?}");
        assert!(
            fat_read(&image, RPI_PART_SECTOR, &format!("/{name}")) == *bytes,
            "{name} differs from Debian's"
        );
    }
    for board in ["bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4-io.dtb"] {
        assert!(kernel_trees.iter().any(|(name, _)| name == board), "{board} not among {kernel_trees:?}");
    }
    let config = String::from_utf8(fat_read(&image, RPI_PART_SECTOR, "/config.txt")).unwrap();
    let settings: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        settings.contains(&"upstream_kernel=1"),
        "the firmware must look for Linux's tree names: {config}"
    );
    assert!(!settings.iter().any(|s| s.starts_with("device_tree=")), "no tree pinned: {config}");
}

#[test]
fn bootargs_land_in_cmdline_txt_on_the_pi_and_in_the_extlinux_append_line() {
    const ARGS: &str = "bench bench-rounds=500 console-check=\"a b\"";
    let pi = sd_image("rpi4-bootargs", &["rpi4", "--bootargs", ARGS]);
    let cmdline = String::from_utf8(fat_read(&pi, RPI_PART_SECTOR, "/cmdline.txt")).unwrap();
    assert_eq!(cmdline, format!("{ARGS}\n"), "one line, as the firmware reads it");
    let pi5 = sd_image("rpi5-bootargs", &["rpi5", "--bootargs", ARGS]);
    assert_eq!(
        String::from_utf8(fat_read(&pi5, RPI_PART_SECTOR, "/cmdline.txt")).unwrap(),
        format!("{ARGS}\n")
    );
    let rk = sd_image("rk3399-rockpro64-bootargs", &["rk3399", "--board", "rockpro64", "--bootargs", ARGS]);
    let conf = extlinux(&rk);
    let appends: Vec<&str> = conf.lines().map(str::trim).filter(|l| l.starts_with("append")).collect();
    assert_eq!(appends, [format!("append {ARGS}")], "{conf}");
    let plain = extlinux(&sd_image("rk3399-rockpro64", &["rk3399", "--board", "rockpro64"]));
    assert!(!plain.contains("append"), "no append line without --bootargs: {plain}");
}

#[test]
fn rpi5_card_holds_config_the_pi_5_tree_and_the_kernel_but_no_firmware() {
    let image = sd_image("rpi5", &["rpi5"]);
    assert_one_bootable_fat32(&image, RPI_PART_SECTOR);
    let files = fat_files(&image, RPI_PART_SECTOR);
    for name in ["/config.txt", "/bcm2712-rpi-5-b.dtb", "/kernel8.img"] {
        assert!(files.contains(name), "{name} missing: {files:?}");
    }
    assert!(
        !files.iter().any(|f| f.starts_with("/start")),
        "the Pi 5's firmware is in its EEPROM: {files:?}"
    );
    assert_eq!(fat_read(&image, RPI_PART_SECTOR, "/kernel8.img"), std::fs::read(built("Image")).unwrap());
    let (_, debian) = linux_trees("broadcom", "bcm2712-rpi-5-b.dtb").pop().expect("Debian's Pi 5 tree");
    assert!(fat_read(&image, RPI_PART_SECTOR, "/bcm2712-rpi-5-b.dtb") == debian, "the tree must be Debian's");
    let config = String::from_utf8(fat_read(&image, RPI_PART_SECTOR, "/config.txt")).unwrap();
    let settings: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    for setting in [
        "arm_64bit=1",
        "enable_uart=1",
        "uart_2ndstage=1",
        "kernel=kernel8.img",
        "device_tree=bcm2712-rpi-5-b.dtb",
    ] {
        assert!(settings.contains(&setting), "config.txt lacks {setting}: {config}");
    }
}

#[test]
fn rpi4_sd_image_with_tf_a_uses_bl31_as_armstub() {
    let image = sd_image("rpi4-tfa", &["rpi4", "--armstub-tfa"]);
    assert!(fat_files(&image, RPI_PART_SECTOR).contains("/bl31.bin"));
    assert!(
        fat_read(&image, RPI_PART_SECTOR, "/bl31.bin")
            == package_file("arm-trusted-firmware", "usr/lib/arm-trusted-firmware/rpi4/bl31.bin"),
        "bl31.bin must be arm-trusted-firmware's rpi4 build"
    );
    let config = String::from_utf8(fat_read(&image, RPI_PART_SECTOR, "/config.txt")).unwrap();
    assert!(config.lines().any(|l| l == "armstub=bl31.bin"), "{config}");
}

#[test]
fn rockpro64_sd_image_has_u_boot_at_the_rockchip_offsets_and_an_extlinux_boot_partition() {
    let image = sd_image("rk3399-rockpro64", &["rk3399", "--board", "rockpro64"]);
    assert_one_bootable_fat32(&image, RK_PART_SECTOR);
    let dir = "usr/lib/u-boot/rockpro64-rk3399";
    for (file, sector) in [("idbloader.img", RK_IDBLOADER_SECTOR), ("u-boot.itb", RK_ITB_SECTOR)] {
        let expected = package_file("u-boot-rockchip", &format!("{dir}/{file}"));
        let found = read_range(&image, sector * SECTOR, expected.len());
        assert!(found == expected, "{file} must sit byte for byte at sector {sector}");
    }
    let files = fat_files(&image, RK_PART_SECTOR);
    for name in ["/image", "/rk3399-rockpro64.dtb", "/extlinux/extlinux.conf"] {
        assert!(files.contains(name), "{name} missing: {files:?}");
    }
    assert_eq!(fat_read(&image, RK_PART_SECTOR, "/Image"), std::fs::read(built("Image")).unwrap());
    let conf = extlinux(&image);
    assert!(conf.lines().any(|l| l.trim() == "kernel /Image"), "{conf}");
    assert!(conf.lines().any(|l| l.trim() == "fdt /rk3399-rockpro64.dtb"), "{conf}");
}

#[test]
fn every_rk3399_card_has_u_boot_where_its_spl_reads_it_and_puma_reads_sector_512() {
    let boards = Command::new(repo_root().join("scripts/mkimage"))
        .args(["rk3399", "--list-boards"])
        .output()
        .expect("scripts/mkimage --list-boards");
    let boards = String::from_utf8(boards.stdout).unwrap();
    assert!(boards.lines().any(|b| b == "puma"), "{boards}");
    for board in boards.lines() {
        // Its own name: the image is deleted below, and other tests keep theirs.
        let image = sd_image(&format!("rk3399-every-{board}"), &["rk3399", "--board", board]);
        let itb_sector = if board == "puma" { PUMA_ITB_SECTOR } else { RK_ITB_SECTOR };
        let dir = format!("usr/lib/u-boot/{board}-rk3399");
        for (file, sector) in [("idbloader.img", RK_IDBLOADER_SECTOR), ("u-boot.itb", itb_sector)] {
            let expected = package_file("u-boot-rockchip", &format!("{dir}/{file}"));
            let found = read_range(&image, sector * SECTOR, expected.len());
            assert!(found == expected, "{board}: {file} must sit byte for byte at sector {sector}");
        }
        // The combined image Debian built for the board has the same layout from sector 64.
        let combined = package_file("u-boot-rockchip", &format!("{dir}/u-boot-rockchip.bin"));
        let card = read_range(&image, RK_IDBLOADER_SECTOR * SECTOR, combined.len());
        let itb_len = package_file("u-boot-rockchip", &format!("{dir}/u-boot.itb")).len();
        let itb_at = ((itb_sector - RK_IDBLOADER_SECTOR) * SECTOR) as usize;
        assert!(
            card[itb_at..itb_at + itb_len] == combined[itb_at..itb_at + itb_len],
            "{board}: u-boot.itb where Debian's u-boot-rockchip.bin has it"
        );
        let _ = std::fs::remove_file(&image);
    }
}

#[test]
fn rk3588_cards_for_the_orange_pi_5_and_5_plus_ship_their_debian_trees() {
    for (board, tree) in
        [("orangepi-5", "rk3588s-orangepi-5.dtb"), ("orangepi-5-plus", "rk3588-orangepi-5-plus.dtb")]
    {
        let image = sd_image(&format!("rk3588-{board}"), &["rk3588", "--board", board]);
        assert_one_bootable_fat32(&image, RK_PART_SECTOR);
        let (_, debian) = linux_trees("rockchip", tree).pop().unwrap_or_else(|| panic!("Debian's {tree}"));
        assert!(
            fat_read(&image, RK_PART_SECTOR, &format!("/{tree}")) == debian,
            "{board}: {tree} must be Debian's"
        );
        let conf = extlinux(&image);
        assert!(conf.lines().any(|l| l.trim() == format!("fdt /{tree}")), "{board}: {conf}");
        let skb = skb::Skb::from_dtb(&debian).unwrap_or_else(|e| panic!("{tree}: {e}"));
        assert_eq!(skb.cpus.len(), 8, "{tree}: four Cortex-A55 and four Cortex-A76");
    }
}

#[test]
fn rock5b_image_leaves_the_loader_area_for_a_u_boot_debian_does_not_ship() {
    let image = sd_image("rk3588-rock-5b", &["rk3588", "--board", "rock-5b"]);
    assert_one_bootable_fat32(&image, RK_PART_SECTOR);
    let loader_area =
        read_range(&image, RK_IDBLOADER_SECTOR * SECTOR, ((RK_PART_SECTOR - 64) * SECTOR) as usize);
    assert!(loader_area.iter().all(|&b| b == 0), "no loader is written without --loader");
    let files = fat_files(&image, RK_PART_SECTOR);
    for name in ["/image", "/rk3588-rock-5b.dtb", "/extlinux/extlinux.conf"] {
        assert!(files.contains(name), "{name} missing: {files:?}");
    }
    assert!(extlinux(&image).lines().any(|l| l.trim() == "fdt /rk3588-rock-5b.dtb"));
}

#[test]
fn raspi4b_boots_the_sd_card_kernel_with_four_cores_through_the_spin_table() {
    let (dir, kernel, dtb) = rpi4_kernel_and_tree("rpi4");
    // Nothing powers a Pi off: the run stops once every core reported.
    let run = Qemu { timeout: Duration::from_secs(90), ..Qemu::raspi4b(kernel, dtb) }.boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(run.stopped_at_marker, "the run must reach the `all <n> cores up in <t> us` marker");
    let entered = run.lines_starting("boot stub: entered at EL2");
    assert_eq!(entered.len(), 1, "the Pi firmware (and QEMU's raspi4b) enters at EL2");
    assert!(entered[0].contains("image at 0x200000"), "text_offset 0 loads at 2 MiB: {}", entered[0]);
    assert!(entered[0].contains("dtb at 0x8000000"), "{}", entered[0]);
    let planned = run.lines_starting("boot stub: core 0 ");
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert!(planned[0].contains("arm,cortex-a72"), "{}", planned[0]);
    // The other three wait in the firmware's spin table until the boot core's monitor has its
    // kernel write their release addresses.
    for core in 1..4 {
        let started = run.lines_starting(&format!("core 0: started core {core} "));
        assert_eq!(started.len(), 1, "{started:?}");
    }
    // A homogeneous Cortex-A72 machine without capacities: every core runs the same build.
    let builds: HashSet<&str> = (0..4)
        .flat_map(|c| run.lines_starting(&format!("core {c} up ")))
        .filter_map(|l| l.split(' ').find(|f| f.starts_with("cpu-driver=")))
        .collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    for core in 0..4 {
        assert_eq!(run.lines_starting(&format!("core {core} up ")).len(), 1, "core {core}");
    }
    run.assert_all_up_in_time(4);
    assert!(!run.console.contains("offline"), "{}", run.console);
}

/// The Pi 4 card's `kernel8.img` and tree copied out to a folder of this test's own.
fn rpi4_kernel_and_tree(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    let image = sd_image("rpi4", &["rpi4"]);
    let dir = std::env::temp_dir().join(format!("mk-boards-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (kernel, dtb) = (dir.join("kernel8.img"), dir.join("bcm2711-rpi-4-b.dtb"));
    std::fs::write(&kernel, fat_read(&image, RPI_PART_SECTOR, "/kernel8.img")).unwrap();
    std::fs::write(&dtb, fat_read(&image, RPI_PART_SECTOR, "/bcm2711-rpi-4-b.dtb")).unwrap();
    (dir, kernel, dtb)
}

/// The shell on the Pi's mini-UART: `tests/shell/raspi4b.txt` typed on QEMU raspi4b's second
/// serial port reaches the shell through the console driver at EL0 (the AUX interrupt, SPI 93,
/// routed by the GIC-400 to core 0: `GICD_ITARGETSR`), and every command answers. A Pi cannot
/// power off: the run stops after `halt` has said so.
#[test]
fn raspi4b_shell_answers_commands_typed_on_the_mini_uart() {
    let (dir, kernel, dtb) = rpi4_kernel_and_tree("rpi4-shell");
    let input = repo_root().join("tests/shell/raspi4b.txt");
    let typed = std::fs::read(&input).expect("tests/shell/raspi4b.txt");
    let qemu = Qemu {
        append: Some("shell".into()),
        stop_at: Some("halt: nothing powers this machine off".into()),
        timeout: Duration::from_secs(240),
        ..Qemu::raspi4b(kernel, dtb).typing(input)
    };
    let run = qemu.boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(run.stopped_at_marker, "the run must reach halt's line");
    // As a terminal shows it: the shell echoes key by key, editing the line in place.
    let has = |line: &str| run.terminal.lines().any(|l| l == line);
    assert!(has("console: driving the BCM2835 mini-UART's receive side at EL0 (IRQ capability claimed)"));
    // Each command's output: the lines after its prompt line.
    let mut sections: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in run.terminal.lines() {
        if let Some(command) = line.strip_prefix("mk> ") {
            sections.push((command, Vec::new()));
        } else if let Some(last) = sections.last_mut() {
            if !line.starts_with("monitor ") {
                last.1.push(line);
            }
        }
    }
    let commands: Vec<&str> = sections.iter().map(|(c, _)| *c).collect();
    // After `halt` (which cannot power a Pi off) the prompt comes back, empty.
    assert_eq!(commands, ["help", "cores", "skb facts", "ping 0 3 20", "frobnicate", "halt", ""]);
    let output = |n: usize| &sections[n].1;
    assert_eq!(output(0).len(), 14, "one line per command: {:?}", output(0));
    assert!(output(0)[13].starts_with("  halt "), "{:?}", output(0));
    assert_eq!(
        output(1)[0].split_whitespace().collect::<Vec<_>>(),
        ["core", "mpidr", "class", "cluster", "build", "state"]
    );
    for core in 0..4 {
        let row: Vec<&str> = output(1)[core + 1].split_whitespace().collect();
        assert_eq!(
            (row[0], row[1], row[4], row[5]),
            (&*core.to_string(), &*format!("{core:#x}"), "cortex-a72", "online")
        );
    }
    assert_eq!(output(1).len(), 5);
    let facts = output(2).join("\n");
    assert!(facts.contains("gic-v2") || facts.contains("GICv2"), "{facts}");
    assert!(facts.contains("0xfe215040"), "the mini-UART console: {facts}");
    let [ping] = output(3).as_slice() else { panic!("{:?}", output(3)) };
    assert!(ping.starts_with("ping 0-3: 20 round trips, p50_ns="), "{ping}");
    assert_eq!(output(4), &["error: unknown command 'frobnicate' (try 'help')"]);
    // Every byte typed came through the driver, through at least one interrupt.
    let stats = output(5).iter().find(|l| l.starts_with("console: ")).expect("the driver's counts");
    let counts: Vec<u64> =
        stats.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    assert_eq!(counts.len(), 2, "{stats}");
    assert!(counts[0] >= 1, "{stats}");
    assert_eq!(counts[1], typed.len() as u64, "{stats}");
    assert!(has("halt: powering off"));
}

#[test]
fn u_boot_finds_the_kernel_through_extlinux_and_boots_big_little_at_el2() {
    const ARGS: &str = "mk-uboot-check=1 bench-rounds=7";
    let image = sd_image("qemu-virt-uboot", &["qemu-virt-uboot", "--bootargs", ARGS]);
    // The U-Boot scripts/mkimage put next to the disk: Debian's u-boot-qemu of the same
    // release as the u-boot-rockchip the RK3399 cards carry.
    let uboot = image.with_extension("u-boot.bin");
    assert!(uboot.exists(), "scripts/mkimage qemu-virt-uboot must leave {}", uboot.display());
    let release = |package: &str| {
        let marker = package_root(package).join(".extracted");
        let deb = std::fs::read_to_string(&marker).unwrap_or_else(|e| panic!("{}: {e}", marker.display()));
        // u-boot-qemu_2025.01-3+deb13u1_all.deb -> 2025.01
        deb.split('_')
            .nth(1)
            .and_then(|v| v.split('-').next())
            .map(str::to_owned)
            .expect("a versioned .deb name")
    };
    let (qemu_release, rockchip_release) = (release("u-boot-qemu"), release("u-boot-rockchip"));
    assert_eq!(qemu_release, rockchip_release, "one U-Boot release for QEMU and the RK3399 cards");
    let qemu = Qemu {
        machine: "virt,gic-version=3,virtualization=on".into(),
        // QEMU hands this tree to U-Boot as the board's own; U-Boot passes it on to the kernel.
        dtb: Some(built("qemu-virt-biglittle-el2.dtb")),
        bios: Some(uboot),
        disks: vec![image],
        timeout: Duration::from_secs(120),
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    assert!(
        run.console.contains(&format!("U-Boot {qemu_release}")),
        "U-Boot {qemu_release} (Debian's u-boot-qemu) must run first"
    );
    let command_line = run.lines_starting("boot stub: command line: ");
    assert_eq!(
        command_line,
        [format!("boot stub: command line: {ARGS}")],
        "extlinux's append line must arrive"
    );
    assert!(
        run.console.contains("Retrieving file: /extlinux/extlinux.conf")
            || run.console.contains("/extlinux/extlinux.conf"),
        "U-Boot must find extlinux.conf on the disk"
    );
    assert!(run.console.contains("Retrieving file: /Image"), "U-Boot must load /Image from the disk");
    assert_eq!(run.lines_starting("boot stub: entered at EL2").len(), 1, "booti hands over at EL2");
    for core in 0..4 {
        assert_core_up(&run, core, "little", "cortex-a53");
    }
    for core in 4..6 {
        assert_core_up(&run, core, "big", "cortex-a72");
    }
    run.assert_all_up_in_time(6);
    assert!(run.powered_off_cleanly(), "PSCI SYSTEM_OFF over smc must end QEMU: {:?}", run.status);
}

#[test]
fn the_pi_5_trees_cores_caches_and_psci_boot_on_qemu_virt() {
    // QEMU has no Pi 5: platforms/rpi5/make-qemu-dtb gives virt the Pi 5 tree's model, cores
    // (four Cortex-A76) and cache facts, a GICv2 and EL2 entry with PSCI over smc; the MPIDRs,
    // RAM, GIC and UART addresses stay virt's.
    let image = sd_image("rpi5", &["rpi5"]);
    let dir = std::env::temp_dir().join(format!("mk-boards-rpi5-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pi5, dtb) = (dir.join("bcm2712-rpi-5-b.dtb"), dir.join("rpi5-on-virt.dtb"));
    std::fs::write(&pi5, fat_read(&image, RPI_PART_SECTOR, "/bcm2712-rpi-5-b.dtb")).unwrap();
    let status = Command::new(repo_root().join("platforms/rpi5/make-qemu-dtb"))
        .arg(&dtb)
        .arg(&pi5)
        .status()
        .expect("platforms/rpi5/make-qemu-dtb runs");
    assert!(status.success(), "make-qemu-dtb: {status}");
    let facts = skb::Skb::from_dtb(&std::fs::read(&dtb).unwrap()).expect("the merged tree reads");
    assert_eq!(facts.model.as_deref(), Some("Raspberry Pi 5 (facts on QEMU virt)"));
    assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);
    for cpu in &facts.cpus {
        assert_eq!(cpu.compatible.as_deref(), Some("arm,cortex-a76"));
        assert_eq!(cpu.caches.l2_size(), Some(512 * 1024), "the Pi 5's private L2");
        assert_eq!(
            cpu.caches.outer.last().map(|l| (l.level, l.size)),
            Some((3, Some(2 << 20))),
            "the shared L3"
        );
    }
    let qemu = Qemu {
        machine: "virt,gic-version=2,virtualization=on".into(),
        cpu: "cortex-a76".into(),
        smp: 4,
        dtb: Some(dtb),
        append: Some("pi5-on-virt".into()),
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.lines_starting("boot stub: entered at EL2").len(), 1, "{}", run.console);
    let planned = run.lines_starting("boot stub: core 0 ");
    assert!(planned.len() == 1 && planned[0].contains("arm,cortex-a76 -> cortex-a72 build"), "{planned:?}");
    for core in 0..4 {
        assert_core_up(&run, core, "big", "cortex-a72");
    }
    run.assert_all_up_in_time(4);
    assert!(run.powered_off_cleanly(), "PSCI SYSTEM_OFF over smc must end QEMU: {:?}", run.status);
}
