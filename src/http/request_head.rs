//! Request heads checked, and their targets made parseable, before actix-http reads them.
//!
//! actix-http answers a head it cannot parse with a bare 400 or 431 and no body, before
//! any code of ours runs, and it takes the target through the `http` crate's URI parser,
//! which refuses raw non-ASCII bytes, `"`, `<`, `>` and targets over 64 KiB:
//! `curl ".../Contacts?$filter=Surname eq 'Müller'"` (curl sends the `ü` as is) would
//! fail without saying why. So each connection's bytes pass through [`CheckedHeads`],
//! which holds each request head until it is complete, then
//!
//! - percent-encodes those bytes in the target (the pipeline decodes them back: the
//!   request means what the client typed) and shortens an over-long target to [`KEPT`]
//!   bytes, still past `MAX_URI`, which the pipeline answers with its 414;
//! - checks the head as actix-http will: httparse, which actix-http parses with, then
//!   actix-http's rules for `Host`, `Content-Length` and `Transfer-Encoding`, and that
//!   `Authorization` comes at most once. A head it
//!   would refuse, one past [`HEAD_MAX`] bytes or [`MAX_FIELDS`] fields, and one not
//!   complete within [`HEAD_TIMEOUT`] are replaced by a stand-in request, which
//!   [`answer_refused`] answers with the reason as an OData error. Then the connection
//!   closes: where a refused request ends is not known.
//!
//! Bodies pass unchanged, their ends known from `Content-Length`; after a head whose body
//! is framed otherwise (chunked, a WebSocket upgrade, `CONNECT`) the rest of the
//! connection passes untouched, and actix-http alone reads it.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::Uri;
use actix_web::rt::net::TcpStream;
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::request::MAX_URI;

/// Target bytes kept: past `MAX_URI` (a 414), within what the URI parser takes.
pub const KEPT: usize = 32 * 1024;
/// The longest head held. With its target encoded and cut to [`KEPT`] it stays within
/// the 128 KiB that actix-http buffers for a head.
pub const HEAD_MAX: usize = 90 * 1024;
const _: () = assert!(KEPT > MAX_URI && KEPT < u16::MAX as usize);
const _: () = assert!(HEAD_MAX + KEPT < 131_072);
/// Header fields in one head, as actix-http allows.
pub const MAX_FIELDS: usize = 96;
/// How long a head may take to arrive, from the connection's start for the first one and
/// from its first byte for later ones (what slow-header attacks hold connections with).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the stand-in for a refused head goes (a route of its own, [`answer_refused`]).
pub const REFUSED_PATH: &str = "/$refused";
const STAND_IN: &[u8] = b"GET /$refused HTTP/1.1\r\nHost: refused\r\nConnection: close\r\n\r\n";

/// Why a request head was refused before the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the request line is not `METHOD target HTTP/1.1`: {0}")]
    RequestLine(String),
    #[error("the request line is longer than {HEAD_MAX} bytes")]
    RequestLineTooLong,
    #[error("the request's header section is longer than {HEAD_MAX} bytes")]
    TooLarge,
    #[error("the request has more than {MAX_FIELDS} header fields")]
    TooManyFields,
    #[error("the header field {name} is missing: {why}")]
    Missing {
        name: &'static str,
        why: &'static str,
    },
    #[error("header field {number} ({name}): {problem}")]
    Field {
        /// 1 for the first field after the request line.
        number: usize,
        name: String,
        problem: String,
    },
    #[error(
        "the request head did not arrive within {} seconds",
        HEAD_TIMEOUT.as_secs()
    )]
    Timeout,
}

