//! The monitor: the first dispatcher on every core, running at EL0.
//!
//! In the multikernel the CPU driver only multiplexes its own core; everything that involves
//! other cores (channel set-up, the name service, replicated state, agreement) is the
//! monitors' job, done by explicit messages. This first version announces itself and then
//! sleeps until woken, which is where channel handling goes.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

use userland::{info, println, wait, Info};

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    let el = info(Info::ExceptionLevel).unwrap_or(u64::MAX);
    println!("monitor {core} up el={el}");
    loop {
        wait(0);
    }
}

userland::entry!(run);
