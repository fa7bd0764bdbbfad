//! Request targets made parseable before actix-http reads them.
//!
//! actix-http takes a request's target through the `http` crate's URI parser, which
//! refuses raw non-ASCII bytes, `"`, `<`, `>` and targets over 64 KiB. A refused request
//! line gets a bare 400 with no body and a closed connection, before any code of ours
//! runs: `curl ".../Contacts?$filter=Surname eq 'Müller'"` (curl sends the `ü` as is)
//! would fail without saying why. So each connection's bytes pass through
//! [`EncodedTargets`], which percent-encodes those bytes in request targets (the pipeline
//! decodes them back: the request means what the client typed) and shortens an over-long
//! target to [`KEPT`] bytes, still past `MAX_URI`, which the pipeline then answers with
//! its 414 and an OData error body.
//!
//! Only request lines change. Headers pass unchanged, and so do bodies, whose ends come
//! from `Content-Length`; after a head whose body is framed otherwise (chunked, an
//! upgrade, `CONNECT`) the rest of the connection passes untouched, and actix-http alone
//! reads it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Target bytes kept: past `request::MAX_URI` (a 414), within what the URI parser takes.
pub const KEPT: usize = 32 * 1024;
const _: () = assert!(KEPT > super::request::MAX_URI && KEPT < u16::MAX as usize);

/// Longest header line inspected in full; a longer `Content-Length` is no number.
const HEADER_LINE: usize = 64;

/// What becomes of one input byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Keep,
    /// Written as `%XX`.
    Encode,
    /// Left out (the part of a target beyond [`KEPT`]).
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line; empty lines are passed (RFC 9112 §2.2).
    LineStart,
    Method,
    /// The target, with the bytes written for it so far.
    Target(usize),
    Version,
    /// A header line of the head.
    Header,
    /// Bytes of a body left to pass.
    Body(u64),
    /// Body framing this scanner does not follow: everything else passes as it is.
    Opaque,
}

/// The byte-level state machine behind [`EncodedTargets`].
#[derive(Debug)]
struct Scanner {
    state: State,
    /// The method, as far as needed to recognise `CONNECT`.
    method: [u8; 8],
    method_len: usize,
    /// The current header line, lowercased, up to [`HEADER_LINE`] bytes.
    line: [u8; HEADER_LINE],
    line_len: usize,
    content_length: Option<u64>,
    /// The current header line is passed without being read.
    skip_line: bool,
    /// The body's end is not known from a `Content-Length`.
    unframed: bool,
}

/// Bytes that the URI parser refuses in a path or a query: spaces and controls never
/// reach here (a space ends the target, CR or LF the line).
fn needs_encoding(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'"' | b'<' | b'>' | b'`')
}

impl Scanner {
    fn new() -> Self {
        Self {
            state: State::LineStart,
            method: [0; 8],
            method_len: 0,
            line: [0; HEADER_LINE],
            line_len: 0,
            content_length: None,
            skip_line: false,
            unframed: false,
        }
    }

