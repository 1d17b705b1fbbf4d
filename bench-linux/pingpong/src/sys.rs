//! The system calls the benchmark needs beyond `std`: pinning a thread to a core, the cores
//! this process may use, the kernel's release, and powering the machine off when the program
//! is init. Each is a thin wrapper that turns the C error convention into a `Result`.

use std::io;

/// Pins the calling thread to `cpu` (and only it), then checks it runs there.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("core {cpu} is beyond CPU_SETSIZE")));
    }
    // SAFETY: a cpu_set_t is plain bits; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above), so CPU_SET stays inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The kernel moves the caller before sched_setaffinity returns; say so if it did not.
    match current_cpu()? {
        now if now == cpu => Ok(()),
        now => Err(io::Error::other(format!("pinned to core {cpu} but running on {now}"))),
    }
}

/// The core the calling thread runs on.
pub fn current_cpu() -> io::Result<usize> {
    // SAFETY: sched_getcpu takes no arguments and only returns a number or -1.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).map_err(|_| io::Error::last_os_error())
}

/// The cores this process may run on, in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a cpu_set_t is plain bits; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed; pid 0 is the calling thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: every index is below CPU_SETSIZE, so CPU_ISSET reads inside `set`.
    Ok((0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect())
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> io::Result<String> {
    // SAFETY: utsname is plain arrays of bytes; all-zero is valid.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a writable utsname.
    if unsafe { libc::uname(&mut name) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes: Vec<u8> = name.release.iter().take_while(|&&c| c != 0).map(|c| c.to_ne_bytes()[0]).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether this process is init (pid 1), which must never exit: the kernel panics if it does.
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// Writes the file systems back and powers the machine off (PSCI `SYSTEM_OFF` under QEMU
/// virt, so QEMU exits 0). Returns only if the kernel refused.
pub fn power_off() -> io::Error {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    // SAFETY: reboot with RB_POWER_OFF takes no pointers; it needs CAP_SYS_BOOT, which init has.
    unsafe { libc::reboot(libc::RB_POWER_OFF) };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_to_an_allowed_core_runs_there_and_a_missing_one_is_refused() {
        let cpus = allowed_cpus().expect("sched_getaffinity");
        assert!(!cpus.is_empty());
        let last = *cpus.last().expect("a core");
        std::thread::spawn(move || {
            pin_to(last).expect("pin");
            assert_eq!(current_cpu().expect("sched_getcpu"), last);
            assert_eq!(allowed_cpus().expect("sched_getaffinity"), [last]);
        })
        .join()
        .expect("the pinned thread");
        let error = std::thread::spawn(|| pin_to(libc::CPU_SETSIZE as usize + 1)).join().expect("thread");
        assert!(error.is_err());
    }

    #[test]
    fn the_kernel_names_its_release() {
        let release = kernel_release().expect("uname");
        assert!(
            !release.is_empty() && release.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{release}"
        );
    }
}
