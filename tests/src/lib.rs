//! Booting the multikernel under QEMU for integration tests.
//!
//! [`Qemu`] describes one machine, [`Qemu::boot`] runs it with a deadline and returns what the
//! system printed and how QEMU ended; [`Qemu::spawn`] starts it in the background for tests
//! that talk to it while it runs (the debugger test attaches gdb to its gdb stub). The image comes from `scripts/build` (in `build/`, or
//! the folder in `MK_BUILD_DIR`); `scripts/test` builds it before running these tests.
//!
//! Machines that cannot power off (QEMU `raspi4b`) end with [`Qemu::stop_at`]: the harness
//! stops QEMU once the console printed a line starting with the marker and then went quiet.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the console must stay quiet after the [`Qemu::stop_at`] marker before the harness
/// stops QEMU (lines that follow the marker still get collected).
pub const SETTLE: Duration = Duration::from_millis(1500);

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
    /// `-kernel`; not passed when [`Qemu::bios`] is set (the firmware finds the OS itself) or
    /// when empty.
    pub kernel: PathBuf,
    /// Kernel command line (`-append`, which QEMU puts in `/chosen/bootargs`).
    pub append: Option<String>,
    /// How long the run may take before it is killed.
    pub timeout: Duration,
    /// `-serial` values in order; the one that is `stdio` is the console collected.
    pub serials: Vec<String>,
    /// `-bios` firmware (U-Boot), if any.
    pub bios: Option<PathBuf>,
    /// Raw disk images attached as `virtio-blk-device`s, with `snapshot=on` (the files stay
    /// as they are).
    pub disks: Vec<PathBuf>,
    /// Further arguments, appended last.
    pub extra_args: Vec<String>,
    /// Stop QEMU once a console line starts with this marker and output has settled
    /// (for machines that cannot power off).
    pub stop_at: Option<String>,
    /// A file QEMU reads as its standard input (the console's input where a serial port is a
    /// `stdio` chardev); none: the empty input.
    pub input: Option<PathBuf>,
}

