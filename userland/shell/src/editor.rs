//! Line editing over a byte stream from a serial terminal: printable characters insert at the
//! cursor, backspace (DEL or BS) deletes before it, the left and right arrows move it, up and
//! down walk the history, Enter (CR, LF or CR LF) ends the line, Ctrl-C interrupts. Escape
//! sequences (`ESC [ A` ...) may arrive split across reads: the editor keeps its state between
//! bytes. Unknown control bytes and escape sequences are ignored, never acted on.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// Longest line kept; bytes beyond it are refused (the line stays as it was).
pub const MAX_LINE: usize = 160;
/// Lines the history keeps (the oldest goes first).
pub const HISTORY_LINES: usize = 32;

/// What a byte did to the editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing to report (the line changed, or nothing happened).
    None,
    /// Enter: the line, as typed (the editor starts a new empty one).
    Line(String),
    /// Ctrl-C: the line typed so far is dropped.
    Interrupt,
}

/// Where an escape sequence stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    /// Not in one.
    None,
    /// After `ESC`.
    Started,
    /// After `ESC [` (or `ESC O`): parameters until a final byte.
    Bracket,
}

/// The line being edited, its cursor and the history.
#[derive(Debug)]
pub struct Editor {
    line: Vec<u8>,
    cursor: usize,
    history: VecDeque<String>,
    /// The history entry shown (0 = the newest), while walking it.
    browsing: Option<usize>,
    /// What was typed before walking the history, restored when walking past the newest.
    draft: Vec<u8>,
    escape: Escape,
    /// The last byte was CR: a following LF is the same Enter.
    after_cr: bool,
}

impl Default for Editor {
    fn default() -> Self {
        Editor::new()
    }
}

impl Editor {
    /// An empty line and history.
    pub fn new() -> Editor {
        Editor {
            line: Vec::new(),
            cursor: 0,
            history: VecDeque::new(),
            browsing: None,
            draft: Vec::new(),
            escape: Escape::None,
            after_cr: false,
        }
    }

    /// The line as it stands.
    pub fn line(&self) -> &str {
        core::str::from_utf8(&self.line).unwrap_or("")
    }

