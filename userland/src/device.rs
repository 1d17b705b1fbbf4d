//! Device registers at EL0: a page of registers mapped through a device Frame capability
//! (the kernel hands one out only for a device it names, never RAM) and read or written one
//! 32-bit register at a time, with volatile accesses the compiler neither merges nor drops.
//! Offsets are checked (inside the page, word aligned), so a driver's mistake is an error,
//! never an access beside the page.

use crate::{vnode_map, Error, SLOT_VNODE};

/// Bytes of the page a [`DevicePage`] maps.
const PAGE_BYTES: u64 = 4096;
/// `vnode_map` rights: read and write (never execute).
const READ_WRITE: u64 = 0b11;

/// One page of device registers mapped into this program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevicePage {
    va: u64,
}

impl DevicePage {
    /// Maps the device Frame capability at `frame` read-write at entry `entry` of this
    /// program's own level-3 VNode (at [`SLOT_VNODE`]).
    pub fn map(frame: u32, entry: u64) -> Result<DevicePage, Error> {
        let va = vnode_map(SLOT_VNODE, entry, frame, READ_WRITE)?;
        Ok(DevicePage { va })
    }

    /// The address of the register at `offset`, if it is inside the page and word aligned.
    fn register(&self, offset: u64) -> Result<u64, Error> {
        if offset >= PAGE_BYTES || !offset.is_multiple_of(4) {
            return Err(Error::InvalidArgument);
        }
        Ok(self.va + offset)
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read(&self, offset: u64) -> Result<u32, Error> {
        self.register(offset).map(crate::device_read32)
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write(&self, offset: u64, value: u32) -> Result<(), Error> {
        self.register(offset).map(|va| crate::device_write32(va, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_outside_the_page_or_unaligned_are_refused() {
        let page = DevicePage { va: 0x30_0000_0000 };
        assert_eq!(page.register(0x18), Ok(0x30_0000_0018));
        assert_eq!(page.register(0xffc), Ok(0x30_0000_0ffc));
        assert_eq!(page.register(0x1000), Err(Error::InvalidArgument));
        assert_eq!(page.register(2), Err(Error::InvalidArgument));
        assert_eq!(page.read(0x1000), Err(Error::InvalidArgument));
        assert_eq!(page.write(u64::MAX, 0), Err(Error::InvalidArgument));
    }
}
