//! The debugger: `gdb-multiarch` in batch mode against QEMU's gdb stub, with the symbol files
//! `scripts/build` lists in `build/gdb/symbols.gdb` (the ones `scripts/run --gdb` loads).
//! It must stop in the boot stub, in the CPU driver's entry on a little core and on a big
//! core (each build at its own address, so each breakpoint fires on its class only), and in
//! the monitor at EL0, with backtraces that name the functions and their source lines.
//!
//! Skipped, with a message, where `gdb-multiarch` is not installed, unless `MK_REQUIRE_GDB` is
//! set (`scripts/test` installs it and sets it).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use object::{Object, ObjectSymbol};
use system_tests::{build_dir, built, free_local_port, Qemu};

/// How long gdb may take for the whole session before it is killed and the test fails.
const GDB_DEADLINE: Duration = Duration::from_secs(150);

/// Whether the test can run; panics if gdb is missing but required.
fn gdb_available() -> bool {
    let found = Command::new("gdb-multiarch")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("MK_REQUIRE_GDB").is_none(),
            "gdb-multiarch is not installed, and MK_REQUIRE_GDB is set: install it \
             (apt-get install gdb-multiarch; scripts/test does)"
        );
        eprintln!(
            "SKIPPED: gdb-multiarch is not installed (apt-get install gdb-multiarch, or run scripts/test, \
             which installs it and sets MK_REQUIRE_GDB=1 to make its absence a failure)"
        );
    }
    found
}

/// The address of the symbol `name` in the ELF file `path`.
fn symbol_address(path: &Path, name: &str) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = object::File::parse(&*bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("{name} missing from {}", path.display()))
        .address()
}

/// The address of the one symbol whose (mangled) name starts with `prefix`.
fn symbol_address_by_prefix(path: &Path, prefix: &str) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = object::File::parse(&*bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let found: Vec<u64> = file
        .symbols()
        .filter(|s| s.name().is_ok_and(|n| n.starts_with(prefix)))
        .map(|s| s.address())
        .collect();
    assert_eq!(found.len(), 1, "{prefix}* in {}: {found:x?}", path.display());
    found[0]
}

/// Runs gdb-multiarch in batch mode on `script`, killing it at the deadline; returns its
/// standard output and error together.
fn run_gdb(script: &Path) -> String {
    let mut child = Command::new("gdb-multiarch")
        .args(["-q", "-nx", "-batch", "-x"])
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gdb-multiarch");
    // Both pipes are drained while gdb runs, so a full pipe never stalls it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let finished = loop {
        if child.try_wait().expect("waiting for gdb").is_some() {
            break true;
        }
        if started.elapsed() > GDB_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!("{}{}", stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default());
    eprintln!("--- gdb ({:.1} s) ---\n{output}", started.elapsed().as_secs_f64());
    assert!(finished, "gdb did not finish within {GDB_DEADLINE:?} (a breakpoint never hit?)");
    output
}

/// What gdb reported at one stop: the temporary breakpoint hit, the vCPU (core) it hit on,
/// the exception level there, and the backtrace.
#[derive(Debug)]
struct Stop {
    breakpoint: u32,
    core: u32,
    el: u32,
    backtrace: Vec<String>,
}

