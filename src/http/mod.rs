//! HTTP stage: routing, authentication, rate limiting, content negotiation.

mod auth;
mod batch;
mod compression;
pub mod cors;
mod dbcall;
mod entity_id;
pub mod error;
mod handlers;
pub mod limit;
mod metrics;
pub mod negotiate;
mod not_found;
mod query_body;
mod read;
mod request;
mod request_head;

use crate::config::Config;
use crate::db::{pending_migrations, DatabaseUrl, Db, DbError};
use crate::ratelimit::Limiter;
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::{middleware, web, App};
use request_head::CheckedHeads;
use std::net::TcpListener;

pub struct AppState {
    pub db: Db,
    pub limiter: Limiter,
    pub max_page_size: u32,
    /// Query parameter carrying the token, when that opt-in is on.
    pub api_key_param: Option<String>,
    /// Workspaces of tokens accepted before, so that a read can carry its own token
    /// check (see `handlers::serve_known_token`).
    pub known_tokens: crate::auth::KnownTokens,
    /// The address listened on: the service root of a request that names no host.
    pub authority: String,
    pub metrics: metrics::Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A bound, not yet running server (port 0 picks a free port for tests).
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(config: &Config, bind: &str) -> Result<Self, StartError> {
        let url = DatabaseUrl::parse(&config.database_url);
        let db = Db::connect(&url, config.pool_size())?;
        let pending = {
            let mut conn = db.get()?;
            pending_migrations(&mut conn)?
        };
        if pending > 0 {
            return Err(DbError::NotMigrated(pending).into());
        }
        let limiter = Limiter::connect(
            config.rate_limit,
            config.redis_url.as_deref(),
            config.rate_limit_fail_closed,
        )
        .await;
        let listener = TcpListener::bind(bind).map_err(|source| StartError::Bind {
            addr: bind.into(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: bind.into(),
            source,
        })?;
        let port = addr.port();
        let state = web::Data::new(AppState {
            known_tokens: Default::default(),
            authority: addr.to_string(),
            metrics: Default::default(),
            db,
            limiter,
            max_page_size: config.max_page_size,
            api_key_param: config.api_key_param.clone().filter(|p| !p.is_empty()),
        });
        let cors = config.cors_origins.clone();
        let workers = dbcall::workers(&state.db);
        // actix-web's HttpServer, assembled here so that each connection's request
        // heads pass through CheckedHeads before actix-http parses them.
        let builder = Server::build().workers(workers);
        // On shutdown, connections idle between requests close at once rather than
        // holding their worker for the shutdown timeout.
        let shutting_down = builder.graceful_shutdown_signal();
        let server = builder
            .listen("crm-odata", listener, move || {
                let app = App::new()
                    .app_data(state.clone())
                    // HEAD too: load balancers probe health with it.
                    .service(
                        web::resource("/healthz")
                            .route(web::get().to(handlers::healthz))
                            .route(web::head().to(handlers::healthz))
                            .default_service(web::to(handlers::get_or_head_only)),
                    )
                    .service(
                        web::resource("/metrics")
                            .route(web::get().to(metrics::metrics))
                            .route(web::head().to(metrics::metrics))
                            .default_service(web::to(handlers::get_or_head_only)),
                    )
                    .route(
                        request_head::REFUSED_PATH,
                        web::get().to(request_head::answer_refused),
                    )
                    .default_service(web::to(handlers::odata));
                let signal = shutting_down.clone();
                // The middleware every request passes, and the connection around it. A
                // layer switched off (`middleware::Condition`) still costs each request
                // about 370 instructions, so CORS's two layers are there only when origins
                // are configured: the two apps differ in type, and one boxed factory per
                // connection (not per request) makes them one.
                macro_rules! connections {
                    ($app:expr) => {{
                        let app = $app
                            .wrap(middleware::DefaultHeaders::new().add(("OData-Version", "4.0")))
                            .wrap(middleware::Compress::default())
                            .wrap(middleware::from_fn(compression::identity_when_nothing_else))
                            .wrap(middleware::from_fn(metrics::record))
                            .into_factory();
                        let http = actix_http::HttpService::build()
                            .graceful_shutdown_signal(move || {
                                let signal = signal.clone();
                                async move { signal.notified().await }
                            })
                            // Clients keep idle connections for a minute or more (reqwest
                            // 90 s, browsers and the .NET stack behind Excel and Power BI
                            // 60-120 s) and reuse them without checking; closing after
                            // actix's default 5 s made their next request fail on a
                            // connection the server had just closed. 75 s, as nginx.
                            .keep_alive(std::time::Duration::from_secs(75))
                            // CheckedHeads answers a slow head first, with an OData
                            // error; this is the backstop.
                            .client_request_timeout(2 * request_head::HEAD_TIMEOUT)
                            .client_disconnect_timeout(std::time::Duration::from_secs(1))
                            .local_addr(addr)
                            .on_connect_ext(|io: &CheckedHeads<_>, data| {
                                data.insert(io.refusal());
                            })
                            // Only `AppConfig::default()` is public; `service_root` reads
                            // the listening address from AppState instead.
                            .h1(map_config(app, |_| AppConfig::default()));
                        actix_service::boxed::factory(
                            fn_service(|io: actix_web::rt::net::TcpStream| {
                                // A response written in several pieces (compressed,
                                // chunked) must not have its last small piece held back
                                // until the client acknowledges the rest: with delayed
                                // ACKs that is 40 ms a page (Nagle).
                                let _ = io.set_nodelay(true);
                                let io = CheckedHeads::new(io);
                                let peer = io.peer_addr();
                                std::future::ready(Ok((io, peer)))
                            })
                            .and_then(http),
                        )
                    }};
                }
                match &cors {
                    Some(origins) => connections!(app
                        .wrap(cors::layer(origins))
                        .wrap(middleware::from_fn(cors::odata_refusals))),
                    None => connections!(app),
                }
            })
            .map_err(|source| StartError::Bind {
                addr: bind.into(),
                source,
            })?
            .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
