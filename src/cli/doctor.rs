//! `ohmpi doctor [--json]`: the deployment check, printed for a person or as one JSON object.
//! Exit status 1 when a check fails (warnings do not); a configuration that cannot be read is
//! itself reported as a failed check.

use std::process::ExitCode;

use ohmpi::config::{Config, ConfigError};
use ohmpi::doctor::{self, Report};

pub fn run(config: Result<Config, ConfigError>, json: bool) -> ExitCode {
    let report = match &config {
        Ok(config) => doctor::run(config),
        Err(e) => doctor::config_failed(e),
    };
    print(&report, json);
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print(report: &Report, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot write the report as JSON: {e}"),
        }
    } else {
        print!("{}", report.to_text());
    }
}
