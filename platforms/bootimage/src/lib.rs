//! The boot image format of the multikernel.
//!
//! One file boots every platform: it starts with the 64-byte arm64 `Image` header (so QEMU
//! `-kernel`, U-Boot `booti` and the Raspberry Pi firmware all accept it), followed by the boot
//! stub's code and data, then a payload table and the payloads it names (one CPU-driver build
//! per core class, then the EL0 programs as ELF files). The packer (`mkbootimage`, host only)
//! writes the table; the boot stub reads it on the board with [`PayloadTable::parse`], which
//! checks every field against the image it came from instead of trusting it.
//!
//! ```text
//! offset 0            arm64 Image header (code0/code1, text_offset = 0, image_size, flags)
//! ...                 boot stub: text, rodata, .rela.dyn, data, bss (as zeros)
//! stub_end            payload table: TableHeader, then `count` PayloadEntry records
//! 4 KiB aligned       payload 0 (CPU driver: flat copy of the ELF's loadable segments)
//! 4 KiB aligned       payload 1 ... (EL0 program: its ELF file as is)
//! total_file_size     end of file; `image_size` adds `scratch_size` for the stub's heap
//! ```
#![cfg_attr(not(feature = "packer"), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "packer")]
pub mod pack;

/// Magic at the start of the payload table.
pub const TABLE_MAGIC: [u8; 8] = *b"MKPAYLD1";
/// Bytes of the table header.
pub const TABLE_HEADER_SIZE: usize = 32;
/// Bytes of one payload entry.
pub const ENTRY_SIZE: usize = 80;
/// Most payloads one image may carry.
pub const MAX_PAYLOADS: usize = 16;
/// Offset of the `image_size` field in the arm64 Image header.
pub const HEADER_IMAGE_SIZE_OFFSET: usize = 16;
/// Offset of the `ARM\x64` magic in the arm64 Image header.
pub const HEADER_MAGIC_OFFSET: usize = 0x38;
/// The arm64 Image magic, `ARM\x64` read as a little-endian word.
pub const HEADER_MAGIC: u32 = 0x644d_5241;
/// Alignment of every payload inside the image.
pub const PAYLOAD_ALIGN: u64 = 4096;

/// What a payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// A CPU-driver build, linked at the kernel virtual address.
    CpuDriver,
    /// An EL0 program (ELF kept as is).
    Program,
}

impl PayloadKind {
    fn code(self) -> u32 {
        match self {
            PayloadKind::CpuDriver => 1,
            PayloadKind::Program => 2,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(PayloadKind::CpuDriver),
            2 => Some(PayloadKind::Program),
            _ => None,
        }
    }
}

/// One payload: where its bytes sit in the image and how it is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadEntry {
    /// What the payload is.
    pub kind: PayloadKind,
    /// For a CPU driver: the build class (0 = little, 1 = big).
    pub build: u32,
    /// Byte offset of the payload from the start of the image.
    pub file_offset: u64,
    /// Bytes of the payload in the file.
    pub file_size: u64,
    /// Virtual address the payload is linked at (its first byte).
    pub load_va: u64,
    /// Bytes the payload occupies in memory (file bytes plus zeroed bss).
    pub mem_size: u64,
    /// Virtual address of its entry point.
    pub entry_va: u64,
    /// End of the executable part (text), as a virtual address.
    pub text_end_va: u64,
    /// End of the read-only part (text and rodata), as a virtual address.
    pub rodata_end_va: u64,
    /// Short name, NUL padded (e.g. `cortex-a53`).
    pub name: [u8; 16],
}

