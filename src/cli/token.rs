//! `ohmpi token`: the dashboard's access tokens (docs/web.md).

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use ohmpi::web::auth::{parse_validity, Role, TokenFile};

/// Makes a token; prints what it is, then the token itself as the last line.
pub fn add(path: &Path, role: Role, expires: Option<&str>, name: Option<String>) -> Result<()> {
    let valid_for = expires
        .map(parse_validity)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("--expires")?;
    let mut file = TokenFile::read(path)?;
    let (entry, token) = file.add(role, name, valid_for, SystemTime::now())?;
    file.write(path)?;
    println!(
        "token {} ({}), {}, in {}; it is shown only now:",
        entry.id,
        entry.role,
        match &entry.expires {
            Some(e) => format!("valid until {e}"),
            None => "valid until revoked".into(),
        },
        path.display()
    );
    println!("{token}");
    Ok(())
}

/// One line per token, never its hash.
pub fn list(path: &Path) -> Result<()> {
    let file = TokenFile::read(path)?;
    if file.token.is_empty() {
        eprintln!("no tokens in {}", path.display());
        return Ok(());
    }
    println!(
        "{:<4} {:<20} {:<8} {:<24} {:<24} revoked",
        "id", "name", "role", "created", "expires"
    );
    for t in &file.token {
        println!(
            "{:<4} {:<20} {:<8} {:<24} {:<24} {}",
            t.id,
            t.name.as_deref().unwrap_or("-"),
            t.role.as_str(),
            t.created,
            t.expires.as_deref().unwrap_or("never"),
            if t.revoked { "yes" } else { "no" }
        );
    }
    Ok(())
}

pub fn revoke(path: &Path, id: &str) -> Result<()> {
    let mut file = TokenFile::read(path)?;
    file.revoke(id)?;
    file.write(path)?;
    println!("token {id} revoked");
    Ok(())
}
