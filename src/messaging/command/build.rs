//! Each command's arguments, checked as a whole: unknown names first, then every value.

use serde_json::{Map, Value};

use super::kwargs::{check_keys, raw_settings, Kwargs};
use super::values::{self, describe};
use super::{parse_datetime, safe_file_name, safe_relative_path, Command, ExportFormat};
use crate::acquisition::settings::{RawSettings, SETTING_NAMES};
use crate::messaging::reply::{ErrorBody, ErrorCode};
use crate::survey::generate::{Array, ArraySpec, GenerateError};
use crate::survey::quad::Quadrupole;

/// The most arrays one `create_sequence` combines.
const MAX_PARAMS: usize = 100;
/// The most tests one `test` names.
const MAX_TEST_NAMES: usize = 100;
/// The most survey names one `get_data` lists (the payload limit binds first by default).
const MAX_SURVEY_NAMES: usize = 100_000;

/// The command `name` (canonical) with its arguments `map`.
pub(super) fn command(name: &'static str, map: Map<String, Value>) -> Result<Command, ErrorBody> {
    let mut k = Kwargs::new(name, map);
    let command = match name {
        "run_measurement" => {
            k.check_known(&["quad"], true)?;
            let quad = k.required("quad", "the quadrupole [a, b, m, n]")?;
            let quad = values::quadrupole(&quad).map_err(field("quad"))?;
            Command::RunMeasurement {
                quad,
                settings: k.settings()?,
            }
        }
        "run_sequence" | "run_multiple_sequences" => {
            k.check_known(&["sequence"], true)?;
            let sequence = optional_sequence(&mut k)?;
            let settings = k.settings()?;
            if name == "run_sequence" {
                Command::RunSequence { settings, sequence }
            } else {
                Command::RunMultipleSequences { settings, sequence }
            }
        }
        "load_sequence" => {
            k.check_known(&["filename"], false)?;
            let filename = k.string("filename", "a file name in the sequences folder")?;
            safe_relative_path(&filename)
                .map_err(|e| ErrorBody::invalid("filename", format!("filename {e}")))?;
            Command::LoadSequence { filename }
        }
        "set_sequence" => {
            k.check_known(&["sequence"], false)?;
            let sequence = k.required("sequence", "the quadrupoles [[a, b, m, n], ...]")?;
            Command::SetSequence {
                sequence: values::sequence(&sequence).map_err(field("sequence"))?,
            }
        }
        "create_sequence" => create_sequence(&mut k)?,
        "update_settings" => update_settings(k)?,
        "rs_check" => {
            k.check_known(&["vab", "tx_volt", "couple"], false)?;
            // `tx_volt` is OhmPi's older name for `vab`.
            let vab = match (k.take("vab"), k.take("tx_volt")) {
                (Some(_), Some(_)) => {
                    return Err(ErrorBody::invalid(
                        "tx_volt",
                        "tx_volt is the older name of vab: give one of them",
                    ))
                }
                (Some(v), None) => values::positive(&v, 500.0, "V").map_err(field("vab"))?,
                (None, Some(v)) => values::positive(&v, 500.0, "V").map_err(field("tx_volt"))?,
                (None, None) => 5.0,
            };
            let couple = k
                .take("couple")
                .map(|v| values::pairs(&v).map_err(field("couple")))
                .transpose()?;
            Command::RsCheck { vab, couple }
        }
        "test" => {
            k.check_known(&["test_names"], false)?;
            let test_names = k
                .take("test_names")
                .map(|v| values::names(&v, MAX_TEST_NAMES).map_err(field("test_names")))
                .transpose()?;
            Command::Test { test_names }
        }
        "get_data" => {
            k.check_known(&["survey_names", "full"], false)?;
            let survey_names = k
                .take("survey_names")
                .map(|v| values::names(&v, MAX_SURVEY_NAMES).map_err(field("survey_names")))
                .transpose()?;
            Command::GetData {
                survey_names,
                full: k.bool_or("full", false)?,
            }
        }
        "export" => export(&mut k)?,
        "set_time" => {
            k.check_known(&["date"], false)?;
            let date = k.string("date", "the date and time, e.g. 2026-11-22T21:13:05Z")?;
            parse_datetime(&date).map_err(|e| ErrorBody::invalid("date", e))?;
            Command::SetTime { date }
        }
        _ => {
            k.check_known(&[], false)?;
            match name {
                "interrupt" => Command::Interrupt,
                "pause" => Command::Pause,
                "resume" => Command::Resume,
                "get_settings" => Command::GetSettings,
                "get_status" => Command::GetStatus,
                "reset_mux" => Command::ResetMux,
                "list_surveys" => Command::ListSurveys,
                "restart" => Command::Restart,
                "shutdown" => Command::Shutdown,
                other => {
                    return Err(ErrorBody::new(
                        ErrorCode::Internal,
                        format!("command \"{other}\" is listed but not implemented"),
                    ))
                }
            }
        }
    };
    Ok(command)
}

/// Makes a message an `invalid_argument` about `key`.
fn field(key: &'static str) -> impl Fn(String) -> ErrorBody {
    move |message| ErrorBody::invalid(key, message)
}

fn optional_sequence(k: &mut Kwargs) -> Result<Option<Vec<Quadrupole>>, ErrorBody> {
    k.take("sequence")
        .map(|v| values::sequence(&v).map_err(field("sequence")))
        .transpose()
}

