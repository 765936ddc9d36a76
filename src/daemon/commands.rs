//! The command router: every command is validated as a whole, answered (accepted, done or an
//! error naming the problem), and turned into engine commands. Nothing is looked up by name and
//! called: each command is one match arm.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Daemon, Exit, RunCtx};
use crate::acquisition::{Command as Engine, Outcome, RawSettings, RunKind, Settings};
use crate::messaging::command::{self, Command, Request};
use crate::messaging::compat;
use crate::messaging::reply::{ErrorBody, ErrorCode, Reply};
use crate::survey::generate::generate;
use crate::survey::{Quadrupole, Sequence};

/// Where a reply goes.
pub(super) struct Target {
    pub(super) reply_to: Option<String>,
    pub(super) compat: bool,
}

impl Daemon {
    fn new_cmd_id(&mut self) -> String {
        self.generated_ids += 1;
        format!("ohmpi-{}-{}", std::process::id(), self.generated_ids)
    }

    fn send_reply(&mut self, to: &Target, reply: &Reply) {
        self.out.reply(to.reply_to.as_deref(), to.compat, reply);
    }

    pub(super) fn error(&mut self, to: &Target, req: &Request, body: ErrorBody) {
        let reply = Reply::error(req.cmd_id.clone(), req.cmd_name.clone(), body);
        self.send_reply(to, &reply);
    }

    pub(super) fn done(&mut self, to: &Target, req: &Request, result: Option<Value>) {
        let reply = Reply::done(req.cmd_id.clone(), req.cmd_name.clone(), result);
        self.send_reply(to, &reply);
    }

    /// A command too large to read gets an error reply.
    pub(super) fn oversize_command(&mut self, len: usize, compat: bool) {
        let body = ErrorBody::invalid(
            "payload",
            format!(
                "the command is {len} bytes; at most {} are accepted",
                self.config.mqtt.max_payload_bytes
            ),
        );
        let id = self.new_cmd_id();
        let reply = Reply::error(id, String::new(), body);
        self.send_reply(
            &Target {
                reply_to: None,
                compat,
            },
            &reply,
        );
    }

    /// Handles one message from a control topic.
    pub(super) fn on_command(&mut self, payload: &[u8], compat: bool) {
        self.handle_command(payload, compat);
        if payload.len() >= RELEASE_AFTER_BYTES {
            release_free_memory();
        }
    }

    fn handle_command(&mut self, payload: &[u8], compat: bool) {
        let fallback = self.new_cmd_id();
        let limit = self.config.mqtt.max_payload_bytes;
        let req = match command::parse_with_limit(payload, limit, || fallback.clone()) {
            Ok(req) => req,
            Err(e) => {
                tracing::warn!("command refused: {e}");
                let to = Target {
                    reply_to: e.reply_to.clone(),
                    compat,
                };
                let reply = e.to_reply(|| fallback.clone());
                self.send_reply(&to, &reply);
                return;
            }
        };
        let to = Target {
            reply_to: req.reply_to.clone(),
            compat,
        };
        if self.run.is_some() && !req.command.allowed_while_running() {
            let body = ErrorBody::new(
                ErrorCode::Busy,
                format!(
                    "a run is going on ({}); only interrupt, pause, resume and the read-only \
                     commands are accepted until it ends",
                    self.run.as_ref().map(|r| r.1.cmd.as_str()).unwrap_or("")
                ),
            );
            self.error(&to, &req, body);
            return;
        }
        tracing::info!(cmd = %req.cmd_name, cmd_id = %req.cmd_id, "command");
        self.dispatch(req, to);
    }

    fn settings_from(&self, raw: &RawSettings) -> Result<Settings, ErrorBody> {
        let mut s = self
            .settings
            .apply(raw)
            .map_err(|e| ErrorBody::invalid(e.field.clone(), e.message))?;
        // Published waveforms need the engine's samples.
        s.full_waveform |= self.config.mqtt.waveform;
        Ok(s)
    }

    /// Checks quadrupoles against the system; the error names the entry.
    pub(super) fn check_quads(&self, quads: &[Quadrupole], field: &str) -> Result<(), ErrorBody> {
        Sequence::from_quads(quads.to_vec())
            .check_each(|q| self.inst.preset.check_quad(*q))
            .map_err(|e| ErrorBody::invalid(field, e.to_string()))
    }

    fn sequence_for(
        &self,
        inline: Option<Vec<Quadrupole>>,
    ) -> Result<Arc<[Quadrupole]>, ErrorBody> {
        match inline {
            Some(q) => {
                self.check_quads(&q, "sequence")?;
                Ok(Arc::from(q))
            }
            None => self.sequence.clone().ok_or_else(|| {
                ErrorBody::invalid(
                    "sequence",
                    "no sequence is loaded: give one, or use load_sequence, set_sequence or create_sequence first",
                )
            }),
        }
    }

