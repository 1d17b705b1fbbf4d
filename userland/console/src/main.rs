//! `console`: the console UART's receive side, as a driver at EL0. Its monitor (the boot
//! core's) gives it two capabilities the kernel made at boot for the UART the device tree
//! names as the console: an IRQ capability for its interrupt and a device Frame capability
//! over its registers, and starts it with that UART's description from the same device tree
//! (`console::choose::Uart`: the family its compatible strings name, its address and register
//! spacing). The driver checks the Frame is that UART's page, picks the driver for the family
//! (PL011, BCM2835 mini-UART, DesignWare APB UART: one `console::hil::ReceiveUart`), maps the
//! registers, turns on the UART's receive interrupts, claims the interrupt (the kernel routes
//! it to this core and masks it each time it fires, until the driver acknowledges) and then,
//! each time it is woken, moves the received bytes to its monitor (`shell::tags::INPUT`, 16
//! bytes a message), which hands them to the shell. The monitor can ask it for its counts
//! (`shell::tags::STATS`: how many times the interrupt fired and how many bytes came). The
//! kernel keeps transmitting through the same registers: the drivers touch only the receive
//! side.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;

use console::choose::Uart;
use console::hil::ReceiveUart;
use shell::input::{self, BYTES_PER_MESSAGE};
use shell::{tags, DRIVER_DEVICE_SLOT, DRIVER_IRQ_SLOT};
use userland::device::DevicePage;
use userland::{println, Error};

/// Entry of this program's own level-3 VNode where the registers are mapped.
const REGISTERS_ENTRY: u64 = 0;
/// How often the driver looks for its capabilities before its monitor has given them (it may
/// run before the monitor's `cap_give`), yielding in between.
const CAPABILITY_TRIES: u32 = 1000;
/// Bytes moved per wake-up at most, so a flood of input cannot keep the driver from
/// acknowledging (the FIFO holds 32; the rest waits for the next interrupt).
const BYTES_PER_WAKEUP: usize = 256;

/// Waits until the slot `slot` holds a capability (the monitor gives them right after
/// `spawn`).
fn wait_for_capability(slot: u32) -> Result<(), Error> {
    let mut result = userland::cap_identify(slot).map(|_| ());
    for _ in 0..CAPABILITY_TRIES {
        if result.is_ok() {
            break;
        }
        userland::yield_now();
        result = userland::cap_identify(slot).map(|_| ());
    }
    result
}

/// Sends the bytes received so far to the monitor.
fn hand_over(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // A full monitor inbox: wait for it to take some (it runs on this core).
    for _ in 0..CAPABILITY_TRIES {
        match userland::send_to_monitor(input::pack(tags::INPUT, bytes)) {
            Err(Error::WouldBlock) => userland::yield_now(),
            _ => return,
        }
    }
    println!("console: input dropped: the monitor takes none");
}

/// The driver for the console UART its monitor named in the start argument (from the device
/// tree), over the mapped registers of the device Frame the monitor gave (checked to be that
/// UART's page).
fn open_driver() -> Result<Box<dyn ReceiveUart>, String> {
    let uart = Uart::from_argument(userland::argument())
        .ok_or_else(|| alloc::format!("start argument {:#x} names no UART", userland::argument()))?;
    wait_for_capability(DRIVER_IRQ_SLOT)
        .and_then(|()| wait_for_capability(DRIVER_DEVICE_SLOT))
        .map_err(|e| alloc::format!("no capabilities ({e:?})"))?;
    let frame = userland::cap_identify(DRIVER_DEVICE_SLOT).map_err(|e| alloc::format!("{e:?}"))?;
    if frame.base != uart.pa - uart.page_offset() {
        return Err(alloc::format!(
            "the device Frame at {:#x} is not the page of the UART at {:#x}",
            frame.base,
            uart.pa
        ));
    }
    let page = DevicePage::map(DRIVER_DEVICE_SLOT, REGISTERS_ENTRY).map_err(|e| alloc::format!("{e:?}"))?;
    uart.driver(page).ok_or_else(|| alloc::format!("{uart:?}: no driver"))
}

fn run() -> u64 {
    let mut uart = match open_driver() {
        Ok(uart) => uart,
        Err(e) => {
            println!("console: cannot drive the UART: {e}");
            return 1;
        }
    };
    // The UART's receive interrupt is on before the claim enables it at the controller: a
    // byte that came before is then signalled at once.
    if let Err(e) = uart.enable().and_then(|()| userland::irq_claim(DRIVER_IRQ_SLOT)) {
        println!("console: cannot enable the receive interrupt: {e:?}");
        return 1;
    }
    println!("console: driving the {}'s receive side at EL0 (IRQ capability claimed)", uart.name());
    let (mut interrupts, mut bytes, mut others) = (0u64, 0u64, 0u64);
    loop {
        while let Ok((_, words)) = userland::recv_local() {
            if words[0] & 0xff == u64::from(tags::STATS) {
                let shared = if others > 0 {
                    alloc::format!(", {others} of them not the UART's")
                } else {
                    String::new()
                };
                println!("console: {interrupts} receive interrupts, {bytes} bytes received{shared}");
                let _ = userland::send_to_monitor([u64::from(tags::STATS_DONE), 0, 0]);
            }
        }
        // Service the UART first (clearing what the data reads do not), then empty the FIFO:
        // a byte arriving after the last read raises the interrupt again, so no byte is left
        // without one. A shared line may have been raised by another device of the block.
        let mut moved = 0;
        let mut batch = [0u8; BYTES_PER_MESSAGE];
        let mut len = 0;
        let raised = uart.service().unwrap_or(true);
        while moved < BYTES_PER_WAKEUP {
            let Ok(Some(byte)) = uart.read_byte() else { break };
            batch[len] = byte;
            len += 1;
            moved += 1;
            bytes += 1;
            if len == BYTES_PER_MESSAGE {
                hand_over(&batch[..len]);
                len = 0;
            }
        }
        hand_over(&batch[..len]);
        // Unmask the interrupt at the controller: still asserted (bytes left), it fires again
        // at once and the wait below returns.
        match userland::irq_ack(DRIVER_IRQ_SLOT) {
            Ok(fired) => {
                interrupts += u64::from(fired);
                others += u64::from(fired && !raised);
            }
            Err(e) => {
                println!("console: acknowledging the interrupt failed: {e:?}");
                return 1;
            }
        }
        userland::wait(0);
    }
}

userland::entry!(run);