/// What a terminal shows for `raw` console output, line by line: carriage return, backspace
/// and the VT100 sequences the console's input line uses (`ESC [ K` erase to the end of the
/// line, `ESC [ n C` / `ESC [ n D` cursor right / left) applied as a terminal applies them, so
/// a line typed and edited key by key reads as it ended up. Other escape sequences are dropped.
pub fn terminal(raw: &str) -> String {
    let mut screen = String::new();
    let mut line: Vec<char> = Vec::new();
    let mut cursor = 0usize;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => cursor = 0,
            '\n' => {
                screen.extend(line.drain(..));
                screen.push('\n');
                cursor = 0;
            }
            '\u{8}' => cursor = cursor.saturating_sub(1),
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                // Parameter bytes (digits, `;`, `?`...), then the final byte.
                let mut parameters = String::new();
                while let Some(p) = chars.peek().filter(|p| ('0'..='?').contains(p)) {
                    parameters.push(*p);
                    chars.next();
                }
                let n = parameters.parse().unwrap_or(1);
                match chars.next() {
                    Some('K') => line.truncate(cursor),
                    Some('C') => cursor += n,
                    Some('D') => cursor = cursor.saturating_sub(n),
                    _ => {}
                }
            }
            c => {
                while line.len() < cursor {
                    line.push(' ');
                }
                if cursor < line.len() {
                    line[cursor] = c;
                } else {
                    line.push(c);
                }
                cursor += 1;
            }
        }
    }
    screen.extend(line);
    screen
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Everything on the serial console (carriage returns removed).
    pub console: String,
    /// The console as a terminal shows it ([`terminal`]): what the shell's key-by-key echo
    /// leaves on each line.
    pub terminal: String,
    /// QEMU's exit status; `None` if it was killed at the deadline or stopped at the marker.
    pub status: Option<ExitStatus>,
    /// Whether the harness stopped QEMU after the [`Qemu::stop_at`] marker (not the deadline).
    pub stopped_at_marker: bool,
    /// How long QEMU ran, from its start to the collection of its output. The guest's counter
    /// follows the host's clock under QEMU, so no span of guest counter time exceeds it.
    pub wall_time: Duration,
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

    /// The boot core's roll-call line, `all <k> cores up in <t> us`, as (k, t): how many cores
    /// came up and the bring-up time in microseconds of guest counter time from the stub's
    /// entry. Panics unless exactly one such line was printed, in exactly that form.
    pub fn roll_call(&self) -> (u32, u64) {
        let lines = self.lines_starting("all ");
        let [line] = lines.as_slice() else {
            panic!("one `all <k> cores up in <t> us` line expected: {lines:?}")
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let parsed = match fields.as_slice() {
            ["all", k, "cores", "up", "in", t, "us"] => k.parse().ok().zip(t.parse().ok()),
            _ => None,
        };
        parsed.unwrap_or_else(|| panic!("not `all <k> cores up in <t> us`: {line:?}"))
    }

    /// Asserts `all <cores> cores up in <t> us`, with a bring-up time that is a number of
    /// microseconds: more than none, and no more than QEMU ran in all (the guest counter
    /// follows the host's clock), which a figure in counter ticks or nanoseconds would exceed
    /// many times over.
    pub fn assert_all_up_in_time(&self, cores: u32) {
        let (up, micros) = self.roll_call();
        assert_eq!(up, cores, "{:?}", self.lines_starting("all "));
        let wall = self.wall_time.as_micros();
        assert!(micros > 0 && u128::from(micros) <= wall, "bring-up time {micros} us, QEMU ran {wall} us");
    }

    /// Whether QEMU exited by itself with status 0 (the system powered off).
    pub fn powered_off_cleanly(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Asserts that QEMU ended by itself (not killed at the deadline) with `code`.
    pub fn assert_exit(&self, code: i32) {
        let status = self.status.unwrap_or_else(|| panic!("QEMU did not end by itself:\n{}", self.console));
        assert_eq!(status.code(), Some(code), "QEMU's exit status; console:\n{}", self.console);
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
            serials: vec!["stdio".into()],
            bios: None,
            disks: Vec::new(),
            extra_args: Vec::new(),
            stop_at: None,
            input: None,
        }
    }

    /// QEMU `raspi4b` booting `kernel` (the SD card's `kernel8.img`) with `dtb`, as the Pi's
    /// firmware would: four Cortex-A72, the console on the second serial port (the mini-UART the
    /// tree's `stdout-path` names; the first, the PL011, is Bluetooth on the board). Nothing
    /// powers a Pi off: the run stops at `stop_at` (`all <n> cores up` unless changed).
    pub fn raspi4b(kernel: PathBuf, dtb: PathBuf) -> Self {
        Qemu {
            machine: "raspi4b".into(),
            cpu: "cortex-a72".into(),
            smp: 4,
            memory: "2G".into(),
            dtb: Some(dtb),
            kernel,
            serials: vec!["null".into(), "stdio".into()],
            stop_at: Some("all ".into()),
            ..Qemu::big_little()
        }
    }

    /// This machine with `input` typed on its console: the `stdio` serial port becomes a
    /// `stdio` chardev reading QEMU's standard input, which is `input` (Ctrl-C bytes go to the
    /// guest, not to QEMU).
    pub fn typing(mut self, input: PathBuf) -> Self {
        for serial in &mut self.serials {
            if serial == "stdio" {
                *serial = "chardev:console".into();
            }
        }
        self.extra_args.extend(["-chardev".into(), "stdio,id=console,signal=off".into()]);
        self.input = Some(input);
        self
    }

    /// [`Qemu::big_little`] with `append` and `semihosting-exit` on the command line and QEMU's
    /// semihosting on, so that a run the system ends as failed makes QEMU exit 1; killed after
    /// `timeout`.
    pub fn big_little_semihosted(append: &str, timeout: Duration) -> Self {
        Qemu {
            append: Some(format!("{append} semihosting-exit")),
            timeout,
            extra_args: vec!["-semihosting-config".into(), "enable=on,target=native".into()],
            ..Qemu::big_little()
        }
    }

    /// QEMU booting a four-instruction "firmware" from flash (`-bios`) that enters the image the
    /// way a boot loader does (x0 = the tree), with the image and the tree `dtb` placed in RAM by
    /// QEMU's generic loader, untouched: QEMU rewrites `/psci/method` to its own conduit in any
    /// tree it hands a kernel (`-kernel` with `-dtb`). The firmware is written into `dir`.
    pub fn firmware_boot(machine: &str, dir: &std::path::Path, dtb: &std::path::Path) -> Self {
        const IMAGE: u32 = 0x4020_0000;
        const TREE: u32 = 0x4800_0000;
        // movz x0, #(TREE >> 16), lsl #16; movz x1, #(IMAGE >> 16), lsl #16; br x1
        let movz_high = |rd: u32, value: u32| 0xd2a0_0000 | ((value >> 16) << 5) | rd;
        let firmware: Vec<u8> = [movz_high(0, TREE), movz_high(1, IMAGE), 0xd61f_0020, 0]
            .iter()
            .flat_map(|i: &u32| i.to_le_bytes())
            .collect();
        let bios = dir.join("enter-image.bin");
        std::fs::write(&bios, firmware).expect("write the firmware");
        let loader = |file: &std::path::Path, address: u32| {
            ["-device".to_owned(), format!("loader,file={},addr={address:#x},force-raw=on", file.display())]
        };
        Qemu {
            machine: machine.into(),
            dtb: None,
            bios: Some(bios),
            extra_args: [loader(&built("Image"), IMAGE), loader(dtb, TREE)].concat(),
            ..Qemu::big_little()
        }
    }

    /// Boots the machine and collects the console until QEMU exits, the deadline passes, or
    /// (with [`Qemu::stop_at`]) the marker was printed and the console settled.
    pub fn boot(&self) -> Run {
        self.spawn().wait()
    }

    /// Starts the machine and returns at once; [`Running::wait`] collects the run. For tests
    /// that talk to QEMU while it runs (the debugger test attaches to its gdb stub).
    pub fn spawn(&self) -> Running {
        let mut command = Command::new("qemu-system-aarch64");
        command
            .args(["-M", &self.machine, "-cpu", &self.cpu, "-smp", &self.smp.to_string()])
            .args(["-m", &self.memory, "-nographic", "-no-reboot", "-monitor", "none"])
            .stdin(match &self.input {
                Some(file) => Stdio::from(std::fs::File::open(file).expect("the console input file")),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for serial in &self.serials {
            command.args(["-serial", serial]);
        }
        match &self.bios {
            Some(bios) => {
                command.arg("-bios").arg(bios);
            }
            // An empty path: the test loads the image some other way (`-device loader`).
            None if self.kernel.as_os_str().is_empty() => {}
            None => {
                command.arg("-kernel").arg(&self.kernel);
            }
        }
        if let Some(dtb) = &self.dtb {
            command.arg("-dtb").arg(dtb);
        }
        if let Some(append) = &self.append {
            command.args(["-append", append]);
        }
        for (n, disk) in self.disks.iter().enumerate() {
            command
                .arg("-drive")
                .arg(format!("if=none,format=raw,snapshot=on,id=disk{n},file={}", disk.display()))
                .args(["-device", &format!("virtio-blk-device,drive=disk{n}")]);
        }
        command.args(&self.extra_args);
        let mut child =
            command.spawn().expect("qemu-system-aarch64 must be installed (scripts/test installs it)");
        let mut stdout = child.stdout.take().expect("piped stdout");
        // The reader appends to a shared buffer so the marker can be seen while QEMU runs.
        let output = Arc::new(Mutex::new((Vec::<u8>::new(), Instant::now())));
        let sink = Arc::clone(&output);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                let mut guard = sink.lock().expect("console buffer");
                guard.0.extend_from_slice(&chunk[..n]);
                guard.1 = Instant::now();
            }
        });
        Running {
            child,
            reader: Some(reader),
            output,
            started: Instant::now(),
            timeout: self.timeout,
            stop_at: self.stop_at.clone(),
        }
    }
}

