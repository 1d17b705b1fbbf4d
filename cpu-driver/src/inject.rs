//! Faults injected on purpose, from the kernel command line, so that the paths a real fault
//! takes run under test: `inject=panic@core<N>` makes core N's CPU driver panic right after
//! its `core <N> up` line (`inject=panic@all`: every core). Several go in one word, separated
//! by commas (`inject=panic@core0,panic@core3`) or in several words. Values for other parts of
//! the system (the monitor reads `inject=monitor-exit@core<N>`) are left to them.

use crate::boot_record::MAX_CORES;

/// The cores whose CPU driver must panic, as a mask (bit N: core N), read from `bootargs`.
pub fn panicking_cores(bootargs: &str) -> u64 {
    let mut mask = 0u64;
    for value in bootargs.split_whitespace().filter_map(|w| w.strip_prefix("inject=")) {
        for fault in value.split(',') {
            match fault.strip_prefix("panic@") {
                Some("all") => mask = u64::MAX,
                Some(core) => {
                    let index = core.strip_prefix("core").and_then(|n| n.parse::<usize>().ok());
                    if let Some(index) = index.filter(|&i| i < MAX_CORES) {
                        mask |= 1 << index;
                    }
                }
                None => {}
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_cores_and_all_are_read_from_any_inject_word() {
        assert_eq!(panicking_cores("console=x inject=panic@core0"), 1);
        assert_eq!(panicking_cores("inject=panic@core0,panic@core3 inject=panic@core5"), 0b10_1001);
        assert_eq!(panicking_cores("inject=monitor-exit@core0,panic@all"), u64::MAX);
    }

    #[test]
    fn other_faults_and_malformed_cores_inject_nothing() {
        assert_eq!(panicking_cores(""), 0);
        assert_eq!(panicking_cores("inject=monitor-exit@core0 panic@core1 inject=panic@1"), 0);
        assert_eq!(panicking_cores("inject=panic@core64 inject=panic@core-1 inject=panic@corex"), 0);
    }
}
