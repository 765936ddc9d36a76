//! `--set key=value` overrides, applied to the TOML document before it is validated, so an
//! override is checked exactly like the same key written in the file.

use super::ConfigError;

/// Parses `value` as a TOML value (`100`, `true`, `"x"`, `[1, 2]`); anything that is not valid
/// TOML is taken as a string, so `--set hardware.system=mb_2023` needs no quotes.
fn parse_value(value: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.to_string()),
    }
}

/// Applies one `key=value` (dotted key) to `doc`.
pub fn apply(doc: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let err = |message: &str| ConfigError::Override {
        arg: arg.to_string(),
        message: message.to_string(),
    };
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value, for example sim.rho=100"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(err("the key is empty or has an empty part"));
    }
    let (last, parents) = path.split_last().ok_or_else(|| err("the key is empty"))?;
    let mut table = doc;
    for part in parents {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("\"{part}\" is a value, not a section")))?;
    }
    table.insert(last.to_string(), parse_value(value.trim()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_and_typed_values() {
        let mut doc = toml::Table::new();
        apply(&mut doc, "sim.rho=100").unwrap();
        apply(&mut doc, "sim.noise=false").unwrap();
        apply(&mut doc, "hardware.system=mb_2023__4_mux_2023_batt").unwrap();
        apply(&mut doc, "sim.dead_electrodes=[3, 4]").unwrap();
        assert_eq!(doc["sim"]["rho"].as_integer(), Some(100));
        assert_eq!(doc["sim"]["noise"].as_bool(), Some(false));
        assert_eq!(
            doc["hardware"]["system"].as_str(),
            Some("mb_2023__4_mux_2023_batt")
        );
        assert_eq!(doc["sim"]["dead_electrodes"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn malformed_overrides_name_themselves() {
        let mut doc = toml::Table::new();
        let e = apply(&mut doc, "sim.rho").unwrap_err().to_string();
        assert!(e.contains("sim.rho") && e.contains("key=value"), "{e}");
        apply(&mut doc, "sim.rho=1").unwrap();
        let e = apply(&mut doc, "sim.rho.x=1").unwrap_err().to_string();
        assert!(e.contains("\"rho\" is a value"), "{e}");
        assert!(apply(&mut doc, ".x=1").is_err());
    }
}
