//! Survey progress on the terminal: a bar with the ETA on a terminal, one plain line per
//! quadrupole otherwise (logs, pipes). Written to stderr so stdout stays for results.

use std::io::{IsTerminal, Write};

use ohmpi::survey::Record;

pub struct Progress {
    tty: bool,
    total: u32,
    last: Option<String>,
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl Progress {
    pub fn new(total: u32) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            total,
            last: None,
        }
    }

    /// Remembers the latest record for the next progress line.
    pub fn record(&mut self, r: &Record) {
        let rhoa = r
            .rhoa_ohmm
            .map(|v| format!("{v:.2} Ohm.m"))
            .unwrap_or_else(|| "n/a".into());
        let flags = r.quality.to_field();
        self.last = Some(format!(
            "{} {} {} {}  rho_a {rhoa}{}{}",
            r.a,
            r.b,
            r.m,
            r.n,
            if flags.is_empty() { "" } else { "  " },
            flags
        ));
    }

    pub fn update(&mut self, done: u32, eta_s: f64) {
        let total = self.total.max(1);
        let last = self.last.as_deref().unwrap_or("");
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = (done as usize * width / total as usize).min(width);
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {done}/{total} {:>3}% ETA {}  {last}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                done * 100 / total,
                clock(eta_s)
            );
        } else {
            let _ = writeln!(err, "{done}/{total} ETA {}  {last}", clock(eta_s));
        }
        let _ = err.flush();
    }

    pub fn finish(&mut self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
