//! A real Mosquitto broker on a free loopback port, the real daemon binary, and a test client.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// A loopback port nobody listens on, for a broker or a dashboard a test starts. Ports come from
/// a range below the kernel's ephemeral ports (so no client connection of this or another test
/// can take one between this call and the server's bind), a different block for each test process,
/// and are never handed out twice in one process (tests run in parallel threads).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    let block = (std::process::id() % 40) as u16 * 300;
    for _ in 0..300 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % 300;
        let port = FIRST + (block + n) % SPAN;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}..{}", FIRST + SPAN);
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Mosquitto on 127.0.0.1:`port`, killed on drop.
pub struct Broker {
    pub port: u16,
    dir: PathBuf,
    /// Who may connect (mosquitto.conf lines).
    access: String,
    child: Option<Child>,
}

impl Broker {
    /// Anyone may connect.
    pub fn start(dir: &Path) -> Broker {
        Broker::start_with(dir, "allow_anonymous true\n")
    }

    /// `access` says who may connect, e.g. `allow_anonymous false` and a `password_file`.
    pub fn start_with(dir: &Path, access: &str) -> Broker {
        let mut b = Broker {
            port: free_port(),
            dir: dir.to_path_buf(),
            access: access.to_string(),
            child: None,
        };
        b.restart();
        b
    }

    pub fn restart(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\n{}persistence false\nset_tcp_nodelay true\n",
                self.port, self.access
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // SAFETY: our own child's pid.
            unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        self.kill();
    }
}

/// The daemon binary with its own data directory.
pub struct Daemon {
    pub dir: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Writes a configuration (`extra` is appended, under `[mqtt]`) and starts `ohmpi run`,
    /// without the dashboard.
    pub fn start(dir: &Path, port: u16, extra: &str) -> Daemon {
        Daemon::start_with_web(dir, port, extra, "enabled = false\n")
    }

    /// The same with `web` as the `[web]` section.
    pub fn start_with_web(dir: &Path, port: u16, extra: &str, web: &str) -> Daemon {
        Daemon::start_as(dir, port, "t1", extra, web)
    }

    /// The same for instrument `id` (topics `ohmpi/<id>/...`).
    pub fn start_as(dir: &Path, port: u16, id: &str, extra: &str, web: &str) -> Daemon {
        Daemon::start_sim(dir, port, id, "", extra, web)
    }

    /// The same with `sim` added to the `[sim]` section.
    pub fn start_sim(dir: &Path, port: u16, id: &str, sim: &str, extra: &str, web: &str) -> Daemon {
        let config = dir.join("ohmpi.toml");
        std::fs::write(
            &config,
            format!(
                "[instrument]\nid = \"{id}\"\ndata_dir = \"{}\"\n\
                 [hardware]\nsystem = \"mb_2024_1_X__4_mux_2024_batt\"\n\
                 [acquisition]\ninjection_duration = 0.05\nrt_priority = 0\n\
                 [sim]\nnoise = false\n{sim}\n\
                 [mqtt]\nport = {port}\nsoh_interval_s = 1\n{extra}\n[web]\n{web}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let mut d = Daemon {
            dir: dir.to_path_buf(),
            config,
            child: None,
        };
        d.restart();
        d
    }

    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.join("daemon.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
            .args(["run", "--config"])
            .arg(&self.config)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // SAFETY: our own child's pid.
            unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let mut c = self.child.take()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A message seen by the test client.
#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
    /// When the client received it (seconds since the epoch).
    pub at: f64,
}

impl Msg {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.topic, self.payload))
    }
}

/// A test MQTT client subscribed to `filters`.
pub struct Client_ {
    pub client: Client,
    rx: mpsc::Receiver<Msg>,
    pub seen: Vec<Msg>,
}

impl Client_ {
    pub fn connect(port: u16, name: &str, filters: &[&str]) -> Client_ {
        let mut o = MqttOptions::new(name, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_max_packet_size(32 << 20, 32 << 20);
        let (client, mut conn) = Client::new(o, 64);
        let (tx, rx) = mpsc::channel();
        let subscriber = client.clone();
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    // (Re)subscribe on every connection: the broker may have restarted.
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for f in &filters {
                            let _ = subscriber.try_subscribe(f.as_str(), QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let msg = Msg {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            retain: p.retain,
                            at: std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs_f64())
                                .unwrap_or(0.0),
                        };
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        Client_ {
            client,
            rx,
            seen: Vec::new(),
        }
    }

    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .unwrap();
    }

    /// Waits (bounded) for a message matching `f`, keeping everything seen.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, f: impl Fn(&Msg) -> bool) -> Msg {
        if let Some(m) = self.seen.iter().find(|m| f(m)) {
            return m.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            if let Ok(m) = self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                self.seen.push(m.clone());
                if f(&m) {
                    return m;
                }
            }
        }
    }

    /// Everything that arrives within `d`.
    pub fn drain(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(m) = self.rx.recv_timeout(left) {
                self.seen.push(m);
            }
        }
    }

    pub fn on(&self, topic: &str) -> Vec<&Msg> {
        self.seen.iter().filter(|m| m.topic == topic).collect()
    }
}

/// The topics' prefix of the instrument `Daemon::start` starts (`t1`).
pub const T1: &str = "ohmpi/t1";

/// Matches instrument t1's reply to `id` with `status`.
pub fn reply_for<'a>(id: &'a str, status: &'a str) -> impl Fn(&Msg) -> bool + 'a {
    move |m: &Msg| {
        m.topic.starts_with(&format!("{T1}/control/response/"))
            && m.json()["cmd_id"] == id
            && m.json()["status"] == status
    }
}

/// Sends a command to instrument t1.
pub fn command(c: &Client_, body: serde_json::Value) {
    c.publish(&format!("{T1}/control"), body.to_string());
}
