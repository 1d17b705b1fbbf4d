//! The scripts a person types (`scripts/run`, `test`, `bench`, `mkimage`, `flash`, `build`) explain
//! themselves and check their arguments before anything is installed, downloaded or built:
//! `--help` and `-h` print usage on standard output with status 0, and a bad argument is one
//! message naming what is accepted, with status 2.
//!
//! Each test runs the scripts in a sandbox: a copy of `scripts/` in a fresh folder, where the
//! set-up library (`scripts/lib/setup.sh`) and the Debian fetcher (`scripts/lib/debian.sh`)
//! are stand-ins that print `[setup] stub ...` or `[debian] stub ...` and end the script with
//! status 97, and where `cargo`, `rustup`, `apt-get`, `curl`, `sudo`, QEMU and friends on
//! `PATH` are stand-ins that record that they ran and fail. "Nothing happened" is then exact:
//! no stand-in ran and no `build/` folder appeared. No QEMU, network or image is needed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Tools whose stand-ins fail and record that they ran.
const STUBBED_TOOLS: &[&str] = &[
    "cargo",
    "rustup",
    "rustc",
    "apt-get",
    "apt-cache",
    "sudo",
    "curl",
    "qemu-system-aarch64",
    "dpkg-deb",
    "dtc",
    "fdtput",
    "mkfs.fat",
    "sfdisk",
    "mcopy",
];

/// The exit status of every stand-in.
const STUB_STATUS: i32 = 97;

const SETUP_STUB: &str = r#"# Test stand-in for scripts/lib/setup.sh: any set-up step ends the script.
set -euo pipefail
stub() { echo "[setup] stub $*" >&2; echo "setup.sh $*" >>"$STUB_LOG"; exit 97; }
log() { printf '[setup] %s\n' "$*" >&2; }
setup_all() { stub setup_all; }
install_packages() { stub install_packages; }
install_qemu() { stub install_qemu; }
install_rust() { stub install_rust; }
install_rust_target() { stub install_rust_target "$@"; }
"#;

const DEBIAN_STUB: &str = r#"# Test stand-in for scripts/lib/debian.sh: any download ends the script.
set -euo pipefail
stub() { echo "[debian] stub $*" >&2; echo "debian.sh $*" >>"$STUB_LOG"; exit 97; }
debian_root() { stub debian_root "$@"; }
debian_root_part() { stub debian_root_part "$@"; }
debian_dependency() { stub debian_dependency "$@"; }
debian_update() { stub debian_update "$@"; }
"#;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write_executable(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("read_dir");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy"); // keeps the mode bits
        }
    }
}