impl HeadError {
    /// The header field named, the error's OData `target`.
    pub fn field(&self) -> Option<&str> {
        match self {
            HeadError::Field { name, .. } => Some(name),
            HeadError::Missing { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A connection's refused head, from its [`CheckedHeads`] to [`answer_refused`].
#[derive(Debug, Clone, Default)]
pub struct Refusal(Rc<RefCell<Option<HeadError>>>);

/// Answers the stand-in of a refused head with the reason it was refused. A client's own
/// request for that path finds no refusal on its connection and is read as any other.
pub async fn answer_refused(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<super::AppState>,
) -> HttpResponse {
    let refused = req
        .conn_data::<Refusal>()
        .and_then(|r| r.0.borrow_mut().take());
    match refused {
        Some(e) => super::error::ApiError::from(e).response(false),
        None => super::handlers::odata(req, payload, state).await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a head: empty lines are dropped (RFC 9112 §2.2).
    Between,
    /// Within a head, whose bytes from earlier reads are held.
    Head,
    /// Bytes of a body left to pass.
    Body(u64),
    /// Body framing this scanner does not follow: everything else passes as it is.
    Opaque,
    /// A head was refused: nothing more is read.
    Refused,
}

/// The state machine behind [`CheckedHeads`].
#[derive(Debug)]
struct Scanner {
    state: State,
    /// The head so far, when it began in an earlier read.
    held: Vec<u8>,
    /// A head has been handed on (the first one is timed from the connection's start).
    started: bool,
    /// Shared with the connection's requests.
    refusal: Refusal,
}

/// Where a read's bytes go: in place up to the first change, into `out` from there on.
struct Output<'a> {
    input: &'a [u8],
    out: &'a mut Vec<u8>,
    changed_at: Option<usize>,
}

impl Output<'_> {
    fn pass(&mut self, from: usize, to: usize) {
        if self.changed_at.is_some() {
            let bytes = self.input.get(from..to).unwrap_or_default();
            self.out.extend_from_slice(bytes);
        }
    }

    /// `bytes` stand for input from `at` on (what is not passed after them is left out).
    fn replace(&mut self, at: usize, bytes: &[u8]) {
        self.changed_at.get_or_insert(at);
        self.out.extend_from_slice(bytes);
    }
}

impl Scanner {
    fn new() -> Self {
        Self {
            state: State::Between,
            held: Vec::new(),
            started: false,
            refusal: Refusal::default(),
        }
    }

    /// Whether a head is on its way, which [`HEAD_TIMEOUT`] bounds.
    fn awaiting_head(&self) -> bool {
        self.state == State::Head || (self.state == State::Between && !self.started)
    }

    /// Takes one read: `None` if it passes unchanged, else how much of it does, the rest
    /// being replaced by what was appended to `out`.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let mut o = Output {
            input,
            out,
            changed_at: None,
        };
        let mut i = 0;
        while i < input.len() {
            let rest = input.get(i..).unwrap_or_default();
            match self.state {
                State::Opaque => {
                    o.pass(i, input.len());
                    i = input.len();
                }
                State::Refused => {
                    o.replace(i, &[]);
                    i = input.len();
                }
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    o.pass(i, i + n);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Between
                    } else {
                        State::Body(left)
                    };
                    i += n;
                }
                State::Between => {
                    let n = rest
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    if n > 0 {
                        o.replace(i, &[]);
                        i += n;
                    } else {
                        self.state = State::Head;
                    }
                }
                State::Head => i += self.head(i, &mut o),
            }
        }
        o.changed_at
    }

    /// Takes a head's bytes from the input at `i`: up to its end, or all if it does not
    /// end there. Returns how many.
    fn head(&mut self, i: usize, o: &mut Output) -> usize {
        let rest = o.input.get(i..).unwrap_or_default();
        let end = head_end(&self.held, rest);
        let taken = rest.get(..end.unwrap_or(rest.len())).unwrap_or_default();
        if self.held.len() + taken.len() > HEAD_MAX {
            let in_request_line = !self.held.contains(&b'\n') && !taken.contains(&b'\n');
            self.refuse(
                if in_request_line {
                    HeadError::RequestLineTooLong
                } else {
                    HeadError::TooLarge
                },
                i,
                o,
            );
            return taken.len();
        }
        if end.is_none() {
            self.held.extend_from_slice(taken);
            o.replace(i, &[]);
            return taken.len();
        }
        let checked = if self.held.is_empty() {
            check(taken)
        } else {
            self.held.extend_from_slice(taken);
            check(&self.held)
        };
        match checked {
            Ok(Checked { rewritten, framing }) => {
                match rewritten {
                    Some(head) => o.replace(i, &head),
                    None if self.held.is_empty() => o.pass(i, i + taken.len()),
                    None => o.replace(i, &self.held),
                }
                self.held.clear();
                // A long head held once is not kept for the connection's life.
                if self.held.capacity() > 8 * 1024 {
                    self.held = Vec::new();
                }
                self.state = framing;
                self.started = true;
            }
            Err(e) => self.refuse(e, i, o),
        }
        taken.len()
    }

    /// Puts the stand-in where the refused head began; nothing after it is read.
    fn refuse(&mut self, e: HeadError, at: usize, o: &mut Output) {
        o.replace(at, STAND_IN);
        self.refused(e);
    }

    /// Refuses the head on its way, between reads: the stand-in goes to `out`.
    fn refuse_now(&mut self, e: HeadError, out: &mut Vec<u8>) {
        out.extend_from_slice(STAND_IN);
        self.refused(e);
    }

    fn refused(&mut self, e: HeadError) {
        tracing::debug!(error = %e, "request head refused");
        self.held = Vec::new();
        self.state = State::Refused;
        *self.refusal.0.borrow_mut() = Some(e);
    }
}