/// A QEMU machine started by [`Qemu::spawn`]. Dropping it kills QEMU, so a test that fails
/// half-way leaves no machine behind.
pub struct Running {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    output: Arc<Mutex<(Vec<u8>, Instant)>>,
    started: Instant,
    timeout: Duration,
    stop_at: Option<String>,
}

impl Running {
    /// Waits until QEMU exits, the deadline ([`Qemu::timeout`], counted from the start) passes,
    /// or (with [`Qemu::stop_at`]) the marker was printed and the console settled; then
    /// collects what the system printed.
    pub fn wait(mut self) -> Run {
        let mut marker_seen: Option<Instant> = None;
        let mut stopped_at_marker = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for QEMU") {
                break Some(status);
            }
            if let Some(marker) = &self.stop_at {
                let (seen, last_output) = {
                    let guard = self.output.lock().expect("console buffer");
                    let text = String::from_utf8_lossy(&guard.0);
                    (text.lines().any(|l| l.trim_end_matches('\r').starts_with(marker.as_str())), guard.1)
                };
                if seen {
                    let since = *marker_seen.get_or_insert_with(Instant::now);
                    // Quiet for SETTLE, or at most 4 * SETTLE after the marker.
                    if last_output.elapsed() >= SETTLE || since.elapsed() >= 4 * SETTLE {
                        self.kill();
                        stopped_at_marker = true;
                        break None;
                    }
                }
            }
            if self.started.elapsed() > self.timeout {
                self.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.collect(status, stopped_at_marker)
    }

