//! Test support for the rate-limiter tests: a private `redis-server` per test.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on a spare port, killed on drop; `stop`/`start` simulate an outage.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// TLS only (`--port 0 --tls-port`): the directory with its CA and certificate.
    tls: Option<tempfile::TempDir>,
    /// Where this server's own Unix socket is: it answers there only once it holds its
    /// TCP port, which tells it apart from another test's server on the same port.
    own: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server, or returns `None` (test skipped) when `redis-server` is not
    /// installed. On CI (`CI` set) a missing binary fails the test instead.
    pub fn spawn() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server not found, and CI is set: install redis-server"
            );
            eprintln!("redis-server not found: skipping");
            return None;
        }
        let mut s = Self {
            port: free_port(),
            child: None,
            tls: None,
            own: tempfile::tempdir().expect("tempdir"),
        };
        s.start();
        Some(s)
    }

    /// A server that speaks only TLS, with a certificate for 127.0.0.1 signed by a CA
    /// made for the test (`ca_file`); `None` as for `spawn`, or without `openssl`.
    pub fn spawn_tls() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
        std::fs::write(p("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write");
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=crm-odata test CA",
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.crt"),
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p("server.key"),
                "-out",
                &p("server.csr"),
            ],
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &p("server.csr"),
                "-CA",
                &p("ca.crt"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-extfile",
                &p("san.ext"),
                "-out",
                &p("server.crt"),
            ],
        ];
        for args in steps {
            match Command::new("openssl")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
            {
                Ok(s) if s.success() => {}
                other => {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "openssl failed: {other:?}"
                    );
                    eprintln!("openssl unavailable: skipping");
                    return None;
                }
            }
        }
        let mut s = Self::spawn()?;
        s.stop();
        s.tls = Some(dir);
        s.start();
        Some(s)
    }

    /// The CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> Option<std::path::PathBuf> {
        self.tls.as_ref().map(|d| d.path().join("ca.crt"))
    }

    /// A port nothing listens on (for "Redis down at start").
    pub fn unstarted() -> Option<Self> {
        let s = Self::spawn()?;
        let port = s.port;
        drop(s);
        Some(Self {
            port,
            child: None,
            tls: None,
            own: tempfile::tempdir().expect("tempdir"),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Starts the server on its port. Another test may have been handed the same spare
    /// port and started its server there first: then this one exits, and starts again
    /// on another port (before its first start only: a restart keeps its port).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let first = !self.started_once();
        for _ in 0..20 {
            if self.start_once() {
                return;
            }
            assert!(first, "redis-server could not take its port back");
            self.port = free_port();
        }
        panic!("redis-server did not start");
    }

    fn socket(&self) -> std::path::PathBuf {
        self.own.path().join("redis.sock")
    }

    fn started_once(&self) -> bool {
        self.own.path().join("started").exists()
    }

    /// One start on `self.port`: whether this server now holds it.
    fn start_once(&mut self) -> bool {
        let mut cmd = Command::new("redis-server");
        match &self.tls {
            None => cmd.args(["--port", &self.port.to_string()]),
            Some(dir) => {
                let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
                cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .args([
                        "--tls-cert-file",
                        &p("server.crt"),
                        "--tls-key-file",
                        &p("server.key"),
                    ])
                    .args([
                        "--tls-ca-cert-file",
                        &p("ca.crt"),
                        "--tls-auth-clients",
                        "no",
                    ])
            }
        };
        let socket = self.socket();
        let mut child = cmd
            .args(["--bind", "127.0.0.1"])
            .args(["--unixsocket", &socket.to_string_lossy()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        // Redis opens its Unix socket after its TCP port, and exits when it cannot
        // take the port.
        while UnixStream::connect(&socket).is_err() {
            if child.try_wait().expect("redis-server status").is_some() {
                return false;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::write(self.own.path().join("started"), b"");
        self.child = Some(child);
        true
    }

    /// Kills the server (SIGKILL: no goodbye on the connections, like a crash).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl RedisServer {
    /// Freezes the server (SIGSTOP): it accepts connections but answers nothing.
    pub fn pause(&mut self) {
        self.signal("-STOP");
    }

    pub fn resume(&mut self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A key prefix no other test run uses, so tests can share one Redis.
pub fn unique_prefix(test: &str) -> String {
    format!(
        "crm-odata-test:{}:{}:{test}:",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A plain connection for inspecting what the limiter wrote.
pub async fn inspect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect for inspection")
}