/// Where the head ends in `rest`, just past its empty line, given the bytes of it `held`
/// from earlier reads (a head never starts with a line end).
fn head_end(held: &[u8], rest: &[u8]) -> Option<usize> {
    // The byte `back` places before `rest[p]`.
    let before = |p: usize, back: usize| match p.checked_sub(back) {
        Some(j) => rest.get(j).copied(),
        None => held
            .len()
            .checked_sub(back - p)
            .and_then(|j| held.get(j))
            .copied(),
    };
    memchr::memchr_iter(b'\n', rest)
        .find(|&p| match before(p, 1) {
            Some(b'\n') => true,
            Some(b'\r') => before(p, 2) == Some(b'\n'),
            _ => false,
        })
        .map(|p| p + 1)
}

/// A complete head that actix-http will take.
struct Checked {
    /// The head with its target encoded or cut, if that changed it.
    rewritten: Option<Vec<u8>>,
    /// What follows it.
    framing: State,
}

fn check(head: &[u8]) -> Result<Checked, HeadError> {
    let line = head
        .get(..memchr::memchr(b'\n', head).unwrap_or(head.len()))
        .unwrap_or_default();
    let (from, to) = target_span(line)?;
    let rewritten = encoded_target(line.get(from..to).unwrap_or_default()).map(|target| {
        let mut h = Vec::with_capacity(head.len() + target.len());
        h.extend_from_slice(head.get(..from).unwrap_or_default());
        h.extend_from_slice(&target);
        h.extend_from_slice(head.get(to..).unwrap_or_default());
        h
    });
    let framing = framing(rewritten.as_deref().unwrap_or(head))?;
    Ok(Checked { rewritten, framing })
}

/// Where the target is in a request line.
fn target_span(line: &[u8]) -> Result<(usize, usize), HeadError> {
    let problem = |p: &str| HeadError::RequestLine(p.into());
    let from = memchr::memchr(b' ', line).ok_or_else(|| problem("no space after the method"))? + 1;
    let to = memchr::memchr(b' ', line.get(from..).unwrap_or_default())
        .ok_or_else(|| problem("no HTTP version after the target"))?
        + from;
    Ok((from, to))
}

/// Bytes that the URI parser refuses in a path or a query: spaces and controls never
/// reach here (a space ends the target, CR or LF the line).
fn needs_encoding(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'"' | b'<' | b'>' | b'`')
}

