//! Splitting a child's output into lines with a bounded buffer, pure: a child printing without a
//! newline must not grow the agent. A line keeps its first [`MAX_LINE_BYTES`]; the rest, up to the
//! next newline, is counted and thrown away as it arrives.

/// The longest line kept (linuxptp's lines are under 200 bytes).
pub const MAX_LINE_BYTES: usize = 4096;

/// Assembles lines from chunks of output; holds at most its cap.
#[derive(Debug)]
pub struct LineAssembler {
    buf: Vec<u8>,
    cap: usize,
    /// Bytes of the current line beyond the cap.
    discarded: u64,
}

impl Default for LineAssembler {
    fn default() -> Self {
        LineAssembler::new(MAX_LINE_BYTES)
    }
}

impl LineAssembler {
    /// An assembler keeping at most `cap` bytes of a line.
    pub fn new(cap: usize) -> Self {
        LineAssembler { buf: Vec::new(), cap, discarded: 0 }
    }

    /// Takes the next chunk of output; `line` gets each line it completes: its kept bytes without
    /// the line ending (`\n`, and `\r`s before it) and the number of bytes thrown away (0 unless
    /// the line was longer than the cap).
    pub fn push(&mut self, mut chunk: &[u8], mut line: impl FnMut(&[u8], u64)) {
        while let Some(at) = chunk.iter().position(|&b| b == b'\n') {
            self.take(&chunk[..at]);
            self.emit(&mut line);
            chunk = &chunk[at + 1..];
        }
        self.take(chunk);
    }

    /// The output ended: the last line, if it had no newline.
    pub fn finish(&mut self, mut line: impl FnMut(&[u8], u64)) {
        if !self.buf.is_empty() || self.discarded > 0 {
            self.emit(&mut line);
        }
    }

    /// The bytes held now (at most the cap).
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, bytes: &[u8]) {
        let kept = bytes.len().min(self.cap - self.buf.len());
        self.buf.extend_from_slice(&bytes[..kept]);
        self.discarded = self.discarded.saturating_add((bytes.len() - kept) as u64);
    }

    fn emit(&mut self, line: &mut impl FnMut(&[u8], u64)) {
        let mut end = self.buf.len();
        if self.discarded == 0 {
            while end > 0 && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
        }
        line(&self.buf[..end], self.discarded);
        self.buf.clear();
        self.discarded = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line (text, discarded) of `input` fed in chunks of `size`.
    fn lines(cap: usize, input: &[u8], size: usize) -> Vec<(String, u64)> {
        let mut a = LineAssembler::new(cap);
        let mut out = Vec::new();
        for chunk in input.chunks(size.max(1)) {
            a.push(chunk, |l, d| out.push((String::from_utf8_lossy(l).into_owned(), d)));
            assert!(a.held() <= cap);
        }
        a.finish(|l, d| out.push((String::from_utf8_lossy(l).into_owned(), d)));
        out
    }

    fn owned(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
        expected.iter().map(|(l, d)| (l.to_string(), *d)).collect()
    }

    #[test]
    fn lines_under_the_cap_come_whole_whatever_the_chunking() {
        let input = b"one\ntwo\r\n\nlast without newline";
        for size in 1..=input.len() {
            assert_eq!(
                lines(8, input, size),
                owned(&[("one", 0), ("two", 0), ("", 0), ("last wit", 12)]),
                "chunks of {size}"
            );
        }
        assert_eq!(lines(64, input, 3), owned(&[("one", 0), ("two", 0), ("", 0), ("last without newline", 0)]));
        assert_eq!(lines(8, b"", 1), owned(&[]));
        assert_eq!(lines(8, b"a\n", 1), owned(&[("a", 0)]), "no empty line after the last newline");
    }

    #[test]
    fn a_long_line_keeps_its_head_and_counts_the_rest_for_every_length_and_chunking() {
        let cap = 16;
        for len in 0..=3 * cap {
            let long = "x".repeat(len);
            let input = format!("{long}\nafter\n");
            for size in [1, 2, 3, 7, cap - 1, cap, cap + 1, input.len()] {
                let head = "x".repeat(len.min(cap));
                let discarded = len.saturating_sub(cap) as u64;
                assert_eq!(
                    lines(cap, input.as_bytes(), size),
                    vec![(head, discarded), ("after".to_string(), 0)],
                    "line of {len} bytes in chunks of {size}"
                );
            }
        }
    }

    #[test]
    fn megabytes_without_a_newline_hold_only_the_cap() {
        let mut a = LineAssembler::default();
        let chunk = [b'x'; 8192];
        let mut out = Vec::new();
        for _ in 0..1000 {
            a.push(&chunk, |l, d| out.push((l.len(), d)));
            assert_eq!(a.held(), MAX_LINE_BYTES);
        }
        a.push(b"\nok\n", |l, d| out.push((l.len(), d)));
        assert_eq!(out, [(MAX_LINE_BYTES, 8192 * 1000 - MAX_LINE_BYTES as u64), (2, 0)]);
    }
}
