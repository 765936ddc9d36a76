//! `ohmpi`: the command line of the OhmPi controller. Wiring only: parse, load the
//! configuration, call the library, report errors readably.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ohmpi::config::Config;
use ohmpi::survey::Quadrupole;

#[derive(Parser)]
#[command(
    name = "ohmpi",
    version,
    about = "Controller for the OhmPi resistivity meter"
)]
struct Cli {
    /// Configuration file (default: ./ohmpi.toml, then /etc/ohmpi/ohmpi.toml, else built-in
    /// defaults on the simulator).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Override a configuration key, e.g. --set sim.rho=100 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The instrument daemon: measures on command, publishes over MQTT (see docs/mqtt.md).
    Run,
    /// Everything at once, nothing installed: an embedded broker, the simulator, monitoring.
    Demo,
    /// Send one command to the instrument over MQTT and print its reply.
    Ctl {
        /// The command, e.g. get_status, run_sequence, interrupt.
        cmd: String,
        /// Arguments as key=value (values in JSON: nb_stack=2, quad=[1,4,2,3]).
        args: Vec<String>,
        /// Follow a run to its end with a progress bar. Ends with an error if the instrument goes
        /// offline, on Ctrl-C or SIGTERM (the run goes on), or at --timeout.
        #[arg(long)]
        watch: bool,
        /// Seconds to wait for the reply (default 10), or with --watch for the end of the run
        /// (default 3600).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// Run one survey of a sequence; the last line on stdout is the survey CSV path.
    Survey {
        /// Sequence file (OhmPi "A B M N" lines, or CSV with header a,b,m,n).
        #[arg(long)]
        sequence: Option<PathBuf>,
    },
    /// Measure one quadrupole and print its record as JSON.
    Measure { a: u16, b: u16, m: u16, n: u16 },
    /// Contact resistance of every pair of neighbouring electrodes.
    RsCheck {
        /// Injection voltage in volts (a battery supply injects its own voltage).
        #[arg(long, default_value_t = 5.0)]
        vab: f64,
    },
    /// Generate or check sequences.
    Sequence {
        #[command(subcommand)]
        command: SeqCmd,
    },
    /// Export a survey file for inversion software.
    Export {
        /// Survey file (measurements_<time>.csv).
        survey: PathBuf,
        #[arg(long, value_enum)]
        format: cli::export::Format,
        /// Output file (default: beside the survey).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Electrode spacing in metres for the pyGIMLi positions (default: the configuration's).
        #[arg(long)]
        elec_spacing: Option<f64>,
    },
    /// Check that this machine is ready for the instrument: platform, I2C buses and chips,
    /// supply, data directory, broker, clock, real-time rights. Exit status 1 if a check fails.
    Doctor {
        /// One JSON object on stdout: {"ok", "raspberry_pi", "checks": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// The dashboard for every instrument of a broker (on a server): finds the instruments from
    /// their retained status and passes commands on to them.
    Gateway {
        /// The broker as HOST:PORT (default: [mqtt] host and port; credentials and TLS are
        /// always [mqtt]'s).
        #[arg(long, value_name = "HOST:PORT")]
        broker: Option<String>,
        /// Address and port to serve on (default: [web] listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Instruments are found as <root>/<id>/status.
        #[arg(long, default_value = "ohmpi", value_name = "ROOT")]
        prefix_root: String,
    },
    /// List the hardware presets (hardware.system): name, electrodes, description.
    Presets,
    /// The dashboard's access tokens (in web.tokens_file).
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Make a token; it is printed once, as the last line on stdout.
    Add {
        /// viewer (read-only), operator (all but restart, shutdown, set_time) or admin.
        #[arg(long)]
        role: ohmpi::web::Role,
        /// Validity, e.g. 180d, 12h, 30m, 2w (default: until revoked).
        #[arg(long)]
        expires: Option<String>,
        /// A label to tell tokens apart.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the tokens: id, name, role, created, expires, revoked (never the secret).
    List,
    /// Revoke a token by its id: refused from now on, its open dashboard connections closed.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum SeqCmd {
    /// Generate a sequence (parameters are maxima, generated from 1 up).
    Generate {
        #[arg(long)]
        nelec: u16,
        /// wenner, dpdp, schlum or multigrad.
        #[arg(long)]
        array: String,
        /// Dipole spacing, in electrodes.
        #[arg(long)]
        a: Option<u16>,
        /// Level.
        #[arg(long)]
        n: Option<u16>,
        /// Gradient factor (multigrad).
        #[arg(long)]
        s: Option<u16>,
        /// Add the reciprocal (M N A B) of every quadrupole.
        #[arg(long)]
        reciprocal: bool,
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a sequence file (against --nelec, or the configured system's cabling).
    Check {
        file: PathBuf,
        #[arg(long)]
        nelec: Option<u16>,
    },
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(ohmpi::telemetry::stderr_layer().with_filter(filter))
        .init();
}

fn run(cli: Cli) -> Result<()> {
    let config = || Config::load(cli.config.as_deref(), &cli.set);
    match cli.command {
        Cmd::Run | Cmd::Demo | Cmd::Doctor { .. } | Cmd::Gateway { .. } => {
            unreachable!("handled in main")
        }
        Cmd::Ctl {
            cmd,
            args,
            watch,
            timeout,
        } => {
            let timeout = std::time::Duration::from_secs(timeout.unwrap_or(if watch {
                cli::ctl::DEFAULT_WATCH_TIMEOUT_S
            } else {
                cli::ctl::DEFAULT_TIMEOUT_S
            }));
            cli::ctl::run(&config()?, &cmd, &args, watch, timeout)?;
        }
        Cmd::Survey { sequence } => {
            let path = cli::measure::survey(config()?, sequence.as_deref())?;
            println!("{}", path.display());
        }
        Cmd::Measure { a, b, m, n } => {
            println!(
                "{}",
                cli::measure::measure(config()?, Quadrupole::new(a, b, m, n))?
            );
        }
        Cmd::RsCheck { vab } => {
            let path = cli::measure::rs_check(config()?, vab)?;
            println!("{}", path.display());
        }
        Cmd::Token { command } => {
            let path = config()?.tokens_file();
            match command {
                TokenCmd::Add {
                    role,
                    expires,
                    name,
                } => cli::token::add(&path, role, expires.as_deref(), name)?,
                TokenCmd::List => cli::token::list(&path)?,
                TokenCmd::Revoke { id } => cli::token::revoke(&path, &id)?,
            }
        }
        Cmd::Presets => {
            for (name, _) in ohmpi::hardware::preset::BUILTIN {
                let p = ohmpi::hardware::Preset::load(name, &[])?;
                println!("{name:<42} {:>3}  {}", p.nelec(), p.description);
            }
        }
        Cmd::Sequence { command } => match command {
            SeqCmd::Generate {
                nelec,
                array,
                a,
                n,
                s,
                reciprocal,
                output,
            } => {
                let args = cli::sequence::GenerateArgs {
                    nelec,
                    array: &array,
                    a,
                    n,
                    s,
                    reciprocal,
                };
                let (text, count) = cli::sequence::generate_text(&args)?;
                match output {
                    Some(path) => {
                        std::fs::write(&path, text)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        eprintln!("{count} quadrupoles written to {}", path.display());
                    }
                    None => print!("{text}"),
                }
            }
            SeqCmd::Check { file, nelec } => {
                println!("{}", cli::sequence::check(&config()?, &file, nelec)?);
            }
        },
        Cmd::Export {
            survey,
            format,
            output,
            elec_spacing,
        } => {
            let out = cli::export::export(&config()?, &survey, format, output, elec_spacing)?;
            if out.skipped > 0 {
                eprintln!("{} rows without a resistance were left out", out.skipped);
            }
            eprintln!("{} rows exported", out.rows);
            println!("{}", out.path.display());
        }
    }
    Ok(())
}

fn report(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Run | Cmd::Demo = cli.command {
        // The daemon logs to MQTT too and handles its signals on its runtime.
        let demo = matches!(cli.command, Cmd::Demo);
        return match Config::load(cli.config.as_deref(), &cli.set) {
            Ok(config) if demo => cli::demo::run(config, &cli.log_level).unwrap_or_else(report),
            Ok(config) => cli::daemon::run(config, &cli.log_level).unwrap_or_else(report),
            Err(e) => report(e.into()),
        };
    }
    if let Cmd::Gateway {
        broker,
        listen,
        prefix_root,
    } = cli.command
    {
        // A server: SIGPIPE stays ignored (a browser gone mid-write is not fatal).
        init_logging(&cli.log_level);
        let args = cli::gateway::Args {
            broker,
            listen,
            prefix_root,
        };
        return match Config::load(cli.config.as_deref(), &cli.set) {
            Ok(config) => cli::gateway::run(config, args).unwrap_or_else(report),
            Err(e) => report(e.into()),
        };
    }
    // Like other command-line tools: a closed pipe (`ohmpi sequence generate ... | head`) ends the
    // command quietly instead of failing a write.
    // SAFETY: restoring a signal's default disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    init_logging(&cli.log_level);
    if let Cmd::Doctor { json } = cli.command {
        // Reports a configuration it cannot read as a failed check, and exits 1 on any failure.
        return cli::doctor::run(Config::load(cli.config.as_deref(), &cli.set), json);
    }
    cli::signals::install();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}
