//! `ohmpi gateway`: the dashboard for every instrument of a broker, run on a server (docs/web.md,
//! "Gateway").

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ohmpi::config::Config;
use ohmpi::web::gateway::{Gateway, GatewayOptions};

/// What the command line says.
pub struct Args {
    /// `HOST:PORT` (else `[mqtt]` host and port).
    pub broker: Option<String>,
    /// Else `[web] listen`.
    pub listen: Option<SocketAddr>,
    pub prefix_root: String,
}

/// `HOST:PORT` (an IPv6 host in brackets).
fn host_port(s: &str) -> Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--broker must be HOST:PORT, got \"{s}\""))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .with_context(|| format!("--broker: \"{port}\" is not a port"))?;
    if host.is_empty() {
        bail!("--broker must be HOST:PORT, got \"{s}\"");
    }
    Ok((host.to_string(), port))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::error!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn run(mut config: Config, args: Args) -> Result<ExitCode> {
    if let Some(b) = &args.broker {
        let (host, port) = host_port(b)?;
        config.mqtt.host = host;
        config.mqtt.port = port;
    }
    let root = args.prefix_root.trim_end_matches('/').to_string();
    if root.is_empty() || root.contains(['+', '#']) {
        bail!("--prefix-root must be a topic without wildcards, got \"{root}\"");
    }
    let listen = args.listen.unwrap_or(config.web.listen);
    // Its own client id and a tag for its browsers: several gateways may share a broker.
    let mut tag = [0u8; 3];
    getrandom::getrandom(&mut tag).context("no random source")?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let client_id = format!("ohmpi-gateway-{tag}");
    let mqtt = ohmpi::messaging::link::options_as(&config.mqtt, &client_id, None)?;
    let tokens = config.tokens_file();
    let opts = GatewayOptions {
        mqtt,
        root: root.clone(),
        listen,
        limits: ohmpi::web::HubLimits {
            queue: config.web.client_queue,
            max_frame: config.web.max_frame_bytes,
        },
        tokens: Arc::new(ohmpi::web::auth::Tokens::new(tokens.clone())),
        client_tag: tag,
        connections: ohmpi::web::listener::ConnLimits::new(config.web.max_connections),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let gw = Gateway::start(opts)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(
            "gateway on http://{}/ for the instruments {root}/<id> of {}:{} (tokens in {})",
            gw.addr,
            config.mqtt.host,
            config.mqtt.port,
            tokens.display()
        );
        shutdown_signal().await;
        tracing::info!("gateway stopping");
        gw.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn broker_addresses() {
        assert_eq!(host_port("h:1883").unwrap(), ("h".into(), 1883));
        assert_eq!(host_port("[::1]:8883").unwrap(), ("::1".into(), 8883));
        assert!(host_port("h").is_err());
        assert!(host_port("h:0").is_err());
        assert!(host_port(":1883").is_err());
    }
}
