//! The shell on the serial console (`scripts/run shell < tests/shell/commands.txt`): every
//! command's output, its errors, line editing and history typed as escape sequences, Ctrl-C
//! ending a running command, and the run ending at `halt` with exit 0. The input reaches the
//! shell through the console driver at EL0 (the UART's receive interrupt through an IRQ
//! capability), whose counts `halt` prints: every byte of the file must have arrived, through
//! at least one interrupt.

use std::path::Path;
use std::process::{Command, Stdio};

/// Generous: the build is incremental and the boot takes seconds, but the machine is shared.
const TIMEOUT_SECONDS: &str = "400";

/// The lines each command printed: `(command line, its output lines)` in order. A monitor's
/// own notices (`monitor <n>: ...`, such as a rejoined core's, printed by another core whenever
/// it gets there) are no command's output and are left out.
fn sections(console: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut started = false;
    for line in console.lines() {
        if let Some(command) = line.strip_prefix("mk> ") {
            sections.push((command.to_string(), Vec::new()));
            started = true;
        } else if started && !line.starts_with("monitor ") {
            if let Some(last) = sections.last_mut() {
                last.1.push(line.to_string());
            }
        }
    }
    sections
}

/// The output of the `n`th (from 0) run of `command`.
fn output_of<'a>(sections: &'a [(String, Vec<String>)], command: &str, n: usize) -> &'a [String] {
    let found: Vec<&(String, Vec<String>)> = sections.iter().filter(|(c, _)| c == command).collect();
    assert!(found.len() > n, "'{command}' ran {} times, wanted run {n}", found.len());
    &found[n].1
}

/// The number after `key=` in `line`.
fn field(line: &str, key: &str) -> u64 {
    let at = line.find(&format!("{key}=")).unwrap_or_else(|| panic!("no {key}= in {line}"));
    let digits: String = line[at + key.len() + 1..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("{key} in {line}"))
}