/// The target with the bytes the URI parser refuses percent-encoded, and cut after
/// [`KEPT`] bytes (never within an escape); `None` if that changes nothing.
fn encoded_target(target: &[u8]) -> Option<Vec<u8>> {
    if target.len() <= KEPT && !target.iter().any(|&b| needs_encoding(b)) {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(target.len().min(KEPT));
    for &b in target {
        let width = if needs_encoding(b) { 3 } else { 1 };
        if out.len() + width > KEPT {
            break;
        }
        if width == 1 {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
    Some(out)
}

/// Parses a complete head as actix-http will, and says what follows it.
fn framing(head: &[u8]) -> Result<State, HeadError> {
    let mut fields = [MaybeUninit::<httparse::Header>::uninit(); MAX_FIELDS];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, &mut fields) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HeadError::RequestLine(
                "the head does not end with an empty line".into(),
            ))
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyFields),
        Err(e) => return Err(locate(head, e)),
    }
    let method = req.method.unwrap_or_default();
    let http_11 = req.version == Some(1);
    let field = |number: usize, name: &str, problem: String| HeadError::Field {
        number: number + 1,
        name: name.to_owned(),
        problem,
    };
    let twice = |number, name| field(number, name, "appears more than once".into());
    let mut length = None;
    let mut chunked = None;
    let mut host = false;
    let mut authorization = false;
    let mut websocket = false;
    for (n, f) in req.headers.iter().enumerate() {
        // Names by length first: most fields are none of these.
        let is = |name: &str| f.name.len() == name.len() && f.name.eq_ignore_ascii_case(name);
        let value = || std::str::from_utf8(f.value).map(str::trim);
        if is("content-length") {
            if length.is_some() {
                return Err(twice(n, f.name));
            }
            let parsed = value()
                .ok()
                .filter(|v| !v.starts_with('+'))
                .and_then(|v| v.parse::<u64>().ok());
            let Some(len) = parsed else {
                let problem = format!("`{}` is not a length in bytes", shown(f.value));
                return Err(field(n, f.name, problem));
            };
            length = Some(len);
        } else if is("transfer-encoding") {
            if chunked.is_some() {
                return Err(twice(n, f.name));
            }
            if !http_11 {
                return Err(field(n, f.name, "is not allowed in HTTP/1.0".into()));
            }
            if !value().is_ok_and(|v| v.eq_ignore_ascii_case("chunked")) {
                let problem = format!("`{}`: only `chunked` is accepted", shown(f.value));
                return Err(field(n, f.name, problem));
            }
            chunked = Some(n);
        } else if is("host") {
            if host {
                return Err(twice(n, f.name));
            }
            // RFC 9112 §3.2: a Host that is no `host[:port]` is a 400; it would otherwise
            // become the service root of every URL in the answer.
            if let Some((c, b)) = first(f.value, |b| !is_host_byte(b)) {
                let problem = format!(
                    "`{}` is not a host and port: byte 0x{b:02X} at column {c} of the value",
                    shown(f.value)
                );
                return Err(field(n, f.name, problem));
            }
            host = true;
        } else if is("authorization") {
            // A singleton (RFC 9110 §11.6.2): with two, which credentials act is a guess.
            if authorization {
                return Err(twice(n, f.name));
            }
            authorization = true;
        } else if is("upgrade") {
            websocket |= value().is_ok_and(|v| v.eq_ignore_ascii_case("websocket"));
        }
    }
    if let (Some(n), Some(_)) = (chunked, length) {
        let problem = "comes with a Content-Length: the body's length is one or the other".into();
        return Err(field(n, "Transfer-Encoding", problem));
    }
    if http_11 && !host {
        return Err(HeadError::Missing {
            name: "Host",
            why: "HTTP/1.1 requires it",
        });
    }
    if !http_11 && method == "POST" && length.is_none() && !websocket {
        return Err(HeadError::Missing {
            name: "Content-Length",
            why: "an HTTP/1.0 POST requires it",
        });
    }
    // httparse took the method as a token, which `Method` accepts; an origin-form
    // target, encoded, is a path the URI parser takes. Other forms are parsed to be sure:
    // the URI parser would take `Contacts(1)` as an authority, the root of the answer's
    // URLs, so only CONNECT (authority-form) and `OPTIONS *` go without a scheme
    // (RFC 9112 §3.2).
    let path = req.path.unwrap_or_default();
    if !path.starts_with('/') {
        let fits = match method {
            "CONNECT" => Uri::try_from(path).is_ok(),
            "OPTIONS" if path == "*" => true,
            _ => Uri::try_from(path).is_ok_and(|u| u.scheme().is_some() && u.host().is_some()),
        };
        if !fits {
            let problem = format!(
                "the target `{}` is neither a path starting with `/` nor an absolute URL",
                shown(path.as_bytes())
            );
            return Err(HeadError::RequestLine(problem));
        }
    }
    Ok(match (chunked, length) {
        (Some(_), _) => State::Opaque,
        _ if websocket => State::Opaque,
        (None, Some(n)) if n > 0 => State::Body(n),
        _ if method == "CONNECT" => State::Opaque,
        _ => State::Between,
    })
}

