//! The plan and the scheduler's state in one JSON file in the data directory, written atomically
//! (temporary file, fsync, rename, fsync of the folder) so that a power cut leaves the old file or
//! the new one, never a torn one.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cron::UtcOffset;
use super::error::ScheduleError;
use super::plan::{Plan, Trigger};
use super::scheduler::Scheduler;
use super::state::{EntryState, Missed, Running};

const VERSION: u32 = 1;

/// The state file's content.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    plan: Value,
    run_seq: u64,
    entries: Vec<EntryState>,
    running: Option<Running>,
    #[serde(default)]
    recent_missed: Vec<Missed>,
}

impl Scheduler {
    /// The plan and the state as the state file holds them.
    pub fn to_json(&self) -> Value {
        let file = StateFile {
            version: VERSION,
            plan: self.plan.to_json(),
            run_seq: self.run_seq,
            entries: self.entries.clone(),
            running: self.running.clone(),
            recent_missed: self.recent_missed.iter().cloned().collect(),
        };
        serde_json::to_value(file).expect("the state serialises to JSON")
    }

    /// Writes the state file atomically.
    pub fn save(&self, path: &Path) -> Result<(), ScheduleError> {
        let io = |cause| ScheduleError::Io {
            path: path.to_owned(),
            cause,
        };
        let text = serde_json::to_string_pretty(&self.to_json()).expect("a JSON value prints");
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let written = fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        if let Err(cause) = written {
            let _ = fs::remove_file(&tmp); // a full disk leaves no half file behind
            return Err(io(cause));
        }
        fs::rename(&tmp, path).map_err(io)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
    }

    /// Reads the state file and resumes from it (`restore`); `None` when there is
    /// no file (the configuration's plan applies).
    pub fn load(
        path: &Path,
        offset: UtcOffset,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Result<Option<Scheduler>, ScheduleError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => {
                return Err(ScheduleError::Io {
                    path: path.to_owned(),
                    cause,
                })
            }
        };
        let corrupt = |message: String| ScheduleError::Corrupt {
            path: path.to_owned(),
            message,
        };
        let file: StateFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.version != VERSION {
            return Err(corrupt(format!(
                "version {} (this program reads {VERSION})",
                file.version
            )));
        }
        let plan = Plan::from_json(&file.plan).map_err(|e| corrupt(e.to_string()))?;
        let mut s = Scheduler::new(plan, offset);
        s.run_seq = file.run_seq;
        s.recent_missed = file.recent_missed.into_iter().collect();
        s.interrupted = file.running;
        for saved in file.entries {
            if let Some(i) = s.entries.iter().position(|e| e.name == saved.name) {
                s.entries[i] = saved;
            }
        }
        s.restore(now_mono, now_wall);
        Ok(Some(s))
    }

    /// After a restart: the monotonic times are rebuilt from the wall clock, the slots that
    /// passed while the instrument was off are counted (reason `down`) and one is made up at once.
    /// A wall clock behind the last slot (a Pi without RTC before NTP) gives one run at once
    /// and no count, since the length of the cut is unknown.
    fn restore(&mut self, now_mono: Duration, now_wall: SystemTime) {
        for (s, e) in self.entries.iter_mut().zip(&self.plan.entries) {
            s.since.down = true;
            match &e.trigger {
                Trigger::Every { period, .. } => {
                    let Some(last) = s.last_slot_wall else {
                        continue;
                    };
                    match now_wall.duration_since(last) {
                        Ok(elapsed) if elapsed >= *period => {
                            let n = (elapsed.as_nanos() / period.as_nanos()) as u64;
                            let ago = Duration::from_nanos(
                                (elapsed.as_nanos() % period.as_nanos()) as u64,
                            );
                            s.pending_missed = n - 1;
                            s.make_up = Some(ago);
                            s.next_mono = Some(now_mono + (*period - ago));
                        }
                        Ok(elapsed) => s.next_mono = Some(now_mono + (*period - elapsed)),
                        Err(_) => {
                            s.make_up = Some(Duration::ZERO);
                            s.next_mono = Some(now_mono + *period);
                        }
                    }
                }
                Trigger::OnMessage { min_spacing, .. } => {
                    let Some(last) = s.last_run_wall else {
                        continue;
                    };
                    let wait = match now_wall.duration_since(last) {
                        Ok(elapsed) => min_spacing.saturating_sub(elapsed),
                        Err(_) => *min_spacing,
                    };
                    s.next_mono = Some(now_mono + wait);
                }
                Trigger::Cron(_) => {}
            }
        }
    }
}
