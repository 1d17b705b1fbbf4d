//! The Linux run's console, as `linux-pingpong` prints it (`bench-linux/pingpong`):
//!
//! ```text
//! linux machine: cpus=6 counter_hz=62500000 kernel=6.12.117+deb13-arm64
//! linux benchmark: 30 ordered pairs, 10000 round trips each, pinned threads
//! linux 0-1 p50_ns=256 p99_ns=352 urpc_p50_ns=400 urpc_p99_ns=1056
//! linux 0-2 failed: no-pong (the echoing core answered no ping within 2 s)
//! linux done: 29 measured, 1 failed
//! ```
//!
//! Kernel messages may sit between these lines (a carriage return before a line is dropped);
//! anything else is ignored. A line that starts like a pair line but does not parse is kept as
//! malformed, so a changed format cannot pass as a missing pair.

use std::fmt::Write;

/// One measured pair's figures, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// Median raw one-line round trip.
    pub p50_ns: u64,
    /// 99th percentile raw one-line round trip.
    pub p99_ns: u64,
    /// Median URPC round trip.
    pub urpc_p50_ns: u64,
    /// 99th percentile URPC round trip, when printed.
    pub urpc_p99_ns: Option<u64>,
}

/// How one ordered pair ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Measured.
    Measured(Figures),
    /// Not measured: the failure's one-word name and what followed it.
    Failed {
        /// `no-pong`, `no-pin`, ...
        failure: String,
        /// The explanation in parentheses.
        detail: String,
    },
}

/// One `linux <a>-<b> ...` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The measuring core.
    pub from: u32,
    /// The echoing core.
    pub to: u32,
    /// Its figures or its failure.
    pub outcome: Outcome,
}

/// Everything the Linux run printed that the report uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinuxRun {
    /// Cores the program could run on (`linux machine: cpus=`).
    pub cpus: Option<usize>,
    /// The counter's frequency: its period is the resolution of every figure.
    pub counter_hz: Option<u64>,
    /// The kernel's release.
    pub kernel: Option<String>,
    /// Ordered pairs the program set out to measure.
    pub announced_pairs: Option<usize>,
    /// Timed round trips per pair and kind.
    pub rounds: Option<u64>,
    /// The pair lines, in console order.
    pub pairs: Vec<Pair>,
    /// `linux done: <m> measured, <f> failed`, when printed.
    pub done: Option<(usize, usize)>,
    /// `linux error: ...` lines, and pair lines that did not parse.
    pub errors: Vec<String>,
}