    /// How many of the next bytes pass unchanged without `next` taking each: a body, a
    /// connection passed whole, a method and the plain run of a target, and up to its
    /// line end each part of a head that says nothing of the body's framing (the
    /// version, most header lines).
    fn pass_through(&mut self, input: &[u8]) -> usize {
        let to_line_end = |input: &[u8]| memchr::memchr(b'\n', input).unwrap_or(input.len());
        match &mut self.state {
            State::Opaque => input.len(),
            State::Body(left) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                *left -= n as u64;
                if *left == 0 {
                    self.state = State::LineStart;
                }
                n
            }
            State::Method => {
                let n = input
                    .iter()
                    .take_while(|&&b| !matches!(b, b' ' | b'\r' | b'\n'))
                    .count();
                for (i, &b) in input.iter().take(n).enumerate() {
                    if let Some(slot) = self.method.get_mut(self.method_len + i) {
                        *slot = b;
                    }
                }
                self.method_len += n;
                n
            }
            // Bytes that stay as they are, within what is kept; the rest one by one.
            State::Target(written) => {
                let room = KEPT.saturating_sub(*written);
                let n = input
                    .iter()
                    .take(room)
                    .take_while(|&&b| !needs_encoding(b))
                    .count();
                *written += n;
                n
            }
            State::Version => to_line_end(input),
            State::Header => {
                if self.line_len == 0 {
                    // Only Content-Length, Transfer-Encoding and Upgrade are read.
                    match input.first().map(u8::to_ascii_lowercase) {
                        Some(b'c' | b't' | b'u' | b'\r' | b'\n') | None => return 0,
                        Some(_) => self.skip_line = true,
                    }
                }
                if !self.skip_line {
                    return 0;
                }
                let n = to_line_end(input);
                self.line_len += n;
                n
            }
            _ => 0,
        }
    }

    /// Takes one byte and says what becomes of it.
    fn next(&mut self, b: u8) -> Out {
        match self.state {
            State::LineStart => {
                if b != b'\r' && b != b'\n' {
                    self.method_len = 0;
                    self.state = State::Method;
                    return self.next(b);
                }
            }
            State::Method => match b {
                b' ' => self.state = State::Target(0),
                // Not a request line actix-http will take: it answers, we step aside.
                b'\r' | b'\n' => self.state = State::Opaque,
                _ => {
                    if let Some(slot) = self.method.get_mut(self.method_len) {
                        *slot = b;
                    }
                    self.method_len += 1;
                }
            },
            State::Target(written) => {
                let (out, width) = match b {
                    b' ' => {
                        self.state = State::Version;
                        return Out::Keep;
                    }
                    b'\r' | b'\n' => {
                        self.state = State::Opaque;
                        return Out::Keep;
                    }
                    b if needs_encoding(b) => (Out::Encode, 3),
                    _ => (Out::Keep, 1),
                };
                if written + width > KEPT {
                    return Out::Drop;
                }
                self.state = State::Target(written + width);
                return out;
            }
            State::Version => {
                if b == b'\n' {
                    self.line_len = 0;
                    self.content_length = None;
                    self.unframed = self.method.get(..self.method_len) == Some(b"CONNECT");
                    self.state = State::Header;
                }
            }
            State::Header => {
                if b == b'\n' {
                    self.end_header_line();
                } else {
                    if let Some(slot) = self.line.get_mut(self.line_len) {
                        *slot = b.to_ascii_lowercase();
                    }
                    self.line_len += 1;
                }
            }
            // Passed in bulk by `pass_through` before any byte gets here.
            State::Body(_) | State::Opaque => {}
        }
        Out::Keep
    }

    fn end_header_line(&mut self) {
        let len = self.line_len;
        self.line_len = 0;
        if std::mem::take(&mut self.skip_line) {
            return;
        }
        let line = self.line.get(..len.min(HEADER_LINE)).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.state = match (self.unframed, self.content_length) {
                (true, _) => State::Opaque,
                (false, Some(n)) if n > 0 => State::Body(n),
                (false, _) => State::LineStart,
            };
            return;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default().trim_ascii();
        match name {
            b"transfer-encoding" | b"upgrade" => self.unframed = true,
            b"content-length" => {
                let n = (len <= HEADER_LINE)
                    .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                    .flatten();
                match (n, self.content_length) {
                    (Some(n), None) => self.content_length = Some(n),
                    (Some(n), Some(seen)) if n == seen => {}
                    _ => self.unframed = true,
                }
            }
            _ => {}
        }
    }

    /// Rewrites `input` into `out` from the start, byte by byte.
    fn rewrite(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while let Some((at, o)) = self.first_change(input) {
            let (passed, rest) = input.split_at(at);
            out.extend_from_slice(passed);
            if let Some((&b, rest)) = rest.split_first() {
                write(o, b, out);
                input = rest;
            }
        }
        out.extend_from_slice(input);
    }

    /// Scans `input` for the first byte that does not pass unchanged: its index, already
    /// taken, and what becomes of it; `None` if every byte passes.
    fn first_change(&mut self, input: &[u8]) -> Option<(usize, Out)> {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            let skip = self.pass_through(input.get(i..).unwrap_or_default());
            if skip > 0 {
                i += skip;
                continue;
            }
            match self.next(b) {
                Out::Keep => i += 1,
                changed => return Some((i, changed)),
            }
        }
        None
    }
}

/// One byte's rewritten form.
fn write(o: Out, b: u8, out: &mut Vec<u8>) {
    match o {
        Out::Keep => out.push(b),
        Out::Encode => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        Out::Drop => {}
    }
}

/// A connection whose request targets are encoded as the URI parser needs them.
pub struct EncodedTargets<IO> {
    io: IO,
    scanner: Scanner,
    /// Rewritten bytes not yet handed on, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
}

impl<IO> EncodedTargets<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            scanner: Scanner::new(),
            pending: Vec::new(),
            pending_at: 0,
        }
    }

    /// Hands on what is pending, as far as `buf` has room.
    fn drain_pending(&mut self, buf: &mut ReadBuf<'_>) {
        let rest = self.pending.get(self.pending_at..).unwrap_or_default();
        let n = rest.len().min(buf.remaining());
        buf.put_slice(rest.get(..n).unwrap_or_default());
        self.pending_at += n;
        if self.pending_at >= self.pending.len() {
            // An idle connection keeps no large buffer from one rewritten read.
            if self.pending.capacity() > 8 * 1024 {
                self.pending = Vec::new();
            }
            self.pending.clear();
            self.pending_at = 0;
        }
    }
}

