//! The shell's commands: parsing a typed line (every mistake a [`ParseError`] that says what
//! was wrong, never a panic) and the three-word form in which the shell hands a command to its
//! monitor (`local` messages carry three words) and the monitor decodes it, refusing words
//! that name no command.

use core::fmt;

/// Highest core index a command may name (cores are `u32` across the system; the device tree
/// of any board here lists far fewer).
pub const MAX_CORE: u32 = 511;
/// Most round trips `ping` may ask for.
pub const MAX_PING_COUNT: u32 = 100_000;
/// Default round trips of `ping`.
pub const DEFAULT_PING_COUNT: u32 = 100;
/// Longest program name `spawn` takes (a boot module's name as `module_info` gives it).
pub const MAX_PROGRAM_NAME: usize = 16;

/// Where `spawn` puts a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On the shell's own core.
    Here,
    /// On core `n`.
    Core(u32),
    /// On a core of class `n` (0 little, 1 big).
    Class(u8),
}

/// A program name of at most [`MAX_PROGRAM_NAME`] bytes, NUL padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramName(pub [u8; MAX_PROGRAM_NAME]);

impl ProgramName {
    /// The name as text (up to the first NUL).
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(MAX_PROGRAM_NAME);
        core::str::from_utf8(&self.0[..end]).unwrap_or("")
    }
}

/// A command the shell understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `help`.
    Help,
    /// `cores`: index, MPIDR, class, cluster, build and state of every core.
    Cores,
    /// `skb facts`.
    SkbFacts,
    /// `skb class <n>`: the cores of class `n`.
    SkbClass(u8),
    /// `skb tree <root>`: the multicast tree from `root`.
    SkbTree(u32),
    /// `skb latency <a> <b>`: the measured latency from `a` to `b`.
    SkbLatency(u32, u32),
    /// `ps`: programs per core.
    Ps,
    /// `spawn <program> [on <core>|on <class>]`.
    Spawn(ProgramName, Placement),
    /// `kill <id>`: a program `ps` listed, as `<core>.<dispatcher>`.
    Kill(u32, u32),
    /// `ping <a> <b> [count]`.
    Ping(u32, u32, u32),
    /// `bench latency [pairs]`: at most `pairs` ordered pairs (0: all).
    BenchLatency(u32),
    /// `channels`: message counts and full-ring events per channel.
    Channels,
    /// `off <core>` / `on <core>`: CPU hotplug (`false` off, `true` on).
    Hotplug(bool, u32),
    /// `halt`.
    Halt,
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    /// The first word is no command.
    Unknown(&'a str),
    /// A command is missing an argument (the command, what it needs).
    Missing(&'static str, &'static str),
    /// An argument is not what the command takes (the argument, what is accepted).
    Bad(&'a str, &'static str),
    /// Words after a complete command.
    Extra(&'a str),
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(word) => write!(f, "unknown command '{word}' (try 'help')"),
            ParseError::Missing(command, what) => write!(f, "{command}: missing {what}"),
            ParseError::Bad(word, accepted) => write!(f, "bad argument '{word}': {accepted}"),
            ParseError::Extra(word) => write!(f, "unexpected '{word}' (try 'help')"),
        }
    }
}

/// One line of `help` per command.
pub const HELP: &[&str] = &[
    "cores                          index, MPIDR, class, cluster, build, state of every core",
    "skb facts                      what the SKB read from the device tree",
    "skb class <n>                  the cores of class n (0 little, 1 big)",
    "skb tree <root>                the multicast tree from core <root>",
    "skb latency <a> <b>            the measured p50 latency from core a to core b",
    "ps                             programs per core",
    "spawn <program> [on <core>|on little|on big]",
    "kill <core>.<dispatcher>       end a program ps listed",
    "ping <a> <b> [count]           URPC round trips between core a's and core b's monitors",
    "bench latency [pairs]          the latency benchmark over [pairs] ordered pairs (all)",
    "channels                       messages and full-ring events per monitor channel",
    "off <core> / on <core>         take a core off (PSCI CPU_OFF) / start it again (it rejoins)",
    "help                           this list",
    "halt                           power off",
];