#[test]
fn the_shell_answers_every_command_and_halts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository");
    let commands_path = root.join("tests/shell/commands.txt");
    let commands = std::fs::read(&commands_path).expect("tests/shell/commands.txt");
    let output = Command::new("timeout")
        .args(["--kill-after=10", TIMEOUT_SECONDS])
        .arg(root.join("scripts/run"))
        .arg("shell")
        .current_dir(root)
        .stdin(std::fs::File::open(&commands_path).expect("the commands"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("scripts/run shell starts");
    // As a terminal shows it: the shell echoes key by key, editing the line in place.
    let raw = String::from_utf8_lossy(&output.stdout);
    let console = system_tests::terminal(&raw);
    // Echoed key by key through the kernel's input line: the prompt drawn as one (erasing to
    // the end of the line), and the insertion typed after two left arrows ("skb clas 1") redrawn
    // in place with the cursor put back before " 1".
    assert!(raw.contains("\rmk> \x1b[K"), "no prompt drawn by the input line");
    assert!(raw.contains("\rmk> skb class 1\x1b[K\x1b[2D"), "no in-place redraw of the insertion");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "scripts/run shell: {stderr}\n{console}");
    let has = |line: &str| console.lines().any(|l| l == line);
    assert!(has("console: driving the PL011's receive side at EL0 (IRQ capability claimed)"), "{console}");
    assert!(has("shell on core 0: type 'help' for the commands"), "{console}");
    let s = sections(&console);
    let lines = |command: &str, n: usize| output_of(&s, command, n).to_vec();

    // Every command, in the order typed (the file's lines; edited ones as they end up).
    let typed: Vec<&str> = s.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        typed,
        [
            "help",
            "cores",
            "skb facts",
            "skb class 1",
            "skb class little",
            "skb tree 4",
            "skb latency 0 4",
            "ps",
            "spawn latency on 3",
            "spawn latency on big",
            "spawn nosuch on 2",
            "ps",
            "kill 3.1",
            "kill 3.1",
            "kill 0.1",
            "ping 0 4 50",
            "ping 2 5",
            "ping 1 1",
            "channels",
            "bench latency 2",
            "skb latency 0 1",
            "skb tree 3",
            // history: up, backspace, 5; then up, up, down (the newest again)
            "skb tree 5",
            "skb tree 5",
            // left twice and an insertion; a backspace
            "skb class 1",
            "cores",
            "grep",
            "skb tree 9",
            "ping 0 9",
            "spawn latency at 3",
            "bench",
            "cores now",
            "off 3",
            "on 3",
            "ping 2 5 100000",
            "",
            "halt",
        ],
        "{console}"
    );

    let help = lines("help", 0);
    assert_eq!(help.len(), 14, "one line per command: {help:?}");
    assert!(help.iter().all(|l| l.starts_with("  ")), "{help:?}");
    for run in [0, 1] {
        let cores = lines("cores", run);
        assert_eq!(cores[0], "core  mpidr     class   cluster  build       state");
        assert_eq!(cores[1], "0     0x0       little  0        cortex-a53  online");
        assert_eq!(cores[5], "4     0x4       big     1        cortex-a72  online");
        assert_eq!(cores.len(), 7, "{cores:?}");
    }
    let facts = lines("skb facts", 0);
    assert!(facts.contains(&"6 cores, 2 classes (performance), 2 clusters".to_string()), "{facts:?}");
    assert!(facts.iter().any(|l| l.starts_with("interrupt controller: GICv3")), "{facts:?}");
    assert_eq!(lines("skb class 1", 0), ["class 1 (big): cores 4 5"]);
    assert_eq!(lines("skb class 1", 1), ["class 1 (big): cores 4 5"]);
    assert_eq!(lines("skb class little", 0), ["class 0 (little): cores 0 1 2 3"]);
    let tree = lines("skb tree 4", 0);
    assert!(tree[0].starts_with("multicast tree from core 4: depth "), "{tree:?}");
    assert_eq!(lines("skb tree 5", 0), lines("skb tree 5", 1));
    assert!(lines("skb latency 0 4", 0)[0].starts_with("latency 0-4: not measured"));

    // ps: every core's part, in core order; the launched programs after.
    let ps = lines("ps", 0);
    assert_eq!(ps[0], "id     core  program    state");
    assert_eq!(
        ps[1..4],
        [
            "0.0    0     monitor    running",
            "0.1    0     console    running",
            "0.2    0     shell      running"
        ]
    );
    let monitors: Vec<&String> = ps.iter().filter(|l| l.contains(" monitor ")).collect();
    assert_eq!(monitors.len(), 6, "{ps:?}");
    assert_eq!(lines("spawn latency on 3", 0), ["spawned latency as 3.1 on core 3"]);
    assert_eq!(lines("spawn latency on big", 0), ["spawned latency as 4.1 on core 4"]);
    assert_eq!(lines("spawn nosuch on 2", 0), ["error: spawn nosuch on core 2: no program 'nosuch'"]);
    let ps = lines("ps", 1);
    assert!(ps.contains(&"3.1    3     latency    running".to_string()), "{ps:?}");
    assert!(ps.contains(&"4.1    4     latency    running".to_string()), "{ps:?}");
    assert_eq!(lines("kill 3.1", 0), ["killed 3.1 (latency)"]);
    assert!(lines("kill 3.1", 1)[0].starts_with("error: kill 3.1 (latency): "), "{:?}", lines("kill 3.1", 1));
    assert_eq!(
        lines("kill 0.1", 0),
        ["error: kill 0.1: the monitor, the console driver and the shell keep running"]
    );

    // ping: the figures are measurements (non-zero, p99 not below p50).
    for (command, prefix) in
        [("ping 0 4 50", "ping 0-4: 50 round trips, "), ("ping 2 5", "ping 2-5: 100 round trips, ")]
    {
        let ping = lines(command, 0);
        assert_eq!(ping.len(), 1, "{ping:?}");
        assert!(ping[0].starts_with(prefix), "{ping:?}");
        let (p50, p99) = (field(&ping[0], "p50_ns"), field(&ping[0], "p99_ns"));
        assert!(p50 > 0 && p99 >= p50, "{ping:?}");
    }
    assert_eq!(lines("ping 1 1", 0), ["error: ping needs two different cores"]);

    // channels: one line per ordered pair, each core's after the one before it.
    let channels = lines("channels", 0);
    assert_eq!(channels.len(), 30, "{channels:?}");
    for (i, line) in channels.iter().enumerate() {
        let (from, to) = (i / 5, if i % 5 < i / 5 { i % 5 } else { i % 5 + 1 });
        assert!(line.starts_with(&format!("channel {from}-{to}: sent=")), "{line}");
        assert!(field(line, "sent") > 0 && field(line, "received") > 0, "{line}");
        let _ = (field(line, "full"), field(line, "waiting"));
    }
    // The pings went over 0-4 and 2-5: at least 50 and 100 messages each way.
    let sent = |from: usize, to: usize| {
        let line = channels.iter().find(|l| l.starts_with(&format!("channel {from}-{to}:"))).unwrap();
        field(line, "sent")
    };
    assert!(sent(0, 4) >= 50 && sent(4, 0) >= 50 && sent(2, 5) >= 100 && sent(5, 2) >= 100, "{channels:?}");

    let bench = lines("bench latency 2", 0);
    let pairs: Vec<&String> = bench.iter().filter(|l| l.starts_with("latency 0-")).collect();
    assert_eq!(pairs.len(), 2, "{bench:?}");
    assert!(pairs[0].starts_with("latency 0-1 class=little-little p50_ns="), "{bench:?}");
    let measured = field(pairs[0], "p50_ns");
    assert_eq!(
        lines("skb latency 0 1", 0),
        [format!("latency 0-1: p50_ns={measured}")],
        "the replica recorded it"
    );

    for (command, error) in [
        ("grep", "error: unknown command 'grep' (try 'help')"),
        ("skb tree 9", "error: no core 9 (this machine has cores 0 to 5)"),
        ("ping 0 9", "error: core 9 is not online"),
        ("spawn latency at 3", "error: bad argument 'at': 'on <core>' or 'on little|big'"),
        ("bench", "error: bench: missing what to measure: latency"),
        ("cores now", "error: unexpected 'now' (try 'help')"),
    ] {
        assert_eq!(lines(command, 0), [error], "{command}");
    }

    // Hotplug from the shell: core 3 leaves by agreement and powers off, then comes back as
    // its next incarnation.
    let off = lines("off 3", 0);
    assert!(off.contains(&"off 3: core 3 off".to_string()), "{off:?}");
    assert!(off.iter().any(|l| l.starts_with("core 3 off (")), "{off:?}");
    let on = lines("on 3", 0);
    assert!(on.contains(&"on 3: core 3 up and rejoined".to_string()), "{on:?}");
    assert!(on.iter().any(|l| l.starts_with("core 3 rejoined as incarnation 1 in ")), "{on:?}");

    // Ctrl-C typed right after the long ping interrupts it.
    // Core 2's monitor, which pings, stops and says so before the host's `interrupted`.
    let interrupted = lines("ping 2 5 100000", 0);
    assert_eq!(interrupted.len(), 3, "{interrupted:?}");
    assert_eq!(interrupted[0], "^C", "{interrupted:?}");
    assert!(interrupted[1].starts_with("ping 2-5: interrupted after "), "{interrupted:?}");
    assert_eq!(interrupted[2], "interrupted", "{interrupted:?}");

    // halt: the driver's counts, then off. Every byte of the file came through the driver.
    let halt = lines("halt", 0);
    assert_eq!(halt.len(), 2, "{halt:?}");
    assert!(halt[0].starts_with("console: "), "{halt:?}");
    let words: Vec<&str> = halt[0].split_whitespace().collect();
    let (interrupts, bytes): (u64, u64) = (words[1].parse().unwrap(), words[4].parse().unwrap());
    assert!(interrupts >= 1, "the receive interrupt reached the driver: {halt:?}");
    assert_eq!(bytes, commands.len() as u64, "every byte typed arrived: {halt:?}");
    assert_eq!(halt[1], "halt: powering off");
}
