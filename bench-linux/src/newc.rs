//! Writing a cpio archive in the "new ASCII" (`newc`) format, the one the Linux kernel unpacks
//! as its initial RAM file system (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Every entry is a 110-byte header (`070701`, then thirteen 8-digit hexadecimal fields), the
//! path with its NUL, padding to a multiple of 4 bytes, the data, padding again; the archive
//! ends with the entry `TRAILER!!!`. Device nodes are just headers, so an archive with
//! `/dev/console` in it is written without root (no `mknod`).

use std::fmt;

/// The magic number of a `newc` header (no checksum).
pub const MAGIC: &str = "070701";
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Bytes of a header before its path.
pub const HEADER_BYTES: usize = 110;

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

/// Why an entry cannot be added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewcError {
    /// The path is empty, absolute, has an empty, `.` or `..` component, or a NUL byte.
    BadPath(String),
    /// The path was added before.
    Duplicate(String),
    /// A file too large for the format's 32-bit size field.
    TooLarge {
        /// The path.
        path: String,
        /// Its size in bytes.
        bytes: usize,
    },
    /// Permission bits beyond `0o7777`.
    BadMode {
        /// The path.
        path: String,
        /// The bits given.
        mode: u32,
    },
}

impl fmt::Display for NewcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NewcError::BadPath(path) => write!(
                f,
                "{path:?} is not a relative path of plain components (no leading '/', '.', '..', empty part or NUL)"
            ),
            NewcError::Duplicate(path) => write!(f, "{path:?} is in the archive already"),
            NewcError::TooLarge { path, bytes } => {
                write!(f, "{path:?}: {bytes} bytes, more than a cpio newc entry holds (4 GiB - 1)")
            }
            NewcError::BadMode { path, mode } => {
                write!(f, "{path:?}: mode {mode:#o} has bits beyond the permission bits (0o7777)")
            }
        }
    }
}

impl std::error::Error for NewcError {}

/// An archive being written, entry by entry, in memory.
#[derive(Debug, Default)]
pub struct Archive {
    bytes: Vec<u8>,
    paths: Vec<String>,
}

