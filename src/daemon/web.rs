//! The daemon's dashboard: its server started from `[web]`, what the daemon publishes passed on
//! to the browsers, and the browsers' commands.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Daemon;

impl Daemon {
    /// Starts the dashboard's server (`[web]`); an address that cannot be bound, or a TLS
    /// certificate or key that cannot be used, is reported and the instrument goes on measuring
    /// without it.
    pub(super) async fn start_web(&mut self) {
        let web = &self.config.web;
        if !web.enabled {
            return;
        }
        let (tx, rx) = mpsc::channel(64);
        let hub = crate::web::Hub::new(
            crate::web::Mode::Daemon,
            crate::web::HubLimits {
                queue: web.client_queue,
                max_frame: web.max_frame_bytes,
            },
            tx,
        );
        hub.add_instrument(&self.config.instrument.id, &self.out.topics.prefix);
        let tokens = self.config.tokens_file();
        let state = crate::web::server::AppState {
            hub: hub.clone(),
            tokens: Arc::new(crate::web::auth::Tokens::new(tokens.clone())),
            files: Some(Arc::new(crate::web::server::Files {
                data_dir: self.inst.data_dir.clone(),
                geometry: self.inst.geometry.clone(),
            })),
        };
        let limits = crate::web::listener::ConnLimits::new(web.max_connections);
        let served = match &web.tls {
            None => crate::web::server::spawn(web.listen, state, limits).await,
            Some(tls) => match crate::web::server::tls_config(&tls.cert, &tls.key) {
                Ok(config) => {
                    crate::web::server::spawn_tls(web.listen, state, config, limits).await
                }
                Err(e) => {
                    tracing::error!(
                        "dashboard: TLS: {e} (web.tls_cert, web.tls_key); measuring goes on \
                         without it"
                    );
                    return;
                }
            },
        };
        match served {
            Ok(addr) => {
                let scheme = if web.tls.is_some() { "https" } else { "http" };
                tracing::info!(
                    "dashboard on {scheme}://{addr}/ (tokens in {})",
                    tokens.display()
                );
                self.out.web = Some(hub);
                self.web_commands = Some(rx);
            }
            Err(e) => tracing::error!(
                "dashboard: cannot listen on {}: {e}; measuring goes on without it",
                web.listen
            ),
        }
    }
}

/// The next command from the dashboard (never, without one).
pub(super) async fn next_web_command(
    rx: &mut Option<mpsc::Receiver<crate::web::Inbound>>,
) -> Option<crate::web::Inbound> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
