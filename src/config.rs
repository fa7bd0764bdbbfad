//! Runtime configuration: flag or environment variable, flag wins.

use crate::ratelimit::RateLimitConfig;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// `sqlite://PATH`, a plain path (SQLite) or `postgres://...`
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://crm-odata.db",
        global = true
    )]
    pub database_url: String,

    /// Shared rate-limit store; unset means an in-process limiter.
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// Requests per sliding window and workspace, e.g. `1200/600s`.
    #[arg(long, env = "RATE_LIMIT", default_value = "1200/600s", global = true)]
    pub rate_limit: RateLimitConfig,

    /// Answer 503 instead of limiting per instance while Redis is unreachable.
    #[arg(long, env = "RATE_LIMIT_FAIL_CLOSED", global = true)]
    pub rate_limit_fail_closed: bool,

    /// Largest page the server returns before adding `@odata.nextLink`.
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 1000, global = true)]
    pub max_page_size: u32,

    /// Database connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 8, global = true)]
    pub db_pool_size: u32,

    /// Query parameter that may carry the token (Power Query's "Web API" key); unset = off.
    #[arg(long, env = "API_KEY_PARAM", global = true)]
    pub api_key_param: Option<String>,
}

impl Config {
    /// Defaults for tests and embedding, independent of the process environment.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            rate_limit: RateLimitConfig::default(),
            rate_limit_fail_closed: false,
            max_page_size: 1000,
            db_pool_size: 4,
            api_key_param: None,
        }
    }
}
