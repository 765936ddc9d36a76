//! When each entry of the plan runs next, and the accounting of every planned slot.
//!
//! `every` entries follow the monotonic clock; `cron` entries follow the wall clock (at a fixed
//! UTC offset). Whatever the clocks do — a forward jump when NTP syncs, a backward one, a power
//! cut of days, a survey longer than the interval — at most one missed slot is made up, at once,
//! and the others are counted as missed with a reason; a cron slot never runs twice. The caller
//! gives the time to every call; nothing here reads a clock, sleeps or does I/O.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::cron::UtcOffset;
use super::plan::{Plan, Trigger};
use super::state::{EntryState, Missed, Running};

/// A wall clock that moved more than this beyond the monotonic one has jumped.
pub const JUMP_TOLERANCE: Duration = Duration::from_secs(5);
/// Cron slots counted one by one at most; a larger gap (a clock set from 1970) counts this many.
pub const MAX_COUNTED_SLOTS: u64 = 100_000;
/// Missed reports kept for the status.
pub const RECENT_MISSED: usize = 32;

/// The plan and the state of its entries.
#[derive(Debug, Clone)]
pub struct Scheduler {
    pub(crate) plan: Plan,
    pub(crate) offset: UtcOffset,
    pub(crate) entries: Vec<EntryState>,
    pub(crate) running: Option<Running>,
    pub(crate) interrupted: Option<Running>,
    pub(crate) recent_missed: VecDeque<Missed>,
    pub(crate) run_seq: u64,
    pub(crate) last_seen: Option<(Duration, SystemTime)>,
}

/// The entry due next and when, on the monotonic clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub entry: usize,
    pub name: String,
    pub at: Duration,
}

/// A run to start now.
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    pub entry: usize,
    pub name: String,
    /// The run's number, increasing over the instrument's life.
    pub run: u64,
    /// Slots of this entry found missed before this one, if any.
    pub missed: Option<Missed>,
}

fn since_wall(a: SystemTime, b: SystemTime) -> Option<Duration> {
    a.duration_since(b).ok()
}