fn number<'a>(word: &'a str, max: u32, accepted: &'static str) -> Result<u32, ParseError<'a>> {
    let bad = ParseError::Bad(word, accepted);
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    word.parse::<u32>().ok().filter(|&n| n <= max).ok_or(bad)
}

const CORE: &str = "a core index, 0 to 511";

fn core_arg<'a>(
    words: &mut core::str::SplitAsciiWhitespace<'a>,
    command: &'static str,
) -> Result<u32, ParseError<'a>> {
    let word = words.next().ok_or(ParseError::Missing(command, "a core index"))?;
    number(word, MAX_CORE, CORE)
}

fn class_of(word: &str) -> Option<u8> {
    match word {
        "0" | "little" => Some(0),
        "1" | "big" => Some(1),
        _ => None,
    }
}

/// Parses a typed line; `Ok(None)` for a blank one.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let Some(first) = words.next() else { return Ok(None) };
    let command = match first {
        "help" => Command::Help,
        "cores" => Command::Cores,
        "ps" => Command::Ps,
        "channels" => Command::Channels,
        "halt" => Command::Halt,
        "skb" => match words.next() {
            Some("facts") => Command::SkbFacts,
            Some("class") => {
                let word =
                    words.next().ok_or(ParseError::Missing("skb class", "a class (0, 1, little, big)"))?;
                Command::SkbClass(class_of(word).ok_or(ParseError::Bad(word, "0, 1, little or big"))?)
            }
            Some("tree") => Command::SkbTree(core_arg(&mut words, "skb tree")?),
            Some("latency") => {
                let from = core_arg(&mut words, "skb latency")?;
                Command::SkbLatency(from, core_arg(&mut words, "skb latency")?)
            }
            Some(other) => return Err(ParseError::Bad(other, "skb facts, class, tree or latency")),
            None => return Err(ParseError::Missing("skb", "facts, class, tree or latency")),
        },
        "spawn" => {
            let name = words.next().ok_or(ParseError::Missing("spawn", "a program name"))?;
            if name.len() > MAX_PROGRAM_NAME
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ParseError::Bad(name, "a program name: letters, digits, - and _, at most 16"));
            }
            let mut bytes = [0u8; MAX_PROGRAM_NAME];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            let placement = match words.next() {
                None => Placement::Here,
                Some("on") => {
                    let word =
                        words.next().ok_or(ParseError::Missing("spawn", "a core or class after 'on'"))?;
                    match word {
                        "little" => Placement::Class(0),
                        "big" => Placement::Class(1),
                        _ => {
                            Placement::Core(number(word, MAX_CORE, "a core index (0 to 511), little or big")?)
                        }
                    }
                }
                Some(other) => return Err(ParseError::Bad(other, "'on <core>' or 'on little|big'")),
            };
            Command::Spawn(ProgramName(bytes), placement)
        }
        "kill" => {
            let word = words.next().ok_or(ParseError::Missing("kill", "a program id <core>.<dispatcher>"))?;
            const ID: &str = "a program id <core>.<dispatcher>, as ps prints it";
            let (core, dispatcher) = word.split_once('.').ok_or(ParseError::Bad(word, ID))?;
            Command::Kill(number(core, MAX_CORE, ID).map_err(|_| ParseError::Bad(word, ID))?, {
                number(dispatcher, u32::MAX, ID).map_err(|_| ParseError::Bad(word, ID))?
            })
        }
        "ping" => {
            let a = core_arg(&mut words, "ping")?;
            let b = core_arg(&mut words, "ping")?;
            let count = match words.next() {
                None => DEFAULT_PING_COUNT,
                Some(word) => number(word, MAX_PING_COUNT, "a count, 1 to 100000").and_then(|n| {
                    if n == 0 {
                        Err(ParseError::Bad(word, "a count, 1 to 100000"))
                    } else {
                        Ok(n)
                    }
                })?,
            };
            Command::Ping(a, b, count)
        }
        "bench" => match words.next() {
            Some("latency") => Command::BenchLatency(match words.next() {
                None => 0,
                Some(word) => number(word, 262_144, "a number of pairs, 1 to 262144").and_then(|n| {
                    if n == 0 {
                        Err(ParseError::Bad(word, "a number of pairs, 1 to 262144"))
                    } else {
                        Ok(n)
                    }
                })?,
            }),
            Some(other) => return Err(ParseError::Bad(other, "bench latency [pairs]")),
            None => return Err(ParseError::Missing("bench", "what to measure: latency")),
        },
        "off" => Command::Hotplug(false, core_arg(&mut words, "off")?),
        "on" => Command::Hotplug(true, core_arg(&mut words, "on")?),
        other => return Err(ParseError::Unknown(other)),
    };
    match words.next() {
        Some(extra) => Err(ParseError::Extra(extra)),
        None => Ok(Some(command)),
    }
}

