//! Tokens that stop being valid while their WebSocket is open: the tokens file watched with
//! inotify (its directory, since `ohmpi token` replaces the file by a rename), and each open
//! connection waiting for a change of the file or for its token's expiry, whichever comes first.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{AuthError, Holder, Tokens};

impl Tokens {
    /// Resolves when `token`, held by `holder` when the connection opened, is no longer
    /// accepted: revoked, removed from the file, expired, or given another role. The result is
    /// why, for the close frame (e.g. "token revoked", "token expired on ...").
    ///
    /// A file that cannot be read for a moment (being edited by hand) closes nothing: new
    /// requests are refused until it can be read again.
    pub async fn until_refused(self: Arc<Self>, token: String, holder: Holder) -> String {
        self.watch();
        let mut changes = self.changed.subscribe();
        let mut holder = holder;
        loop {
            let expiry = holder.expires.map(|t| {
                let left = t
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                // The expiry can be far off; Instant cannot hold centuries.
                Instant::now() + left.min(Duration::from_secs(365 * 86_400))
            });
            // The sender lives as long as `self`: `changed` cannot fail.
            tokio::select! {
                _ = changes.changed() => {}
                _ = sleep_until(expiry) => {}
            }
            match self.check(Some(&token)) {
                Ok(now) if now.role == holder.role => holder = now,
                Ok(now) => return format!("the token's role is now {}", now.role),
                Err(AuthError::File(e)) => {
                    tracing::warn!("dashboard tokens: {e}; open connections are kept");
                }
                Err(e) => return e.to_string(),
            }
        }
    }

    /// Starts watching the file, once; a watcher that cannot start is reported, and revoking a
    /// token then ends its open connections only when they close.
    fn watch(self: &Arc<Self>) {
        self.watching.call_once(|| {
            if let Err(e) = inotify::spawn(self) {
                tracing::warn!(
                    "dashboard tokens: cannot watch {}: {e}; a revoked token's open \
                     connections stay open until they close",
                    self.path.display()
                );
            }
        });
    }

    /// The file changed: read it again at the next check, and tell the open connections.
    fn file_changed(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).stamp = None;
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(target_os = "linux")]
mod inotify {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::{Arc, Weak};

    use tokio::io::unix::AsyncFd;

    use super::Tokens;

    /// What changes the file: written and closed, renamed to or from, created, removed, its
    /// mode changed; and the directory itself gone or moved.
    const MASK: u32 = libc::IN_CLOSE_WRITE
        | libc::IN_MOVED_TO
        | libc::IN_MOVED_FROM
        | libc::IN_CREATE
        | libc::IN_DELETE
        | libc::IN_ATTRIB
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF;

    /// Watches the directory of `tokens`' file in a task that ends with `tokens`.
    pub(super) fn spawn(tokens: &Arc<Tokens>) -> io::Result<()> {
        let path = &tokens.path;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("not a file name"))?
            .as_bytes()
            .to_vec();
        // SAFETY: plain system calls; the descriptor is owned from here on.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor of ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let cdir = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: a valid descriptor and a NUL-terminated path.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), cdir.as_ptr(), MASK) } < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display())));
        }
        // SAFETY: an OwnedFd, kept open and the same for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        tokio::spawn(run(fd, name, Arc::downgrade(tokens)));
        Ok(())
    }

    async fn run(fd: AsyncFd<OwnedFd>, name: Vec<u8>, tokens: Weak<Tokens>) {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            let read = guard.try_io(|fd| {
                // SAFETY: reading into a buffer of ours of that length.
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr().cast::<libc::c_void>(),
                        buf.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::warn!("dashboard tokens: the file's watcher stopped: {e}");
                    return;
                }
                Err(_would_block) => continue,
            };
            if !concerns(&buf[..n], &name) {
                continue;
            }
            let Some(tokens) = tokens.upgrade() else {
                return;
            };
            tokens.file_changed();
        }
    }

    /// Whether the events in `buf` concern the file `name` (or the whole directory, or events
    /// were lost).
    fn concerns(mut buf: &[u8], name: &[u8]) -> bool {
        const HEADER: usize = 16;
        let mut any = false;
        while buf.len() >= HEADER {
            let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
            let mask = word(4);
            let len = word(12) as usize;
            let end = (HEADER + len).min(buf.len());
            let event_name = &buf[HEADER..end];
            let event_name = &event_name[..event_name
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(event_name.len())];
            any |= event_name == name
                || mask & (libc::IN_Q_OVERFLOW | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0
                || mask & libc::IN_IGNORED != 0;
            buf = &buf[end..];
        }
        any
    }

    #[cfg(test)]
    mod tests {
        use super::concerns;

        fn event(mask: u32, name: &str) -> Vec<u8> {
            let mut padded = name.as_bytes().to_vec();
            if !padded.is_empty() {
                padded.resize(name.len().div_ceil(16) * 16, 0);
            }
            let mut b = Vec::new();
            b.extend_from_slice(&1i32.to_ne_bytes());
            b.extend_from_slice(&mask.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&(padded.len() as u32).to_ne_bytes());
            b.extend_from_slice(&padded);
            b
        }

        #[test]
        fn events_of_the_tokens_file_only() {
            let mut two = event(libc::IN_CLOSE_WRITE, "daemon.log");
            assert!(!concerns(&two, b"tokens.toml"));
            two.extend(event(libc::IN_MOVED_TO, "tokens.toml"));
            assert!(concerns(&two, b"tokens.toml"));
            assert!(!concerns(
                &event(libc::IN_MOVED_TO, "tokens.toml.new"),
                b"tokens.toml"
            ));
            assert!(concerns(&event(libc::IN_Q_OVERFLOW, ""), b"tokens.toml"));
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod inotify {
    pub(super) fn spawn(_: &std::sync::Arc<super::Tokens>) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "no inotify on this system",
        ))
    }
}