    fn start_run(&mut self, to: &Target, req: &Request, kind: RunKind, cmd: Engine) {
        let run = match &cmd {
            Engine::Measure { run, .. }
            | Engine::RunSequence { run, .. }
            | Engine::RsCheck { run, .. }
            | Engine::SelfTest { run, .. } => *run,
            _ => 0,
        };
        if let Err(e) = self.pump.register(run, Some(req.cmd_id.clone())) {
            self.error(to, req, ErrorBody::new(ErrorCode::Internal, e.to_string()));
            return;
        }
        if let Err(e) = self.inst.engine.try_send(cmd) {
            self.error(to, req, ErrorBody::new(ErrorCode::Internal, e.to_string()));
            return;
        }
        self.run = Some((
            run,
            RunCtx {
                cmd_id: req.cmd_id.clone(),
                cmd: req.cmd_name.clone(),
                reply_to: req.reply_to.clone(),
                compat: to.compat,
                kind,
                records: 0,
                survey: None,
                surveys: Vec::new(),
                contacts: Vec::new(),
                tests: Vec::new(),
                last_record: None,
                interrupted: false,
            },
        ));
        let reply = Reply::accepted(req.cmd_id.clone(), req.cmd_name.clone());
        self.send_reply(to, &reply);
    }

    fn next_run_id(&mut self) -> u64 {
        self.next_run += 1;
        self.next_run
    }