/// Operation numbers of the three-word form (bits 8-15 of the first word).
mod op {
    pub const CORES: u64 = 1;
    pub const SKB_FACTS: u64 = 2;
    pub const SKB_CLASS: u64 = 3;
    pub const SKB_TREE: u64 = 4;
    pub const SKB_LATENCY: u64 = 5;
    pub const PS: u64 = 6;
    pub const SPAWN: u64 = 7;
    pub const KILL: u64 = 8;
    pub const PING: u64 = 9;
    pub const BENCH_LATENCY: u64 = 10;
    pub const CHANNELS: u64 = 11;
    pub const HALT: u64 = 12;
    pub const HOTPLUG: u64 = 13;
}

/// Two `u32` in one word.
fn pair(a: u32, b: u32) -> u64 {
    u64::from(a) | u64::from(b) << 32
}

fn unpair(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// The three words that hand `command` to the monitor, the first with `tag` in its low byte;
/// `None` for what the shell does itself (`help`).
pub fn encode(tag: u8, command: &Command) -> Option<[u64; 3]> {
    let first = |op: u64| u64::from(tag) | op << 8;
    Some(match *command {
        Command::Help => return None,
        Command::Hotplug(on, core) => [first(op::HOTPLUG), pair(core, u32::from(on)), 0],
        Command::Cores => [first(op::CORES), 0, 0],
        Command::SkbFacts => [first(op::SKB_FACTS), 0, 0],
        Command::SkbClass(class) => [first(op::SKB_CLASS), u64::from(class), 0],
        Command::SkbTree(root) => [first(op::SKB_TREE), u64::from(root), 0],
        Command::SkbLatency(a, b) => [first(op::SKB_LATENCY), pair(a, b), 0],
        Command::Ps => [first(op::PS), 0, 0],
        Command::Spawn(name, placement) => {
            let (kind, value) = match placement {
                Placement::Here => (0u64, 0u64),
                Placement::Core(core) => (1, u64::from(core)),
                Placement::Class(class) => (2, u64::from(class)),
            };
            let low = u64::from_le_bytes(name.0[..8].try_into().unwrap_or([0; 8]));
            let high = u64::from_le_bytes(name.0[8..].try_into().unwrap_or([0; 8]));
            // The placement rides in the first word's upper half; a name of 16 bytes fills
            // both other words.
            [first(op::SPAWN) | kind << 16 | value << 32, low, high]
        }
        Command::Kill(core, dispatcher) => [first(op::KILL), pair(core, dispatcher), 0],
        Command::Ping(a, b, count) => [first(op::PING), pair(a, b), u64::from(count)],
        Command::BenchLatency(pairs) => [first(op::BENCH_LATENCY), u64::from(pairs), 0],
        Command::Channels => [first(op::CHANNELS), 0, 0],
        Command::Halt => [first(op::HALT), 0, 0],
    })
}

/// The command three words name (their tag already checked by the caller); `None` for words
/// that name none or carry values no parsed command could have.
pub fn decode(words: [u64; 3]) -> Option<Command> {
    let op = (words[0] >> 8) & 0xff;
    let core = |n: u32| (n <= MAX_CORE).then_some(n);
    let plain = |command: Command| (words[0] >> 16 == 0 && words[1] == 0 && words[2] == 0).then_some(command);
    match op {
        op::CORES => plain(Command::Cores),
        op::SKB_FACTS => plain(Command::SkbFacts),
        op::PS => plain(Command::Ps),
        op::CHANNELS => plain(Command::Channels),
        op::HALT => plain(Command::Halt),
        op::SKB_CLASS => match words[1] {
            0 | 1 => Some(Command::SkbClass(words[1] as u8)),
            _ => None,
        },
        op::SKB_TREE => Some(Command::SkbTree(core(u32::try_from(words[1]).ok()?)?)),
        op::SKB_LATENCY => {
            let (a, b) = unpair(words[1]);
            Some(Command::SkbLatency(core(a)?, core(b)?))
        }
        op::SPAWN => {
            let placement = match (words[0] >> 16) & 0xffff {
                0 => Placement::Here,
                1 => Placement::Core(core((words[0] >> 32) as u32)?),
                2 => Placement::Class(u8::try_from(words[0] >> 32).ok().filter(|&c| c <= 1)?),
                _ => return None,
            };
            let mut name = [0u8; MAX_PROGRAM_NAME];
            name[..8].copy_from_slice(&words[1].to_le_bytes());
            name[8..].copy_from_slice(&words[2].to_le_bytes());
            let name = ProgramName(name);
            let text = name.as_str();
            let valid = !text.is_empty()
                && name.0[text.len()..].iter().all(|&b| b == 0)
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            valid.then_some(Command::Spawn(name, placement))
        }
        op::KILL => {
            let (c, d) = unpair(words[1]);
            Some(Command::Kill(core(c)?, d))
        }
        op::PING => {
            let (a, b) = unpair(words[1]);
            let count = u32::try_from(words[2]).ok().filter(|&n| (1..=MAX_PING_COUNT).contains(&n))?;
            Some(Command::Ping(core(a)?, core(b)?, count))
        }
        op::BENCH_LATENCY => Some(Command::BenchLatency(u32::try_from(words[1]).ok()?)),
        op::HOTPLUG if words[0] >> 16 == 0 && words[2] == 0 => match unpair(words[1]) {
            (core_index, on @ (0 | 1)) => Some(Command::Hotplug(on == 1, core(core_index)?)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ProgramName {
        let mut bytes = [0u8; MAX_PROGRAM_NAME];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        ProgramName(bytes)
    }

    #[test]
    fn every_command_parses() {
        let cases: &[(&str, Command)] = &[
            ("help", Command::Help),
            ("  cores  ", Command::Cores),
            ("skb facts", Command::SkbFacts),
            ("skb class 1", Command::SkbClass(1)),
            ("skb class little", Command::SkbClass(0)),
            ("skb tree 4", Command::SkbTree(4)),
            ("skb latency 0 5", Command::SkbLatency(0, 5)),
            ("ps", Command::Ps),
            ("spawn latency", Command::Spawn(name("latency"), Placement::Here)),
            ("spawn latency on 3", Command::Spawn(name("latency"), Placement::Core(3))),
            ("spawn latency on big", Command::Spawn(name("latency"), Placement::Class(1))),
            ("kill 2.3", Command::Kill(2, 3)),
            ("ping 0 4", Command::Ping(0, 4, DEFAULT_PING_COUNT)),
            ("ping 0 4 1000", Command::Ping(0, 4, 1000)),
            ("bench latency", Command::BenchLatency(0)),
            ("bench latency 6", Command::BenchLatency(6)),
            ("channels", Command::Channels),
            ("off 3", Command::Hotplug(false, 3)),
            ("on 3", Command::Hotplug(true, 3)),
            ("halt", Command::Halt),
        ];
        for (line, command) in cases {
            assert_eq!(parse(line), Ok(Some(*command)), "{line}");
        }
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn mistakes_are_errors_that_say_what_is_wrong() {
        use alloc::string::ToString;
        let cases: &[(&str, &str)] = &[
            ("frobnicate", "unknown command 'frobnicate' (try 'help')"),
            ("skb", "skb: missing facts, class, tree or latency"),
            ("skb tree", "skb tree: missing a core index"),
            ("skb tree x", "bad argument 'x': a core index, 0 to 511"),
            ("skb tree 512", "bad argument '512': a core index, 0 to 511"),
            ("skb tree -1", "bad argument '-1': a core index, 0 to 511"),
            ("skb tree 99999999999999999999", "bad argument '99999999999999999999': a core index, 0 to 511"),
            ("skb class 2", "bad argument '2': 0, 1, little or big"),
            ("skb latency 1", "skb latency: missing a core index"),
            ("cores now", "unexpected 'now' (try 'help')"),
            ("spawn", "spawn: missing a program name"),
            ("spawn a/b", "bad argument 'a/b': a program name: letters, digits, - and _, at most 16"),
            ("spawn latency at 3", "bad argument 'at': 'on <core>' or 'on little|big'"),
            ("spawn latency on", "spawn: missing a core or class after 'on'"),
            ("kill 3", "bad argument '3': a program id <core>.<dispatcher>, as ps prints it"),
            ("kill a.b", "bad argument 'a.b': a program id <core>.<dispatcher>, as ps prints it"),
            ("ping 0 1 0", "bad argument '0': a count, 1 to 100000"),
            ("ping 0 1 100001", "bad argument '100001': a count, 1 to 100000"),
            ("bench", "bench: missing what to measure: latency"),
            ("bench unmap", "bad argument 'unmap': bench latency [pairs]"),
        ];
        for (line, message) in cases {
            let error = parse(line).expect_err(line);
            assert_eq!(error.to_string(), *message, "{line}");
        }
    }

    #[test]
    fn commands_survive_the_three_words_and_junk_is_refused() {
        for line in [
            "cores",
            "skb facts",
            "skb class 1",
            "skb tree 5",
            "skb latency 3 4",
            "ps",
            "spawn latency",
            "spawn sixteen-chars-xx on 511",
            "spawn x on little",
            "kill 1.7",
            "ping 1 2 3",
            "bench latency 4",
            "channels",
            "halt",
        ] {
            let command = parse(line).unwrap().unwrap();
            let words = encode(105, &command).unwrap();
            assert_eq!(words[0] & 0xff, 105);
            assert_eq!(decode(words), Some(command), "{line}");
        }
        assert_eq!(encode(105, &Command::Help), None);
        let on = encode(105, &Command::Hotplug(true, 1)).unwrap();
        assert_eq!(decode(on), Some(Command::Hotplug(true, 1)));
        assert_eq!(decode([on[0], 1 | 2 << 32, 0]), None, "on is 0 or 1");
        assert_eq!(decode([on[0], 512, 0]), None, "no such core");
        for junk in [
            [105, 0, 0],
            [105 | 99 << 8, 0, 0],
            [105 | 1 << 8, 1, 0],
            [105 | 3 << 8, 2, 0],
            [105 | 4 << 8, 512, 0],
            [105 | 7 << 8, 0, 0],
            [105 | 7 << 8 | 3 << 16, u64::from_le_bytes(*b"latency\0"), 0],
            [105 | 7 << 8, u64::from_le_bytes(*b"a\0b\0\0\0\0\0"), 0],
            [105 | 9 << 8, 1 | 2 << 32, 0],
        ] {
            assert_eq!(decode(junk), None, "{junk:?}");
        }
    }
}
