//! The facts as text: the table `skb facts` prints on the host and the shell's `skb facts`
//! prints on the running system (from a monitor's replica).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::{Caches, InterruptController, PsciConduit, Skb};

/// The facts as the `skb facts` table: the model, the cores with their classes, clusters
/// and builds, their caches, PSCI, the interrupt controller, timer, console and memory.
pub fn facts(skb: &Skb) -> String {
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
            crate::json::build_text(skb, c.index).unwrap_or("-"),
        );
    }
    for c in &skb.cpus {
        if let Some(line) = cache_line(&c.caches) {
            out += &format!("core {} caches: {line}\n", c.index);
        }
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

/// One core's cache facts on one line (`None` where the tree gives none).
fn cache_line(caches: &Caches) -> Option<String> {
    let bytes = |n: u32| {
        if n >= 1024 && n.is_multiple_of(1024) {
            format!("{} KiB", n / 1024)
        } else {
            format!("{n} B")
        }
    };
    let level = |name: &str, size: Option<u32>, line: Option<u32>| match (size, line) {
        (None, None) => None,
        (size, line) => Some(format!(
            "{name} {}{}",
            size.map_or("size ?".into(), bytes),
            line.map_or(String::new(), |l| format!(" ({l}-byte lines)"))
        )),
    };
    let mut parts: Vec<String> =
        [level("L1d", caches.l1d, caches.l1d_line), level("L1i", caches.l1i, caches.l1i_line)]
            .into_iter()
            .flatten()
            .collect();
    for c in &caches.outer {
        let name = format!("L{}{} {}", c.level, if c.unified { " unified" } else { "" }, c.path);
        parts.push(level(&name, c.size, c.line).unwrap_or(name));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