/// `{"settings": {...}}` (OhmPi's form, `sequence` may be inside) and/or the setting keys and
/// `sequence` directly; a key given both ways is refused.
fn update_settings(mut k: Kwargs) -> Result<Command, ErrorBody> {
    k.check_known(&["settings", "sequence"], true)?;
    let mut nested = match k.take("settings") {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(ErrorBody::invalid(
                "settings",
                format!(
                    "must be an object of acquisition settings such as {{\"nb_stack\": 2}}, got {}",
                    describe(&other)
                ),
            ))
        }
    };
    let accepted: Vec<&str> = SETTING_NAMES.iter().copied().chain(["sequence"]).collect();
    check_keys(&nested, &accepted, "\"settings\"")?;
    let mut direct = k.into_map();
    for (key, value) in &nested {
        if !value.is_null() && direct.get(key).is_some_and(|v| !v.is_null()) {
            return Err(ErrorBody::invalid(
                key.as_str(),
                format!("\"{key}\" is given both inside \"settings\" and beside it: give it once"),
            ));
        }
    }
    let inside = nested.remove("sequence").filter(|v| !v.is_null());
    let beside = direct.remove("sequence").filter(|v| !v.is_null());
    let sequence = inside
        .or(beside)
        .map(|v| values::sequence(&v).map_err(field("sequence")))
        .transpose()?;
    direct.retain(|_, v| !v.is_null());
    nested.extend(direct);
    let settings: RawSettings = raw_settings(nested)?;
    Ok(Command::UpdateSettings { settings, sequence })
}

fn create_sequence(k: &mut Kwargs) -> Result<Command, ErrorBody> {
    k.check_known(&["nelec", "params", "include_reciprocal"], false)?;
    let nelec = k.required("nelec", "the number of electrodes on the line")?;
    let nelec = values::whole_in(&nelec, 4, u64::from(u16::MAX))
        .map_err(|e| ErrorBody::invalid("nelec", format!("nelec (electrodes) {e}")))?;
    let specs = match k.take("params") {
        None => vec![ArraySpec::dpdp(1, 8)],
        Some(Value::Array(entries)) if !entries.is_empty() && entries.len() <= MAX_PARAMS => {
            entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    array_spec(entry)
                        .map_err(|e| ErrorBody::invalid("params", format!("entry {}: {e}", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(other) => {
            return Err(ErrorBody::invalid(
                "params",
                format!(
                    "must be a list of 1 to {MAX_PARAMS} arrays such as [[\"dpdp\", 1, 8]] or \
                     [\"wenner 3\"], got {}",
                    describe(&other)
                ),
            ))
        }
    };
    Ok(Command::CreateSequence {
        // whole_in kept it within u16.
        nelec: u16::try_from(nelec).unwrap_or(u16::MAX),
        specs,
        include_reciprocal: k.bool_or("include_reciprocal", false)?,
    })
}

/// `["dpdp", 1, 8]` or `"dpdp 1 8"`: the array and the largest a, n, s generated.
fn array_spec(entry: &Value) -> Result<ArraySpec, String> {
    let text = match entry {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let Some(Value::String(name)) = items.first() else {
                return Err(format!(
                    "expected [\"name\", a, ...] such as [\"dpdp\", 1, 8], got {}",
                    describe(entry)
                ));
            };
            let array: Array = name.parse().map_err(|e: GenerateError| e.to_string())?;
            let given = &items[1..];
            if given.len() != array.parameters().len() {
                return Err(GenerateError::ParameterCount {
                    array,
                    found: given.len(),
                }
                .to_string());
            }
            let mut text = array.name().to_string();
            for (item, parameter) in given.iter().zip(array.parameters()) {
                if item.is_array() {
                    return Err(format!(
                        "{array}: {parameter} is a list; only the largest value is supported \
                         (e.g. 3 generates 1, 2 and 3)"
                    ));
                }
                let value = values::whole_in(item, 1, u64::from(u16::MAX))
                    .map_err(|e| format!("{array}: {parameter} {e}"))?;
                text.push_str(&format!(" {value}"));
            }
            text
        }
        other => {
            return Err(format!(
                "expected [\"dpdp\", 1, 8] or \"dpdp 1 8\", got {}",
                describe(other)
            ))
        }
    };
    text.parse().map_err(|e: GenerateError| e.to_string())
}

fn export(k: &mut Kwargs) -> Result<Command, ErrorBody> {
    k.check_known(&["survey", "format", "elec_spacing"], false)?;
    let survey = k.string("survey", "the name of a stored survey")?;
    safe_file_name(&survey).map_err(|e| ErrorBody::invalid("survey", format!("survey {e}")))?;
    let format = k.string("format", "ohmpi, pygimli or protocol")?;
    let format = match format.to_ascii_lowercase().as_str() {
        "ohmpi" => ExportFormat::Ohmpi,
        "pygimli" | "bert" => ExportFormat::Pygimli,
        "protocol" => ExportFormat::Protocol,
        _ => {
            return Err(ErrorBody::invalid(
                "format",
                format!(
                    "must be ohmpi, pygimli (or bert) or protocol, got \"{}\"",
                    values::shorten(&format, 40)
                ),
            ))
        }
    };
    let elec_spacing = k
        .take("elec_spacing")
        .map(|v| {
            values::positive(&v, 1.0e6, "m")
                .map_err(|e| ErrorBody::invalid("elec_spacing", format!("elec_spacing {e}")))
        })
        .transpose()?;
    Ok(Command::Export {
        survey,
        format,
        elec_spacing,
    })
}
