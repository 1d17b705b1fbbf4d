//! Booting the multikernel under QEMU for integration tests.
//!
//! [`Qemu`] describes one machine, [`Qemu::boot`] runs it with a deadline and returns what the
//! system printed and how QEMU ended. The image comes from `scripts/build` (in `build/`, or
//! the folder in `MK_BUILD_DIR`); `scripts/test` builds it before running these tests.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The folder holding the built image and device trees.
pub fn build_dir() -> PathBuf {
    std::env::var_os("MK_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build"))
}

/// A file from the build folder; panics with a hint if it was not built.
pub fn built(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(path.exists(), "{} is missing: run scripts/build (scripts/test does) first", path.display());
    path
}

/// One QEMU machine to boot.
#[derive(Clone, Debug)]
pub struct Qemu {
    /// `-M` value.
    pub machine: String,
    /// `-cpu` value.
    pub cpu: String,
    /// `-smp` value.
    pub smp: u32,
    /// `-m` value.
    pub memory: String,
    /// `-dtb`, if any.
    pub dtb: Option<PathBuf>,
    /// `-kernel`.
    pub kernel: PathBuf,
    /// Kernel command line (`-append`, which QEMU puts in `/chosen/bootargs`).
    pub append: Option<String>,
    /// How long the run may take before it is killed.
    pub timeout: Duration,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Everything on the serial console (carriage returns removed).
    pub console: String,
    /// QEMU's exit status; `None` if it was killed at the deadline.
    pub status: Option<ExitStatus>,
}

impl Run {
    /// The console lines.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.console.lines()
    }

    /// Lines starting with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    /// Whether QEMU exited by itself with status 0 (the system powered off).
    pub fn powered_off_cleanly(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

impl Qemu {
    /// The default big.LITTLE machine: QEMU virt, GICv3, six cores, the generated device tree.
    pub fn big_little() -> Self {
        Qemu {
            machine: "virt,gic-version=3".into(),
            cpu: "cortex-a72".into(),
            smp: 6,
            memory: "1G".into(),
            dtb: Some(built("qemu-virt-biglittle.dtb")),
            kernel: built("Image"),
            append: None,
            timeout: Duration::from_secs(90),
        }
    }

    /// Boots the machine and collects the console until QEMU exits or the deadline passes.
    pub fn boot(&self) -> Run {
        let mut command = Command::new("qemu-system-aarch64");
        command
            .args(["-M", &self.machine, "-cpu", &self.cpu, "-smp", &self.smp.to_string()])
            .args(["-m", &self.memory, "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio"])
            .arg("-kernel")
            .arg(&self.kernel)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dtb) = &self.dtb {
            command.arg("-dtb").arg(dtb);
        }
        if let Some(append) = &self.append {
            command.args(["-append", append]);
        }
        let mut child =
            command.spawn().expect("qemu-system-aarch64 must be installed (scripts/test installs it)");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stdout.read_to_end(&mut bytes);
            bytes
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for QEMU") {
                break Some(status);
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let bytes = reader.join().unwrap_or_default();
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let console = String::from_utf8_lossy(&bytes).replace('\r', "");
        let run = Run { console, status };
        eprintln!(
            "--- console ({:?}, {:.1} s) ---\n{}{}",
            run.status,
            started.elapsed().as_secs_f64(),
            run.console,
            stderr
        );
        run
    }
}
