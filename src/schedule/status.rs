//! The plan's summary for `status.schedule`: per entry its trigger, runs, missed slots, last run
//! and outcome and next run; the next run of all; the running survey; the latest missed reports.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::duration::format_duration;
use super::plan::Trigger;
use super::scheduler::Scheduler;
use crate::timestamp::rfc3339;

impl Scheduler {
    /// The summary at `now`; the next runs are given on the wall clock.
    pub fn status(&mut self, now_mono: Duration, now_wall: SystemTime) -> Value {
        let to_wall = |at: Duration| now_wall + at.saturating_sub(now_mono);
        let next = self.next_due(now_mono, now_wall);
        let mut entries = Vec::with_capacity(self.entries.len());
        for i in 0..self.entries.len() {
            let next_run = self
                .due_at(i, now_mono, now_wall)
                .map(|at| rfc3339(to_wall(at)));
            let (e, s) = (&self.plan.entries[i], &self.entries[i]);
            let trigger = match &e.trigger {
                Trigger::Every { period, .. } => format!("every {}", format_duration(*period)),
                Trigger::Cron(c) => format!("cron {}", c.as_str()),
                Trigger::OnMessage { topic, .. } => format!("on_message {topic}"),
            };
            entries.push(json!({
                "name": e.name,
                "trigger": trigger,
                "sequence": e.sequence,
                "runs": s.runs,
                "missed": s.missed,
                "last_run": s.last_run_wall.map(rfc3339),
                "last_outcome": s.last_outcome,
                "next_run": next_run,
            }));
        }
        json!({
            "entries": entries,
            "next": next.map(|d| json!({"name": d.name, "at": rfc3339(to_wall(d.at))})),
            "running": self.running,
            "missed": self.recent_missed.iter().collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::scheduler_tests::{plan, Clocks, HOUR};
    use super::super::*;
    use serde_json::json;

    #[test]
    fn summary_names_the_next_run_and_the_last_outcome() {
        let p = plan(json!([
            {"name": "daily", "cron": "0 6 * * *", "sequence": "a.txt"},
            {"name": "often", "every": "2h", "sequence": "b.txt"},
            {"name": "rain", "on_message": {"topic": "r", "field": "mm", "above": 1, "min_spacing": "1h"}, "sequence": "c.txt"},
        ]));
        let mut s = Scheduler::new(p, UtcOffset::UTC);
        let mut c = Clocks::new();
        s.take_due(c.mono, c.wall).unwrap();
        c.advance(HOUR);
        s.finish(Outcome::Failed("no current".into()), c.mono, c.wall);
        let v = s.status(c.mono, c.wall);
        assert_eq!(
            v["next"],
            json!({"name": "often", "at": "2026-03-01T02:00:00.000Z"})
        );
        assert_eq!(
            v["entries"][0]["next_run"],
            json!("2026-03-01T06:00:00.000Z")
        );
        assert_eq!(v["entries"][0]["trigger"], json!("cron 0 6 * * *"));
        assert_eq!(
            v["entries"][1]["last_outcome"],
            json!({"failed": "no current"})
        );
        assert_eq!(
            v["entries"][1]["last_run"],
            json!("2026-03-01T00:00:00.000Z")
        );
        assert_eq!(v["entries"][2]["next_run"], json!(null));
        assert_eq!(v["running"], json!(null));
    }
}