/// One header's fields that differ between entries.
struct Header<'a> {
    path: &'a str,
    mode: u32,
    nlink: u32,
    size: u32,
    rdev: (u32, u32),
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory with permission bits `mode`.
    pub fn directory(&mut self, path: &str, mode: u32) -> Result<(), NewcError> {
        self.add(path, S_IFDIR, mode, 2, &[], (0, 0))
    }

    /// A regular file holding `data`.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), NewcError> {
        self.add(path, S_IFREG, mode, 1, data, (0, 0))
    }

    /// A character device node `major:minor`.
    pub fn char_device(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> Result<(), NewcError> {
        self.add(path, S_IFCHR, mode, 1, &[], (major, minor))
    }

    /// The archive's bytes, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.header(&Header { path: TRAILER, mode: 0, nlink: 1, size: 0, rdev: (0, 0) }, 0);
        self.bytes
    }

    fn add(
        &mut self,
        path: &str,
        kind: u32,
        mode: u32,
        nlink: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> Result<(), NewcError> {
        let plain = |part: &str| !part.is_empty() && part != "." && part != "..";
        if path.starts_with('/') || path.contains('\0') || !path.split('/').all(plain) || path == TRAILER {
            return Err(NewcError::BadPath(path.into()));
        }
        if mode & !0o7777 != 0 {
            return Err(NewcError::BadMode { path: path.into(), mode });
        }
        if self.paths.iter().any(|p| p == path) {
            return Err(NewcError::Duplicate(path.into()));
        }
        let size = u32::try_from(data.len())
            .ok()
            .filter(|&s| s != u32::MAX)
            .ok_or_else(|| NewcError::TooLarge { path: path.into(), bytes: data.len() })?;
        self.paths.push(path.into());
        let ino = self.paths.len() as u32;
        self.header(&Header { path, mode: kind | mode, nlink, size, rdev }, ino);
        self.bytes.extend_from_slice(data);
        self.pad();
        Ok(())
    }

    fn header(&mut self, header: &Header<'_>, ino: u32) {
        let name_bytes = header.path.len() as u32 + 1;
        let fields = [
            ino,
            header.mode,
            0, // uid: root
            0, // gid: root
            header.nlink,
            0, // mtime: fixed, so the same inputs give the same archive
            header.size,
            0, // the device the file came from: none
            0,
            header.rdev.0,
            header.rdev.1,
            name_bytes,
            0, // check: unused by newc
        ];
        self.bytes.extend_from_slice(MAGIC.as_bytes());
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        self.bytes.extend_from_slice(header.path.as_bytes());
        self.bytes.push(0);
        self.pad();
    }

    /// Zeros up to the next multiple of 4 bytes (headers and data both start aligned).
    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry read back by the format's rules, independently of the writer.
    #[derive(Debug, PartialEq)]
    struct Entry {
        path: String,
        fields: Vec<u32>,
        data: Vec<u8>,
    }

    fn read(mut archive: &[u8]) -> Vec<Entry> {
        let mut entries = Vec::new();
        let total = archive.len();
        loop {
            let at = total - archive.len();
            assert_eq!(at % 4, 0, "an entry starts 4-aligned");
            assert_eq!(&archive[..6], MAGIC.as_bytes());
            let fields: Vec<u32> = (0..13)
                .map(|i| {
                    let text = std::str::from_utf8(&archive[6 + 8 * i..14 + 8 * i]).expect("ASCII");
                    u32::from_str_radix(text, 16).expect("hex")
                })
                .collect();
            let name_bytes = fields[11] as usize;
            let name = &archive[HEADER_BYTES..HEADER_BYTES + name_bytes];
            assert_eq!(name.last(), Some(&0), "the path ends with its NUL");
            let path = std::str::from_utf8(&name[..name_bytes - 1]).expect("UTF-8").to_string();
            let data_at = (HEADER_BYTES + name_bytes).next_multiple_of(4);
            let size = fields[6] as usize;
            let data = archive[data_at..data_at + size].to_vec();
            let next = (data_at + size).next_multiple_of(4);
            assert!(archive[HEADER_BYTES + name_bytes..data_at].iter().all(|&b| b == 0));
            assert!(archive[data_at + size..next].iter().all(|&b| b == 0));
            archive = &archive[next..];
            let done = path == TRAILER;
            entries.push(Entry { path, fields, data });
            if done {
                assert!(archive.is_empty(), "nothing after the trailer");
                return entries;
            }
        }
    }

    #[test]
    fn entries_read_back_with_their_kind_mode_device_and_data() {
        let mut archive = Archive::new();
        archive.directory("dev", 0o755).unwrap();
        archive.char_device("dev/console", 0o600, 5, 1).unwrap();
        archive.file("init", 0o755, b"\x7fELF and then some").unwrap();
        archive.file("empty", 0o644, b"").unwrap();
        let entries = read(&archive.finish());
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["dev", "dev/console", "init", "empty", TRAILER]);
        assert_eq!(entries[0].fields[1], 0o040_755);
        assert_eq!(entries[1].fields[1], 0o020_600);
        assert_eq!((entries[1].fields[9], entries[1].fields[10]), (5, 1), "rdev major:minor");
        assert_eq!(entries[2].fields[1], 0o100_755);
        assert_eq!(entries[2].data, b"\x7fELF and then some");
        assert_eq!(entries[2].fields[6], 18);
        assert!(entries[3].data.is_empty());
        let inodes: Vec<u32> = entries[..4].iter().map(|e| e.fields[0]).collect();
        assert_eq!(inodes, [1, 2, 3, 4], "distinct inode numbers (the kernel links equal ones)");
        assert!(entries.iter().all(|e| e.fields[2] == 0 && e.fields[3] == 0), "owned by root");
    }

    #[test]
    fn every_path_length_pads_to_four_bytes() {
        // Paths of 1 to 8 bytes cover every padding after the 110-byte header.
        let mut archive = Archive::new();
        for n in 1..=8 {
            archive.file(&"x".repeat(n), 0o644, &vec![n as u8; n]).unwrap();
        }
        let entries = read(&archive.finish());
        for (n, entry) in (1..=8).zip(&entries) {
            assert_eq!(entry.path.len(), n);
            assert_eq!(entry.data, vec![n as u8; n]);
        }
    }

    #[test]
    fn a_known_header_byte_for_byte() {
        let mut archive = Archive::new();
        archive.char_device("dev/null", 0o666, 1, 3).unwrap();
        let bytes = archive.finish();
        let expected = concat!(
            "070701",
            "00000001",
            "000021B6",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000001",
            "00000003",
            "00000009",
            "00000000",
            "dev/null\0",
        );
        assert_eq!(&bytes[..expected.len()], expected.as_bytes());
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        let mut archive = Archive::new();
        for path in ["", "/init", "a//b", "a/../b", "./init", "dev/", "a\0b", TRAILER] {
            assert_eq!(archive.file(path, 0o644, b""), Err(NewcError::BadPath(path.into())), "{path:?}");
        }
        archive.file("init", 0o755, b"").unwrap();
        assert_eq!(archive.directory("init", 0o755), Err(NewcError::Duplicate("init".into())));
        let error = archive.file("x", 0o100_644, b"").unwrap_err();
        assert_eq!(error, NewcError::BadMode { path: "x".into(), mode: 0o100_644 });
        assert!(error.to_string().contains("0o7777"), "{error}");
    }
}
