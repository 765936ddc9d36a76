//! Reading one message: size, UTF-8, JSON object, addressing (`cmd_id`, `reply_to`), the
//! command name; the arguments are [`super::build`]'s.

use serde_json::{Map, Value};

use super::{
    build, canonical_name, values, CommandError, Request, COMMAND_ALIASES, COMMAND_NAMES,
    MAX_CMD_ID_BYTES, MAX_PAYLOAD_BYTES,
};
use crate::messaging::reply::{ErrorBody, ErrorCode};

/// Parses one message: `{"cmd", "cmd_id"?, "kwargs"?, "reply_to"?}` (other top-level keys are
/// ignored). `generate_id` is called, once, when the message has no `cmd_id` or an invalid one
/// (the error reply then carries the generated id).
///
/// Checks, in order: the size limit ([`MAX_PAYLOAD_BYTES`]), UTF-8, a JSON object, `cmd_id`,
/// `reply_to`, `cmd`, then the command's arguments as a whole (unknown ones are refused by name).
// The error (128 bytes) is smaller than the request it stands for, and made once per message.
#[allow(clippy::result_large_err)]
pub fn parse(
    payload: &[u8],
    generate_id: impl FnOnce() -> String,
) -> Result<Request, CommandError> {
    parse_with_limit(payload, MAX_PAYLOAD_BYTES, generate_id)
}

/// [`parse`] with another size limit, in bytes (the protocol lets the configuration change it).
#[allow(clippy::result_large_err)]
pub fn parse_with_limit(
    payload: &[u8],
    limit: usize,
    generate_id: impl FnOnce() -> String,
) -> Result<Request, CommandError> {
    if payload.len() > limit {
        return Err(CommandError::bare(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "the message is {} bytes; the limit is {limit} bytes: \
                 send long sequences as a file and use load_sequence",
                payload.len()
            ),
        )));
    }
    let text = std::str::from_utf8(payload).map_err(|e| {
        CommandError::bare(ErrorBody::new(
            ErrorCode::BadJson,
            format!(
                "the message is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        ))
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CommandError::bare(ErrorBody::new(
            ErrorCode::BadJson,
            format!("the message is not valid JSON: {e}"),
        ))
    })?;
    let Value::Object(mut message) = value else {
        return Err(CommandError::bare(ErrorBody::new(
            ErrorCode::BadJson,
            format!(
                "a command is a JSON object such as {{\"cmd\": \"get_status\"}}, got {}",
                values::describe(&value)
            ),
        )));
    };

    // What is known of the sender so far, for the error reply.
    let mut address = CommandError::bare(ErrorBody::new(ErrorCode::Internal, String::new()));
    let fail = |address: &CommandError, body: ErrorBody| CommandError {
        body,
        ..address.clone()
    };

    // Both are read before either is refused, so that an error about one still carries the
    // other (a bad cmd_id is answered to its sender's reply_to, under a generated id).
    let cmd_id = read_cmd_id(message.remove("cmd_id"), generate_id);
    let reply_to = read_reply_to(message.remove("reply_to"));
    address.cmd_id = cmd_id.as_ref().ok().cloned();
    address.reply_to = reply_to.as_ref().ok().cloned().flatten();
    let cmd_id = cmd_id.map_err(|b| fail(&address, b))?;
    let reply_to = reply_to.map_err(|b| fail(&address, b))?;

    let cmd_name = match message.remove("cmd") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => {
            return Err(fail(
                &address,
                ErrorBody::invalid(
                    "cmd",
                    "missing \"cmd\": the name of the command, e.g. {\"cmd\": \"get_status\"}",
                ),
            ))
        }
        Some(other) => {
            return Err(fail(
                &address,
                ErrorBody::invalid(
                    "cmd",
                    format!(
                        "\"cmd\" must be the command name as a string, got {}",
                        values::describe(&other)
                    ),
                ),
            ))
        }
    };
    address.cmd = Some(values::shorten(&cmd_name, 64));
    let Some(canonical) = canonical_name(&cmd_name) else {
        return Err(fail(&address, unknown_command(&cmd_name)));
    };

    let kwargs = match message.remove("kwargs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(fail(
                &address,
                ErrorBody::invalid(
                    "kwargs",
                    format!(
                        "\"kwargs\" must be an object of named arguments, got {}",
                        values::describe(&other)
                    ),
                ),
            ))
        }
    };
    let command = build::command(canonical, kwargs).map_err(|b| fail(&address, b))?;
    Ok(Request {
        cmd_id,
        cmd_name,
        reply_to,
        command,
    })
}

fn read_cmd_id(
    value: Option<Value>,
    generate_id: impl FnOnce() -> String,
) -> Result<String, ErrorBody> {
    let id = match value {
        None | Some(Value::Null) => return Ok(generate_id()),
        Some(Value::String(id)) => id,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(ErrorBody::invalid(
                "cmd_id",
                format!(
                    "\"cmd_id\" must be a string or a number, got {}",
                    values::describe(&other)
                ),
            ))
        }
    };
    if id.len() > MAX_CMD_ID_BYTES {
        return Err(ErrorBody::invalid(
            "cmd_id",
            format!(
                "\"cmd_id\" is {} bytes long; at most {MAX_CMD_ID_BYTES}",
                id.len()
            ),
        ));
    }
    // It is written into records, survey files and log lines: one line, printable.
    if let Some(c) = id
        .chars()
        .find(|&c| c.is_control() || crate::messaging::topics::is_noncharacter(c))
    {
        return Err(ErrorBody::invalid(
            "cmd_id",
            format!(
                "\"cmd_id\" must not contain control characters (line breaks, tabs, ...) or \
                 Unicode noncharacters; found U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    Ok(id)
}

fn read_reply_to(value: Option<Value>) -> Result<Option<String>, ErrorBody> {
    let name = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(ErrorBody::invalid(
                "reply_to",
                format!(
                    "\"reply_to\" must be a string (your client's name), got {}",
                    values::describe(&other)
                ),
            ))
        }
    };
    match crate::messaging::topics::check_topic_level(&name) {
        Ok(()) => Ok(Some(name)),
        Err(problem) => Err(ErrorBody::invalid(
            "reply_to",
            format!("\"reply_to\" {problem}"),
        )),
    }
}

fn unknown_command(name: &str) -> ErrorBody {
    let aliases: Vec<String> = COMMAND_ALIASES
        .iter()
        .map(|(alias, command)| format!("{alias} = {command}"))
        .collect();
    ErrorBody::new(
        ErrorCode::UnknownCommand,
        format!(
            "unknown command \"{}\"; known commands: {} (aliases: {})",
            values::shorten(name, 64),
            COMMAND_NAMES.join(", "),
            aliases.join(", ")
        ),
    )
}