/// A figure of `name=<n>` among `fields`.
fn field(fields: &[&str], name: &str) -> Option<u64> {
    fields.iter().find_map(|f| f.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// Parses a pair line's text after `linux `; `None` if it is not one or is malformed.
pub fn parse_pair(rest: &str) -> Option<Pair> {
    let (pair, rest) = rest.split_once(' ')?;
    let (from, to) = pair.split_once('-')?;
    let (from, to) = (from.parse().ok()?, to.parse().ok()?);
    let outcome = if let Some(reason) = rest.strip_prefix("failed:") {
        let reason = reason.trim();
        let (failure, detail) = reason.split_once(' ').unwrap_or((reason, ""));
        if failure.is_empty() {
            return None;
        }
        Outcome::Failed { failure: failure.into(), detail: detail.trim().into() }
    } else {
        let fields: Vec<&str> = rest.split(' ').collect();
        let figures = Figures {
            p50_ns: field(&fields, "p50_ns")?,
            p99_ns: field(&fields, "p99_ns")?,
            urpc_p50_ns: field(&fields, "urpc_p50_ns")?,
            urpc_p99_ns: field(&fields, "urpc_p99_ns"),
        };
        Outcome::Measured(figures)
    };
    Some(Pair { from, to, outcome })
}

impl LinuxRun {
    /// Reads a console log.
    pub fn from_log(log: &str) -> Self {
        let mut run = LinuxRun::default();
        for line in log.lines() {
            // A line may carry the end of a kernel message before a carriage return.
            let line = line.rsplit('\r').find(|part| !part.trim().is_empty()).unwrap_or("").trim();
            let Some(rest) = line.strip_prefix("linux ") else { continue };
            if let Some(rest) = rest.strip_prefix("machine: ") {
                let fields: Vec<&str> = rest.split(' ').collect();
                run.cpus = field(&fields, "cpus").and_then(|n| usize::try_from(n).ok());
                run.counter_hz = field(&fields, "counter_hz");
                run.kernel = fields.iter().find_map(|f| f.strip_prefix("kernel=")).map(String::from);
            } else if let Some(rest) = rest.strip_prefix("benchmark: ") {
                let words: Vec<&str> = rest.split(' ').collect();
                run.announced_pairs = words.first().and_then(|n| n.parse().ok());
                run.rounds = words.get(3).and_then(|n| n.parse().ok());
            } else if let Some(rest) = rest.strip_prefix("done: ") {
                let numbers: Vec<usize> = rest.split([' ', ',']).filter_map(|w| w.parse().ok()).collect();
                run.done = match numbers[..] {
                    [measured, failed] => Some((measured, failed)),
                    _ => None,
                };
            } else if let Some(rest) = rest.strip_prefix("error: ") {
                run.errors.push(rest.into());
            } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
                match parse_pair(rest) {
                    Some(pair) => run.pairs.push(pair),
                    None => run.errors.push(format!("a pair line that does not parse: {line:?}")),
                }
            }
        }
        run
    }

    /// A measured pair's figures.
    pub fn figures(&self, from: u32, to: u32) -> Option<Figures> {
        self.pairs.iter().find(|p| (p.from, p.to) == (from, to)).and_then(|p| match p.outcome {
            Outcome::Measured(figures) => Some(figures),
            Outcome::Failed { .. } => None,
        })
    }

    /// Everything that makes the run incomplete or its figures implausible: errors the program
    /// printed, lines that do not parse, a missing machine, benchmark or done line, failed,
    /// missing or repeated pairs, and figures that are zero, below one counter tick or out of
    /// order (p99 below p50). Empty for a complete run. Never a timing threshold.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> =
            self.errors.iter().map(|e| format!("the program said: {e}")).collect();
        if self.cpus.is_none() || self.counter_hz.is_none() {
            problems.push("no `linux machine: cpus=<n> counter_hz=<hz> ...` line".into());
        }
        let Some(announced) = self.announced_pairs else {
            problems.push("no `linux benchmark: <n> ordered pairs, ...` line".into());
            return problems;
        };
        // One tick in whole nanoseconds, as the program converts (rounding down).
        let tick_ns = self.counter_hz.filter(|&hz| hz > 0).map_or(1, |hz| 1_000_000_000 / hz).max(1);
        let mut seen: Vec<(u32, u32)> = Vec::new();
        for pair in &self.pairs {
            let name = format!("{}-{}", pair.from, pair.to);
            if pair.from == pair.to {
                problems.push(format!("pair {name} pairs a core with itself"));
            }
            if seen.contains(&(pair.from, pair.to)) {
                problems.push(format!("pair {name} has more than one line"));
            }
            seen.push((pair.from, pair.to));
            match &pair.outcome {
                Outcome::Failed { failure, detail } => {
                    problems.push(format!("pair {name} failed: {failure} {detail}"))
                }
                Outcome::Measured(f) => {
                    let all = [Some(f.p50_ns), Some(f.p99_ns), Some(f.urpc_p50_ns), f.urpc_p99_ns];
                    if all.iter().flatten().any(|&ns| ns < tick_ns) {
                        problems.push(format!(
                            "pair {name}: a figure below one counter tick ({tick_ns} ns): {f:?}"
                        ));
                    }
                    if f.p99_ns < f.p50_ns || f.urpc_p99_ns.is_some_and(|p99| p99 < f.urpc_p50_ns) {
                        problems.push(format!("pair {name}: a p99 below its p50: {f:?}"));
                    }
                }
            }
        }
        if seen.len() != announced {
            problems.push(format!(
                "the program announced {announced} ordered pairs; the log has {} pair lines",
                seen.len()
            ));
        }
        let failed = self.pairs.iter().filter(|p| matches!(p.outcome, Outcome::Failed { .. })).count();
        match self.done {
            None => problems.push("no `linux done: ...` line: the run did not finish".into()),
            Some(done) if done != (self.pairs.len() - failed, failed) => problems.push(format!(
                "`linux done` says {} measured, {} failed; the log has {} and {failed}",
                done.0,
                done.1,
                self.pairs.len() - failed
            )),
            Some(_) => {}
        }
        problems
    }

    /// A one-line description: kernel, cores, counter, rounds.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "Linux {}", self.kernel.as_deref().unwrap_or("(kernel unknown)"));
        if let Some(cpus) = self.cpus {
            let _ = write!(out, ", {cpus} cores");
        }
        if let Some(hz) = self.counter_hz {
            let _ = write!(out, ", counter {hz} Hz");
        }
        if let Some(rounds) = self.rounds {
            let _ = write!(out, ", {rounds} round trips per pair and kind");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "\
[    1.2] random: crng init done
linux machine: cpus=3 counter_hz=62500000 kernel=6.12.117+deb13-arm64
linux benchmark: 6 ordered pairs, 10000 round trips each, pinned threads
linux 0-1 p50_ns=256 p99_ns=352 urpc_p50_ns=400 urpc_p99_ns=1056
linux 0-2 p50_ns=272 p99_ns=400 urpc_p50_ns=384 urpc_p99_ns=816\r
[    9.1] some kernel message\rlinux 1-0 p50_ns=240 p99_ns=368 urpc_p50_ns=400
linux 1-2 failed: no-pong (the echoing core answered no ping within 2 s)
linux 2-0 p50_ns=288 p99_ns=432 urpc_p50_ns=400 urpc_p99_ns=832
linux 2-1 p50_ns=256 p99_ns=288 urpc_p50_ns=400 urpc_p99_ns=832
linux done: 5 measured, 1 failed
[   59.8] reboot: Power down
";

    #[test]
    fn a_run_is_read_with_its_machine_pairs_and_failures() {
        let run = LinuxRun::from_log(RUN);
        assert_eq!((run.cpus, run.counter_hz), (Some(3), Some(62_500_000)));
        assert_eq!(run.kernel.as_deref(), Some("6.12.117+deb13-arm64"));
        assert_eq!((run.announced_pairs, run.rounds, run.done), (Some(6), Some(10_000), Some((5, 1))));
        assert_eq!(run.pairs.len(), 6);
        assert_eq!(
            run.figures(0, 1),
            Some(Figures { p50_ns: 256, p99_ns: 352, urpc_p50_ns: 400, urpc_p99_ns: Some(1056) })
        );
        assert_eq!(run.figures(1, 0).map(|f| (f.p50_ns, f.urpc_p99_ns)), Some((240, None)), "after a \\r");
        assert_eq!(run.figures(1, 2), None);
        assert_eq!(
            run.pairs[3].outcome,
            Outcome::Failed {
                failure: "no-pong".into(),
                detail: "(the echoing core answered no ping within 2 s)".into()
            }
        );
        assert_eq!(
            run.problems(),
            ["pair 1-2 failed: no-pong (the echoing core answered no ping within 2 s)"]
        );
        assert_eq!(
            run.describe(),
            "Linux 6.12.117+deb13-arm64, 3 cores, counter 62500000 Hz, 10000 round trips per pair and kind"
        );
    }

    #[test]
    fn a_complete_run_has_no_problems() {
        let run = LinuxRun::from_log(
            &RUN.replace(
                "linux 1-2 failed: no-pong (the echoing core answered no ping within 2 s)",
                "linux 1-2 p50_ns=256 p99_ns=256 urpc_p50_ns=384 urpc_p99_ns=384",
            )
            .replace("5 measured, 1 failed", "6 measured, 0 failed"),
        );
        assert_eq!(run.problems(), Vec::<String>::new());
    }

    fn problems_after(from: &str, to: &str) -> Vec<String> {
        assert!(RUN.contains(from), "{from}");
        LinuxRun::from_log(&RUN.replace(from, to)).problems()
    }

    fn has(problems: &[String], text: &str) -> bool {
        problems.iter().any(|p| p.contains(text))
    }

    #[test]
    fn incomplete_or_implausible_runs_are_problems() {
        let cut = problems_after("linux done: 5 measured, 1 failed\n", "");
        assert!(has(&cut, "did not finish"), "{cut:?}");
        let missing = problems_after("linux 2-1 p50_ns=256 p99_ns=288 urpc_p50_ns=400 urpc_p99_ns=832\n", "");
        assert!(has(&missing, "announced 6 ordered pairs; the log has 5"), "{missing:?}");
        assert!(has(&missing, "`linux done` says 5 measured"), "{missing:?}");
        let twice = problems_after("linux 2-1 ", "linux 2-0 ");
        assert!(has(&twice, "pair 2-0 has more than one line"), "{twice:?}");
        let zero = problems_after("p50_ns=256 p99_ns=352", "p50_ns=0 p99_ns=352");
        assert!(has(&zero, "pair 0-1: a figure below one counter tick (16 ns)"), "{zero:?}");
        let below_tick = problems_after("urpc_p50_ns=384", "urpc_p50_ns=15");
        assert!(has(&below_tick, "pair 0-2: a figure below one counter tick"), "{below_tick:?}");
        let order = problems_after("p99_ns=432", "p99_ns=100");
        assert!(has(&order, "pair 2-0: a p99 below its p50"), "{order:?}");
        let malformed = problems_after("p99_ns=288 urpc_p50_ns=400", "p99=288 urpc_p50_ns=400");
        assert!(has(&malformed, "a pair line that does not parse"), "{malformed:?}");
        let said = problems_after("linux done:", "linux error: could not power off: EPERM\nlinux done:");
        assert!(has(&said, "the program said: could not power off"), "{said:?}");
        let self_pair = problems_after("linux 2-1 ", "linux 2-2 ");
        assert!(has(&self_pair, "pairs a core with itself"), "{self_pair:?}");
        let nothing = LinuxRun::from_log("Kernel panic - not syncing\n").problems();
        assert!(has(&nothing, "no `linux machine:") && has(&nothing, "no `linux benchmark:"), "{nothing:?}");
    }
}