/// Finds what httparse refused in a head, to say where.
fn locate(head: &[u8], e: httparse::Error) -> HeadError {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    if let Some(problem) = request_line_problem(lines.next().unwrap_or_default()) {
        return HeadError::RequestLine(problem);
    }
    for (n, line) in lines.take_while(|l| !l.is_empty()).enumerate() {
        let field = |name: &[u8], problem: String| HeadError::Field {
            number: n + 1,
            name: shown(name),
            problem,
        };
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            let problem = "starts with white space: folding a field over lines is not accepted";
            return field(line, problem.into());
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return field(line, "has no `:` between a name and a value".into());
        };
        let (name, value) = line.split_at(colon);
        if name.is_empty() {
            return field(line, "has no name before its `:`".into());
        }
        if let Some((c, b)) = first(name, |b| !is_tchar(b)) {
            let problem =
                format!("its name has byte 0x{b:02X} at column {c}, which names may not hold");
            return field(name, problem);
        }
        let value = value.get(1..).unwrap_or_default();
        if let Some((c, b)) = first(value, |b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
            let problem = format!(
                "its value has byte 0x{b:02X} at column {}, which values may not hold",
                colon + 1 + c
            );
            return field(name, problem);
        }
    }
    HeadError::RequestLine(e.to_string())
}

fn request_line_problem(line: &[u8]) -> Option<String> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next(), parts.next());
    if method.is_empty() {
        return Some("it starts with a space, not a method".into());
    }
    if let Some((c, b)) = first(method, |b| !is_tchar(b)) {
        return Some(format!(
            "the method has byte 0x{b:02X} at column {c}, which methods may not hold"
        ));
    }
    if target.is_none_or(<[u8]>::is_empty) {
        return Some("no target after the method".into());
    }
    match version {
        Some(b"HTTP/1.1" | b"HTTP/1.0") => None,
        Some(v) => Some(format!(
            "the version `{}` is not HTTP/1.1 or HTTP/1.0",
            shown(v)
        )),
        None => Some("no HTTP version after the target".into()),
    }
}

/// The first byte that `bad` picks, with its column (from 1).
fn first(bytes: &[u8], bad: impl Fn(u8) -> bool) -> Option<(usize, u8)> {
    let i = bytes.iter().position(|&b| bad(b))?;
    bytes.get(i).map(|&b| (i + 1, b))
}

/// RFC 9110 `tchar`: what methods and field names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What `uri-host [":" port]` is made of (RFC 3986: reg-name, IP literals, IPv4).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b)
}

/// Client bytes as shown in a message: escaped, and cut after 64.
fn shown(bytes: &[u8]) -> String {
    let cut = bytes.get(..64).unwrap_or(bytes);
    let more = if cut.len() < bytes.len() { "…" } else { "" };
    format!("{}{more}", cut.escape_ascii())
}

/// A connection whose request heads are checked, and their targets encoded, before
/// actix-http reads them.
pub struct CheckedHeads<IO> {
    io: IO,
    scanner: Scanner,
    /// Rewritten bytes not yet handed on, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
    /// When the head on its way must be complete.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    write_closed: bool,
}

