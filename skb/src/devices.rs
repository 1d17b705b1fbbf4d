//! Memory, the interrupt controller, the timer, PSCI and the console: the device facts, each
//! found by exact `compatible` entries or fixed paths and placed at CPU physical addresses.

use alloc::string::String;
use alloc::vec::Vec;

use crate::address::{mmio, reg_entries, translate};
use crate::error::{Error, Warnings};
use crate::tree::{read_cells, Tree};

/// A physical memory range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// The interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptController {
    /// GICv2 (GIC-400 and kin): distributor and memory-mapped CPU interface.
    GicV2 {
        /// Distributor.
        distributor: u64,
        /// CPU interface.
        cpu_interface: u64,
    },
    /// GICv3: distributor and the first redistributor.
    GicV3 {
        /// Distributor.
        distributor: u64,
        /// First redistributor frame.
        redistributor: u64,
    },
}

/// The architected timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Its compatible.
    pub compatible: String,
    /// Raw `interrupts` cells (secure phys, non-secure phys, virtual, hyp phys ...).
    pub interrupts: Vec<u32>,
    /// `clock-frequency`, when the firmware failed to set CNTFRQ.
    pub clock_frequency: Option<u32>,
}

/// PSCI conduit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// HVC.
    Hvc,
    /// SMC.
    Smc,
}

/// PSCI firmware interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Psci {
    /// How to call it.
    pub conduit: PsciConduit,
    /// The newest version `compatible` names (`1.0`, `0.2`, or `0.1` for plain `arm,psci`).
    pub version: String,
    /// The `compatible` entry that version comes from (`arm,psci-1.0`, `arm,psci`).
    pub compatible: String,
}

/// UART families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PL011.
    Pl011,
    /// BCM2835 auxiliary mini-UART.
    Bcm2835Aux,
    /// 16550-compatible (Synopsys DesignWare APB UART and kin).
    Ns16550,
    /// Something else.
    Other,
}

/// Parity of a serial line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// No parity bit.
    None,
    /// Odd parity.
    Odd,
    /// Even parity.
    Even,
}

/// A serial line's format, from the `stdout-path` options (`<baud><parity><bits>`, as Linux's
/// console options: `115200n8`); one stop bit, which the options cannot change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineFormat {
    /// Data bits, 5 to 8.
    pub data_bits: u8,
    /// Parity.
    pub parity: Parity,
}

impl Default for LineFormat {
    /// 8N1, what Linux assumes when the options stop after the baud rate.
    fn default() -> Self {
        LineFormat { data_bits: 8, parity: Parity::None }
    }
}

/// The baud rate and line format in `stdout-path` options such as `115200n8`: digits, then
/// optionally a parity letter (`n`, `o`, `e`) and a data-bit count (5 to 8); anything after
/// (flow control) is ignored. The format is `None` when the options give only a baud rate or
/// something this cannot read; a malformed part is never guessed at.
pub fn stdout_options(options: &str) -> (Option<u32>, Option<LineFormat>) {
    let digits: String = options.chars().take_while(char::is_ascii_digit).collect();
    let baud = digits.parse().ok().filter(|&b| b > 0);
    let mut rest = options[digits.len()..].chars();
    let parity = match rest.next() {
        Some('n') => Parity::None,
        Some('o') => Parity::Odd,
        Some('e') => Parity::Even,
        _ => return (baud, None),
    };
    let data_bits = match rest.next().and_then(|c| c.to_digit(10)) {
        Some(bits @ 5..=8) => bits as u8,
        None => 8,
        Some(_) => return (baud, None),
    };
    (baud, Some(LineFormat { data_bits, parity }))
}

/// The UART's input clock in Hz: its own `clock-frequency`, else the `clock-frequency` of the
/// first clock `clocks` names when that clock is a `fixed-clock` (a clock whose rate the tree
/// states). `None` for clocks a driver would have to ask (a clock controller): the firmware's
/// divisor stays then.
pub fn uart_clock(tree: &Tree, node: usize) -> Option<u32> {
    if let Some(hz) = tree.prop_u32(node, "clock-frequency").filter(|&hz| hz > 0) {
        return Some(hz);
    }
    // The first specifier's phandle: the first cell, whatever the clock's `#clock-cells`.
    let handle = tree.prop(node, "clocks").and_then(|cells| read_cells(cells, 0, 1))?;
    let clock = tree.by_phandle(u32::try_from(handle).ok()?)?;
    tree.is_compatible(clock, "fixed-clock")
        .then(|| tree.prop_u32(clock, "clock-frequency"))
        .flatten()
        .filter(|&hz| hz > 0)
}

