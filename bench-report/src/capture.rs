//! Console text as the reports read it, whether QEMU's standard output or a capture of a
//! board's serial line: lines end in LF, CR LF or CR CR LF; a terminal program or `ts` may
//! put a timestamp before each line; some colour their output with ANSI escape sequences.
//! [`console_lines`] gives each line as the system printed it.
//!
//! Timestamp prefixes recognised (one or several, in any order, each followed by spaces):
//!
//! - a bracketed stamp of digits and `:.-/+,TZ` and spaces: `[14:39:40.123]` (tio, minicom's
//!   timestamp modes), `[2026-11-27 14:39:40]`, `[0.000412 0.000021]` (grabserial);
//! - a bare word of digits and `:.-/+,TZ`: `14:39:40` (`ts -s`, `ts -i`), `1764254380.123456`
//!   (`ts %.s`), `2026-11-27T14:39:40+00:00`;
//! - an English month or weekday abbreviation, as in `ts`'s default `Nov 27 14:39:40`.
//!
//! The system's own lines start with a word (`latency`, `unmap`, `core`, `boot`), never with
//! one of these, so stripping them cannot eat a figure.

use alloc::borrow::Cow;
use alloc::string::String;

const NAMES: [&str; 19] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Mon", "Tue", "Wed",
    "Thu", "Fri", "Sat", "Sun",
];

/// Every line of `text` as the system printed it: line ends (LF, CR LF, stray CRs), ANSI
/// escape sequences and timestamp prefixes removed.
pub fn console_lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split('\n').map(console_line)
}

/// One captured line as the system printed it (see [`console_lines`]).
pub fn console_line(raw: &str) -> Cow<'_, str> {
    let line = raw.trim_end_matches('\r');
    // A CR inside a line returned the terminal's cursor: what follows it was printed over
    // what came before (an empty prompt or a half line another CR LF cut).
    let line = line.rsplit('\r').next().unwrap_or(line);
    if line.contains('\x1b') {
        let plain = without_escapes(line);
        Cow::Owned(String::from(without_timestamps(&plain)))
    } else {
        Cow::Borrowed(without_timestamps(line))
    }
}

/// `line` without ANSI CSI sequences (`ESC [` parameters, then one final byte `@`..`~`) and
/// other two-byte `ESC x` sequences.
fn without_escapes(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            plain.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    plain
}

fn is_stamp_char(c: char) -> bool {
    c.is_ascii_digit() || ":.-/+,TZ".contains(c)
}

/// A bare timestamp word: only stamp characters, at least one digit.
fn is_stamp_word(word: &str) -> bool {
    word.chars().all(is_stamp_char) && word.chars().any(|c| c.is_ascii_digit())
}

/// `line` after its leading timestamp words and bracketed stamps.
fn without_timestamps(line: &str) -> &str {
    let mut rest = line.trim_start();
    loop {
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else { return rest };
            let stamp = &inner[..end];
            if !(stamp.chars().all(|c| is_stamp_char(c) || c == ' ')
                && stamp.chars().any(|c| c.is_ascii_digit()))
            {
                return rest;
            }
            rest = inner[end + 1..].trim_start();
            continue;
        }
        let word_end = rest.find(' ').unwrap_or(rest.len());
        let word = &rest[..word_end];
        // A word alone on the line is content, never a prefix (a line that is only a stamp is
        // an empty line, which no report reads either way).
        if word_end == rest.len() || !(is_stamp_word(word) || NAMES.contains(&word)) {
            return rest;
        }
        rest = rest[word_end..].trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const LINE: &str = "latency 0-4 class=little-big p50_ns=812 p99_ns=1034 limit_ns=640";

    #[test]
    fn plain_lines_pass_unchanged() {
        assert_eq!(console_line(LINE), LINE);
        assert!(matches!(console_line(LINE), Cow::Borrowed(_)));
        assert_eq!(console_line("core 0 up mpidr=0x0 class=little"), "core 0 up mpidr=0x0 class=little");
    }

    #[test]
    fn line_ends_of_serial_captures_are_removed() {
        let capture = alloc::format!("boot\r\n{LINE}\r\r\n\rcore 1 up\r\n");
        let lines: Vec<Cow<'_, str>> = console_lines(&capture).collect();
        assert_eq!(lines, ["boot", LINE, "core 1 up", ""]);
    }

    #[test]
    fn every_known_timestamp_prefix_is_removed() {
        for prefix in [
            "[14:39:40.123] ",
            "[2026-11-27 14:39:40] ",
            "[2026-11-27 14:39:40.123] ",
            "[0.000412 0.000021] ",
            "14:39:40 ",
            "00:00:01.000213 ",
            "1764254380.123456 ",
            "2026-11-27T14:39:40+00:00 ",
            "Nov 27 14:39:40 ",
            "Fri Nov 27 14:39:40 2026 ",
            "2026-11-27 14:39:40,123 ",
            "[14:39:40.123]  ",
        ] {
            assert_eq!(console_line(&alloc::format!("{prefix}{LINE}\r")), LINE, "prefix {prefix:?}");
        }
    }

    #[test]
    fn colour_escapes_are_removed_with_the_stamp_they_wrap() {
        let line = alloc::format!("\x1b[1;34m[14:39:40.123]\x1b[0m {LINE}\r");
        assert_eq!(console_line(&line), LINE);
    }

    #[test]
    fn words_that_are_not_stamps_stay() {
        for line in ["[bracket] latency 0-1", "Novel latency 0-1", "x14 latency", "[] latency", "42"] {
            assert_eq!(console_line(line), line);
        }
    }
}
