//! `ohmpi run`: the instrument daemon. It wires the engine, the pump (disk first), the outbox,
//! the MQTT link, the state of health and the command router, and shuts them down in order:
//! hardware safe, records stored and handed to the broker as far as it takes them, offline
//! status published, then a clean disconnection (no last will).

mod commands;
mod files;
mod outbox;
mod outputs;
mod publish;
mod publisher;
mod reads;
mod status;
mod web;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::QoS;
use tokio::sync::mpsc;

use crate::acquisition::{Command, Outcome, RunId, RunKind, Settings};
use crate::config::Config;
use crate::instrument::{Core, Instrument, SetupError};
use crate::messaging::compat::CompatTopics;
use crate::messaging::link::{self, Link, LinkEvent};
use crate::messaging::topics::Topics;
use crate::pump::thread::{self as pump_thread, PumpHandle, PumpThread, Pumped};
use crate::survey::Quadrupole;
use crate::telemetry::LogEvent;
use outbox::Outbox;
use publisher::Publisher;
use status::Status;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("MQTT: {0}")]
    Link(#[from] link::LinkError),
    #[error("cannot start the pump thread: {0}")]
    Thread(std::io::Error),
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM / SIGINT, or the `shutdown` command.
    Stopped,
    /// The `restart` command: the service manager starts it again.
    Restart,
    /// Storage failed: nothing more can be measured safely.
    StorageFailed,
}

/// Status is republished at most this often during a survey.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The run under way, and who asked for it.
struct RunCtx {
    cmd_id: String,
    cmd: String,
    reply_to: Option<String>,
    compat: bool,
    kind: RunKind,
    records: u32,
    survey: Option<String>,
    surveys: Vec<String>,
    contacts: Vec<serde_json::Value>,
    /// Self-test results, `{name, passed, value, unit}`.
    tests: Vec<serde_json::Value>,
    last_record: Option<serde_json::Value>,
    interrupted: bool,
}

pub struct Daemon {
    config: Config,
    inst: Core,
    pump: PumpHandle,
    /// Everything that leaves the instrument.
    out: Publisher,
    status: Status,
    status_dirty: bool,
    last_status: Instant,
    settings: Settings,
    sequence: Option<Arc<[Quadrupole]>>,
    run: Option<(RunId, RunCtx)>,
    next_run: RunId,
    exit: Option<Exit>,
    autostart: Option<String>,
    /// `cmd_id`s generated for commands that came without one.
    generated_ids: u64,
    /// Log events the telemetry layer could not queue.
    logs_queue_dropped: Arc<std::sync::atomic::AtomicU64>,
    /// Supply and battery voltage last reported by the boards.
    supply_v: Option<f64>,
    battery_v: Option<f64>,
    /// Commands from the dashboard.
    web_commands: Option<mpsc::Receiver<crate::web::Inbound>>,
    /// What the start-up reconciliation of the data directory set right, published as error
    /// events once the broker first answers.
    findings: Vec<String>,
    /// Reads of stored surveys under way on the blocking pool.
    reads: reads::Reads,
}