/// The console: the UART `/chosen/stdout-path` names, else `/aliases/serial0`, else the first
/// enabled one in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Console {
    /// Path of the UART node (aliases resolved).
    pub path: String,
    /// First compatible string.
    pub compatible: String,
    /// All its compatible strings, most specific first.
    pub compatibles: Vec<String>,
    /// The family.
    pub kind: UartKind,
    /// CPU physical address of its registers.
    pub base: u64,
    /// Register stride is `1 << reg_shift`.
    pub reg_shift: u32,
    /// Register access width in bytes.
    pub reg_io_width: u32,
    /// Baud rate from the stdout-path options or `current-speed`.
    pub baud: Option<u32>,
    /// Line format from the stdout-path options, when they give one.
    pub line: Option<LineFormat>,
    /// The UART's input clock in Hz, where the tree states it: its own `clock-frequency`, or
    /// that of a `fixed-clock` its `clocks` names first.
    pub clock_hz: Option<u32>,
    /// Which of those rules chose it.
    pub found_by: ConsoleSource,
    /// The GIC INTID of its interrupt (receive and transmit share one line on every UART
    /// here), when its interrupt parent is a GIC (see `uart_intid`).
    pub intid: Option<u32>,
    /// How that interrupt signals, from the flags cell of its `interrupts` (see
    /// `uart_irq_trigger`).
    pub irq_trigger: Option<IrqTrigger>,
}

/// How a GIC interrupt signals: the flags cell of the GIC bindings (`IRQ_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqTrigger {
    /// Level sensitive (`IRQ_TYPE_LEVEL_HIGH`, 4; `LEVEL_LOW`, 8, through an inverter outside
    /// the GIC, which takes only active-high levels).
    Level,
    /// Edge triggered (`IRQ_TYPE_EDGE_RISING`, 1; `EDGE_FALLING`, 2, likewise inverted).
    Edge,
}

/// How the console was found, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleSource {
    /// `/chosen/stdout-path` names it.
    StdoutPath,
    /// `stdout-path` names nothing usable (or is absent); `/aliases/serial0` names it.
    Serial0Alias,
    /// Neither names a usable UART; it is the first enabled one in tree order.
    FirstUart,
}

const GICV3: &[&str] = &["arm,gic-v3"];
const GICV2: &[&str] = &[
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
    "arm,arm11mp-gic",
    "arm,pl390",
    "arm,gic-v2",
    "qcom,msm-qgic2",
];
const PL011: &[&str] = &["arm,pl011"];
const AUX: &[&str] = &["brcm,bcm2835-aux-uart"];
const NS16550: &[&str] =
    &["snps,dw-apb-uart", "ns16550a", "ns16550", "ns16750", "ns16450", "ns8250", "nvidia,tegra20-uart"];

/// Memory from every `/memory` node (empty or absent ones give nothing).
pub fn memory(tree: &Tree) -> Result<Vec<MemoryRange>, Error> {
    let mut ranges = Vec::new();
    for &child in &tree.nodes[0].children {
        let node = &tree.nodes[child];
        let is_memory = node.name.split('@').next() == Some("memory")
            || tree.string(child, "device_type").as_deref() == Some("memory");
        if !is_memory || !tree.is_enabled(child) {
            continue;
        }
        for (base, size) in reg_entries(tree, child)? {
            if size > 0 {
                ranges.push(MemoryRange { base, size });
            }
        }
    }
    Ok(ranges)
}

/// Reserved memory: every range no allocation may use, and of those the ones that must never
/// be mapped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reserved {
    /// `/memreserve/` entries and enabled `/reserved-memory` children with a `reg`: never
    /// allocated.
    pub all: Vec<MemoryRange>,
    /// Of those, the `/reserved-memory` children marked `no-map` (firmware, TF-A, OP-TEE): never
    /// mapped either, so no speculative access can reach them. `/memreserve/` entries and
    /// `reusable` children stay mappable, as Linux treats them.
    pub no_map: Vec<MemoryRange>,
}

