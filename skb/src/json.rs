//! The facts as one JSON object (hand-written: the shapes are small and fixed).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{BuildChoice, Caches, InterruptController, Pipeline, PsciConduit, Skb, UartKind};

/// What `cpu_driver` says for a core whose build only its MIDR can decide.
pub const FROM_MIDR: &str = "decided from MIDR at boot";

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "null".into(), f)
}

fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", string(k))).collect();
    format!("{{{}}}", body.join(","))
}

fn array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

fn number(value: impl core::fmt::Display) -> String {
    format!("{value}")
}

fn caches(caches: &Caches) -> String {
    let levels = array(caches.outer.iter().map(|c| {
        object(&[
            ("path", string(&c.path)),
            ("level", number(c.level)),
            ("unified", number(c.unified)),
            ("size", opt(c.size, number)),
            ("line_size", opt(c.line, number)),
        ])
    }));
    object(&[
        ("l1d_size", opt(caches.l1d, number)),
        ("l1d_line_size", opt(caches.l1d_line, number)),
        ("l1i_size", opt(caches.l1i, number)),
        ("l1i_line_size", opt(caches.l1i_line, number)),
        ("levels", levels),
    ])
}

/// What `skb facts` says of core `index`'s build: the `-C target-cpu` of the build its design
/// calls for, or that its MIDR decides at boot.
pub fn build_text(skb: &Skb, index: usize) -> Option<&'static str> {
    Some(match skb.build_choice(index)? {
        BuildChoice::FromTree(build) => build.target_cpu(),
        BuildChoice::FromMidrAtBoot => FROM_MIDR,
    })
}

/// The facts of `skb` as a JSON object.
pub fn facts(skb: &Skb) -> String {
    let cpus = array(skb.cpus.iter().map(|c| {
        object(&[
            ("index", format!("{}", c.index)),
            ("path", string(&c.path)),
            ("mpidr", format!("{}", c.mpidr)),
            ("compatible", opt(c.compatible.as_deref(), string)),
            ("micro_arch", opt(c.micro_arch, |a| string(a.name()))),
            (
                "pipeline",
                opt(c.micro_arch, |a| {
                    string(match a.pipeline() {
                        Pipeline::InOrder => "in-order",
                        Pipeline::OutOfOrder => "out-of-order",
                    })
                }),
            ),
            ("capacity", opt(c.capacity, |v| format!("{v}"))),
            ("cluster", format!("{}", c.cluster)),
            ("class", format!("{}", c.class)),
            ("enable_method", opt(c.enable_method.as_str(), string)),
            ("release_addr", opt(c.release_addr, |v| format!("{v}"))),
            ("cpu_driver", opt(build_text(skb, c.index), string)),
            ("caches", caches(&c.caches)),
        ])
    }));
    let psci = opt(skb.psci.as_ref(), |p| {
        let method = match p.conduit {
            PsciConduit::Hvc => "hvc",
            PsciConduit::Smc => "smc",
        };
        object(&[
            ("method", string(method)),
            ("version", string(&p.version)),
            ("compatible", string(&p.compatible)),
        ])
    });
    let gic = opt(skb.interrupt_controller, |g| match g {
        InterruptController::GicV2 { distributor, cpu_interface } => object(&[
            ("version", "2".into()),
            ("distributor", format!("{distributor}")),
            ("cpu_interface", format!("{cpu_interface}")),
        ]),
        InterruptController::GicV3 { distributor, redistributor } => object(&[
            ("version", "3".into()),
            ("distributor", format!("{distributor}")),
            ("redistributor", format!("{redistributor}")),
        ]),
    });
    let console = opt(skb.console.as_ref(), |c| {
        let kind = match c.kind {
            UartKind::Pl011 => "pl011",
            UartKind::Bcm2835Aux => "bcm2835-aux",
            UartKind::Ns16550 => "ns16550",
            UartKind::Other => "other",
        };
        object(&[
            ("path", string(&c.path)),
            ("compatible", string(&c.compatible)),
            ("compatibles", array(c.compatibles.iter().map(|s| string(s)))),
            ("kind", string(kind)),
            ("base", format!("{}", c.base)),
            ("reg_shift", format!("{}", c.reg_shift)),
            ("reg_io_width", format!("{}", c.reg_io_width)),
            ("baud", opt(c.baud, |b| format!("{b}"))),
        ])
    });
    let ranges = |list: &[crate::MemoryRange]| {
        array(
            list.iter().map(|r| object(&[("base", format!("{}", r.base)), ("size", format!("{}", r.size))])),
        )
    };
    let timer = opt(skb.timer.as_ref(), |t| {
        object(&[
            ("compatible", string(&t.compatible)),
            ("interrupts", array(t.interrupts.iter().map(|i| format!("{i}")))),
            ("clock_frequency", opt(t.clock_frequency, |f| format!("{f}"))),
        ])
    });
    object(&[
        ("model", opt(skb.model.as_deref(), string)),
        ("cpus", cpus),
        ("classes", format!("{}", skb.class_count())),
        ("clusters", format!("{}", skb.cluster_count())),
        ("psci", psci),
        ("interrupt_controller", gic),
        ("timer", timer),
        ("console", console),
        ("memory", ranges(&skb.memory)),
        ("reserved", ranges(&skb.reserved)),
        ("no_map", ranges(&skb.no_map)),
        ("bootargs", opt(skb.bootargs.as_deref(), string)),
        ("warnings", array(skb.warnings.iter().map(|w| string(&format!("{w}"))))),
    ])
}
