//! How runs start and end: a survey cut by a power loss, a message that triggers one, the end
//! of one, and the counting of missed slots with their reason.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::plan::{topic_matches, Resume, Trigger};
use super::scheduler::{Fire, Scheduler, RECENT_MISSED};
use super::state::{MissReason, Missed, Outcome, Running};

/// A survey cut by a power loss, found at restart.
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupted {
    pub entry: usize,
    pub run: Running,
    /// What the entry says to do with it.
    pub resume: Resume,
}

impl Scheduler {
    /// The survey that was running when the instrument stopped, once, after [`Scheduler::load`];
    /// to call before [`Scheduler::take_due`]. With `resume = "continue"` or `"restart"` it is
    /// the running survey again (same run number), to [`Scheduler::finish`] as usual; with
    /// `"skip"` it counts as a run that failed (`interrupted`).
    pub fn take_interrupted(
        &mut self,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<Interrupted> {
        let mut run = self.interrupted.take()?;
        let entry = self.plan.entries.iter().position(|e| e.name == run.entry)?;
        let resume = self.plan.entries[entry].resume;
        self.observe(now_mono, now_wall);
        run.started_mono = now_mono;
        if resume == Resume::Skip {
            let s = &mut self.entries[entry];
            s.runs += 1;
            s.last_outcome = Some(Outcome::Failed("interrupted".into()));
        } else if self.running.is_none() {
            self.running = Some(run.clone());
        }
        Some(Interrupted { entry, run, resume })
    }

    /// A message from the broker: the first on_message entry whose topic and condition match,
    /// and whose spacing has passed, becomes the running survey.
    pub fn offer(
        &mut self,
        topic: &str,
        message: &Value,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<Fire> {
        self.observe(now_mono, now_wall);
        for i in 0..self.entries.len() {
            let Trigger::OnMessage {
                topic: filter,
                condition,
                min_spacing,
            } = &self.plan.entries[i].trigger
            else {
                continue;
            };
            if !topic_matches(filter, topic) || !condition.matches(message) {
                continue;
            }
            if self.entries[i]
                .next_mono
                .is_some_and(|until| now_mono < until)
            {
                continue;
            }
            self.entries[i].next_mono = Some(now_mono + *min_spacing);
            if self.running.is_some() {
                self.count_missed(i, 1, now_wall, Some(MissReason::MessageWhileBusy));
                continue;
            }
            self.entries[i].last_slot_wall = Some(now_wall);
            return Some(self.start(i, None, now_mono, now_wall));
        }
        None
    }

    /// The running survey ended. A skipped one counts as missed, with the caller's reason.
    pub fn finish(
        &mut self,
        outcome: Outcome,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<Missed> {
        self.observe(now_mono, now_wall);
        let running = self.running.take()?;
        let i = self
            .plan
            .entries
            .iter()
            .position(|e| e.name == running.entry)?;
        let report = match &outcome {
            Outcome::Skipped(reason) => {
                let reason = MissReason::Skipped(reason.clone());
                self.count_missed(i, 1, now_wall, Some(reason))
            }
            _ => {
                let s = &mut self.entries[i];
                s.runs += 1;
                s.last_run_wall = Some(running.started);
                s.last_run_mono = Some(running.started_mono);
                None
            }
        };
        self.entries[i].last_outcome = Some(outcome);
        // Slots that passed during the survey are missed because it was busy.
        for j in 0..self.entries.len() {
            if self
                .due_at(j, now_mono, now_wall)
                .is_some_and(|at| at <= now_mono)
            {
                self.entries[j].since.busy = true;
            }
        }
        report
    }

    pub(crate) fn start(
        &mut self,
        i: usize,
        missed: Option<Missed>,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Fire {
        self.run_seq += 1;
        let name = self.plan.entries[i].name.clone();
        self.running = Some(Running {
            entry: name.clone(),
            run: self.run_seq,
            started: now_wall,
            started_mono: now_mono,
        });
        Fire {
            entry: i,
            name,
            run: self.run_seq,
            missed,
        }
    }

    /// Adds `count` missed slots to entry `i` with the reason given, or else the one its history
    /// gives, and resets that history.
    pub(crate) fn count_missed(
        &mut self,
        i: usize,
        count: u64,
        now_wall: SystemTime,
        reason: Option<MissReason>,
    ) -> Option<Missed> {
        let s = &mut self.entries[i];
        let history = std::mem::take(&mut s.since).reason();
        let reason = reason.unwrap_or(history);
        if count == 0 {
            return None;
        }
        s.missed += count;
        let m = Missed {
            entry: s.name.clone(),
            count,
            reason,
            time: now_wall,
        };
        if self.recent_missed.len() == RECENT_MISSED {
            self.recent_missed.pop_front();
        }
        self.recent_missed.push_back(m.clone());
        Some(m)
    }
}
