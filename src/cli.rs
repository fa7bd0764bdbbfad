//! Command line: `demo`, `serve`, `migrate`, `seed`, `token`, `explain`.

use crate::auth::{self, Role};
use crate::config::Config;
use crate::db::{establish, run_migrations, DatabaseUrl, DbConnection};
use crate::http::Application;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "crm-odata",
    version,
    about = "OData v4 service for CRM workspace data"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Zero-config start: SQLite file, migrate, seed a demo workspace if empty, print a token, serve.
    Demo {
        #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Contacts to seed into an empty demo workspace.
        #[arg(long, default_value_t = 2000)]
        contacts: usize,
    },
    /// Serve the OData endpoint.
    Serve {
        #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
        bind: String,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Create the workspace if missing and add deterministic demo data.
    Seed {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        contacts: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Manage personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the parsed query and the SQL it compiles to, without running it.
    Explain {
        /// A request target such as `Contacts?$filter=startswith(Surname,'Sm')`.
        url: String,
        /// Dialect of the SQL shown.
        #[arg(long, value_parser = ["sqlite", "postgres"], default_value = "sqlite")]
        dialect: String,
        /// Also ask the database (`--database-url`, dialect taken from it) how it would
        /// run the statements for the workspace WORKSPACE.
        #[arg(long, value_name = "WORKSPACE")]
        plan: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; the token alone is the last line of output (shown once).
    Create {
        #[arg(long)]
        workspace: String,
        /// E-mail of the user the token acts as (created if missing).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List a workspace's tokens.
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a token by id.
    Revoke { id: i32 },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

fn connect_migrated(config: &Config) -> Result<(DbConnection, DatabaseUrl), String> {
    let url = DatabaseUrl::parse(&config.database_url);
    let mut conn = establish(&url).map_err(|e| e.to_string())?;
    run_migrations(&mut conn).map_err(|e| e.to_string())?;
    Ok((conn, url))
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = cli.config;
    match cli.command {
        Command::Migrate => match connect_migrated(&config) {
            Ok(_) => {
                println!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Seed {
            workspace,
            contacts,
            seed,
        } => {
            let (mut conn, url) = match connect_migrated(&config) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            match crate::seed::seed(&mut conn, url.dialect, &workspace, contacts, seed, true) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Token { command } => token(&config, command),
        Command::Explain { url, dialect, plan } => match plan {
            None => explain(&url, &dialect),
            Some(workspace) => explain_plan(&config, &url, &workspace),
        },
        Command::Serve { bind } => serve(config, &bind, false, 0),
        Command::Demo { bind, contacts } => serve(config, &bind, true, contacts),
    }
}

fn token(config: &Config, command: TokenCommand) -> ExitCode {
    let (mut conn, url) = match connect_migrated(config) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match command {
        TokenCommand::Create {
            workspace,
            user,
            role,
            name,
        } => {
            match auth::create_token(
                &mut conn,
                url.dialect,
                &workspace,
                user.as_deref(),
                role,
                name.as_deref(),
            ) {
                Ok((id, token)) => {
                    eprintln!("token {id} created for workspace `{workspace}`; it is shown once:");
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        TokenCommand::List { workspace } => {
            match auth::list_tokens(&mut conn, url.dialect, &workspace) {
                Ok(tokens) => {
                    println!(
                        "{:>5}  {:<20} {:<5} {:<21} revoked",
                        "id", "name", "user", "created"
                    );
                    for t in tokens {
                        println!(
                            "{:>5}  {:<20} {:<5} {:<21} {}",
                            t.id,
                            t.name,
                            t.user_code,
                            t.created,
                            t.revoked.as_deref().unwrap_or("-")
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        TokenCommand::Revoke { id } => match auth::revoke_token(&mut conn, url.dialect, id) {
            Ok(()) => {
                println!("token {id} revoked");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

fn explain_plan(config: &Config, target: &str, workspace: &str) -> ExitCode {
    let url = DatabaseUrl::parse(&config.database_url);
    let mut conn = match establish(&url) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match crate::explain::query_plan(&mut conn, url.dialect, &request_target(target), workspace) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// The path and query of a full URL, or the target as given.
fn request_target(target: &str) -> String {
    target
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]).to_owned())
        .unwrap_or_else(|| target.to_owned())
}

fn explain(target: &str, dialect: &str) -> ExitCode {
    match crate::explain::explain(
        &request_target(target),
        if dialect == "postgres" {
            crate::db::Dialect::Postgres
        } else {
            crate::db::Dialect::Sqlite
        },
    ) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn serve(config: Config, bind: &str, demo: bool, contacts: usize) -> ExitCode {
    if demo {
        let (mut conn, url) = match connect_migrated(&config) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let existing = auth::find_workspace(&mut conn, "demo").ok().flatten();
        if existing.is_none() {
            eprintln!("seeding demo workspace with {contacts} contacts ...");
            if let Err(e) = crate::seed::seed(&mut conn, url.dialect, "demo", contacts, 1, true) {
                return fail(e);
            }
        }
        match auth::create_token(
            &mut conn,
            url.dialect,
            "demo",
            None,
            Some(Role::Admin),
            Some("demo"),
        ) {
            Ok((_, token)) => print_demo(bind, &token),
            Err(e) => return fail(e),
        }
    }
    let rt = match actix_web::rt::System::new().block_on(async {
        let app = Application::build(&config, bind).await?;
        tracing::info!(port = app.port(), "serving OData");
        app.run_until_stopped()
            .await
            .map_err(|source| crate::http::StartError::Bind {
                addr: bind.into(),
                source,
            })
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    };
    rt
}

/// The requests `demo` suggests, relative to the service root.
pub const DEMO_QUERIES: &[&str] = &[
    "Contacts?$select=ContactId,Forename,Surname&$top=5",
    "Contacts?$filter=startswith(Surname,'Sm')&$orderby=Created desc&$top=3",
    "Leads?$filter=Status/DeadFlag eq 0 and Guttometer ge 50&$expand=Status($select=Description)&$top=3",
    "LeadStatus('WON')",
    "Leads?$apply=compute(year(Created) as Year)/groupby((Year),aggregate(Value with sum as Total,$count as Leads))",
    "$metadata",
];

fn print_demo(bind: &str, token: &str) {
    let base = format!("http://{bind}");
    println!("crm-odata demo on {base}/ (workspace `demo`)\n");
    println!("Token (send as `Authorization: Bearer <token>`):\n  {token}\n");
    println!("Try (copy into a POSIX shell; `$` is escaped):");
    for q in DEMO_QUERIES {
        println!(
            "  curl -g -H 'Authorization: Bearer {token}' \"{base}/{}\"",
            q.replace(' ', "%20").replace('$', "\\$")
        );
    }
    println!();
}
