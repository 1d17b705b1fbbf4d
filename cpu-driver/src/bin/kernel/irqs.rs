//! Device interrupts for drivers at EL0: a dispatcher holding an IRQ capability claims the
//! shared peripheral interrupt it names (`irq_claim`); the interrupt is then routed to this
//! core. When it fires, `interrupts` masks it at the distributor and this module records it
//! for its claimant and wakes it (its `wait` returns), the notification; the claimant serves
//! the device through its own mapping of the device's registers and acknowledges
//! (`irq_ack`), which unmasks the interrupt. The kernel never touches the device itself.
//! Uses [`crate::dispatchers`] and [`crate::interrupts`].

extern crate alloc;

use alloc::vec::Vec;

use spin::Mutex;
use syscall_abi::Error;

use crate::dispatchers::Dispatchers;
use crate::interrupts;

/// One claimed interrupt.
struct Claim {
    /// Its INTID.
    intid: u32,
    /// The claimant's dispatcher index (indices are never reused on a core).
    dispatcher: usize,
    /// It fired since the claimant last acknowledged.
    fired: bool,
}

/// This core's claims (a per-core static, like every static of the CPU driver).
static CLAIMS: Mutex<Vec<Claim>> = Mutex::new(Vec::new());

/// Dispatcher `dispatcher` claims `intid` (its IRQ capability checked by the caller). Refused
/// with `Denied` while another dispatcher that has not ended holds it, `InvalidArgument` when
/// the controller cannot route it here (not an SPI; a GICv2).
pub fn claim(dispatchers: &Dispatchers, dispatcher: usize, intid: u32) -> Result<(), Error> {
    let mut claims = CLAIMS.lock();
    let alive = |index: usize| dispatchers.get(index).is_some_and(|d| !d.run.ended());
    if let Some(existing) = claims.iter().position(|c| c.intid == intid) {
        if claims[existing].dispatcher != dispatcher && alive(claims[existing].dispatcher) {
            return Err(Error::Denied);
        }
        claims.swap_remove(existing);
    }
    interrupts::route_spi_here(intid).map_err(|_| Error::InvalidArgument)?;
    claims.push(Claim { intid, dispatcher, fired: false });
    Ok(())
}

/// The claimant of `intid` acknowledges: whether it fired since the last time, and the
/// interrupt is unmasked. `Denied` for a dispatcher that did not claim it.
pub fn acknowledge(dispatcher: usize, intid: u32) -> Result<u64, Error> {
    let mut claims = CLAIMS.lock();
    let claim =
        claims.iter_mut().find(|c| c.intid == intid && c.dispatcher == dispatcher).ok_or(Error::Denied)?;
    let fired = core::mem::take(&mut claim.fired);
    interrupts::unmask_spi(intid).map_err(|_| Error::InvalidArgument)?;
    Ok(u64::from(fired))
}

/// Hands the interrupts the controller took (and masked) to their claimants: each is marked
/// fired and its claimant woken. An interrupt nobody claims here, or whose claimant ended,
/// stays masked.
pub fn deliver(dispatchers: &mut Dispatchers) {
    let mut claims = CLAIMS.lock();
    interrupts::take_spis(|intid| {
        if let Some(claim) = claims.iter_mut().find(|c| c.intid == intid) {
            claim.fired = true;
            if let Some(d) = dispatchers.get_mut(claim.dispatcher) {
                d.wake();
            }
        }
    });
}
