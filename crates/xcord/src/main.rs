//! The `xcord` binary: parses settings and runs `serve` (everything) or `media` (the SFU only).

mod cli;
mod http;
mod keys;
mod logging;
mod metrics;
mod secret;
mod web;

use anyhow::Context;
use clap::Parser;
use std::sync::Arc;
use xcord_sfu::auth::KeyStore;

use xcord_control::api;
use xcord_control::db::Db;
use xcord_control::media::embedded::EmbeddedMediaPlane;
use xcord_control::media::events::EventHandler;
use xcord_control::media::livekit_http::LiveKitHttpMediaPlane;
use xcord_control::media::{MediaAccess, MediaPlane};
use xcord_control::tasks::Tasks;
use xcord_control::voice;
use xcord_sfu::webhook::WebhookConfig;
use xcord_sfu::{Sfu, SfuConfig};

use cli::{Cli, Command};

/// How often stored voice states are compared with the media plane's truth.
const VOICE_RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// How long shutdown waits for background work (the last media events) to finish.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
/// Media events waiting for the handler; beyond it the producers wait.
const MEDIA_EVENT_QUEUE: usize = 4096;

fn main() -> anyhow::Result<()> {
    // Everything this process creates (the database and its journal, keys, logs) is for its
    // owner only: files 0600, directories 0700.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    logging::init();
    let cli = Cli::parse();
    let (args, role) = match cli.command {
        Command::Serve(a) => (a, "serve"),
        Command::Media(a) => (a, "media"),
        Command::Loadtest(cmd) => std::process::exit(xcord_loadtest::main(cmd)?),
    };
    let settings = args.resolve()?;
    let metrics_handle = metrics::install().context("installing the metrics recorder")?;
    // Keys are for the embedded SFU; `serve --livekit-url` uses the remote plane's own.
    let embedded_sfu = role == "media" || settings.livekit.is_none();
    let keys = keys::resolve(
        settings.dev,
        &settings.keys,
        &settings.data_dir,
        embedded_sfu,
    )?;
    let media_keys = keys.first().cloned();
    let node_ips = if settings.node_ips.is_empty() {
        xcord_sfu::config::default_node_ips()
    } else {
        settings.node_ips.clone()
    };
    let webhooks = if embedded_sfu {
        webhook_config(&settings, &keys)?
    } else {
        if !settings.webhook_urls.is_empty() {
            tracing::warn!("webhook_url is for the embedded SFU; ignored with --livekit-url");
        }
        None
    };
    let mut cfg = SfuConfig::new(KeyStore::new(keys), node_ips);
    cfg.udp_port = settings.udp_port;
    cfg.tcp_port = settings.tcp_port;
    cfg.media_threads = settings.media_threads;
    cfg.turn = match &settings.turn {
        Some(turn) if embedded_sfu => turn_settings(turn, settings.dev, &cfg.node_ips)?,
        _ => None,
    };
    cfg.auto_create = settings.auto_create;
    cfg.signal_v1 = settings.signal_v1;
    cfg.bandwidth_estimation = settings.bandwidth_estimation;
    cfg.webhooks = webhooks;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let tasks = Tasks::new();
        let mut embedded: Option<Sfu> = None;
        let db = if role == "serve" {
            keys::create_private_dir(&settings.data_dir)?;
            let url = settings
                .database_url
                .as_ref()
                .map(|u| u.expose().to_owned())
                .unwrap_or_else(|| Db::default_url(&settings.data_dir));
            let db = Db::connect(&url).await.context("opening the database")?;
            tracing::info!(backend = ?db.backend, "database ready");
            Some(db)
        } else {
            None
        };
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(MEDIA_EVENT_QUEUE);
        // The media plane: a remote LiveKit-compatible server (events by webhook), or the
        // embedded SFU (events from its bus).
        let (mut app, media_plane, webhook) = match (role, settings.livekit.clone()) {
            ("serve", Some((url, key, secret))) => {
                let plane: Arc<dyn MediaPlane> =
                    Arc::new(LiveKitHttpMediaPlane::new(&url, &key, secret.expose()));
                tracing::info!(%url, "media plane: remote LiveKit-compatible server");
                (axum::Router::new(), Some(plane), Some((key, secret, events_tx)))
            }
            _ => {
                let sfu = Sfu::start(cfg).context("starting the media server")?;
                tracing::info!(media = ?sfu.media_addrs(), candidates = ?sfu.config().node_ips, "media plane: embedded SFU");
                let plane: Option<Arc<dyn MediaPlane>> = if role == "serve" {
                    Some(Arc::new(EmbeddedMediaPlane::new(&sfu, events_tx, &tasks)))
                } else {
                    None
                };
                let router = sfu.router();
                embedded = Some(sfu);
                (router, plane, None)
            }
        };
        let services = match db {
            Some(db) => {
                let mut builder = xcord_control::services(db)
                    .tasks(tasks.clone())
                    .dev(settings.dev)
                    .call_settings(xcord_control::media_session::Settings {
                        ring_timeout: settings.ring_timeout,
                        max_incoming_calls: settings.max_incoming_calls,
                    });
                if let (Some(plane), Some(access)) =
                    (media_plane.clone(), media_access(&settings, media_keys.as_ref()))
                {
                    builder = builder.media(plane, access);
                }
                let services = builder.build();
                if let Some(sfu) = &embedded {
                    sfu.set_join_gate(Arc::new(voice::gate::VoiceJoinGate::new(services.clone())));
                }
                voice::reconcile::spawn(services.clone(), VOICE_RECONCILE_EVERY);
                if settings.livekit.is_some() {
                    // a remote media node can vanish silently: probe it
                    xcord_control::media_probe::spawn(
                        services.clone(),
                        xcord_control::media_probe::ProbeSettings::default(),
                    );
                }
                app = app.merge(api::router(services.clone()));
                Some(services)
            }
            None => None,
        };
        if let Some((key, secret, events_tx)) = webhook {
            app = app
                .merge(api::webhooks::webhook_router(&key, secret.expose(), events_tx, services.clone()))
                .route("/", axum::routing::get(|| async { "OK" }).head(|| async { "OK" }));
        }
        if services.is_some() {
            let handler = EventHandler {
                log_file: settings.media_event_log.clone(),
                services: services.clone(),
                arrive_stored: settings.livekit.is_some(),
            };
            tasks.spawn(handler.run(events_rx));
        }
        if let Some(plane) = &media_plane {
            match plane.list_rooms(Vec::new()).await {
                Ok(rooms) => tracing::info!(kind = plane.kind(), rooms = rooms.len(), "media plane reachable"),
                Err(e) => tracing::warn!(kind = plane.kind(), "media plane not reachable yet: {e}"),
            }
        }
        if role == "serve" {
            let index = settings.web_dir.join("index.html");
            if index.is_file() {
                tracing::info!(dir = %settings.web_dir.display(), "web client served at /");
            } else {
                tracing::warn!(dir = %settings.web_dir.display(), "no web client built there (make run builds it); / answers only the health check");
            }
            app = web::serve(app, settings.web_dir.clone());
        }
        let scrape = metrics::Metrics::new(metrics_handle, embedded.as_ref().map(Sfu::rooms));
        let access = match (&settings.metrics_token, settings.dev) {
            (Some(token), _) => metrics::Access::Token(token.expose().into()),
            (None, true) => metrics::Access::Open,
            (None, false) => metrics::Access::Closed,
        };
        app = app.merge(metrics::router(scrape.clone(), access));
        if let Some(addr) = settings.metrics_bind {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding --metrics-bind {addr}"))?;
            tracing::info!(%addr, "metrics listening");
            let router = metrics::router(scrape, metrics::Access::Open);
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!("metrics listener: {e}");
                }
            });
        }
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        tracing::info!(role, http = %settings.bind, "xcord listening");
        let shutdown_tasks = tasks.clone();
        http::serve(listener, app, settings.http, async move {
            shutdown_signal().await;
            tracing::info!("shutting down: disconnecting participants");
            // Participants are told to reconnect elsewhere; their leaves reach the webhook
            // receivers and the control plane.
            if let Some(sfu) = embedded
                && let Err(e) = sfu.shutdown(SHUTDOWN_DEADLINE).await
            {
                tracing::warn!("media shutdown: {e}");
            }
            // The SFU has emitted its last events; background tasks pass them on and end.
            shutdown_tasks.begin_shutdown();
        })
        .await;
        drop(services);
        if tasks.shutdown(SHUTDOWN_DEADLINE).await {
            tracing::info!("background work finished; exiting");
        } else {
            tracing::warn!(deadline = ?SHUTDOWN_DEADLINE, "background work still running at the shutdown deadline");
        }
        Ok(())
    })
}