impl Scheduler {
    /// A scheduler for `plan` with no history; cron entries read the wall clock at `offset`.
    pub fn new(plan: Plan, offset: UtcOffset) -> Self {
        let entries = plan
            .entries
            .iter()
            .map(|e| EntryState {
                name: e.name.clone(),
                ..EntryState::default()
            })
            .collect();
        Self {
            plan,
            offset,
            entries,
            running: None,
            interrupted: None,
            recent_missed: VecDeque::new(),
            run_seq: 0,
            last_seen: None,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn entries(&self) -> &[EntryState] {
        &self.entries
    }

    pub fn running(&self) -> Option<&Running> {
        self.running.as_ref()
    }

    /// The latest missed reports, oldest first.
    pub fn recent_missed(&self) -> impl Iterator<Item = &Missed> {
        self.recent_missed.iter()
    }

    /// Replaces the plan; entries kept with the same name and trigger keep their history.
    pub fn set_plan(&mut self, plan: Plan) {
        let mut old = std::mem::take(&mut self.entries);
        self.entries = plan
            .entries
            .iter()
            .map(|e| {
                let same = self
                    .plan
                    .entry(&e.name)
                    .is_some_and(|o| o.trigger == e.trigger);
                match old.iter().position(|s| s.name == e.name) {
                    Some(i) if same => old.swap_remove(i),
                    _ => EntryState {
                        name: e.name.clone(),
                        ..EntryState::default()
                    },
                }
            })
            .collect();
        self.plan = plan;
    }

    /// Notes the time. A wall clock that moved forward beyond the monotonic one marks the cron
    /// entries, whose slots it jumped over are then missed for that reason. The wall times of
    /// the `every` slots move with the clock (a jump from a stale boot clock must not read as
    /// years without surveys at the next restart).
    pub(crate) fn observe(&mut self, now_mono: Duration, now_wall: SystemTime) {
        if let Some((m, w)) = self.last_seen {
            let expected = w + now_mono.saturating_sub(m);
            let ahead = since_wall(now_wall, expected).filter(|d| *d > JUMP_TOLERANCE);
            let behind = since_wall(expected, now_wall).filter(|d| *d > JUMP_TOLERANCE);
            for (s, e) in self.entries.iter_mut().zip(&self.plan.entries) {
                match (&e.trigger, s.last_slot_wall) {
                    (Trigger::Cron(_), _) => s.since.jump |= ahead.is_some(),
                    (Trigger::Every { .. }, Some(slot)) => {
                        s.last_slot_wall = match (ahead, behind) {
                            (Some(d), _) => slot.checked_add(d),
                            (_, Some(d)) => slot.checked_sub(d),
                            _ => Some(slot),
                        }
                    }
                    _ => {}
                }
            }
        }
        self.last_seen = Some((now_mono, now_wall));
    }

    /// The monotonic time entry `i` is due at (in the past when overdue); `None` for on_message.
    pub(crate) fn due_at(
        &mut self,
        i: usize,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<Duration> {
        let s = &mut self.entries[i];
        match &self.plan.entries[i].trigger {
            Trigger::Every { period, start } => {
                let next = *s.next_mono.get_or_insert_with(|| match start {
                    None => now_mono,
                    Some(start) => match since_wall(now_wall, *start) {
                        None => now_mono + since_wall(*start, now_wall).unwrap_or_default(),
                        Some(past) => {
                            let into = (past.as_nanos() % period.as_nanos()) as u64;
                            let wait = match into {
                                0 => Duration::ZERO,
                                _ => *period - Duration::from_nanos(into),
                            };
                            now_mono + wait
                        }
                    },
                });
                Some(if s.make_up.is_some() { now_mono } else { next })
            }
            Trigger::Cron(cron) => {
                let from = *s.last_slot_wall.get_or_insert(now_wall);
                let slot = cron.next_after(from, self.offset)?;
                Some(match since_wall(slot, now_wall) {
                    Some(ahead) => now_mono + ahead,
                    None => now_mono.saturating_sub(since_wall(now_wall, slot).unwrap_or_default()),
                })
            }
            Trigger::OnMessage { .. } => None,
        }
    }

    /// The timed entry due first (ties in plan order), to block on until `at`.
    pub fn next_due(&mut self, now_mono: Duration, now_wall: SystemTime) -> Option<Due> {
        self.observe(now_mono, now_wall);
        let mut best: Option<(usize, Duration)> = None;
        for i in 0..self.entries.len() {
            if let Some(at) = self.due_at(i, now_mono, now_wall) {
                if best.is_none_or(|(_, b)| at < b) {
                    best = Some((i, at));
                }
            }
        }
        best.map(|(entry, at)| Due {
            entry,
            name: self.plan.entries[entry].name.clone(),
            at,
        })
    }

    /// The run to start now, if one is due and none is running: its missed slots are counted
    /// (made up by this one run, never by a burst) and it becomes the running survey.
    pub fn take_due(&mut self, now_mono: Duration, now_wall: SystemTime) -> Option<Fire> {
        if self.running.is_some() {
            return None;
        }
        let due = self
            .next_due(now_mono, now_wall)
            .filter(|d| d.at <= now_mono)?;
        let i = due.entry;
        let s = &mut self.entries[i];
        let mut missed = std::mem::take(&mut s.pending_missed);
        match &self.plan.entries[i].trigger {
            Trigger::Every { period, .. } => {
                if let Some(ago) = s.make_up.take() {
                    // Made up at once after a power cut; the next slot keeps the phase.
                    s.last_slot_wall = now_wall.checked_sub(ago);
                } else {
                    let next = s.next_mono.unwrap_or(now_mono);
                    let n = ((now_mono - next).as_nanos() / period.as_nanos()) as u64 + 1;
                    missed += n - 1;
                    let behind = (now_mono - next).as_nanos() % period.as_nanos();
                    let fired = now_mono - Duration::from_nanos(behind as u64);
                    s.next_mono = Some(fired + *period);
                    s.last_slot_wall = now_wall.checked_sub(now_mono - fired);
                }
            }
            Trigger::Cron(cron) => {
                let mut slot = s.last_slot_wall.unwrap_or(now_wall);
                let mut n = 0;
                while let Some(next) = cron
                    .next_after(slot, self.offset)
                    .filter(|t| *t <= now_wall)
                {
                    slot = next;
                    n += 1;
                    if n == MAX_COUNTED_SLOTS {
                        slot = now_wall;
                        break;
                    }
                }
                missed += n.saturating_sub(1);
                s.last_slot_wall = Some(slot);
            }
            Trigger::OnMessage { .. } => return None,
        }
        let report = self.count_missed(i, missed, now_wall, None);
        Some(self.start(i, report, now_mono, now_wall))
    }
}
