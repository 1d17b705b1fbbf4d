//! Which driver drives the console: chosen by the console UART's compatible strings in the
//! device tree (most specific first, as the tree lists them), the way Linux binds a driver.
//! The boot core's monitor reads the tree (its SKB's console: the UART the kernel made the
//! capabilities for) and starts the driver with [`Uart::to_argument`]; the driver decodes it
//! ([`Uart::from_argument`]) and checks it against the device Frame it was given.

extern crate alloc;

use alloc::boxed::Box;

use crate::dw_apb::DwApbUart;
use crate::hil::{ReceiveUart, Registers};
use crate::mini_uart::MiniUart;
use crate::pl011::Pl011;

/// Why no driver takes the UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// None of its compatible strings is a UART this program drives.
    UnknownUart,
    /// A 16550 whose registers are not 32-bit words 4 to 16 bytes apart (the device page is
    /// accessed 32 bits at a time).
    RegisterWidth,
    /// A mini-UART not at least 0x40 into its page (its AUX block's registers precede it).
    NoAuxBlock,
    /// Registers above the 48-bit physical address range.
    Address,
}

/// The UART families with a driver here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Arm PL011.
    Pl011 = 1,
    /// BCM2835 auxiliary mini-UART.
    MiniUart = 2,
    /// Synopsys DesignWare APB UART.
    DwApb = 3,
}

impl Family {
    fn from_compatible(compatible: &str) -> Option<Family> {
        match compatible {
            "arm,pl011" => Some(Family::Pl011),
            "brcm,bcm2835-aux-uart" => Some(Family::MiniUart),
            // Rockchip's trees list "rockchip,rk3399-uart" (or rk3588) first, then this.
            "snps,dw-apb-uart" => Some(Family::DwApb),
            _ => None,
        }
    }

    fn from_code(code: u64) -> Option<Family> {
        [Family::Pl011, Family::MiniUart, Family::DwApb].into_iter().find(|f| *f as u64 == code)
    }
}

/// The console UART, as the driver needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// Its family.
    pub family: Family,
    /// Physical address of its registers.
    pub pa: u64,
    /// `reg-shift`: registers `1 << reg_shift` bytes apart (16550s; 2 for the others).
    pub reg_shift: u32,
}

/// Bits of the argument: the address in 47:0, `reg-shift` in 51:48, the family in 55:52.
const PA_BITS: u32 = 48;
const SHIFT_AT: u32 = 48;
const FAMILY_AT: u32 = 52;

impl Uart {
    /// The UART the device tree describes: its compatible strings, registers' address,
    /// `reg-shift` and `reg-io-width`.
    pub fn from_device_tree(
        compatibles: &[&str],
        pa: u64,
        reg_shift: u32,
        reg_io_width: u32,
    ) -> Result<Uart, Refusal> {
        let family =
            compatibles.iter().find_map(|c| Family::from_compatible(c)).ok_or(Refusal::UnknownUart)?;
        if pa >> PA_BITS != 0 {
            return Err(Refusal::Address);
        }
        let reg_shift = match family {
            Family::DwApb if reg_io_width != 4 || !(2..=4).contains(&reg_shift) => {
                return Err(Refusal::RegisterWidth)
            }
            Family::DwApb => reg_shift,
            Family::MiniUart if pa % 4096 < crate::mini_uart::AUX_TO_MINI_UART => {
                return Err(Refusal::NoAuxBlock)
            }
            Family::MiniUart | Family::Pl011 => 2,
        };
        Ok(Uart { family, pa, reg_shift })
    }

    /// The driver's start argument.
    pub fn to_argument(&self) -> u64 {
        self.pa | (u64::from(self.reg_shift) << SHIFT_AT) | ((self.family as u64) << FAMILY_AT)
    }

