//! What the engine produced, as the pump stored it: status and progress, records into the
//! outbox and onto the broker, contact results, faults, and the end of runs.

use rumqttc::QoS;

use super::status::SurveyProgress;
use super::Daemon;
use crate::acquisition::{Outcome, RunId};
use crate::pump::Output;

impl Daemon {
    pub(super) fn on_output(&mut self, out: Output) {
        match out {
            Output::State(s) => self.set_state(s),
            Output::RunStarted { total, surveys, .. } => {
                self.status.survey = Some(SurveyProgress {
                    id: None,
                    done: 0,
                    total,
                    started: crate::timestamp::rfc3339(std::time::SystemTime::now()),
                    eta_s: None,
                    index: 0,
                    surveys,
                });
                self.status_dirty = true;
            }
            Output::SurveyOpened { survey, .. } => {
                if let Some(p) = &mut self.status.survey {
                    p.id = Some(survey.clone());
                    p.index += 1;
                    p.done = 0;
                }
                if let Some((_, ctx)) = &mut self.run {
                    ctx.survey = Some(survey.clone());
                    ctx.surveys.push(survey);
                }
                self.status_dirty = true;
            }
            Output::Progress {
                done, total, eta_s, ..
            } => {
                if let Some(p) = &mut self.status.survey {
                    p.done = done;
                    p.total = total;
                    p.eta_s = Some(eta_s);
                }
                self.status_dirty = true;
            }
            Output::Record(record, waveform) => self.on_record(*record, waveform),
            Output::Health(h) => {
                self.supply_v = h.supply_v;
                self.battery_v = h.battery_v;
            }
            Output::Contact { contact, .. } => self.on_contact(contact),
            Output::SelfTest { result, .. } => {
                let item = serde_json::json!({
                    "name": result.name,
                    "passed": result.passed,
                    "value": result.value,
                    "unit": result.unit,
                });
                if result.passed {
                    tracing::info!("self-test {}: passed ({item})", result.name);
                } else {
                    tracing::warn!("self-test {}: FAILED ({item})", result.name);
                }
                if let Some((_, ctx)) = &mut self.run {
                    ctx.tests.push(item);
                }
            }
            Output::Fault { quad, error, .. } => {
                let what = match quad {
                    Some(q) => format!("quadrupole {q}: {error}"),
                    None => error.to_string(),
                };
                tracing::error!("hardware fault: {what}");
                self.out.error_event("hardware", &what);
            }
            Output::Busy { refused } => {
                tracing::warn!("run {refused} refused by the engine: busy");
            }
            Output::SurveyClosed { .. } => {}
            Output::RunEnded {
                run,
                outcome,
                records,
            } => self.on_run_ended(run, outcome, records),
        }
    }

    pub(super) fn on_record(
        &mut self,
        record: crate::survey::Record,
        waveform: Option<Box<crate::pump::Waveform>>,
    ) {
        if let Some(battery) = record.battery_v {
            self.battery_v = Some(battery);
        }
        let json = serde_json::to_string(&record).unwrap_or_default();
        let data = self.out.topics.data.clone();
        self.out.to_web(&data, &json);
        self.out.outbox.push(record.seq, json);
        self.out.outbox.flush(&self.out.link);
        if let Some(wf) = waveform {
            let topic = self.out.topics.waveform.clone();
            let json = serde_json::to_string(&wf).unwrap_or_default();
            self.out.publish(&topic, QoS::AtLeastOnce, false, json);
        }
        if self.out.compat.is_some() {
            let body = crate::messaging::compat::record_body(&record, record.battery_v);
            self.out.compat_data(&body);
        }
        if let Some((_, ctx)) = &mut self.run {
            ctx.records += 1;
            ctx.last_record = serde_json::to_value(&record).ok();
        }
    }

    pub(super) fn on_contact(&mut self, contact: crate::acquisition::Contact) {
        let body = serde_json::json!({
            "a": contact.a,
            "b": contact.b,
            "rs_kohm": contact.rs_kohm,
            "vab_v": contact.vab_v,
            "iab_ma": contact.iab_ma,
            "quality": contact.quality,
        });
        let topic = self.out.topics.contact.clone();
        self.out
            .publish(&topic, QoS::AtLeastOnce, false, body.to_string());
        let rs = crate::messaging::compat::rsdata_body(contact.a, contact.b, contact.rs_kohm);
        self.out.compat_data(&rs);
        if let Some((_, ctx)) = &mut self.run {
            ctx.contacts.push(body);
        }
    }

    pub(super) fn on_run_ended(&mut self, run: RunId, outcome: Outcome, records: u32) {
        self.status.survey = None;
        self.status_dirty = true;
        let Some((id, ctx)) = self.run.take() else {
            return;
        };
        if id != run {
            self.run = Some((id, ctx));
            return;
        }
        self.finish_run(ctx, outcome, records);
    }
}
