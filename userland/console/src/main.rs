//! `console`: the console UART's receive side, as a driver at EL0. Its monitor (the boot
//! core's) gives it two capabilities the kernel made at boot for the UART the device tree
//! names as the console: an IRQ capability for its interrupt and a device Frame capability
//! over its registers, and starts it with that UART's description from the same device tree
//! (`console::choose::Uart`: the family its compatible strings name, its address and register
//! spacing). The driver checks the Frame is that UART's page, picks the driver for the family
//! (PL011, BCM2835 mini-UART, DesignWare APB UART: one `console::hil::ReceiveUart`), maps the
//! registers, turns on the UART's receive interrupts, claims the interrupt (the kernel routes
//! it to this core and masks it each time it fires, until the driver acknowledges) and then,
//! each time it is woken, moves the received bytes to its monitor (`Input` messages of
//! `local_protocol::shell`, 15 bytes each), which hands them to the shell. The monitor can ask
//! it for its counts (`Stats`: how many times the interrupt fired and how many bytes came).
//! The kernel keeps transmitting through the same registers: the drivers touch only the
//! receive side.
//!
//! It waits in the runtime's event loop (`EventLoop::wait_local_or_woken`): the interrupt
//! wakes the dispatcher with nothing queued, which that wait reports (`None`), and the
//! monitor's messages come decoded. The UART is serviced after every return, whatever ended
//! the wait, so a wake-up that brought both a message and the interrupt loses neither.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;

use console::choose::Uart;
use console::hil::ReceiveUart;
use local_protocol::shell::{Input, Keys, Stats, StatsDone, KEYS_PER_MESSAGE};
use local_protocol::{self as local, ToProgram};
use shell::{DRIVER_DEVICE_SLOT, DRIVER_IRQ_SLOT};
use urpc::WaitPolicy;
use userland::device::DevicePage;
use userland::events::Event;
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

/// Sends the bytes received so far to the monitor (none: nothing to send).
fn hand_over(bytes: &[u8]) {
    let Some(keys) = Keys::first_of(bytes) else { return };
    if let Err(e) = shell::send_in_turn(local::words(&Input { keys })) {
        println!("console: input dropped: the monitor takes none ({e:?})");
    }
}

/// How the driver waits: it has no channel to poll, so it sleeps in the kernel at once until
/// the interrupt or a message of the monitor's wakes it.
const WAITING: WaitPolicy = WaitPolicy { polls: 1, watches: 0 };

/// Receive counts, for `Stats`.
#[derive(Default)]
struct Counts {
    interrupts: u64,
    bytes: u64,
    /// Interrupts the UART did not raise (a line shared with other devices of its block).
    others: u64,
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
    let mut counts = Counts::default();
    let mut events = userland::event_loop(WAITING);
    loop {
        if let Err(e) = receive(uart.as_mut(), &mut counts) {
            println!("console: acknowledging the interrupt failed: {e:?}");
            return 1;
        }
        match events.wait_local_or_woken() {
            // The interrupt (or a stray wake-up): the UART is looked at above.
            None => {}
            Some(Event::Monitor(ToProgram::Stats(Stats {}))) => {
                let shared = if counts.others > 0 {
                    alloc::format!(", {} of them not the UART's", counts.others)
                } else {
                    String::new()
                };
                println!(
                    "console: {} receive interrupts, {} bytes received{shared}",
                    counts.interrupts, counts.bytes
                );
                if let Err(e) = shell::send_in_turn(local::words(&StatsDone {})) {
                    println!("console: the monitor did not take StatsDone ({e:?})");
                }
            }
            Some(Event::Local { sender, words }) => {
                println!("console: words from dispatcher {sender} ignored (no message): {words:x?}")
            }
            Some(other) => println!("console: not for the console driver: {other:?}"),
        }
    }
}

/// Moves what the UART received to the monitor and acknowledges the interrupt. The UART is
/// serviced first (clearing what the data reads do not), then its FIFO emptied: a byte
/// arriving after the last read raises the interrupt again, so no byte is left without one. A
/// shared line may have been raised by another device of the block.
fn receive(uart: &mut dyn ReceiveUart, counts: &mut Counts) -> Result<(), Error> {
    let mut moved = 0;
    let mut batch = [0u8; KEYS_PER_MESSAGE];
    let mut len = 0;
    let raised = uart.service().unwrap_or(true);
    while moved < BYTES_PER_WAKEUP {
        let Ok(Some(byte)) = uart.read_byte() else { break };
        batch[len] = byte;
        len += 1;
        moved += 1;
        counts.bytes += 1;
        if len == KEYS_PER_MESSAGE {
            hand_over(&batch[..len]);
            len = 0;
        }
    }
    hand_over(&batch[..len]);
    // Unmask the interrupt at the controller: still asserted (bytes left), it fires again at
    // once and the next wait returns.
    let fired = userland::irq_ack(DRIVER_IRQ_SLOT)?;
    counts.interrupts += u64::from(fired);
    counts.others += u64::from(fired && !raised);
    Ok(())
}

userland::entry!(run);