    /// The UART an argument names; `None` for one [`Uart::to_argument`] cannot have made.
    pub fn from_argument(argument: u64) -> Option<Uart> {
        let family = Family::from_code(argument >> FAMILY_AT)?;
        let reg_shift = ((argument >> SHIFT_AT) & 0xf) as u32;
        let uart = Uart { family, pa: argument & ((1 << PA_BITS) - 1), reg_shift };
        let width = if family == Family::DwApb { 4 } else { 1 };
        let compatible = match family {
            Family::Pl011 => "arm,pl011",
            Family::MiniUart => "brcm,bcm2835-aux-uart",
            Family::DwApb => "snps,dw-apb-uart",
        };
        (Uart::from_device_tree(&[compatible], uart.pa, reg_shift, width) == Ok(uart)).then_some(uart)
    }

    /// Offset of its registers in their page.
    pub fn page_offset(&self) -> u64 {
        self.pa % 4096
    }

    /// Its driver, over `registers` (its page).
    pub fn driver<'r, R: Registers + 'r>(&self, registers: R) -> Option<Box<dyn ReceiveUart + 'r>> {
        let base = self.page_offset();
        Some(match self.family {
            Family::Pl011 => Box::new(Pl011::new(registers, base)),
            Family::MiniUart => Box::new(MiniUart::new(registers, base)?),
            Family::DwApb => Box::new(DwApbUart::new(registers, base, self.reg_shift)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{Fake, Fifo};

    fn name(
        compatibles: &[&str],
        pa: u64,
        reg_shift: u32,
        reg_io_width: u32,
    ) -> Result<&'static str, Refusal> {
        let bank =
            Fake::new(Fifo { data: 0xff0, status: 0xff4, ready: 0, empty: 0, errors_in_status: false });
        let uart = Uart::from_device_tree(compatibles, pa, reg_shift, reg_io_width)?;
        let back = Uart::from_argument(uart.to_argument());
        assert_eq!(back, Some(uart), "the start argument carries it whole");
        let name = uart.driver(&bank).expect("a UART the device tree check let through has a driver").name();
        Ok(name)
    }

    #[test]
    fn each_board_s_console_gets_its_driver() {
        // QEMU virt; the Pi 4's `serial1`; RK3399's and RK3588's UART2 (as their trees say).
        assert_eq!(name(&["arm,pl011", "arm,primecell"], 0x900_0000, 0, 1), Ok("PL011"));
        assert_eq!(name(&["brcm,bcm2835-aux-uart"], 0xfe21_5040, 0, 1), Ok("BCM2835 mini-UART"));
        assert_eq!(
            name(&["rockchip,rk3399-uart", "snps,dw-apb-uart"], 0xff1a_0000, 2, 4),
            Ok("DesignWare APB UART")
        );
        assert_eq!(
            name(&["rockchip,rk3588-uart", "snps,dw-apb-uart"], 0xfeb5_0000, 2, 4),
            Ok("DesignWare APB UART")
        );
    }

    #[test]
    fn what_no_driver_takes_is_refused_with_the_reason() {
        assert_eq!(name(&["ns16550a"], 0x1000, 0, 1), Err(Refusal::UnknownUart));
        assert_eq!(name(&[], 0x1000, 0, 1), Err(Refusal::UnknownUart));
        assert_eq!(name(&["snps,dw-apb-uart"], 0x1000, 2, 1), Err(Refusal::RegisterWidth));
        assert_eq!(name(&["snps,dw-apb-uart"], 0x1000, 0, 4), Err(Refusal::RegisterWidth));
        assert_eq!(name(&["brcm,bcm2835-aux-uart"], 0xfe21_5000, 0, 1), Err(Refusal::NoAuxBlock));
        assert_eq!(name(&["arm,pl011"], 1 << 48, 0, 1), Err(Refusal::Address));
    }

    #[test]
    fn an_argument_no_monitor_could_have_made_is_refused() {
        assert_eq!(Uart::from_argument(0), None, "no family");
        assert_eq!(Uart::from_argument(7 << FAMILY_AT), None, "unknown family");
        assert_eq!(Uart::from_argument((3 << FAMILY_AT) | (1 << SHIFT_AT)), None, "DesignWare reg-shift 1");
        assert_eq!(Uart::from_argument((2 << FAMILY_AT) | (2 << SHIFT_AT) | 0x1000), None, "no AUX block");
        assert_eq!(Uart::from_argument(1 << 63), None);
    }
}
