//! A fixed-size line buffer that `core::fmt` writes into, so a whole console line is formatted
//! before it goes into the core's console log ring as one unit (no allocation, no interleaving).

use core::fmt;

/// Longest console line kept; longer lines are cut and end in `...`.
pub const LINE_CAPACITY: usize = 256;

/// One line of text being formatted.
pub struct LineBuffer {
    bytes: [u8; LINE_CAPACITY],
    len: usize,
    truncated: bool,
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBuffer {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuffer { bytes: [0; LINE_CAPACITY], len: 0, truncated: false }
    }

    /// The text so far, with `...` where it was cut.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Ends the line with a newline (always fits: one byte is kept free for it).
    pub fn finish(&mut self) -> &[u8] {
        if self.truncated {
            let at = self.len.min(LINE_CAPACITY - 4);
            self.bytes[at..at + 3].copy_from_slice(b"...");
            self.len = at + 3;
        }
        self.bytes[self.len] = b'\n';
        &self.bytes[..self.len + 1]
    }
}

impl fmt::Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_CAPACITY - 1 - self.len;
        let take = s.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        self.truncated |= take < s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn formats_and_terminates() {
        let mut line = LineBuffer::new();
        write!(line, "core {} up mpidr={:#x}", 4, 0x100).unwrap();
        assert_eq!(line.finish(), b"core 4 up mpidr=0x100\n");
    }

    #[test]
    fn long_lines_are_cut_visibly() {
        let mut line = LineBuffer::new();
        for _ in 0..100 {
            write!(line, "0123456789").unwrap();
        }
        let out = line.finish();
        assert_eq!(out.len(), LINE_CAPACITY);
        assert!(out.ends_with(b"...\n"));
    }
}