impl PayloadEntry {
    /// The name as text (up to the first NUL; `?` if it is not UTF-8).
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Encodes the entry into its table record.
    pub fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[0..4].copy_from_slice(&self.kind.code().to_le_bytes());
        out[4..8].copy_from_slice(&self.build.to_le_bytes());
        let words = [
            self.file_offset,
            self.file_size,
            self.load_va,
            self.mem_size,
            self.entry_va,
            self.text_end_va,
            self.rodata_end_va,
        ];
        for (i, word) in words.iter().enumerate() {
            out[8 + i * 8..16 + i * 8].copy_from_slice(&word.to_le_bytes());
        }
        out[64..80].copy_from_slice(&self.name);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let kind_code = read_u32(bytes, 0)?;
        let kind = PayloadKind::from_code(kind_code).ok_or(FormatError::UnknownKind(kind_code))?;
        let mut name = [0u8; 16];
        name.copy_from_slice(bytes.get(64..80).ok_or(FormatError::Truncated)?);
        Ok(PayloadEntry {
            kind,
            build: read_u32(bytes, 4)?,
            file_offset: read_u64(bytes, 8)?,
            file_size: read_u64(bytes, 16)?,
            load_va: read_u64(bytes, 24)?,
            mem_size: read_u64(bytes, 32)?,
            entry_va: read_u64(bytes, 40)?,
            text_end_va: read_u64(bytes, 48)?,
            rodata_end_va: read_u64(bytes, 56)?,
            name,
        })
    }

    fn validate(&self, image_len: u64) -> Result<(), FormatError> {
        let end = self.file_offset.checked_add(self.file_size).ok_or(FormatError::OutOfRange)?;
        let mem_end = self.load_va.checked_add(self.mem_size).ok_or(FormatError::OutOfRange)?;
        let within = |va: u64| va >= self.load_va && va <= mem_end;
        if end > image_len
            || self.file_size > self.mem_size
            || !self.file_offset.is_multiple_of(PAYLOAD_ALIGN)
            || !self.load_va.is_multiple_of(PAYLOAD_ALIGN)
            || !within(self.entry_va)
            || !within(self.text_end_va)
            || !within(self.rodata_end_va)
            || self.text_end_va > self.rodata_end_va
        {
            return Err(FormatError::OutOfRange);
        }
        Ok(())
    }
}

/// The payload table as read from an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadTable {
    /// Bytes of the whole image file.
    pub total_file_size: u64,
    /// Bytes past the end of the file the stub may use as scratch memory.
    pub scratch_size: u64,
    entries: [Option<PayloadEntry>; MAX_PAYLOADS],
}

/// Why a payload table was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The table or an entry runs past the end of the image.
    Truncated,
    /// The table does not start with [`TABLE_MAGIC`].
    BadMagic,
    /// More than [`MAX_PAYLOADS`] entries.
    TooManyPayloads(u32),
    /// An entry has a kind this stub does not know.
    UnknownKind(u32),
    /// An entry points outside the image or is inconsistent.
    OutOfRange,
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FormatError::Truncated => write!(f, "payload table truncated"),
            FormatError::BadMagic => write!(f, "payload table magic missing"),
            FormatError::TooManyPayloads(n) => {
                write!(f, "payload table lists {n} payloads (at most {MAX_PAYLOADS})")
            }
            FormatError::UnknownKind(k) => write!(f, "payload of unknown kind {k}"),
            FormatError::OutOfRange => write!(f, "payload entry out of range"),
        }
    }
}

impl PayloadTable {
    /// Reads the table at `table_offset` of `image` (the whole image as loaded).
    pub fn parse(image: &[u8], table_offset: usize) -> Result<Self, FormatError> {
        let header = image
            .get(table_offset..table_offset.saturating_add(TABLE_HEADER_SIZE))
            .ok_or(FormatError::Truncated)?;
        if header[0..8] != TABLE_MAGIC {
            return Err(FormatError::BadMagic);
        }
        let count = read_u32(header, 8)?;
        if count as usize > MAX_PAYLOADS {
            return Err(FormatError::TooManyPayloads(count));
        }
        let total_file_size = read_u64(header, 16)?;
        let scratch_size = read_u64(header, 24)?;
        if total_file_size > image.len() as u64 {
            return Err(FormatError::Truncated);
        }
        let mut entries = [None; MAX_PAYLOADS];
        for (i, slot) in entries.iter_mut().take(count as usize).enumerate() {
            let start = table_offset + TABLE_HEADER_SIZE + i * ENTRY_SIZE;
            let bytes = image.get(start..start + ENTRY_SIZE).ok_or(FormatError::Truncated)?;
            let entry = PayloadEntry::decode(bytes)?;
            entry.validate(total_file_size)?;
            *slot = Some(entry);
        }
        Ok(PayloadTable { total_file_size, scratch_size, entries })
    }

    /// Encodes a table header for `count` entries.
    pub fn encode_header(count: u32, total_file_size: u64, scratch_size: u64) -> [u8; TABLE_HEADER_SIZE] {
        let mut out = [0u8; TABLE_HEADER_SIZE];
        out[0..8].copy_from_slice(&TABLE_MAGIC);
        out[8..12].copy_from_slice(&count.to_le_bytes());
        out[16..24].copy_from_slice(&total_file_size.to_le_bytes());
        out[24..32].copy_from_slice(&scratch_size.to_le_bytes());
        out
    }

