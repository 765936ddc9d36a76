//! Replies to commands: the one JSON shape every command is answered with.
//!
//! This module owns the reply and error vocabulary of the protocol (`status`, error `code`) and
//! its exact serialization: `{"cmd_id", "cmd", "status", "result"?, "error"?}` with `result` and
//! `error` left out when absent, and `error` = `{"code", "message", "field"?}`. It does no I/O;
//! the MQTT link and the dashboard choose where a reply goes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::FieldError;

/// Why a command failed, as clients can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message is not UTF-8 JSON, or not a JSON object.
    BadJson,
    /// `cmd` names no command this instrument knows.
    UnknownCommand,
    /// A field is missing, of the wrong type, out of range or unknown, or the message is too large.
    InvalidArgument,
    /// The instrument is doing something that this command cannot interrupt or run beside.
    Busy,
    /// The configuration does not allow this command (e.g. `set_time`, `shutdown`).
    NotPermitted,
    /// The hardware failed while carrying the command out.
    Hardware,
    /// A fault inside the daemon; the message says what.
    Internal,
}

impl ErrorCode {
    /// Every code, in the protocol's order.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::BadJson,
        ErrorCode::UnknownCommand,
        ErrorCode::InvalidArgument,
        ErrorCode::Busy,
        ErrorCode::NotPermitted,
        ErrorCode::Hardware,
        ErrorCode::Internal,
    ];

    /// The code as it appears in the JSON (`bad_json`, `unknown_command`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Busy => "busy",
            ErrorCode::NotPermitted => "not_permitted",
            ErrorCode::Hardware => "hardware",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` object of a reply: a code, a message a person can act on and, when one field of
/// the command is at fault, its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error not tied to one field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// An `invalid_argument` error about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidArgument,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// The same error about `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for ErrorBody {}

/// A settings error (from [`crate::acquisition::settings::Settings::apply`] or the
/// configuration) is an `invalid_argument` about the same field.
impl From<FieldError> for ErrorBody {
    fn from(e: FieldError) -> Self {
        ErrorBody::invalid(e.field, e.message)
    }
}

/// Where a command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A long command was accepted and has started; `done` or `error` follows.
    Accepted,
    /// The command finished; `result` may hold what it returns.
    Done,
    /// The command was refused or failed; `error` says why.
    Error,
}

/// One reply to one command, correlated by `cmd_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub cmd_id: String,
    /// The command name as the client sent it.
    pub cmd: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Reply {
    /// A long command has started.
    pub fn accepted(cmd_id: impl Into<String>, cmd: impl Into<String>) -> Self {
        Self {
            cmd_id: cmd_id.into(),
            cmd: cmd.into(),
            status: Status::Accepted,
            result: None,
            error: None,
        }
    }

    /// The command finished, with what it returns, if anything.
    pub fn done(cmd_id: impl Into<String>, cmd: impl Into<String>, result: Option<Value>) -> Self {
        Self {
            cmd_id: cmd_id.into(),
            cmd: cmd.into(),
            status: Status::Done,
            result,
            error: None,
        }
    }

    /// The command was refused or failed.
    pub fn error(cmd_id: impl Into<String>, cmd: impl Into<String>, error: ErrorBody) -> Self {
        Self {
            cmd_id: cmd_id.into(),
            cmd: cmd.into(),
            status: Status::Error,
            result: None,
            error: Some(error),
        }
    }

    /// The reply as one line of JSON.
    pub fn to_json(&self) -> String {
        // Strings and `Value`s (whose numbers are never NaN) always serialize; the fallback
        // keeps a reply flowing should that ever change.
        serde_json::to_string(self).unwrap_or_else(|e| {
            let fallback = Reply::error(
                self.cmd_id.clone(),
                self.cmd.clone(),
                ErrorBody::new(
                    ErrorCode::Internal,
                    format!("the reply could not be written: {e}"),
                ),
            );
            serde_json::to_string(&fallback).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_serialize_exactly() {
        assert_eq!(
            Reply::accepted("a1b2", "run_sequence").to_json(),
            r#"{"cmd_id":"a1b2","cmd":"run_sequence","status":"accepted"}"#
        );
        assert_eq!(
            Reply::done("7", "get_status", None).to_json(),
            r#"{"cmd_id":"7","cmd":"get_status","status":"done"}"#
        );
        assert_eq!(
            Reply::done("7", "run_sequence", Some(json!({"interrupted": true}))).to_json(),
            r#"{"cmd_id":"7","cmd":"run_sequence","status":"done","result":{"interrupted":true}}"#
        );
        assert_eq!(
            Reply::error(
                "x",
                "run_sequence",
                ErrorBody::invalid("nb_stack", "must be between 1 and 1000, got 0")
            )
            .to_json(),
            r#"{"cmd_id":"x","cmd":"run_sequence","status":"error","error":{"code":"invalid_argument","message":"must be between 1 and 1000, got 0","field":"nb_stack"}}"#
        );
        assert_eq!(
            Reply::error(
                "x",
                "shutdown",
                ErrorBody::new(ErrorCode::NotPermitted, "no")
            )
            .to_json(),
            r#"{"cmd_id":"x","cmd":"shutdown","status":"error","error":{"code":"not_permitted","message":"no"}}"#
        );
        // Quotes and control characters in messages stay valid JSON.
        let r = Reply::error(
            "\"q\"",
            "c",
            ErrorBody::new(ErrorCode::Internal, "a\nb\u{0}"),
        );
        let back: Reply = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn codes_match_their_json_names() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::String(code.as_str().to_string())
            );
            assert_eq!(code.to_string(), code.as_str());
        }
        for (status, name) in [
            (Status::Accepted, "accepted"),
            (Status::Done, "done"),
            (Status::Error, "error"),
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
        }
    }

    #[test]
    fn field_errors_become_invalid_arguments() {
        let body: ErrorBody = FieldError::new("duty_cycle", "must be between 0.01 and 1").into();
        assert_eq!(body.code, ErrorCode::InvalidArgument);
        assert_eq!(body.field.as_deref(), Some("duty_cycle"));
        assert_eq!(
            body.to_string(),
            "invalid_argument (duty_cycle): must be between 0.01 and 1"
        );
    }
}