/// Splits gdb's output at the `@@stop` markers the script echoes and reads each stop.
fn stops(output: &str) -> Vec<Stop> {
    output
        .split("@@stop\n")
        .skip(1)
        .map(|chunk| {
            let breakpoint = chunk
                .lines()
                .find_map(|l| l.split(" hit Temporary breakpoint ").nth(1))
                .and_then(|rest| rest.split(',').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no breakpoint hit in:\n{chunk}"));
            // `info threads` marks the current thread: `* 3    Thread 1.3 (CPU#2 [running]) ...`.
            let core = chunk
                .lines()
                .find(|l| l.starts_with("* "))
                .and_then(|l| l.split("(CPU#").nth(1))
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .unwrap_or_else(|| panic!("no current thread in:\n{chunk}"));
            let el = chunk
                .lines()
                .find_map(|l| l.strip_prefix("@@el "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no exception level in:\n{chunk}"));
            let backtrace = chunk.lines().filter(|l| l.starts_with('#')).map(str::to_owned).collect();
            Stop { breakpoint, core, el, backtrace }
        })
        .collect()
}

/// Asserts that frame `n` of `stop` names `function` at a line of `file`.
fn assert_frame(stop: &Stop, n: usize, function: &str, file: &str) {
    let frame = stop.backtrace.get(n).unwrap_or_else(|| panic!("no frame #{n} in {stop:#?}"));
    assert!(frame.starts_with(&format!("#{n} ")), "{frame}");
    assert!(frame.contains(&format!(" {function} (")), "frame #{n} must be {function}: {frame}");
    let line = frame
        .rsplit_once(&format!(" at {file}:"))
        .and_then(|(_, line)| line.trim().parse::<u32>().ok())
        .unwrap_or_else(|| panic!("frame #{n} must be at {file}:<line>: {frame}"));
    assert!(line > 0, "{frame}");
}

/// Boots the big.LITTLE machine halted (`-S`) with its gdb stub, and has gdb stop in the stub,
/// in `kernel_main` of each build and in the monitor.
fn debug_session(machine: &str, dtb: &str) {
    let little = built("cpu-driver-cortex-a53.elf");
    let big = built("cpu-driver-cortex-a72.elf");
    let little_main = symbol_address(&little, "kernel_main");
    let big_main = symbol_address(&big, "kernel_main");
    assert_ne!(little_main, big_main, "the two builds must link kernel_main at different addresses");
    let symbols = built("gdb/symbols.gdb");
    // The stub's `bring_up::run` at its first instruction: gdb's breakpoint by name skips what
    // it takes for the prologue, and in an optimised build that can land on a line run only
    // later, or not at all (an `if` taken only with a command line). The stub is linked at 0 and
    // loaded where `symbols.gdb` says.
    let stub_offset = std::fs::read_to_string(&symbols)
        .expect("symbols.gdb")
        .lines()
        .find(|l| l.contains("boot-stub.elf"))
        .and_then(|l| l.split(" -o ").nth(1))
        .and_then(|o| u64::from_str_radix(o.trim().trim_start_matches("0x"), 16).ok())
        .expect("symbols.gdb loads the boot stub at an offset");
    let stub_run =
        stub_offset + symbol_address_by_prefix(&built("boot-stub.elf"), "_ZN4boot8bring_up3run17h");

    let port = free_local_port();
    let qemu = Qemu {
        machine: machine.into(),
        dtb: Some(built(dtb)),
        extra_args: vec!["-S".into(), "-gdb".into(), format!("tcp:127.0.0.1:{port}")],
        timeout: GDB_DEADLINE + Duration::from_secs(30),
        ..Qemu::big_little()
    }
    .spawn();

    // Four temporary breakpoints (each deletes itself when hit), so four stops. If one is
    // never reached the machine runs to its power-off, gdb's `continue` fails and the batch
    // script ends; the checks below then find a stop missing.
    let report = "echo @@stop\\n\ncontinue\ninfo threads\nprintf \"@@el %d\\n\", ($cpsr >> 2) & 3\nbt\n";
    let script = format!(
        "set pagination off\n\
         set confirm off\n\
         set width 0\n\
         set tcp connect-timeout 30\n\
         set remotetimeout 30\n\
         set architecture aarch64\n\
         target remote 127.0.0.1:{port}\n\
         source {symbols}\n\
         thbreak *{stub_run:#x}\n\
         thbreak *{little_main:#x}\n\
         thbreak *{big_main:#x}\n\
         thbreak monitor::run\n\
         {report}{report}{report}{report}\
         kill\n",
        symbols = symbols.display(),
    );
    let script_path = build_dir().join(format!("gdb/test-{}.gdb", std::process::id()));
    std::fs::write(&script_path, script).expect("writing the gdb script");
    let output = run_gdb(&script_path);
    let _ = std::fs::remove_file(&script_path);
    let run = qemu.stop();

    let stops = stops(&output);
    let hit: Vec<u32> = stops.iter().map(|s| s.breakpoint).collect();
    assert_eq!(stops.len(), 4, "four stops expected, got breakpoints {hit:?}");
    let stop = |n: u32| stops.iter().find(|s| s.breakpoint == n).unwrap_or_else(|| panic!("{hit:?}"));

    // 1: the stub, on the boot core (core 0, little), at EL1 after its drop from EL2 if any.
    let stub = stop(1);
    assert_eq!((stub.core, stub.el), (0, 1), "{stub:#?}");
    assert_frame(stub, 0, "boot::bring_up::run", "cpu-driver/src/bin/boot/bring_up.rs");
    assert_frame(stub, 1, "boot::entry::stub_main", "cpu-driver/src/bin/boot/entry.rs");
    assert!(stub.backtrace.last().is_some_and(|f| f.contains(" in stub_entry ()")), "{stub:#?}");

    // 2 and 3: the same function of each build, each on a core of its class only.
    for (n, cores, base) in [(2, 0..4, little_main), (3, 4..6, big_main)] {
        let kernel = stop(n);
        assert!(
            cores.contains(&kernel.core),
            "kernel_main at {base:#x} hit on core {}: {kernel:#?}",
            kernel.core
        );
        assert_eq!(kernel.el, 1, "{kernel:#?}");
        assert_frame(kernel, 0, "kernel::entry::kernel_main", "cpu-driver/src/bin/kernel/entry.rs");
        let caller = &kernel.backtrace[1];
        assert!(caller.contains(" in kernel_high ()"), "{kernel:#?}");
        // The caller's address is in the same build as the breakpoint.
        let pc = caller
            .split_whitespace()
            .nth(1)
            .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
        assert_eq!(
            pc.map(|pc| pc >> 29),
            Some(base >> 29),
            "caller in the same half of the kernel window: {caller}"
        );
    }

    // 4: the monitor, at EL0.
    let monitor = stop(4);
    assert_eq!(monitor.el, 0, "{monitor:#?}");
    assert_frame(monitor, 0, "monitor::run", "monitor/src/main.rs");
    assert!(monitor.backtrace.iter().any(|f| f.contains("__user_main")), "{monitor:#?}");
    assert!(monitor.backtrace.last().is_some_and(|f| f.contains(" in _start ()")), "{monitor:#?}");

    assert!(run.console.contains("boot stub: entered at EL"), "the machine ran under gdb: {}", run.console);
}

#[test]
fn gdb_stops_in_the_stub_in_each_cpu_driver_build_on_its_own_class_and_in_the_monitor() {
    if gdb_available() {
        debug_session("virt,gic-version=3", "qemu-virt-biglittle.dtb");
    }
}

#[test]
fn gdb_works_the_same_when_the_machine_is_entered_at_el2() {
    if gdb_available() {
        debug_session("virt,gic-version=3,virtualization=on", "qemu-virt-biglittle-el2.dtb");
    }
}

/// `scripts/run --gdb-port N` refuses a port something already listens on, before it
/// installs or builds anything.
#[test]
fn run_refuses_a_gdb_port_in_use() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    let port = listener.local_addr().expect("local address").port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/run");
    let output = Command::new(script)
        .args(["--gdb-port", &port.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("running scripts/run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("port {port} on 127.0.0.1 is in use")), "{stderr}");
    assert!(!stderr.contains("[build"), "nothing may be built first: {stderr}");
}