impl<IO> CheckedHeads<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            scanner: Scanner::new(),
            pending: Vec::new(),
            pending_at: 0,
            deadline: None,
            write_closed: false,
        }
    }

    /// What the connection's requests read a refusal from.
    pub fn refusal(&self) -> Refusal {
        self.scanner.refusal.clone()
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

impl<IO: AsyncRead + Unpin> CheckedHeads<IO> {
    /// After a refusal: reads and drops what the client still sends, so that closing the
    /// connection with unread bytes does not reset it before the answer arrives. Ready at
    /// the end of the stream.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut scratch = [0u8; 4096];
        for _ in 0..16 {
            let mut dropped = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut dropped) {
                Poll::Ready(Ok(())) if dropped.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl CheckedHeads<TcpStream> {
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.io.peer_addr().ok()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for CheckedHeads<IO> {
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
            if this.scanner.state == State::Refused {
                // The stand-in's answer closes the connection, also at the end of the stream.
                return match this.drain(cx) {
                    Poll::Ready(Ok(())) => Poll::Pending,
                    other => other,
                };
            }
            if this.scanner.awaiting_head() {
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(HEAD_TIMEOUT)));
                if deadline.as_mut().poll(cx).is_ready() {
                    this.deadline = None;
                    this.scanner
                        .refuse_now(HeadError::Timeout, &mut this.pending);
                    continue;
                }
            } else {
                this.deadline = None;
            }
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let fresh = buf.filled().get(before..).unwrap_or_default();
            if fresh.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let Some(at) = this.scanner.feed(fresh, &mut this.pending) else {
                return Poll::Ready(Ok(()));
            };
            buf.set_filled(before + at);
            // A read that was all held head would look like the end of the stream.
            if at > 0 || !this.pending.is_empty() {
                this.drain_pending(buf);
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CheckedHeads<IO> {
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

    /// After a refusal, a lingering close: the client's last bytes are read until it
    /// closes too (actix-http's disconnect timeout bounds the wait), so that the answer
    /// is not lost to a reset.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.scanner.state != State::Refused {
            return Pin::new(&mut this.io).poll_shutdown(cx);
        }
        if !this.write_closed {
            std::task::ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.write_closed = true;
        }
        this.drain(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole stream through one scanner, in reads of `size`, and its refusal.
    fn through(input: &[u8], size: usize) -> (Vec<u8>, Option<HeadError>) {
        let mut s = Scanner::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size.max(1)) {
            let mut rewritten = Vec::new();
            match s.feed(chunk, &mut rewritten) {
                None => out.extend_from_slice(chunk),
                Some(at) => {
                    out.extend_from_slice(&chunk[..at]);
                    out.extend_from_slice(&rewritten);
                }
            }
        }
        let refusal = s.refusal.0.borrow().clone();
        (out, refusal)
    }

    /// The same for every read size: where reads split the stream must not matter.
    fn scanned(input: &[u8]) -> (Vec<u8>, Option<HeadError>) {
        let whole = through(input, input.len());
        for size in [1, 2, 3, 5, 7, 16, 64, 4096] {
            assert_eq!(through(input, size), whole, "reads of {size}");
        }
        whole
    }

    fn rewritten(input: &[u8]) -> String {
        let (out, refusal) = scanned(input);
        assert_eq!(refusal, None, "{}", input.escape_ascii());
        String::from_utf8_lossy(&out).into_owned()
    }

    /// What a stream that ends in a refused head becomes, and why.
    fn refused(input: &str) -> (String, HeadError) {
        let (out, refusal) = scanned(input.as_bytes());
        let refusal = refusal.unwrap_or_else(|| panic!("not refused: {input:?}"));
        (String::from_utf8_lossy(&out).into_owned(), refusal)
    }

    const STAND_IN_TEXT: &str =
        "GET /$refused HTTP/1.1\r\nHost: refused\r\nConnection: close\r\n\r\n";

    #[test]
    fn valid_requests_pass_unchanged() {
        let req = "GET /Contacts?$filter=Surname%20eq%20'Sm%C3%BCth'&$top=2 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\n\nGET http://h:1/Contacts HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rewritten(req.as_bytes()), req);
        let mut s = Scanner::new();
        assert_eq!(s.feed(req.as_bytes(), &mut Vec::new()), None, "in place");
    }

    #[test]
    fn bytes_the_uri_parser_refuses_are_percent_encoded_in_the_target_only() {
        let req = "GET /Contacts?$filter=Surname%20eq%20'Müller'%20and%20x%20eq%20\"<`>\"\x7f HTTP/1.1\r\nHost: x\r\nX-Name: Müller \"q\"\r\n\r\n";
        assert_eq!(
            rewritten(req.as_bytes()),
            "GET /Contacts?$filter=Surname%20eq%20'M%C3%BCller'%20and%20x%20eq%20%22%3C%60%3E%22%7F HTTP/1.1\r\nHost: x\r\nX-Name: Müller \"q\"\r\n\r\n"
        );
    }

    #[test]
    fn bodies_pass_unchanged_and_the_next_request_line_is_rewritten() {
        let body =
            "{\"requests\":[{\"url\":\"Contacts?$filter=Name eq 'ü'\"}]}\r\nGET /ü HTTP/1.1\r\n";
        let req = format!(
            "\r\nPOST /$batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Note: content-length: 99\r\nAccept: */*\ncontent-LENGTH:  {}\r\n\r\n{body}\r\nGET /Contacts('ü') HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n",
            body.len()
        );
        // Empty lines between requests go: actix-http takes one at most.
        let want = req
            .trim_start()
            .replace(&format!("{body}\r\n"), body)
            .replace("/Contacts('ü')", "/Contacts('%C3%BC')")
            .replace("/a\"b", "/a%22b");
        assert_eq!(rewritten(req.as_bytes()), want);
    }

    #[test]
    fn after_a_body_framed_otherwise_the_connection_passes_untouched() {
        for head in [
            "POST /$batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
            "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n",
        ] {
            let req = format!("{head}5\r\n\"ü\"\r\n0\r\n\r\nGET /ü HTTP/1.1\r\n\r\n");
            assert_eq!(rewritten(req.as_bytes()), req, "{head}");
        }
    }

    #[test]
    fn an_over_long_target_is_cut_past_the_414_limit() {
        let long = "a".repeat(60_000);
        let req = format!(
            "GET /Contacts?$filter={long} HTTP/1.1\r\nHost: x\r\n\r\nGET /ü HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let out = rewritten(req.as_bytes());
        let (line, rest) = out.split_once("\r\n").unwrap_or((&out, ""));
        let target = line
            .strip_prefix("GET ")
            .and_then(|l| l.strip_suffix(" HTTP/1.1"))
            .unwrap_or(line);
        assert_eq!(target.len(), KEPT);
        assert_eq!(
            rest,
            "Host: x\r\n\r\nGET /%C3%BC HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        // An escape is never cut in two.
        let wide = "ü".repeat(30_000);
        let out = rewritten(format!("GET /{wide} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let target = out.split(' ').nth(1).unwrap_or_default();
        assert!(target.len() <= KEPT && target.len() > KEPT - 3);
        assert!(
            target.ends_with("%BC") || target.ends_with("%C3"),
            "{:?}",
            target.get(target.len().saturating_sub(6)..)
        );
    }

    #[test]
    fn heads_actix_http_refuses_become_the_stand_in_after_the_requests_before_them() {
        let ok = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let field = |number: usize, name: &str, problem: &str| HeadError::Field {
            number,
            name: name.into(),
            problem: problem.into(),
        };
        let line = |p: &str| HeadError::RequestLine(p.into());
        for (head, want) in [
            ("GARBAGE\r\n\r\n", line("no space after the method")),
            ("GET /x\r\n\r\n", line("no HTTP version after the target")),
            ("GET /x HTTP/2.0\r\n\r\n", line("the version `HTTP/2.0` is not HTTP/1.1 or HTTP/1.0")),
            ("G(T /x HTTP/1.1\r\nHost: x\r\n\r\n", line("the method has byte 0x28 at column 2, which methods may not hold")),
            ("GET /x HTTP/1.1\r\n\r\n", HeadError::Missing { name: "Host", why: "HTTP/1.1 requires it" }),
            ("GET /x HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", field(2, "host", "appears more than once")),
            ("GET /x HTTP/1.1\r\nHost: a b\"c\r\n\r\n", field(1, "Host", "`a b\\\"c` is not a host and port: byte 0x20 at column 2 of the value")),
            ("GET /x HTTP/1.1\r\nHost: x\r\nX-A: b\x01c\r\n\r\n", field(2, "X-A", "its value has byte 0x01 at column 7, which values may not hold")),
            ("GET /x HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", field(2, "X A", "its name has byte 0x20 at column 2, which names may not hold")),
            ("GET /x HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", field(2, "no colon", "has no `:` between a name and a value")),
            ("GET /x HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n\r\n", field(3, "  c", "starts with white space: folding a field over lines is not accepted")),
            ("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", field(2, "Content-Length", "`+5` is not a length in bytes")),
            ("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", field(3, "Content-Length", "appears more than once")),
            ("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", field(2, "Transfer-Encoding", "`gzip, chunked`: only `chunked` is accepted")),
            ("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", field(2, "Transfer-Encoding", "comes with a Content-Length: the body's length is one or the other")),
            ("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", field(1, "Transfer-Encoding", "is not allowed in HTTP/1.0")),
            ("POST /x HTTP/1.0\r\n\r\n", HeadError::Missing { name: "Content-Length", why: "an HTTP/1.0 POST requires it" }),
            ("GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n", field(3, "authorization", "appears more than once")),
            ("GET Contacts(1) HTTP/1.1\r\nHost: x\r\n\r\n", line("the target `Contacts(1)` is neither a path starting with `/` nor an absolute URL")),
            ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", line("the target `*` is neither a path starting with `/` nor an absolute URL")),
        ] {
            let input = format!("{ok}{head}{ok}");
            let (out, why) = refused(&input);
            assert_eq!(out, format!("{ok}{STAND_IN_TEXT}"), "{head:?}");
            assert_eq!(why, want, "{head:?}");
        }
    }

    #[test]
    fn heads_past_the_limits_are_refused_without_waiting_for_their_end() {
        let many: String = (0..=MAX_FIELDS).map(|i| format!("X-{i}: v\r\n")).collect();
        let (out, why) = refused(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n"));
        assert_eq!(
            (out.as_str(), why),
            (STAND_IN_TEXT, HeadError::TooManyFields)
        );

        let big = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: {}",
            "c".repeat(HEAD_MAX)
        );
        let (out, why) = refused(&big);
        assert_eq!((out.as_str(), why), (STAND_IN_TEXT, HeadError::TooLarge));

        let long = format!("GET /{}", "a".repeat(HEAD_MAX));
        let (out, why) = refused(&long);
        assert_eq!(
            (out.as_str(), why),
            (STAND_IN_TEXT, HeadError::RequestLineTooLong)
        );
    }

    #[test]
    fn a_head_split_over_reads_is_held_until_it_is_complete() {
        let mut s = Scanner::new();
        let mut out = Vec::new();
        assert_eq!(s.feed(b"GET /\xc3", &mut out), Some(0));
        assert!(out.is_empty() && s.awaiting_head());
        assert_eq!(s.feed(b"\xbc HTTP/1.1\r\nHost: x\r", &mut out), Some(0));
        assert!(out.is_empty());
        assert_eq!(s.feed(b"\n\r\nGET", &mut out), Some(0));
        assert_eq!(out, b"GET /%C3%BC HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(s.awaiting_head(), "the next head is on its way");
    }

    #[test]
    fn a_client_header_named_like_the_marker_is_just_a_header() {
        let req = "GET / HTTP/1.1\r\nHost: x\r\ncrm-odata-refused: 1\r\n\r\n";
        assert_eq!(rewritten(req.as_bytes()), req);
    }
}