/// Reserved memory: `/memreserve/` entries and the enabled `/reserved-memory` children with a
/// `reg` (a child with `status = "disabled"` reserves nothing; a size-only child, with
/// `alloc-ranges` and no `reg`, has nothing fixed to reserve).
pub fn reserved(tree: &Tree) -> Result<Reserved, Error> {
    let mut reserved = Reserved {
        all: tree
            .memreserve
            .iter()
            .map(|&(base, size)| MemoryRange { base, size })
            .filter(|r| r.size > 0)
            .collect(),
        no_map: Vec::new(),
    };
    if let Some(parent) = tree.find("/reserved-memory") {
        for &child in tree.nodes[parent].children.iter().filter(|&&c| tree.is_enabled(c)) {
            let no_map = tree.prop(child, "no-map").is_some();
            for (base, size) in reg_entries(tree, child)? {
                let base = translate(tree, child, base)?.unwrap_or(base);
                if size > 0 {
                    reserved.all.push(MemoryRange { base, size });
                    if no_map {
                        reserved.no_map.push(MemoryRange { base, size });
                    }
                }
            }
        }
    }
    Ok(reserved)
}

fn compatible_with(tree: &Tree, node: usize, list: &[&str]) -> bool {
    list.iter().any(|c| tree.is_compatible(node, c))
}

/// The GIC: the root's `interrupt-parent` chain first (up to a controller that is its own
/// parent, the root of the interrupt tree), else the first GIC node found. A chain that loops
/// through two or more nodes is an error.
pub fn interrupt_controller(tree: &Tree) -> Result<Option<InterruptController>, Error> {
    let mut candidate = None;
    let mut node = tree.prop_u32(0, "interrupt-parent").and_then(|h| tree.by_phandle(h));
    for _ in 0..16 {
        let Some(current) = node else { break };
        if compatible_with(tree, current, GICV3) || compatible_with(tree, current, GICV2) {
            candidate = Some(current);
            break;
        }
        node = tree.prop_u32(current, "interrupt-parent").and_then(|h| tree.by_phandle(h));
        if node == Some(current) {
            // An interrupt controller that is its own parent is the root of the interrupt tree
            // (as Linux reads it: every Raspberry Pi 3-family tree's local controller does
            // this), not a loop; it is not a GIC, so look for one elsewhere. Any other node
            // naming itself is a loop.
            if tree.prop(current, "interrupt-controller").is_none() {
                return Err(Error::PhandleCycle("interrupt-parent"));
            }
            node = None;
            break;
        }
    }
    if node.is_some() && candidate.is_none() {
        return Err(Error::PhandleCycle("interrupt-parent"));
    }
    let candidate = candidate.or_else(|| {
        (0..tree.nodes.len()).find(|&n| {
            tree.is_enabled(n) && (compatible_with(tree, n, GICV3) || compatible_with(tree, n, GICV2))
        })
    });
    let Some(gic) = candidate else { return Ok(None) };
    if reg_entries(tree, gic)?.len() < 2 {
        return Err(Error::BadProperty { node: tree.path(gic), property: "reg" });
    }
    let (Some((first, _)), Some((second, _))) = (mmio(tree, gic, 0)?, mmio(tree, gic, 1)?) else {
        return Err(Error::NotMemoryMapped { node: tree.path(gic) });
    };
    Ok(Some(if compatible_with(tree, gic, GICV3) {
        InterruptController::GicV3 { distributor: first, redistributor: second }
    } else {
        InterruptController::GicV2 { distributor: first, cpu_interface: second }
    }))
}