/// Runs the daemon until `shutdown` resolves or a command stops it.
/// `autostart` is a command handled once the broker first answers (the demo's monitoring).
pub async fn run(
    config: Config,
    logs: (mpsc::Receiver<LogEvent>, Arc<std::sync::atomic::AtomicU64>),
    autostart: Option<String>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Exit, DaemonError> {
    let (logs, logs_dropped) = logs;
    let (mut daemon, outputs, link_task, pump_thread) = Daemon::start(config)?;
    daemon.autostart = autostart;
    daemon.logs_queue_dropped = logs_dropped;
    daemon.start_web().await;
    daemon
        .serve(outputs, link_task, pump_thread, logs, shutdown)
        .await
}

impl Daemon {
    #[allow(clippy::type_complexity)]
    fn start(
        config: Config,
    ) -> Result<(Daemon, mpsc::Receiver<Pumped>, link::LinkTask, PumpThread), DaemonError> {
        let inst = Instrument::open(config.clone())?;
        for finding in inst.pump.reconciled().findings() {
            tracing::warn!("data directory: {finding}");
        }
        let topics = Topics::new(&config.mqtt.prefix);
        let compat = config
            .mqtt
            .ohmpi_compat
            .then(|| CompatTopics::new(&config.instrument.id));
        let status = Status::new(
            inst.preset.name.clone(),
            config.hardware.simulate,
            crate::messaging::command::COMMAND_NAMES.to_vec(),
        );
        let will = (topics.status.clone(), status.offline_json());
        let (link, link_task) = Link::start(
            link::options(&config.mqtt, Some(will))?,
            topics.data.clone(),
            config.mqtt.max_payload_bytes,
        );
        link.report_errors_to(topics.events_error.clone());
        // The pump takes the consumer side of the engine, on its own thread.
        let (tx, outputs) = mpsc::channel(1024);
        let (inst, events, mut pump) = inst.into_parts();
        pump.keep_waveforms(config.mqtt.waveform);
        let findings = pump.reconciled().findings();
        let (pump_thread, pump_handle) = pump_thread::spawn(
            events,
            Arc::clone(inst.engine.counters()),
            pump,
            tx,
            storage_stall(&config),
        )
        .map_err(DaemonError::Thread)?;
        let outbox = Outbox::new(pump_handle.clone(), topics.data.clone());
        let out = Publisher::new(
            link,
            topics,
            compat,
            outbox,
            config.instrument.id.clone(),
            config.mqtt.log_rate_per_s,
        );
        let mut settings = config.acquisition.settings.clone();
        settings.full_waveform |= config.mqtt.waveform;
        let sequence = default_sequence(&config, &inst.preset)?;
        Ok((
            Daemon {
                config,
                inst,
                pump: pump_handle,
                out,
                status,
                status_dirty: true,
                last_status: Instant::now(),
                settings,
                sequence: Some(sequence),
                run: None,
                next_run: 1,
                exit: None,
                autostart: None,
                generated_ids: 0,
                supply_v: None,
                battery_v: None,
                logs_queue_dropped: Default::default(),
                web_commands: None,
                findings,
                reads: reads::Reads::new(),
            },
            outputs,
            link_task,
            pump_thread,
        ))
    }

    async fn serve(
        mut self,
        mut outputs: mpsc::Receiver<Pumped>,
        mut link_task: link::LinkTask,
        pump_thread: PumpThread,
        mut logs: mpsc::Receiver<LogEvent>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Exit, DaemonError> {
        tokio::pin!(shutdown);
        let soh_every = Duration::from_secs_f64(self.config.mqtt.soh_interval_s);
        let mut soh_tick = tokio::time::interval(soh_every);
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tracing::info!(
            broker = %format!("{}:{}", self.config.mqtt.host, self.config.mqtt.port),
            prefix = %self.out.topics.prefix,
            "daemon started"
        );
        let mut web_commands = self.web_commands.take();
        // Hardware open, first broker connection under way: the service is up.
        let mut service = crate::service::Notifier::from_env();
        service.ready(&format!("measuring with {}", self.inst.preset.name));
        while self.exit.is_none() {
            tokio::select! {
                Some(cmd) = web::next_web_command(&mut web_commands) => self.on_command(&cmd.payload, false),
                Some(p) = outputs.recv() => self.on_pumped(p),
                Some(done) = self.reads.rx.recv() => self.on_read_done(done),
                Some(ev) = link_task.events.recv() => self.on_link(ev),
                Some(log) = logs.recv() => self.out.log(log),
                _ = soh_tick.tick() => self.publish_soh(),
                _ = tick.tick() => {
                    self.housekeeping();
                    service.tick(self.inst.engine.counters().heartbeat.load(std::sync::atomic::Ordering::Relaxed));
                }
                _ = &mut shutdown => self.exit = Some(Exit::Stopped),
            }
        }
        service.stopping();
        let exit = self.exit.unwrap_or(Exit::Stopped);
        self.shut_down(outputs, link_task, pump_thread).await;
        Ok(exit)
    }

    /// Every 200 ms: acknowledgements, replies and records to the broker, status if it changed,
    /// watermark on disk.
    fn housekeeping(&mut self) {
        self.out.flush();
        self.refresh_status();
        if self.status_dirty && self.last_status.elapsed() >= STATUS_EVERY {
            self.publish_status();
        }
        if !self.inst.engine.is_running() && self.exit.is_none() {
            tracing::error!("the acquisition engine stopped; the daemon stops too");
            self.exit = Some(Exit::StorageFailed);
        }
    }

    fn on_link(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Connected => {
                tracing::info!("connected to the broker");
                self.out.on_connected();
                self.publish_status();
                self.publish_soh();
                self.out.flush();
                for finding in std::mem::take(&mut self.findings) {
                    self.out.error_event("storage", &finding);
                }
                if let Some(cmd) = self.autostart.take() {
                    self.on_command(cmd.as_bytes(), false);
                }
            }
            LinkEvent::Disconnected(why) => {
                tracing::warn!("broker connection lost: {why}; reconnecting");
                self.out.outbox.disconnected();
            }
            LinkEvent::Oversize { topic, len } => {
                if let Some(compat) = self.out.control_topic(&topic) {
                    self.oversize_command(len, compat);
                }
            }
            LinkEvent::Message { topic, payload } => {
                if let Some(compat) = self.out.control_topic(&topic) {
                    self.on_command(&payload, compat);
                }
            }
        }
    }

    fn on_pumped(&mut self, p: Pumped) {
        match p {
            Pumped::Output(out) => self.on_output(out),
            Pumped::GivenUp(g) => {
                let msg = format!(
                    "outbox over its size limit: records {} to {} will not be sent (they stay in the survey files)",
                    g.first_seq, g.last_seq
                );
                tracing::error!("{msg}");
                self.out.error_event("outbox", &msg);
            }
            Pumped::Fetched {
                after,
                records,
                last_seq,
            } => {
                self.out.outbox.fetched(after, records, last_seq);
                self.out.outbox.flush(&self.out.link);
            }
            Pumped::ReadFailed(e) => {
                tracing::error!("outbox: cannot read back unacknowledged records: {e}");
                self.out.outbox.fetch_failed();
            }
            Pumped::Drained => {}
            Pumped::Failed(e) => {
                tracing::error!("cannot store measurements: {e}; stopping");
                let _ = self.inst.engine.try_send(Command::Interrupt);
                self.out.error_event("storage", &e.to_string());
                self.exit = Some(Exit::StorageFailed);
            }
        }
    }

    async fn shut_down(
        mut self,
        mut outputs: mpsc::Receiver<Pumped>,
        link_task: link::LinkTask,
        pump_thread: PumpThread,
    ) {
        tracing::info!(
            "stopping: hardware safe, records stored and sent as far as the broker takes them"
        );
        let _ = self.inst.engine.try_send(Command::Interrupt);
        tokio::task::block_in_place(|| self.inst.engine.stop());
        tracing::info!("stopping: engine stopped, hardware safe");
        // Everything the engine produced is stored and handed on: the pump says so once the
        // ring is empty.
        while let Some(p) = outputs.recv().await {
            let drained = matches!(p, Pumped::Drained);
            self.on_pumped(p);
            if drained {
                break;
            }
        }
        tracing::info!("stopping: every event stored");
        // A run the engine did not get to report still gets its final reply.
        if let Some((_, ctx)) = self.run.take() {
            let records = ctx.records;
            self.finish_run(ctx, Outcome::Interrupted, records);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.out.link.is_connected() && Instant::now() < deadline {
            self.out.flush();
            if self.out.link.inflight() == 0 && self.out.outbox.depth() == 0 {
                break;
            }
            // Read-backs and the pump's other answers, while waiting for acknowledgements.
            if let Ok(Some(p)) =
                tokio::time::timeout(Duration::from_millis(50), outputs.recv()).await
            {
                self.on_pumped(p);
            }
        }
        let offline = self.status.offline_json();
        let topic = self.out.topics.status.clone();
        self.out.publish(&topic, QoS::AtLeastOnce, true, offline);
        let wait_acks = Instant::now() + Duration::from_secs(2);
        while self.out.link.is_connected()
            && self.out.link.inflight() > 0
            && Instant::now() < wait_acks
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.out.outbox.flush(&self.out.link);
        self.out.link.disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(5), link_task.handle).await;
        // The last acknowledgements are with the pump; with every handle gone it saves the
        // watermark and ends.
        tracing::info!("stopping: disconnected from the broker");
        let Daemon { pump, out, .. } = self;
        drop((pump, out));
        drop(outputs);
        tokio::task::block_in_place(|| pump_thread.join());
    }
}

/// The test-only storage stall of the simulator's configuration.
fn storage_stall(config: &Config) -> Option<pump_thread::StallFault> {
    let sim = &config.sim;
    let after_records = sim
        .storage_stall_after
        .filter(|_| config.hardware.simulate)?;
    Some(pump_thread::StallFault {
        after_records,
        duration: Duration::from_secs_f64(sim.storage_stall_s),
    })
}

/// The sequence loaded at start: `acquisition.sequence`, else Wenner a = 1 on every electrode.
fn default_sequence(
    config: &Config,
    preset: &crate::hardware::Preset,
) -> Result<Arc<[Quadrupole]>, SetupError> {
    let seq = match &config.acquisition.sequence {
        Some(path) => {
            crate::survey::Sequence::read_file(path).map_err(|error| SetupError::Sequence {
                origin: path.display().to_string(),
                error,
            })?
        }
        None => crate::survey::generate::generate(
            preset.nelec(),
            &[crate::survey::generate::ArraySpec::wenner(1)],
            false,
        )
        .map_err(|e| SetupError::Sequence {
            origin: "built-in Wenner".into(),
            error: crate::survey::SequenceError::Rejected {
                line: 0,
                quad: Quadrupole::new(0, 0, 0, 0),
                message: e.to_string(),
            },
        })?,
    };
    crate::instrument::check_sequence(&seq, preset, "acquisition.sequence")?;
    Ok(Arc::from(seq.quads().to_vec()))
}