    /// The payloads, in table order.
    pub fn entries(&self) -> impl Iterator<Item = &PayloadEntry> {
        self.entries.iter().flatten()
    }

    /// The CPU-driver payload for a build class, if the image has one.
    pub fn cpu_driver(&self, build: u32) -> Option<&PayloadEntry> {
        self.entries().find(|e| e.kind == PayloadKind::CpuDriver && e.build == build)
    }

    /// The EL0 program called `name`, if the image has one.
    pub fn program(&self, name: &str) -> Option<&PayloadEntry> {
        self.entries().find(|e| e.kind == PayloadKind::Program && e.name() == name)
    }

    /// The bytes of a payload inside `image`.
    pub fn payload_bytes<'a>(&self, image: &'a [u8], entry: &PayloadEntry) -> Option<&'a [u8]> {
        image.get(entry.file_offset as usize..(entry.file_offset + entry.file_size) as usize)
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, FormatError> {
    let slice = bytes.get(at..at + 4).ok_or(FormatError::Truncated)?;
    Ok(u32::from_le_bytes(slice.try_into().map_err(|_| FormatError::Truncated)?))
}

fn read_u64(bytes: &[u8], at: usize) -> Result<u64, FormatError> {
    let slice = bytes.get(at..at + 8).ok_or(FormatError::Truncated)?;
    Ok(u64::from_le_bytes(slice.try_into().map_err(|_| FormatError::Truncated)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_entry() -> PayloadEntry {
        let mut name = [0u8; 16];
        name[..10].copy_from_slice(b"cortex-a53");
        PayloadEntry {
            kind: PayloadKind::CpuDriver,
            build: 0,
            file_offset: 4096,
            file_size: 100,
            load_va: 0xffff_ffff_c000_0000,
            mem_size: 8192,
            entry_va: 0xffff_ffff_c000_0000,
            text_end_va: 0xffff_ffff_c000_1000,
            rodata_end_va: 0xffff_ffff_c000_1000,
            name,
        }
    }

    fn image_with(entries: &[PayloadEntry]) -> Vec<u8> {
        let mut image = vec![0u8; 8192];
        image[..32].copy_from_slice(&PayloadTable::encode_header(entries.len() as u32, 8192, 0));
        for (i, e) in entries.iter().enumerate() {
            image[32 + i * ENTRY_SIZE..32 + (i + 1) * ENTRY_SIZE].copy_from_slice(&e.encode());
        }
        image
    }

    #[test]
    fn round_trip() {
        let entry = sample_entry();
        let table = PayloadTable::parse(&image_with(&[entry]), 0).unwrap();
        assert_eq!(table.entries().count(), 1);
        assert_eq!(table.cpu_driver(0), Some(&entry));
        assert_eq!(table.cpu_driver(1), None);
        assert_eq!(table.cpu_driver(0).unwrap().name(), "cortex-a53");
    }

    #[test]
    fn rejects_bad_input() {
        let mut image = image_with(&[sample_entry()]);
        assert_eq!(PayloadTable::parse(&image[..20], 0), Err(FormatError::Truncated));
        assert_eq!(PayloadTable::parse(&image, 1), Err(FormatError::BadMagic));
        image[8] = 200;
        assert_eq!(PayloadTable::parse(&image, 0), Err(FormatError::TooManyPayloads(200)));
        let mut past_end = sample_entry();
        past_end.file_size = 1 << 20;
        past_end.mem_size = 1 << 20;
        assert_eq!(PayloadTable::parse(&image_with(&[past_end]), 0), Err(FormatError::OutOfRange));
        let mut entry_outside = sample_entry();
        entry_outside.entry_va = 0;
        assert_eq!(PayloadTable::parse(&image_with(&[entry_outside]), 0), Err(FormatError::OutOfRange));
        let mut overflow = sample_entry();
        overflow.file_offset = u64::MAX - 10;
        assert_eq!(PayloadTable::parse(&image_with(&[overflow]), 0), Err(FormatError::OutOfRange));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let image = image_with(&[sample_entry(), sample_entry()]);
        for len in 0..(32 + 2 * ENTRY_SIZE) {
            assert!(PayloadTable::parse(&image[..len], 0).is_err());
        }
    }
}
