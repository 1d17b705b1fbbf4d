//! The program's command line. As init it gets the words after `--` on the kernel command
//! line (`-append "... -- --rounds 10000"`); run by hand, its own arguments.

use monitor::bench::{DEFAULT_ROUNDS, MAX_ROUNDS};

/// What to measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Timed round trips per ordered pair and kind (after the warm-up).
    pub rounds: u64,
    /// The cores to pair up; `None`: every core the process may run on.
    pub cores: Option<Vec<usize>>,
}

/// The usage line printed with every error.
pub const USAGE: &str = "usage: linux-pingpong [--rounds N] [--cores A,B,...]";

/// Reads the arguments after the program's name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut options = Options { rounds: DEFAULT_ROUNDS, cores: None };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--rounds" => {
                let text = value()?;
                options.rounds = text
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_ROUNDS).contains(n))
                    .ok_or(format!("--rounds {text:?} is not a whole number from 1 to {MAX_ROUNDS}"))?;
            }
            "--cores" => {
                let text = value()?;
                let cores: Option<Vec<usize>> = text.split(',').map(|c| c.parse().ok()).collect();
                let cores = cores.filter(|c| c.len() >= 2).ok_or(format!(
                    "--cores {text:?} is not a list of at least two core numbers (e.g. 0,1)"
                ))?;
                if (1..cores.len()).any(|i| cores[..i].contains(&cores[i])) {
                    return Err(format!("--cores {text:?} names a core twice"));
                }
                options.cores = Some(cores);
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(options)
}

/// Every ordered pair of distinct `cores`, measuring core first, in the order the multikernel's
/// benchmark takes them (0-1, 0-2, ..., 1-0, 1-2, ...).
pub fn ordered_pairs(cores: &[usize]) -> Vec<(usize, usize)> {
    cores.iter().flat_map(|&a| cores.iter().filter(move |&&b| b != a).map(move |&b| (a, b))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Options, String> {
        parse(words.iter().map(|w| w.to_string()))
    }

    #[test]
    fn rounds_and_cores_are_read_in_either_spelling() {
        assert_eq!(parse_words(&[]), Ok(Options { rounds: DEFAULT_ROUNDS, cores: None }));
        assert_eq!(parse_words(&["--rounds", "200"]).map(|o| o.rounds), Ok(200));
        assert_eq!(
            parse_words(&["--rounds=7", "--cores=2,0"]),
            Ok(Options { rounds: 7, cores: Some(vec![2, 0]) })
        );
    }

    #[test]
    fn bad_arguments_are_errors_that_say_what_is_accepted() {
        let error = |words: &[&str]| parse_words(words).unwrap_err();
        assert!(error(&["--rounds"]).contains("needs a value"));
        assert!(error(&["--rounds", "0"]).contains("from 1 to"));
        assert!(error(&["--rounds", "x"]).contains("from 1 to"));
        assert!(error(&["--rounds", "99999999999999999999999"]).contains("from 1 to"));
        assert!(error(&["--cores", "1"]).contains("at least two"));
        assert!(error(&["--cores", "1,a"]).contains("at least two"));
        assert!(error(&["--cores", "1,1"]).contains("twice"));
        assert!(error(&["quiet"]).contains("unknown argument"));
    }

    #[test]
    fn pairs_are_every_ordered_pair_in_the_multikernels_order() {
        assert_eq!(ordered_pairs(&[0, 1, 2]), [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]);
        assert_eq!(ordered_pairs(&[0]), []);
        assert_eq!(ordered_pairs(&[0, 1, 2, 3, 4, 5]).len(), 30);
    }
}