/// A copy of the scripts with stand-ins, in its own folder.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("scripts-{name}"));
        let _ = fs::remove_dir_all(&root);
        copy_tree(&repo_root().join("scripts"), &root.join("scripts"));
        fs::copy(repo_root().join("rust-toolchain.toml"), root.join("rust-toolchain.toml")).expect("copy");
        // scripts/run asks the device-tree generator how many cores its tree lists.
        let generator = "platforms/qemu-virt-biglittle/make-dtb";
        fs::create_dir_all(root.join(generator).parent().expect("a folder")).expect("mkdir");
        fs::copy(repo_root().join(generator), root.join(generator)).expect("copy");
        fs::write(root.join("scripts/lib/setup.sh"), SETUP_STUB).expect("setup stub");
        fs::write(root.join("scripts/lib/debian.sh"), DEBIAN_STUB).expect("debian stub");
        fs::create_dir_all(root.join("stubs")).expect("mkdir");
        for tool in STUBBED_TOOLS {
            write_executable(
                &root.join("stubs").join(tool),
                &format!(
                    "#!/bin/sh\necho \"{tool} $*\" >>\"$STUB_LOG\"\necho \"stub {tool} ran\" >&2\nexit {STUB_STATUS}\n"
                ),
            );
        }
        Sandbox { root }
    }

    /// Runs `scripts/<script> args...` from the sandbox's root with the stand-ins on PATH.
    fn run(&self, script: &str, args: &[&str]) -> Output {
        let path =
            format!("{}:{}", self.root.join("stubs").display(), std::env::var("PATH").unwrap_or_default());
        Command::new(self.root.join("scripts").join(script))
            .args(args)
            .current_dir(&self.root)
            .env("PATH", path)
            .env("STUB_LOG", self.log())
            .env_remove("MK_CACHE_DIR")
            .env_remove("BUILD_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running scripts/{script}: {e}"))
    }

    fn log(&self) -> PathBuf {
        self.root.join("stubs.log")
    }

    /// What the stand-ins recorded (empty when none ran).
    fn stubs_ran(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Asserts that nothing was installed, downloaded or built.
    fn assert_nothing_happened(&self, what: &str) {
        assert_eq!(self.stubs_ran(), "", "{what}: a set-up, download or build step ran");
        assert!(!self.root.join("build").exists(), "{what}: build/ was created");
        assert!(!self.root.join("target").exists(), "{what}: target/ was created");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_is_usage_on_stdout_with_status_0_and_starts_nothing() {
    let sandbox = Sandbox::new("help");
    let cases: &[(&str, &[&str])] = &[
        ("run", &["--help"]),
        ("run", &["-h"]),
        ("run", &["bench", "--help"]),
        ("run", &["selftest", "--help"]),
        ("run", &["faults", "--help"]),
        ("run", &["hotplug", "--help"]),
        ("run", &["--platform", "qemu-raspi4b", "--help"]),
        ("test", &["--help"]),
        ("test", &["-h"]),
        ("bench", &["--help"]),
        ("bench", &["-h"]),
        ("bench", &["urpc", "--help"]),
        ("bench", &["agreement", "--help"]),
        ("bench", &["linux", "--help"]),
        ("bench", &["linux", "--rounds", "5", "-h"]),
        ("mkimage", &["--help"]),
        ("mkimage", &["-h"]),
        ("mkimage", &["rk3399", "--help"]),
        ("flash", &["--help"]),
        ("flash", &["-h"]),
        ("build", &["--help"]),
        ("build", &["-h"]),
    ];
    for (script, args) in cases {
        let what = format!("scripts/{script} {}", args.join(" "));
        let output = sandbox.run(script, args);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert!(stdout.starts_with(&format!("usage: scripts/{script}")), "{what} printed {stdout:?}");
        assert!(stdout.contains("-h, --help"), "{what}: {stdout}");
        // A usage text, not the script's own source.
        assert!(!stdout.contains("set -euo pipefail") && !stdout.contains("# "), "{what}: {stdout}");
        assert_eq!(text(&output.stderr), "", "{what} wrote to stderr");
        sandbox.assert_nothing_happened(&what);
    }
}

/// Runs each case, expecting status 2, nothing on stdout, a message on stderr containing
/// every given fragment, and nothing installed, downloaded or built.
fn assert_usage_errors(sandbox: &Sandbox, script: &str, cases: &[(&[&str], &[&str])]) {
    for (args, fragments) in cases {
        let what = format!("scripts/{script} {}", args.join(" "));
        let output = sandbox.run(script, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert_eq!(text(&output.stdout), "", "{what} printed on stdout");
        assert!(stderr.starts_with(&format!("scripts/{script}: ")), "{what}: {stderr}");
        for fragment in *fragments {
            assert!(stderr.contains(fragment), "{what}: no {fragment:?} in {stderr:?}");
        }
        for marker in ["[setup]", "[build]", "[debian]", "stub "] {
            assert!(!stderr.contains(marker), "{what} went on to {marker}: {stderr}");
        }
        sandbox.assert_nothing_happened(&what);
    }
}

#[test]
fn run_checks_its_arguments_before_set_up() {
    let platforms = "qemu-virt-biglittle, qemu-raspi4b, qemu-virt-uboot";
    let virt = "QEMU's virt machine with GICv3 takes 1 to 512 vCPUs";
    assert_usage_errors(
        &Sandbox::new("run"),
        "run",
        &[
            (&["--platform", "nosuch"], &["unknown platform 'nosuch'", platforms]),
            (&["--platform"], &["--platform needs a value"]),
            (&["--smp", "0"], &["--smp 0 is out of range", virt]),
            (&["--smp", "513"], &["--smp 513 is out of range", virt]),
            (&["--smp", "99999999999999999999"], &["out of range", virt]),
            (&["--smp", "abc"], &["--smp 'abc' is not a whole number", virt]),
            (&["--smp", "-1"], &["not a whole number"]),
            (&["--smp"], &["--smp needs a value"]),
            (&["--platform", "qemu-virt-uboot", "--smp", "0"], &[virt]),
            (&["--platform", "qemu-raspi4b", "--smp", "6"], &["exactly 4 vCPUs"]),
            (&["bench", "--rounds", "ten"], &["--rounds 'ten' is not a whole number", "1 to 1000000"]),
            (&["bench", "--rounds", "0"], &["--rounds 0 is out of range", "1 to 1000000"]),
            (&["bench", "--rounds", "1000001"], &["out of range", "1 to 1000000"]),
            (&["--rounds", "5"], &["--rounds applies to the benchmark only"]),
            (&["bench", "--platform", "qemu-raspi4b"], &["qemu-virt-biglittle only"]),
            (&["--platform", "qemu-raspi4b", "--el2"], &["--el2 applies to qemu-virt-biglittle only"]),
            (&["--no-stop"], &["--no-stop applies to qemu-raspi4b only"]),
            (&["--smp", "4", "bench"], &["'bench' must come first"]),
            (&["--smp", "4", "selftest"], &["'selftest' must come first"]),
            (&["selftest", "--platform", "qemu-raspi4b"], &["the selftest runs on qemu-virt-biglittle only"]),
            (&["selftest", "--rounds", "5"], &["--rounds applies to the benchmark only"]),
            (&["--seed", "3"], &["--seed is for scripts/run faults"]),
            (&["bench", "--count", "3"], &["--count is for scripts/run faults"]),
            (&["faults", "--count", "0"], &["--count 0 is out of range", "1 to 1000 injections"]),
            (&["faults", "--count", "x"], &["--count 'x' is not a whole number"]),
            (&["faults", "--seed", "-1"], &["not a whole number"]),
            (
                &["faults", "--platform", "qemu-raspi4b"],
                &["fault injection runs on qemu-virt-biglittle only"],
            ),
            (&["--smp", "4", "faults"], &["'faults' must come first"]),
            (&["--smp", "4", "hotplug"], &["'hotplug' must come first"]),
            (&["hotplug", "--platform", "qemu-raspi4b"], &["hotplug runs on qemu-virt-biglittle only"]),
            (&["hotplug", "--seed", "2"], &["--seed is for scripts/run faults"]),
            (
                &["shell", "--platform", "qemu-virt-uboot"],
                &["the shell runs on qemu-virt-biglittle and qemu-raspi4b, not qemu-virt-uboot"],
            ),
            (&["--nosuch"], &["unknown argument '--nosuch'"]),
        ],
    );
}

#[test]
fn run_with_good_arguments_goes_on_to_set_up() {
    let sandbox = Sandbox::new("run-good");
    for args in [
        &[][..],
        &["--smp", "1"],
        &["--smp", "512", "--el2"],
        &["bench", "--rounds", "100"],
        &["selftest"],
        &["faults", "--seed", "7", "--count", "5"],
        &["hotplug", "--rounds", "100"],
    ] {
        let output = sandbox.run("run", args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(STUB_STATUS), "scripts/run {args:?}: {stderr}");
        assert!(stderr.contains("[setup] stub setup_all"), "scripts/run {args:?}: {stderr}");
    }
}

#[test]
fn run_says_when_vcpus_and_the_device_tree_differ_before_set_up() {
    let sandbox = Sandbox::new("run-smp");
    let cases = [
        (&["--smp", "99"][..], "[run] warning: --smp 99 starts 99 vCPUs, but the device tree lists 6 cores: the OS starts 6, and vCPUs 6-98 stay powered off"),
        (&["--platform", "qemu-virt-uboot", "--smp", "7"], "[run] warning: --smp 7 starts 7 vCPUs, but the device tree lists 6 cores"),
        (&["--smp", "4"], "[run] note: --smp 4: the device tree lists 6 cores; cores 4-5 have no vCPU and will be reported offline"),
    ];
    for (args, message) in cases {
        let output = sandbox.run("run", args);
        let stderr = text(&output.stderr);
        let said = stderr
            .find(message)
            .unwrap_or_else(|| panic!("scripts/run {args:?}: no {message:?} in {stderr}"));
        let setup = stderr.find("[setup]").expect("then set-up");
        assert!(said < setup, "scripts/run {args:?}: said after set-up began: {stderr}");
    }
    let output = sandbox.run("run", &[]);
    assert!(!text(&output.stderr).contains("[run] warning"), "{}", text(&output.stderr));
}

#[test]
fn test_and_build_take_no_arguments() {
    let sandbox = Sandbox::new("test-build");
    assert_usage_errors(
        &sandbox,
        "test",
        &[(&["--nosuch"], &["unknown argument '--nosuch'"]), (&["x"], &["takes none"])],
    );
    assert_usage_errors(&sandbox, "build", &[(&["--nosuch"], &["unknown argument '--nosuch'"])]);
}

#[test]
fn bench_checks_its_arguments_before_installing_or_building() {
    assert_usage_errors(
        &Sandbox::new("bench"),
        "bench",
        &[
            (&["nosuch"], &["unknown benchmark 'nosuch'", "accepted: urpc, agreement, linux"]),
            (&["urpc", "--iters", "abc"], &["--iters 'abc' is not a whole number"]),
            (&["urpc", "--iters", "5"], &["at least 2000"]),
            (&["urpc", "--iters=5"], &["at least 2000"]),
            (&["urpc", "--iters", "99999999999999999999999"], &["too large"]),
            (&["urpc", "--iters"], &["--iters needs a value"]),
            (&["urpc", "--cores", "a-b"], &["not a core list"]),
            (&["urpc", "--nosuch"], &["unknown argument '--nosuch'"]),
            (&["agreement", "--cores", "1"], &["--cores 1 is too small (at least 2)"]),
            (&["agreement", "--cores=257"], &["--cores 257 is too large (at most 256)"]),
            (&["agreement", "--rounds", "ten"], &["--rounds 'ten' is not a whole number (10 to 10000000)"]),
            (&["agreement", "--rounds", "99999999999999999999999"], &["too large"]),
            (&["agreement", "--cluster-size", "0"], &["at least 1"]),
            (&["agreement", "--out"], &["--out needs a value"]),
            (&["agreement", "--iters", "5"], &["unknown argument '--iters' for agreement"]),
            (&["linux", "--rounds", "0"], &["--rounds 0 is too small (at least 1)"]),
            (&["linux", "--rounds=1000001"], &["--rounds 1000001 is too large (at most 1000000)"]),
            (&["linux", "--smp", "1"], &["--smp 1 is too small (at least 2)"]),
            (&["linux", "--smp", "7"], &["--smp 7 is too large (at most 6)"]),
            (&["linux", "--timeout", "x"], &["--timeout 'x' is not a whole number"]),
            (&["linux", "--multikernel-log", "/nonexistent/console.log"], &["no such file"]),
            (&["linux", "--linux-log"], &["--linux-log needs a value"]),
            (&["linux", "--linux-only", "--multikernel-log", "rust-toolchain.toml"], &["exclude each other"]),
            (&["linux", "--linux-log", "rust-toolchain.toml", "--smp", "2"], &["apply to a Linux boot"]),
            (&["linux", "--iters", "5"], &["unknown argument '--iters' for linux"]),
        ],
    );
}

#[test]
fn bench_linux_with_good_arguments_goes_on_to_set_up() {
    let sandbox = Sandbox::new("bench-linux-good");
    for args in
        [&["linux"][..], &["linux", "--linux-only", "--smp", "2", "--rounds", "300", "--timeout", "240"]]
    {
        let output = sandbox.run("bench", args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(STUB_STATUS), "scripts/bench {args:?}: {stderr}");
        assert!(stderr.contains("[setup] stub setup_all"), "scripts/bench {args:?}: {stderr}");
    }
}

#[test]
fn mkimage_checks_platform_board_and_files_before_downloading() {
    let boards = "firefly nanopc-t4 nanopi-neo4 pinebook-pro puma roc-pc rock-4se rock-pi-4 rockpro64";
    let platforms = "rpi4, rpi5, rk3399, rk3588, qemu-virt-uboot";
    assert_usage_errors(
        &Sandbox::new("mkimage"),
        "mkimage",
        &[
            (&[], &["no platform given", platforms]),
            (&["nosuch", "x.img"], &["unknown platform 'nosuch'", platforms]),
            (&["rk3399", "--board", "nosuch", "x.img"], &["unknown rk3399 board 'nosuch'", boards]),
            (&["rk3399", "x.img"], &["rk3399 needs --board", boards]),
            (&["rk3399", "--board", "rockpro64"], &["no output file given"]),
            (
                &["rk3588", "--board", "nosuch", "x.img"],
                &["unknown rk3588 board 'nosuch'", "rock-5b orangepi-5 orangepi-5-plus", "--dtb"],
            ),
            (&["rpi4", "--bootargs"], &["--bootargs needs a value"]),
            (&["rpi4", "--bootargs", "  ", "x.img"], &["--bootargs needs a value"]),
            (
                &["rpi5", "--bootargs", "a\nb", "x.img"],
                &["--bootargs must be one line of printable characters"],
            ),
            (&["rk3399", "--board", "puma", "--bootargs", "a\tb", "x.img"], &["one line of printable"]),
            (&["qemu-virt-uboot", "--bootargs", "root=${x}", "x.img"], &["U-Boot would expand the '$'"]),
            (&["rpi4", "--board", "rockpro64", "x.img"], &["--board applies to rk3399, rk3588 only"]),
            (&["rpi4", "--list-boards"], &["--list-boards applies to rk3399, rk3588 only"]),
            (
                &["rk3399", "--armstub-tfa", "--board", "rockpro64", "x.img"],
                &["--armstub-tfa applies to rpi4"],
            ),
            (&["rpi4", "--dtb", "/nonexistent/x.dtb", "x.img"], &["no such file: /nonexistent/x.dtb"]),
            (&["rpi4", "--image"], &["--image needs a value"]),
            (&["rpi4", "a.img", "b.img"], &["more than one output file"]),
            (&["rpi4", "--nosuch", "x.img"], &["unknown option '--nosuch'"]),
        ],
    );
}

#[test]
fn mkimage_lists_boards_without_downloading_and_goes_on_for_a_known_one() {
    let sandbox = Sandbox::new("mkimage-boards");
    let output = sandbox.run("mkimage", &["rk3399", "--list-boards"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    assert_eq!(listed.len(), 9, "{listed:?}");
    assert!(listed.iter().any(|board| board == "rockpro64"), "{listed:?}");
    assert_eq!(
        text(&sandbox.run("mkimage", &["rk3588", "--list-boards"]).stdout),
        "rock-5b\norangepi-5\norangepi-5-plus\n"
    );
    sandbox.assert_nothing_happened("--list-boards");

    // A board from the list passes the checks and reaches the download of its U-Boot.
    let output = sandbox.run("mkimage", &["rk3399", "--board", "rockpro64", "build/sdcard/x.img"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(STUB_STATUS), "{stderr}");
    assert!(stderr.contains("[debian] stub debian_root u-boot-rockchip"), "{stderr}");
}