/// Where clients reach the media plane and the key that signs their tokens.
fn media_access(
    settings: &cli::Settings,
    embedded_key: Option<&(String, String)>,
) -> Option<MediaAccess> {
    if let Some((url, key, secret)) = &settings.livekit {
        return Some(MediaAccess {
            url: url.clone(),
            api_key: key.clone(),
            api_secret: secret.expose().to_owned(),
        });
    }
    let (key, secret) = embedded_key?;
    let url = settings.public_url.clone().unwrap_or_else(|| {
        let host = if settings.bind.ip().is_unspecified() {
            settings
                .node_ips
                .first()
                .copied()
                .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
        } else {
            settings.bind.ip()
        };
        format!(
            "ws://{}",
            std::net::SocketAddr::new(host, settings.bind.port())
        )
    });
    Some(MediaAccess {
        url,
        api_key: key.clone(),
        api_secret: secret.clone(),
    })
}

fn webhook_config(
    settings: &cli::Settings,
    keys: &[(String, String)],
) -> anyhow::Result<Option<WebhookConfig>> {
    if settings.webhook_urls.is_empty() {
        return Ok(None);
    }
    let (api_key, api_secret) = match &settings.webhook_key {
        Some(k) => keys
            .iter()
            .find(|(key, _)| key == k)
            .cloned()
            .with_context(|| format!("--webhook-key {k} is not one of the configured keys"))?,
        None => keys
            .first()
            .cloned()
            .context("no API key to sign webhooks with")?,
    };
    Ok(Some(WebhookConfig {
        urls: settings.webhook_urls.clone(),
        api_key,
        api_secret,
    }))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The embedded TURN server's settings: TLS with the operator's certificate, or with `--dev` a
/// self-signed one generated for the TURN host (clients must be told to trust it), or no TLS.
fn turn_settings(
    turn: &cli::TurnSettings,
    dev: bool,
    node_ips: &[std::net::IpAddr],
) -> anyhow::Result<Option<xcord_sfu::config::TurnSettings>> {
    let host = match (&turn.domain, node_ips.iter().find(|ip| ip.is_ipv4())) {
        (Some(domain), _) => domain.clone(),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => {
            tracing::warn!("TURN is off: it needs --turn-domain or an IPv4 node IP");
            return Ok(None);
        }
    };
    let tls = match (turn.tls_port, &turn.cert) {
        (None, _) => None,
        (Some(port), Some((cert, key))) => Some((
            port,
            xcord_turn::tls::from_pem_files(cert, key).context("TURN over TLS")?,
        )),
        (Some(port), None) if dev => {
            let (tls, _pem) = xcord_turn::tls::self_signed(std::slice::from_ref(&host))
                .context("TURN over TLS: self-signed certificate")?;
            tracing::info!(%host, "TURN over TLS with a generated self-signed certificate (--dev)");
            Some((port, tls))
        }
        (Some(_), None) => {
            tracing::warn!("TURN over TLS is off: set turn_cert and turn_key");
            None
        }
    };
    let mut out = xcord_sfu::config::TurnSettings::new(host, tls);
    out.udp_port = turn.udp_port;
    out.credential_ttl = turn.credential_ttl;
    if out.udp_port.is_none() && out.tls.is_none() {
        return Ok(None);
    }
    Ok(Some(out))
}
