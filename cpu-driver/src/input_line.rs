//! The line being typed at the console (the shell's prompt and what follows it), as the
//! console's owner keeps it on the terminal: each change is drawn as it comes, by the fewest
//! bytes that get the terminal from what it shows to the new line (a key typed at the end is
//! that one byte; anything else redraws the line: carriage return, the line, erase to its end
//! `ESC [ K`, the cursor moved back `ESC [ n D`), and while it is shown every other line is
//! printed over it (carriage return and erase first) and the line is drawn again after, so
//! lines other cores print stay whole and the typing stays at the bottom. VT100 sequences only,
//! as every serial terminal program understands them.

/// Bytes of the longest line kept (`syscall_abi::INPUT_LINE_MAX`).
pub const CAPACITY: usize = 200;

/// Why a line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Longer than [`CAPACITY`].
    TooLong,
    /// A byte that is not printable ASCII (a control byte would move the terminal's cursor
    /// where this module does not know it is).
    NotPrintable,
    /// The cursor is past the end of the line.
    Cursor,
}

/// The line shown (or none).
pub struct InputLine {
    text: [u8; CAPACITY],
    len: usize,
    cursor: usize,
    shown: bool,
}

impl Default for InputLine {
    fn default() -> Self {
        InputLine::new()
    }
}

/// Writes `ESC [ n <letter>` (no bytes for `n` = 0).
fn cursor_move(n: usize, letter: u8, out: &mut impl FnMut(&[u8])) {
    if n == 0 {
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    while rest > 0 {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out(b"\x1b[");
    out(&digits[at..]);
    out(&[letter]);
}

impl InputLine {
    /// No line shown.
    pub const fn new() -> InputLine {
        InputLine { text: [0; CAPACITY], len: 0, cursor: 0, shown: false }
    }

    /// Whether a line is shown.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// Shows `text` with the cursor `cursor` bytes into it, writing through `out` what the
    /// terminal needs to get there from what it shows.
    pub fn update(&mut self, text: &[u8], cursor: usize, out: &mut impl FnMut(&[u8])) -> Result<(), Refused> {
        if text.len() > CAPACITY {
            return Err(Refused::TooLong);
        }
        if !text.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(Refused::NotPrintable);
        }
        if cursor > text.len() {
            return Err(Refused::Cursor);
        }
        let old = &self.text[..self.len];
        let typed_at_end =
            self.shown && self.cursor == self.len && cursor == text.len() && text.starts_with(old);
        if typed_at_end {
            out(&text[self.len..]);
        } else if self.shown && text == old {
            // Only the cursor moved.
            if cursor < self.cursor {
                cursor_move(self.cursor - cursor, b'D', out);
            } else {
                cursor_move(cursor - self.cursor, b'C', out);
            }
        } else {
            out(b"\r");
            out(text);
            out(b"\x1b[K");
            cursor_move(text.len() - cursor, b'D', out);
        }
        self.text[..text.len()].copy_from_slice(text);
        self.len = text.len();
        self.cursor = cursor;
        self.shown = true;
        Ok(())
    }

    /// The line is done: the cursor goes to its end and a new line starts; it stays on the
    /// terminal and is forgotten here.
    pub fn enter(&mut self, out: &mut impl FnMut(&[u8])) {
        if self.shown {
            cursor_move(self.len - self.cursor, b'C', out);
            out(b"\n");
        }
        self.shown = false;
        self.len = 0;
        self.cursor = 0;
    }

    /// Before another line is printed: takes the shown line off (carriage return, erase).
    pub fn hide(&self, out: &mut impl FnMut(&[u8])) {
        if self.shown {
            out(b"\r\x1b[K");
        }
    }

    /// After other lines were printed: draws the shown line again, cursor where it was.
    pub fn redraw(&self, out: &mut impl FnMut(&[u8])) {
        if self.shown {
            out(&self.text[..self.len]);
            cursor_move(self.len - self.cursor, b'D', out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// What `action` writes, as text (ESC shown as `^[`, CR as `\r`).
    fn written(action: impl FnOnce(&mut dyn FnMut(&[u8]))) -> String {
        let mut bytes = Vec::new();
        action(&mut |b: &[u8]| bytes.extend_from_slice(b));
        String::from_utf8(bytes).unwrap().replace('\x1b', "^[")
    }

    fn update(line: &mut InputLine, text: &str, cursor: usize) -> String {
        written(|out| line.update(text.as_bytes(), cursor, &mut |b| out(b)).unwrap())
    }

    #[test]
    fn keys_typed_at_the_end_are_echoed_alone() {
        let mut line = InputLine::new();
        assert_eq!(update(&mut line, "mk> ", 4), "\rmk> ^[[K", "the first draw");
        assert_eq!(update(&mut line, "mk> h", 5), "h");
        assert_eq!(update(&mut line, "mk> he", 6), "e");
        assert_eq!(update(&mut line, "mk> hel", 7), "l");
    }

    #[test]
    fn backspace_and_insertion_redraw_with_the_cursor_put_back() {
        let mut line = InputLine::new();
        update(&mut line, "mk> help", 8);
        assert_eq!(update(&mut line, "mk> hel", 7), "\rmk> hel^[[K", "backspace at the end");
        assert_eq!(update(&mut line, "mk> hel", 5), "^[[2D", "left twice: only the cursor");
        assert_eq!(update(&mut line, "mk> hXel", 6), "\rmk> hXel^[[K^[[2D", "insertion in the middle");
        assert_eq!(update(&mut line, "mk> hXel", 8), "^[[2C", "right twice");
    }

    #[test]
    fn enter_moves_to_the_end_and_starts_a_new_line() {
        let mut line = InputLine::new();
        update(&mut line, "mk> cores", 6);
        assert_eq!(written(|out| line.enter(&mut |b| out(b))), "^[[3C\n");
        assert!(!line.shown());
        assert_eq!(written(|out| line.enter(&mut |b| out(b))), "", "nothing shown: nothing to end");
        assert_eq!(update(&mut line, "mk> ", 4), "\rmk> ^[[K", "the next prompt is drawn whole");
    }

    #[test]
    fn other_lines_print_over_the_shown_line_which_comes_back_after() {
        let mut line = InputLine::new();
        assert_eq!(written(|out| line.hide(&mut |b| out(b))), "", "nothing shown");
        update(&mut line, "mk> ping", 6);
        assert_eq!(written(|out| line.hide(&mut |b| out(b))), "\r^[[K");
        assert_eq!(written(|out| line.redraw(&mut |b| out(b))), "mk> ping^[[2D");
    }

    #[test]
    fn lines_a_terminal_would_misdraw_are_refused_and_change_nothing() {
        let mut line = InputLine::new();
        update(&mut line, "mk> ok", 6);
        let long = "x".repeat(CAPACITY + 1);
        let mut out = |_: &[u8]| panic!("nothing is written for a refused line");
        assert_eq!(line.update(long.as_bytes(), 0, &mut out), Err(Refused::TooLong));
        assert_eq!(line.update(b"mk> \x1b[2J", 4, &mut out), Err(Refused::NotPrintable));
        assert_eq!(line.update(b"mk> a\nb", 4, &mut out), Err(Refused::NotPrintable));
        assert_eq!(line.update(b"mk> ", 5, &mut out), Err(Refused::Cursor));
        assert_eq!(update(&mut line, "mk> ok!", 7), "!", "the shown line is still the old one");
    }
}