impl EncodedTargets<TcpStream> {
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.io.peer_addr().ok()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for EncodedTargets<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                this.drain_pending(buf);
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            // Bytes pass in place; from the first one that changes, the rest of this
            // read is rewritten into `pending` and handed on from there.
            let fresh = buf.filled().get(before..).unwrap_or_default();
            let Some((at, o)) = this.scanner.first_change(fresh) else {
                return Poll::Ready(Ok(()));
            };
            let tail = fresh.get(at..).unwrap_or_default().to_vec();
            if let Some((&b, rest)) = tail.split_first() {
                write(o, b, &mut this.pending);
                this.scanner.rewrite(rest, &mut this.pending);
            }
            buf.set_filled(before + at);
            // A read that was all cut target would look like the end of the stream.
            if at > 0 || !this.pending.is_empty() {
                this.drain_pending(buf);
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for EncodedTargets<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole stream through one scanner, in chunks of `size`, as reads would come.
    fn through(input: &[u8], size: usize) -> Vec<u8> {
        let mut s = Scanner::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size.max(1)) {
            s.rewrite(chunk, &mut out);
        }
        out
    }

    /// The same for every chunk size: where reads split the stream must not matter.
    fn rewritten(input: &[u8]) -> Vec<u8> {
        let whole = through(input, input.len());
        for size in [1, 2, 3, 5, 7, 16, 64] {
            assert_eq!(through(input, size), whole, "chunks of {size}");
        }
        whole
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).expect("ASCII out")
    }

    #[test]
    fn a_valid_request_passes_unchanged() {
        let req =
            b"GET /Contacts?$filter=Surname%20eq%20'Sm%C3%BCth'&$top=2 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewritten(req), req);
    }

    #[test]
    fn bytes_the_uri_parser_refuses_are_percent_encoded_in_the_target_only() {
        let req = "GET /Contacts?$filter=Surname%20eq%20'Müller'%20and%20x%20eq%20\"<`>\"\x7f HTTP/1.1\r\nX-Name: Müller \"q\"\r\n\r\n";
        assert_eq!(
            text(rewritten(req.as_bytes())),
            "GET /Contacts?$filter=Surname%20eq%20'M%C3%BCller'%20and%20x%20eq%20%22%3C%60%3E%22%7F HTTP/1.1\r\nX-Name: Müller \"q\"\r\n\r\n"
        );
    }

    #[test]
    fn bodies_pass_unchanged_and_the_next_request_line_is_rewritten() {
        let body = "{\"requests\":[{\"url\":\"Contacts?$filter=Name eq 'ü'\"}]}";
        let req = format!(
            "\r\nPOST /$batch HTTP/1.1\r\nContent-Type: application/json\r\nX-Note: content-length: 99\r\nAccept: */*\ncontent-LENGTH:  {}\r\n\r\n{body}GET /Contacts('ü') HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /a\"b HTTP/1.1\r\n\r\n",
            body.len()
        );
        let want = req
            .replace("/Contacts('ü')", "/Contacts('%C3%BC')")
            .replace("/a\"b", "/a%22b");
        assert_eq!(text(rewritten(req.as_bytes())), want);
    }

    #[test]
    fn after_a_body_framed_otherwise_the_connection_passes_untouched() {
        for head in [
            "POST /$batch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST /x HTTP/1.1\r\nContent-Length: five\r\n\r\n",
            "GET /x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "CONNECT a:1 HTTP/1.1\r\n\r\n",
        ] {
            let req = format!("{head}5\r\n\"ü\"\r\n0\r\n\r\nGET /ü HTTP/1.1\r\n\r\n");
            assert_eq!(text(rewritten(req.as_bytes())), req, "{head}");
        }
    }

    #[test]
    fn an_over_long_target_is_cut_past_the_414_limit() {
        let long = "a".repeat(100_000);
        let req = format!(
            "GET /Contacts?$filter={long} HTTP/1.1\r\nHost: x\r\n\r\nGET /ü HTTP/1.1\r\n\r\n"
        );
        let out = text(rewritten(req.as_bytes()));
        let (line, rest) = out.split_once("\r\n").expect("a line");
        let target = line
            .strip_prefix("GET ")
            .and_then(|l| l.strip_suffix(" HTTP/1.1"))
            .expect("request line");
        assert_eq!(target.len(), KEPT);
        assert_eq!(rest, "Host: x\r\n\r\nGET /%C3%BC HTTP/1.1\r\n\r\n");
        // An escape is never cut in two.
        let wide = "ü".repeat(40_000);
        let out = text(rewritten(
            format!("GET /{wide} HTTP/1.1\r\n\r\n").as_bytes(),
        ));
        let target = out.split(' ').nth(1).expect("target");
        assert!(target.len() <= KEPT && target.len() > KEPT - 3);
        assert!(
            target.ends_with("%BC") || target.ends_with("%C3"),
            "{}",
            &target[target.len() - 6..]
        );
    }

    #[test]
    fn a_line_that_is_no_request_line_is_left_to_actix() {
        // actix-http refuses these lines; what follows them is not looked at.
        for (req, want) in [
            (
                "GARBAGE\r\n\r\nGET /ü HTTP/1.1\r\n\r\n",
                "GARBAGE\r\n\r\nGET /ü HTTP/1.1\r\n\r\n",
            ),
            (
                "GET /ü\r\nGET /ü HTTP/1.1\r\n",
                "GET /%C3%BC\r\nGET /ü HTTP/1.1\r\n",
            ),
        ] {
            assert_eq!(text(rewritten(req.as_bytes())), want);
        }
    }
}
