//! The console driver's UART drivers at EL0: the receive side of each UART family a board's
//! device tree may name as its console, behind one small interface ([`hil::ReceiveUart`], a
//! hardware interface layer in Tock's sense), so the receive loop (`main.rs`) is the same on
//! every board. Each driver reaches its registers through [`hil::Registers`]: the mapped device
//! page on a board, a fake register bank in the host tests.
//!
//! - [`pl011`]: Arm PL011 (QEMU virt).
//! - [`mini_uart`]: the BCM2835/BCM2711 auxiliary mini-UART (Raspberry Pi 4), whose interrupt
//!   the AUX block shares with its two SPI masters.
//! - [`dw_apb`]: Synopsys DesignWare APB UART, 16550-compatible (Rockchip RK3399, RK3588).
//!
//! [`choose`] picks one from the console's compatible strings. The kernel keeps transmitting
//! through the same registers: every driver touches only the receive side.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_code)]

pub mod choose;
pub mod dw_apb;
pub mod hil;
pub mod mini_uart;
pub mod pl011;

#[cfg(test)]
mod fake;