/// The architected timer node.
pub fn timer(tree: &Tree) -> Option<Timer> {
    let node = (0..tree.nodes.len())
        .find(|&n| tree.is_compatible(n, "arm,armv8-timer") || tree.is_compatible(n, "arm,armv7-timer"))?;
    let interrupts = tree
        .prop(node, "interrupts")
        .map(|v| v.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
        .unwrap_or_default();
    Some(Timer {
        compatible: tree.string(node, "compatible").unwrap_or_default(),
        interrupts,
        clock_frequency: tree.prop_u32(node, "clock-frequency"),
    })
}

/// PSCI from `/psci` (or any node compatible with `arm,psci*`).
pub fn psci(tree: &Tree) -> Result<Option<Psci>, Error> {
    let node = tree.find("/psci").or_else(|| {
        (0..tree.nodes.len())
            .find(|&n| tree.strings(n, "compatible").iter().any(|c| c.starts_with("arm,psci")))
    });
    let Some(node) = node.filter(|&n| tree.is_enabled(n)) else { return Ok(None) };
    let conduit = match tree.string(node, "method").as_deref() {
        Some("hvc") => PsciConduit::Hvc,
        Some("smc") => PsciConduit::Smc,
        None => return Err(Error::MissingProperty { node: tree.path(node), property: "method" }),
        Some(_) => return Err(Error::BadProperty { node: tree.path(node), property: "method" }),
    };
    // "arm,psci-1.0" > "arm,psci-0.2" > "arm,psci" (0.1); versions compare as (major, minor).
    let version_of = |c: &str| -> Option<(u32, u32)> {
        if c == "arm,psci" {
            return Some((0, 1));
        }
        let (major, minor) = c.strip_prefix("arm,psci-")?.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let newest = tree
        .strings(node, "compatible")
        .into_iter()
        .filter_map(|c| Some((version_of(&c)?, c)))
        .max_by_key(|(version, _)| *version);
    let Some(((major, minor), compatible)) = newest else {
        return Err(Error::BadProperty { node: tree.path(node), property: "compatible" });
    };
    Ok(Some(Psci { conduit, version: alloc::format!("{major}.{minor}"), compatible }))
}

/// The console: the UART `/chosen/stdout-path` (or `linux,stdout-path`) names; where that
/// names nothing usable, the UART `/aliases/serial0` names; else the first enabled UART of a
/// known family in tree order. A boot that cannot print is a boot that fails silently, so a
/// wrong `stdout-path` costs the console's options, never the console. Each step passed over
/// leaves a warning naming what was wrong with it.
pub fn console(tree: &Tree, warnings: &mut Warnings) -> Result<Option<Console>, Error> {
    const NEXT: &str = "the console is the UART /aliases/serial0 names, else the first UART in the tree";
    let stdout = tree.find("/chosen").and_then(|chosen| {
        tree.string(chosen, "stdout-path").or_else(|| tree.string(chosen, "linux,stdout-path"))
    });
    if let Some(stdout) = stdout {
        let (target, options) = match stdout.split_once(':') {
            Some((target, options)) => (target, Some(options)),
            None => (stdout.as_str(), None),
        };
        match resolve_alias(tree, target).and_then(|path| tree.find(&path)) {
            Some(node) => match uart_at(tree, node, options, ConsoleSource::StdoutPath) {
                Ok(Some(console)) => return Ok(Some(console)),
                Ok(None) => warnings.add(Error::UnusableStdoutPath(stdout.clone()), NEXT),
                Err(problem) => warnings.add(problem, NEXT),
            },
            None => warnings.add(Error::UnusableStdoutPath(stdout.clone()), NEXT),
        }
    }
    if let Some(node) = resolve_alias(tree, "serial0").and_then(|path| tree.find(&path)) {
        if let Ok(Some(console)) = uart_at(tree, node, None, ConsoleSource::Serial0Alias) {
            return Ok(Some(console));
        }
    }
    let known = |node: usize| [PL011, AUX, NS16550].iter().any(|family| compatible_with(tree, node, family));
    for node in (0..tree.nodes.len()).filter(|&node| tree.is_enabled(node) && known(node)) {
        if let Ok(Some(console)) = uart_at(tree, node, None, ConsoleSource::FirstUart) {
            return Ok(Some(console));
        }
    }
    Ok(None)
}

/// `target` as a path: itself if it is one, else what `/aliases` says it stands for.
fn resolve_alias(tree: &Tree, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some(String::from(target));
    }
    tree.string(tree.find("/aliases")?, target)
}

/// The UART at `node`, with the `stdout-path` options if any; `None` if it has no registers.
fn uart_at(
    tree: &Tree,
    node: usize,
    options: Option<&str>,
    found_by: ConsoleSource,
) -> Result<Option<Console>, Error> {
    let kind = if compatible_with(tree, node, PL011) {
        UartKind::Pl011
    } else if compatible_with(tree, node, AUX) {
        UartKind::Bcm2835Aux
    } else if compatible_with(tree, node, NS16550) {
        UartKind::Ns16550
    } else {
        UartKind::Other
    };
    let Some((base, _)) = mmio(tree, node, 0)? else { return Ok(None) };
    let (baud_from_options, line) = options.map_or((None, None), stdout_options);
    Ok(Some(Console {
        path: tree.path(node),
        compatible: tree.string(node, "compatible").unwrap_or_default(),
        compatibles: tree.strings(node, "compatible"),
        kind,
        base,
        reg_shift: tree.prop_u32(node, "reg-shift").unwrap_or(0),
        reg_io_width: tree.prop_u32(node, "reg-io-width").unwrap_or(1),
        baud: baud_from_options.or_else(|| tree.prop_u32(node, "current-speed")),
        line,
        clock_hz: uart_clock(tree, node),
        found_by,
        intid: uart_intid(tree, node),
        irq_trigger: uart_irq_trigger(tree, node),
    }))
}

/// The GIC INTID of `node`'s first interrupt: its `interrupts` names a shared peripheral
/// interrupt (type cell 0: INTID = number + 32) or a private one (type 1: number + 16), in the
/// three- (or four-) cell form of the GIC bindings, and its interrupt parent (its own `interrupt-parent`
/// or the nearest ancestor's) is a GIC. `None` for anything else (an interrupt behind another
/// controller, as the Raspberry Pi's mini-UART through its local controller on some trees).
pub fn uart_intid(tree: &Tree, node: usize) -> Option<u32> {
    gic_interrupt(tree, node).map(|(intid, _)| intid)
}

/// How `node`'s first interrupt (the one [`uart_intid`] reads) signals: the flags cell's trigger
/// bits (3:0); `None` where [`uart_intid`] finds no GIC interrupt or the flags name no trigger
/// (0, `IRQ_TYPE_NONE`, or several at once).
pub fn uart_irq_trigger(tree: &Tree, node: usize) -> Option<IrqTrigger> {
    match gic_interrupt(tree, node)?.1 & 0xf {
        1 | 2 => Some(IrqTrigger::Edge),
        4 | 8 => Some(IrqTrigger::Level),
        _ => None,
    }
}

/// `node`'s first interrupt as a GIC INTID and its flags cell (see [`uart_intid`]).
fn gic_interrupt(tree: &Tree, node: usize) -> Option<(u32, u64)> {
    let mut at = Some(node);
    let mut parent = None;
    for _ in 0..64 {
        let current = at?;
        if let Some(handle) = tree.prop_u32(current, "interrupt-parent") {
            parent = tree.by_phandle(handle);
            break;
        }
        at = tree.nodes.get(current)?.parent;
    }
    let gic = parent?;
    if !(compatible_with(tree, gic, GICV3) || compatible_with(tree, gic, GICV2)) {
        return None;
    }
    // Three cells, or four where a GICv3 partitions its PPIs (the fourth cell names the
    // partition; the first three mean the same).
    if !matches!(tree.prop_u32(gic, "#interrupt-cells"), Some(3 | 4)) {
        return None;
    }
    let cells = tree.prop(node, "interrupts")?;
    let kind = read_cells(cells, 0, 1)?;
    let number = u32::try_from(read_cells(cells, 1, 1)?).ok()?;
    let flags = read_cells(cells, 2, 1).unwrap_or(0);
    let intid = match kind {
        0 => number.checked_add(32).filter(|&intid| intid < 1020),
        1 => number.checked_add(16).filter(|&intid| intid < 32),
        _ => None,
    }?;
    Some((intid, flags))
}

/// `/chosen/bootargs`.
pub fn bootargs(tree: &Tree) -> Option<String> {
    tree.find("/chosen").and_then(|chosen| tree.string(chosen, "bootargs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_options_give_baud_parity_and_data_bits() {
        let format = |data_bits, parity| Some(LineFormat { data_bits, parity });
        assert_eq!(stdout_options("115200n8"), (Some(115_200), format(8, Parity::None)));
        assert_eq!(stdout_options("1500000n8"), (Some(1_500_000), format(8, Parity::None)));
        assert_eq!(stdout_options("9600e7"), (Some(9600), format(7, Parity::Even)));
        assert_eq!(stdout_options("38400o"), (Some(38_400), format(8, Parity::Odd)));
        assert_eq!(
            stdout_options("115200n8r"),
            (Some(115_200), format(8, Parity::None)),
            "flow control ignored"
        );
        assert_eq!(stdout_options("115200"), (Some(115_200), None), "no format given: none guessed");
        assert_eq!(stdout_options("115200x8"), (Some(115_200), None));
        assert_eq!(stdout_options("115200n9"), (Some(115_200), None));
        assert_eq!(stdout_options("115200n4"), (Some(115_200), None));
        assert_eq!(stdout_options(""), (None, None));
        assert_eq!(stdout_options("0n8").0, None);
        assert_eq!(stdout_options("99999999999999n8").0, None, "overflow is no baud rate");
    }
}
