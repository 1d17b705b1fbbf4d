//! `skb facts [--json] FILE.dtb`: the facts the multikernel would read from a device tree.
//!
//! Exits 0 and prints the facts (a table, or one JSON object with `--json`); on a bad tree or
//! bad arguments exits non-zero with one line on stderr.

use std::process::ExitCode;

use skb::{InterruptController, PsciConduit, Skb};

const USAGE: &str = "usage: skb facts [--json] FILE.dtb";

fn table(skb: &Skb) -> String {
    let mut out = String::new();
    if let Some(model) = &skb.model {
        out += &format!("model: {model}\n");
    }
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    out += &format!(
        "{}, {} (performance), {}\n",
        count(skb.cpus.len(), "core", "cores"),
        count(skb.class_count(), "class", "classes"),
        count(skb.cluster_count(), "cluster", "clusters")
    );
    out += "index  mpidr        compatible            capacity  cluster  class  enable-method  cpu-driver\n";
    for c in &skb.cpus {
        out += &format!(
            "{:<6} {:<12} {:<21} {:<9} {:<8} {:<6} {:<14} {}\n",
            c.index,
            format!("{:#x}", c.mpidr),
            c.compatible.as_deref().unwrap_or("-"),
            c.capacity.map_or("-".into(), |v| v.to_string()),
            c.cluster,
            c.class,
            match (c.enable_method.as_str(), c.release_addr) {
                (Some(m), Some(addr)) => format!("{m}@{addr:#x}"),
                (Some(m), None) => m.to_string(),
                (None, _) => "-".into(),
            },
            skb.cpu_driver_build(c.index).map_or("-", |b| b.target_cpu()),
        );
    }
    out += &match &skb.psci {
        Some(p) => format!(
            "psci: {} {}\n",
            p.version,
            match p.conduit {
                PsciConduit::Hvc => "hvc",
                PsciConduit::Smc => "smc",
            }
        ),
        None => "psci: none\n".into(),
    };
    out += &match skb.interrupt_controller {
        Some(InterruptController::GicV2 { distributor, cpu_interface }) => {
            format!(
                "interrupt controller: GICv2 distributor {distributor:#x} cpu interface {cpu_interface:#x}\n"
            )
        }
        Some(InterruptController::GicV3 { distributor, redistributor }) => {
            format!(
                "interrupt controller: GICv3 distributor {distributor:#x} redistributor {redistributor:#x}\n"
            )
        }
        None => "interrupt controller: none\n".into(),
    };
    out += &match &skb.timer {
        Some(t) => format!(
            "timer: {} interrupts {:?}{}\n",
            t.compatible,
            t.interrupts,
            t.clock_frequency.map_or(String::new(), |f| format!(", clock-frequency {f}"))
        ),
        None => "timer: none\n".into(),
    };
    out += &match &skb.console {
        Some(c) => format!(
            "console: {} ({}) at {:#x}, reg-shift {}, reg-io-width {}, baud {}\n",
            c.path,
            c.compatible,
            c.base,
            c.reg_shift,
            c.reg_io_width,
            c.baud.map_or("as set".into(), |b| b.to_string())
        ),
        None => "console: none\n".into(),
    };
    if skb.memory.is_empty() {
        out += "memory: none listed (the bootloader fills it in)\n";
    }
    for m in &skb.memory {
        out += &format!("memory: {:#x}..{:#x}\n", m.base, m.base.saturating_add(m.size));
    }
    for r in &skb.reserved {
        out += &format!("reserved: {:#x}..{:#x}\n", r.base, r.base.saturating_add(r.size));
    }
    out
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (json, file) = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["facts", "--json", file] | ["facts", file, "--json"] => (true, file.to_string()),
        ["facts", file] if !file.starts_with('-') => (false, file.to_string()),
        _ => return Err(USAGE.into()),
    };
    let bytes = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let skb = Skb::from_dtb(&bytes).map_err(|e| format!("{file}: {e}"))?;
    Ok(if json { skb::json::facts(&skb) } else { table(&skb) })
}

fn main() -> ExitCode {
    match run() {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skb: {e}");
            ExitCode::FAILURE
        }
    }
}