    fn dispatch(&mut self, req: Request, to: Target) {
        let result: Result<Option<Value>, ErrorBody> = match req.command.clone() {
            Command::RunMeasurement { quad, settings } => {
                match self.settings_from(&settings).and_then(|s| {
                    self.check_quads(&[quad], "quad")?;
                    Ok(s)
                }) {
                    Ok(s) => {
                        let run = self.next_run_id();
                        let cmd = Engine::Measure {
                            run,
                            quad,
                            settings: Some(Box::new(s)),
                        };
                        self.start_run(&to, &req, RunKind::Measure, cmd);
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Command::RunSequence { settings, sequence }
            | Command::RunMultipleSequences { settings, sequence } => {
                let single = matches!(req.command, Command::RunSequence { .. });
                match self
                    .settings_from(&settings)
                    .and_then(|s| Ok((s, self.sequence_for(sequence)?)))
                {
                    Ok((mut s, seq)) => {
                        if single {
                            s.nb_meas = 1;
                        }
                        let run = self.next_run_id();
                        let cmd = Engine::RunSequence {
                            run,
                            sequence: seq,
                            settings: Some(Box::new(s)),
                        };
                        self.start_run(&to, &req, RunKind::Sequence, cmd);
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Command::RsCheck { vab, couple } => {
                let n = self.inst.preset.nelec();
                let pairs: Vec<(u16, u16)> =
                    couple.unwrap_or_else(|| (1..n).map(|e| (e, e + 1)).collect());
                let bad = pairs.iter().find(|(a, b)| {
                    a == b
                        || !self.inst.preset.is_cabled(*a, crate::hardware::Role::A)
                        || !self.inst.preset.is_cabled(*b, crate::hardware::Role::B)
                });
                if let Some((a, b)) = bad {
                    Err(ErrorBody::invalid(
                        "couple",
                        format!("pair {a} {b} cannot be measured on this system"),
                    ))
                } else {
                    let run = self.next_run_id();
                    let cmd = Engine::RsCheck {
                        run,
                        pairs: Arc::from(pairs),
                        vab,
                    };
                    self.start_run(&to, &req, RunKind::RsCheck, cmd);
                    return;
                }
            }
            Command::Interrupt => {
                let running = self.run.is_some();
                if !running {
                    // OhmPi's clients wait for this after every interrupt.
                    self.out.compat_data(&compat::idle_body(Some(&req.cmd_id)));
                }
                if let Some((_, ctx)) = &mut self.run {
                    ctx.interrupted = true;
                }
                let _ = self.inst.engine.try_send(Engine::Interrupt);
                Ok(Some(json!({ "interrupted": running })))
            }
            Command::Pause | Command::Resume => {
                let pause = matches!(req.command, Command::Pause);
                if self.run.is_none() {
                    Ok(Some(
                        json!({ "state": self.status.state, "note": "nothing is running" }),
                    ))
                } else {
                    let _ = self.inst.engine.try_send(if pause {
                        Engine::Pause
                    } else {
                        Engine::Resume
                    });
                    Ok(Some(json!({ "paused": pause })))
                }
            }
            Command::LoadSequence { filename } => self.load_sequence(&filename),
            Command::SetSequence { sequence } => {
                self.check_quads(&sequence, "sequence").map(|()| {
                    let n = sequence.len();
                    self.sequence = Some(Arc::from(sequence));
                    Some(json!({ "quadrupoles": n }))
                })
            }
            Command::CreateSequence {
                nelec,
                specs,
                include_reciprocal,
            } => match generate(nelec, &specs, include_reciprocal) {
                Ok(seq) => self.check_quads(seq.quads(), "params").map(|()| {
                    let n = seq.len();
                    self.sequence = Some(Arc::from(seq.quads().to_vec()));
                    Some(json!({ "quadrupoles": n }))
                }),
                Err(e) => Err(ErrorBody::invalid("params", e.to_string())),
            },
            Command::UpdateSettings { settings, sequence } => {
                match self.settings_from(&settings).and_then(|s| {
                    if let Some(q) = &sequence {
                        self.check_quads(q, "sequence")?;
                    }
                    Ok(s)
                }) {
                    Ok(s) => {
                        self.settings = s.clone();
                        let _ = self
                            .inst
                            .engine
                            .try_send(Engine::UpdateSettings(Box::new(s.clone())));
                        let n = sequence.as_ref().map(Vec::len);
                        if let Some(q) = sequence {
                            self.sequence = Some(Arc::from(q));
                        }
                        Ok(Some(json!({ "settings": s, "sequence_quadrupoles": n })))
                    }
                    Err(e) => Err(e),
                }
            }
            Command::GetSettings => Ok(Some(json!({ "settings": self.settings }))),
            Command::GetStatus => {
                self.refresh_status();
                Ok(serde_json::to_value(&self.status).ok())
            }
            Command::ResetMux => {
                let _ = self.inst.engine.try_send(Engine::ResetMux);
                Ok(None)
            }
            Command::Test { test_names } => {
                use crate::acquisition::selftest::SELF_TESTS;
                let unknown = test_names
                    .iter()
                    .flatten()
                    .find(|n| !SELF_TESTS.contains(&n.as_str()));
                if let Some(name) = unknown {
                    Err(ErrorBody::invalid(
                        "test_names",
                        format!(
                            "unknown test \"{name}\"; the tests are {}",
                            SELF_TESTS.join(", ")
                        ),
                    ))
                } else {
                    let run = self.next_run_id();
                    let cmd = Engine::SelfTest {
                        run,
                        names: test_names.map(Arc::from),
                    };
                    self.start_run(&to, &req, RunKind::SelfTest, cmd);
                    return;
                }
            }
            Command::GetData { .. } | Command::ListSurveys | Command::Export { .. } => {
                self.spawn_read(req, to);
                return;
            }
            Command::SetTime { date } => {
                if !self.config.control.allow_set_time {
                    Err(not_permitted("set_time", "allow_set_time"))
                } else {
                    super::files::set_clock(&date)
                }
            }
            Command::Restart => {
                if !self.config.control.allow_restart {
                    Err(not_permitted("restart", "allow_restart"))
                } else {
                    self.exit = Some(Exit::Restart);
                    Ok(None)
                }
            }
            Command::Shutdown => {
                if !self.config.control.allow_shutdown {
                    Err(not_permitted("shutdown", "allow_shutdown"))
                } else {
                    self.exit = Some(Exit::Stopped);
                    Ok(None)
                }
            }
        };
        match result {
            Ok(v) => self.done(&to, &req, v),
            Err(e) => self.error(&to, &req, e),
        }
    }

    /// Answers the command that started a run, once it has ended.
    pub(super) fn finish_run(&mut self, ctx: RunCtx, outcome: Outcome, records: u32) {
        let to = Target {
            reply_to: ctx.reply_to.clone(),
            compat: ctx.compat,
        };
        let interrupted = outcome == Outcome::Interrupted || ctx.interrupted;
        let reply = match outcome {
            Outcome::Failed => Reply::error(
                ctx.cmd_id.clone(),
                ctx.cmd.clone(),
                ErrorBody::new(
                    ErrorCode::Hardware,
                    format!("the run stopped on hardware faults after {records} records (see events/error)"),
                ),
            ),
            _ => {
                let result = match ctx.kind {
                    RunKind::Measure => json!({ "interrupted": interrupted, "record": ctx.last_record }),
                    RunKind::Sequence => json!({
                        "interrupted": interrupted,
                        "records": records,
                        "surveys": ctx.surveys,
                        "survey": ctx.survey,
                    }),
                    RunKind::RsCheck => json!({ "interrupted": interrupted, "contacts": ctx.contacts }),
                    RunKind::SelfTest => json!({
                        "interrupted": interrupted,
                        "passed": !interrupted
                            && !ctx.tests.is_empty()
                            && ctx.tests.iter().all(|t| t["passed"] == true),
                        "tests": ctx.tests,
                    }),
                };
                Reply::done(ctx.cmd_id.clone(), ctx.cmd.clone(), Some(result))
            }
        };
        self.send_reply(&to, &reply);
        self.out.compat_data(&compat::idle_body(Some(&ctx.cmd_id)));
    }
}

/// Messages at least this large are followed by [`release_free_memory`].
const RELEASE_AFTER_BYTES: usize = 64 * 1024;

/// Gives the memory freed after a large command back to the system. Reading a large message
/// builds a JSON tree some 20 times its size (a 256 KiB sequence: about 5 MiB of small blocks);
/// once freed, glibc's allocator keeps those pages in its arenas (and, after a large block is
/// freed, raises its mmap threshold so that later large blocks come from the arenas too), so the
/// daemon's resident memory would grow by the largest such peak and stay there. `malloc_trim`
/// returns the free pages of every arena (one walk of its free lists; large commands are rare).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn not_permitted(cmd: &str, key: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotPermitted,
        format!(
            "{cmd} is disabled on this instrument (control.{key} = false in its configuration)"
        ),
    )
}