    /// The cursor's position in the line (bytes from its start).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// Feeds one byte.
    pub fn feed(&mut self, byte: u8) -> Event {
        let after_cr = core::mem::take(&mut self.after_cr);
        match self.escape {
            Escape::Started => {
                self.escape = if byte == b'[' || byte == b'O' { Escape::Bracket } else { Escape::None };
                return Event::None;
            }
            Escape::Bracket => {
                // Parameter and intermediate bytes (0x20-0x3f) continue; a final byte ends it.
                if (0x20..0x40).contains(&byte) {
                    return Event::None;
                }
                self.escape = Escape::None;
                self.arrow(byte);
                return Event::None;
            }
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => Event::None,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                self.enter()
            }
            0x03 => {
                self.clear();
                Event::Interrupt
            }
            0x1b => {
                self.escape = Escape::Started;
                Event::None
            }
            0x7f | 0x08 => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                }
                Event::None
            }
            0x20..=0x7e => {
                if self.line.len() < MAX_LINE {
                    self.line.insert(self.cursor, byte);
                    self.cursor += 1;
                }
                Event::None
            }
            _ => Event::None,
        }
    }

    /// The final byte of `ESC [`: A up, B down, C right, D left; others ignored.
    fn arrow(&mut self, byte: u8) {
        match byte {
            b'A' => self.older(),
            b'B' => self.newer(),
            b'C' => self.cursor = (self.cursor + 1).min(self.line.len()),
            b'D' => self.cursor = self.cursor.saturating_sub(1),
            _ => {}
        }
    }

    fn older(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.line.clone();
                0
            }
            Some(shown) if shown + 1 < self.history.len() => shown + 1,
            Some(_) => return,
        };
        self.show(next);
    }

    fn newer(&mut self) {
        match self.browsing {
            None => {}
            Some(0) => {
                self.browsing = None;
                self.line = core::mem::take(&mut self.draft);
                self.cursor = self.line.len();
            }
            Some(shown) => self.show(shown - 1),
        }
    }

    /// Shows history entry `back` (0 = the newest).
    fn show(&mut self, back: usize) {
        let Some(entry) = self.history.len().checked_sub(back + 1).and_then(|i| self.history.get(i)) else {
            return;
        };
        self.line = entry.as_bytes().to_vec();
        self.cursor = self.line.len();
        self.browsing = Some(back);
    }

    fn enter(&mut self) -> Event {
        let line = String::from_utf8(core::mem::take(&mut self.line)).unwrap_or_default();
        self.clear();
        let trimmed = line.trim();
        if !trimmed.is_empty() && self.history.back().map(String::as_str) != Some(trimmed) {
            if self.history.len() == HISTORY_LINES {
                self.history.pop_front();
            }
            self.history.push_back(String::from(trimmed));
        }
        Event::Line(line)
    }

    fn clear(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(editor: &mut Editor, bytes: &[u8]) -> Vec<Event> {
        bytes.iter().map(|&b| editor.feed(b)).filter(|e| *e != Event::None).collect()
    }

    fn line(text: &str) -> Event {
        Event::Line(String::from(text))
    }

    #[test]
    fn enter_ends_the_line_once_for_cr_lf() {
        let mut editor = Editor::new();
        assert_eq!(feed_all(&mut editor, b"cores\r\nhelp\n\r"), [line("cores"), line("help"), line("")]);
    }

    #[test]
    fn backspace_and_arrows_edit_in_the_middle() {
        let mut editor = Editor::new();
        // "skb fcts", left 3, insert 'a', right, backspace at the start does nothing.
        feed_all(&mut editor, b"skb fcts\x1b[D\x1b[D\x1b[Da");
        assert_eq!(editor.line(), "skb facts");
        assert_eq!(editor.cursor(), 6);
        feed_all(&mut editor, b"\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x7f\x08");
        assert_eq!(editor.line(), "skb fac");
        for _ in 0..20 {
            editor.feed(0x1b);
            editor.feed(b'[');
            editor.feed(b'D');
        }
        assert_eq!(editor.cursor(), 0);
        editor.feed(0x7f);
        assert_eq!(editor.line(), "skb fac");
    }

    #[test]
    fn history_walks_back_and_forth_and_restores_the_draft() {
        let mut editor = Editor::new();
        feed_all(&mut editor, b"cores\rps\rps\rhel");
        assert_eq!(editor.history().collect::<Vec<_>>(), ["cores", "ps"], "a repeat is kept once");
        feed_all(&mut editor, b"\x1b[A");
        assert_eq!(editor.line(), "ps");
        feed_all(&mut editor, b"\x1b[A\x1b[A\x1b[A");
        assert_eq!(editor.line(), "cores", "the oldest stays");
        feed_all(&mut editor, b"\x1b[B");
        assert_eq!(editor.line(), "ps");
        feed_all(&mut editor, b"\x1b[B");
        assert_eq!(editor.line(), "hel", "past the newest: what was typed");
        assert_eq!(feed_all(&mut editor, b"\x1b[Ap\r"), [line("psp")]);
    }

    #[test]
    fn ctrl_c_drops_the_line_and_split_escapes_are_assembled() {
        let mut editor = Editor::new();
        assert_eq!(feed_all(&mut editor, b"halt\x03"), [Event::Interrupt]);
        assert_eq!(editor.line(), "");
        feed_all(&mut editor, b"ab");
        editor.feed(0x1b);
        editor.feed(b'[');
        assert_eq!(editor.line(), "ab", "half a sequence changes nothing");
        editor.feed(b'D');
        editor.feed(b'X');
        assert_eq!(editor.line(), "aXb");
        // Unknown sequences (with parameters: Delete is ESC [ 3 ~) and control bytes are ignored.
        feed_all(&mut editor, b"\x1b[3~\x00\x07\x1bZ");
        assert_eq!(editor.line(), "aXb");
    }

    #[test]
    fn lines_are_bounded_and_history_keeps_the_newest() {
        let mut editor = Editor::new();
        for _ in 0..MAX_LINE + 50 {
            editor.feed(b'x');
        }
        assert_eq!(editor.line().len(), MAX_LINE);
        editor.feed(b'\r');
        for n in 0..HISTORY_LINES + 5 {
            for b in alloc::format!("c{n}\r").bytes() {
                editor.feed(b);
            }
        }
        assert_eq!(editor.history().count(), HISTORY_LINES);
        assert_eq!(editor.history().next(), Some("c5"));
        // Bytes that are not ASCII never enter the line.
        editor.feed(0xc3);
        editor.feed(0xa9);
        assert_eq!(editor.line(), "");
    }
}
