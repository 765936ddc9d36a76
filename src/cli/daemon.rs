//! `ohmpi run`: the daemon on a tokio runtime, logging to stderr and to MQTT.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ohmpi::config::Config;
use ohmpi::daemon::{self, Exit};
use tracing_subscriber::prelude::*;

/// Exit status that asks the service manager for a restart (`restart` command).
const EXIT_RESTART: u8 = 75;

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn run(config: Config, log_level: &str) -> Result<ExitCode> {
    run_with(config, log_level, None)
}

/// The daemon, running `autostart` (a command) once connected.
pub fn run_with(config: Config, log_level: &str, autostart: Option<String>) -> Result<ExitCode> {
    let (layer, logs, dropped) = ohmpi::telemetry::channel_layer(config.mqtt.log_level, 1024);
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{log_level},rumqttd=off"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(ohmpi::telemetry::stderr_layer().with_filter(filter))
        .with(layer)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let exit = rt.block_on(daemon::run(
        config,
        (logs, dropped),
        autostart,
        shutdown_signal(),
    ))?;
    Ok(match exit {
        Exit::Stopped => ExitCode::SUCCESS,
        Exit::Restart => ExitCode::from(EXIT_RESTART),
        Exit::StorageFailed => ExitCode::FAILURE,
    })
}