    /// Stops QEMU now (if it still runs) and collects what the system printed.
    pub fn stop(mut self) -> Run {
        let status = match self.child.try_wait().expect("waiting for QEMU") {
            Some(status) => Some(status),
            None => {
                self.kill();
                None
            }
        };
        self.collect(status, false)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn collect(mut self, status: Option<ExitStatus>, stopped_at_marker: bool) -> Run {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let bytes = std::mem::take(&mut self.output.lock().expect("console buffer").0);
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let raw = String::from_utf8_lossy(&bytes);
        let (console, terminal) = (raw.replace('\r', ""), terminal(&raw));
        let run = Run { console, terminal, status, stopped_at_marker, wall_time: self.started.elapsed() };
        eprintln!(
            "--- console ({:?}{}, {:.1} s) ---\n{}{}",
            run.status,
            if stopped_at_marker { ", stopped at the marker" } else { "" },
            run.wall_time.as_secs_f64(),
            run.console,
            stderr
        );
        run
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Nothing to do if QEMU has exited and been waited for already.
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the system picked it), for QEMU's gdb
/// stub. Another process could take it in between; tests run one at a time.
pub fn free_local_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    listener.local_addr().expect("local address").port()
}

#[cfg(test)]
mod tests {
    use super::terminal;

    #[test]
    fn a_terminal_shows_lines_as_their_edits_leave_them() {
        // The kernel's line ends; a prompt drawn, keys echoed, a redraw after a backspace.
        assert_eq!(terminal("boot\r\n\rmk> \x1b[Kh\x1b[K"), "boot\nmk> h");
        assert_eq!(terminal("\rmk> \x1b[Khelx\rmk> hel\x1b[Kp\r\n"), "mk> help\n");
        // Cursor left twice, an insertion redrawn, then to the end before the new line.
        assert_eq!(terminal("\rmk> ab\x1b[2D\rmk> Xab\x1b[K\x1b[2D\x1b[2C\r\n"), "mk> Xab\n");
        // Another core's line printed over the shown line, which comes back after it.
        assert_eq!(terminal("\rmk> pi\r\x1b[Kcore 3 up\r\nmk> pi"), "core 3 up\nmk> pi");
        assert_eq!(terminal("ab\u{8}\u{8}x\x1b[?25h"), "xb", "backspace moves; unknown sequences dropped");
    }
}
