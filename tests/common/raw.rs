//! Requests written byte for byte on a plain socket, for what HTTP client libraries will
//! not send (raw UTF-8 and `"` in a target, HTTP/1.0 without `Host`, pipelining).

use serde_json::Value;
use std::io::{Read, Write};

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `requests` on one connection (the last one should close it) while reading
/// the answers, until the server closes.
pub async fn exchange(base: &str, requests: Vec<u8>) -> Vec<Answer> {
    let addr = base.trim_start_matches("http://").to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
        conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        // Written from another thread: answers may fill the socket before all is sent.
        let mut writer = conn.try_clone().expect("clone");
        let sent = std::thread::spawn(move || writer.write_all(&requests));
        let mut got = Vec::new();
        conn.read_to_end(&mut got).expect("read");
        sent.join().expect("writer").expect("write");
        parse_answers(&got)
    })
    .await
    .expect("join")
}

fn parse_answers(mut raw: &[u8]) -> Vec<Answer> {
    let mut answers = Vec::new();
    while !raw.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = resp.parse(raw).expect("a response head") else {
            panic!("partial head: {}", String::from_utf8_lossy(raw));
        };
        let status = resp.code.expect("status");
        let headers: Vec<(String, String)> = resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        raw = &raw[head..];
        let mut body = Vec::new();
        if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("size");
                let size = usize::from_str_radix(
                    std::str::from_utf8(&raw[..line_end]).expect("hex").trim(),
                    16,
                )
                .expect("chunk size");
                raw = &raw[line_end + 2..];
                body.extend_from_slice(&raw[..size]);
                raw = &raw[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else {
            let len: usize = find("content-length").map_or(0, |v| v.parse().expect("length"));
            body.extend_from_slice(&raw[..len]);
            raw = &raw[len..];
        }
        answers.push(Answer {
            status,
            headers,
            body,
        });
    }
    answers
}

/// A GET of `target`; `last` asks the server to close the connection after it.
pub fn get(target: &str, token: &str, last: bool) -> Vec<u8> {
    get_bytes(target.as_bytes(), token, last)
}

/// [`get`] of a target that may hold any bytes (but a space, CR or LF, which end it).
pub fn get_bytes(target: &[u8], token: &str, last: bool) -> Vec<u8> {
    let close = if last { "Connection: close\r\n" } else { "" };
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: odata.test\r\nAuthorization: Bearer {token}\r\n{close}\r\n")
            .as_bytes(),
    );
    request
}
