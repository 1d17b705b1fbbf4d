//! `linux-pingpong [--rounds N] [--cores A,B,...]`: the Linux side of `scripts/bench linux`,
//! run as init in an initramfs under Debian's kernel (or by hand on any Linux). Prints
//!
//! ```text
//! linux machine: cpus=<n> counter_hz=<hz> kernel=<release>
//! linux benchmark: <pairs> ordered pairs, <rounds> round trips each, pinned threads
//! linux <a>-<b> p50_ns=<n> p99_ns=<n> urpc_p50_ns=<n> urpc_p99_ns=<n>   (or `failed: ...`)
//! linux done: <m> measured, <f> failed
//! ```
//!
//! where `p50_ns`/`p99_ns` are the raw one-line round trip's and `urpc_*` URPC's (see the
//! library). As init it then powers the machine off.

use linux_pingpong::{clock, options, pair, sys};

fn run() -> Result<(), String> {
    let options =
        options::parse(std::env::args().skip(1)).map_err(|e| format!("{e} ({})", options::USAGE))?;
    let allowed = sys::allowed_cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
    let cores = options.cores.unwrap_or_else(|| allowed.clone());
    if let Some(core) = cores.iter().find(|c| !allowed.contains(c)) {
        return Err(format!("core {core} is not one this process may run on ({allowed:?})"));
    }
    let pairs = options::ordered_pairs(&cores);
    if pairs.is_empty() {
        return Err(format!("at least two cores are needed, this process may run on {allowed:?}"));
    }
    let kernel = sys::kernel_release().unwrap_or_else(|e| format!("unknown ({e})"));
    println!("linux machine: cpus={} counter_hz={} kernel={kernel}", allowed.len(), clock::frequency());
    println!(
        "linux benchmark: {} ordered pairs, {} round trips each, pinned threads",
        pairs.len(),
        options.rounds
    );
    let mut failed = 0;
    for &(a, b) in &pairs {
        let result = pair::measure_pair(a, b, options.rounds);
        failed += usize::from(result.is_err());
        println!("{}", pair::line(a, b, &result));
    }
    println!("linux done: {} measured, {failed} failed", pairs.len() - failed);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let outcome = run();
    if let Err(e) = &outcome {
        println!("linux error: {e}");
    }
    if sys::is_init() {
        let error = sys::power_off();
        // Exiting as init panics the kernel; with `panic=-1` on its command line it then
        // reboots, which QEMU's `-no-reboot` turns into an exit: the run still ends.
        println!("linux error: could not power off: {error}");
        return std::process::ExitCode::FAILURE;
    }
    if outcome.is_ok() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
