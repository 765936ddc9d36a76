//! Stage two: raw configuration → validated types. Every error names the field (dotted key) and
//! the allowed range or values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::raw::{RawAcquisitionExtra, RawConfig, RawContact, RawSim, ACQUISITION_EXTRA_KEYS};
use super::{
    AcquisitionConfig, Backend, Config, ElectrodeLayout, FieldError, HardwareConfig, Instrument,
};
use crate::acquisition::{RawSettings, Settings};
use crate::hardware::sim::{ClockKind, Ground, SimConfig};
use crate::hardware::DEFAULT_SYSTEM;

fn positive(field: &str, v: f64, unit: &str) -> Result<f64, FieldError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(FieldError::new(
            field,
            format!("must be a positive number of {unit}, got {v}"),
        ))
    }
}

fn non_negative(field: &str, v: f64, unit: &str) -> Result<f64, FieldError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(FieldError::new(
            field,
            format!("must be 0 or more {unit}, got {v}"),
        ))
    }
}

/// Deserializes a section; on failure, finds the key at fault by trying each key alone (every
/// field is optional), so the error names `section.key` even for values given with `--set`.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    section: &str,
) -> Result<T, FieldError> {
    let whole = match table.clone().try_into::<T>() {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    for (key, value) in table {
        let mut single = toml::Table::new();
        single.insert(key.clone(), value);
        if let Err(e) = single.try_into::<T>() {
            return Err(FieldError::new(
                format!("{section}.{key}"),
                e.message().to_string(),
            ));
        }
    }
    Err(FieldError::new(section, whole.message().to_string()))
}

/// Whether this machine is a Raspberry Pi (device-tree model string).
pub fn running_on_raspberry_pi() -> bool {
    std::fs::read_to_string("/proc/device-tree/model")
        .map(|m| m.contains("Raspberry Pi"))
        .unwrap_or(false)
}

fn instrument(raw: &RawConfig) -> Result<Instrument, FieldError> {
    let id = raw.instrument.id.clone().unwrap_or_else(|| "0001".into());
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(FieldError::new(
            "instrument.id",
            format!(
                "must be 1 to 64 letters, digits, '-' or '_' (it becomes part of MQTT topics), got \"{id}\""
            ),
        ));
    }
    Ok(Instrument {
        id,
        data_dir: raw
            .instrument
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data")),
    })
}

fn acquisition(table: &toml::Table) -> Result<AcquisitionConfig, FieldError> {
    let mut extra = toml::Table::new();
    let mut settings_table = toml::Table::new();
    for (k, v) in table {
        if ACQUISITION_EXTRA_KEYS.contains(&k.as_str()) {
            extra.insert(k.clone(), v.clone());
        } else {
            settings_table.insert(k.clone(), v.clone());
        }
    }
    let extra: RawAcquisitionExtra = deserialize(extra, "acquisition")?;
    let raw: RawSettings = deserialize(settings_table, "acquisition").map_err(|mut e| {
        if !e.message.starts_with("unknown field") {
            return e;
        }
        e.message = format!(
            "{} (settings: {}; also {})",
            e.message,
            crate::acquisition::settings::SETTING_NAMES.join(", "),
            ACQUISITION_EXTRA_KEYS.join(", ")
        );
        e
    })?;
    let settings = Settings::default()
        .apply(&raw)
        .map_err(|e| e.in_section("acquisition"))?;
    let layout = match (extra.electrodes_file, extra.elec_spacing) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "acquisition.electrodes_file",
                "give either elec_spacing or electrodes_file, not both",
            ))
        }
        (Some(path), None) => ElectrodeLayout::File(path),
        (None, spacing) => ElectrodeLayout::Line {
            spacing: positive("acquisition.elec_spacing", spacing.unwrap_or(1.0), "metres")?,
        },
    };
    let rt_priority = extra.rt_priority.unwrap_or(i64::from(
        crate::acquisition::EngineOptions::default().rt_priority,
    ));
    if !(0..=99).contains(&rt_priority) {
        return Err(FieldError::new(
            "acquisition.rt_priority",
            format!("must be between 0 (no real-time scheduling) and 99, got {rt_priority}"),
        ));
    }
    Ok(AcquisitionConfig {
        settings,
        layout,
        sequence: extra.sequence,
        rt_priority: rt_priority as i32,
    })
}

fn contacts(raw: Option<&RawContact>) -> Result<(f64, BTreeMap<u16, f64>), FieldError> {
    let field = "sim.contact_ohm";
    match raw {
        None => Ok((SimConfig::default().contact_ohm, BTreeMap::new())),
        Some(RawContact::All(v)) => Ok((non_negative(field, *v, "ohms")?, BTreeMap::new())),
        Some(RawContact::PerElectrode(map)) => {
            let mut default = SimConfig::default().contact_ohm;
            let mut overrides = BTreeMap::new();
            for (k, v) in map {
                let v = non_negative(&format!("{field}.{k}"), *v, "ohms")?;
                if k == "default" {
                    default = v;
                } else {
                    let e: u16 = k.parse().ok().filter(|e| *e > 0).ok_or_else(|| {
                        FieldError::new(
                            field,
                            format!("keys must be \"default\" or electrode numbers, got \"{k}\""),
                        )
                    })?;
                    overrides.insert(e, v);
                }
            }
            Ok((default, overrides))
        }
    }
}

fn sim(raw: &RawSim) -> Result<SimConfig, FieldError> {
    let d = SimConfig::default();
    let rho = positive("sim.rho", raw.rho.unwrap_or(100.0), "ohm-metres")?;
    let ground = match raw.model.as_deref().unwrap_or("homogeneous") {
        "homogeneous" => Ground::Homogeneous { rho },
        "two_layer" => Ground::TwoLayer {
            rho1: rho,
            rho2: positive("sim.rho2", raw.rho2.unwrap_or(10.0), "ohm-metres")?,
            thickness: positive("sim.thickness", raw.thickness.unwrap_or(2.0), "metres")?,
        },
        other => {
            return Err(FieldError::new(
                "sim.model",
                format!("must be \"homogeneous\" or \"two_layer\", got \"{other}\""),
            ))
        }
    };
    let (contact_ohm, contact_overrides) = contacts(raw.contact_ohm.as_ref())?;
    let hum_hz = raw.hum_hz.unwrap_or(d.hum_hz);
    if ![0.0, 50.0, 60.0].contains(&hum_hz) {
        return Err(FieldError::new(
            "sim.hum_hz",
            format!("must be 0 (none), 50 or 60, got {hum_hz}"),
        ));
    }
    let clock = match raw.clock.as_deref().unwrap_or("real") {
        "real" => ClockKind::Real,
        "virtual" => ClockKind::Virtual,
        other => {
            return Err(FieldError::new(
                "sim.clock",
                format!("must be \"real\" or \"virtual\", got \"{other}\""),
            ))
        }
    };
    let rate = raw.i2c_error_rate.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&rate) {
        return Err(FieldError::new(
            "sim.i2c_error_rate",
            format!("must be a probability between 0 and 1, got {rate}"),
        ));
    }
    let dead = raw.dead_electrodes.clone().unwrap_or_default();
    if dead.contains(&0) {
        return Err(FieldError::new(
            "sim.dead_electrodes",
            "electrode numbers start at 1, got 0",
        ));
    }
    Ok(SimConfig {
        ground,
        contact_ohm,
        contact_overrides,
        noise: raw.noise.unwrap_or(d.noise),
        noise_mv: non_negative("sim.noise_mv", raw.noise_mv.unwrap_or(d.noise_mv), "mV")?,
        noise_rel: non_negative(
            "sim.noise_rel",
            raw.noise_rel.unwrap_or(d.noise_rel),
            "(a fraction of |Vmn|)",
        )?,
        seed: raw.seed.unwrap_or(d.seed),
        hum_hz,
        hum_mv: non_negative("sim.hum_mv", raw.hum_mv.unwrap_or(d.hum_mv), "mV")?,
        sp_mv: raw.sp_mv.unwrap_or(d.sp_mv),
        sp_drift_mv_s: raw.sp_drift_mv_s.unwrap_or(d.sp_drift_mv_s),
        clock,
        i2c_error_rate: rate,
        dead_electrodes: dead,
        supply_fault: raw.supply_fault.unwrap_or(false),
        hang_after_s: raw
            .hang_after_s
            .map(|s| non_negative("sim.hang_after_s", s, "s"))
            .transpose()?,
        storage_stall_after: raw.storage_stall_after,
        storage_stall_s: non_negative(
            "sim.storage_stall_s",
            raw.storage_stall_s.unwrap_or(10.0),
            "s",
        )?,
    })
}

/// Validates a raw configuration as a whole.
pub fn validate(raw: &RawConfig, source: Option<PathBuf>) -> Result<Config, FieldError> {
    let instrument = instrument(raw)?;
    let mut presets_dirs = Vec::new();
    if let Some(dir) = &raw.hardware.presets_dir {
        presets_dirs.push(dir.clone());
    }
    presets_dirs.push(PathBuf::from("/etc/ohmpi/hardware"));
    presets_dirs.push(PathBuf::from("/usr/share/ohmpi/hardware"));
    let hardware = HardwareConfig {
        system: raw
            .hardware
            .system
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM.into()),
        simulate: raw
            .hardware
            .simulate
            .unwrap_or_else(|| !running_on_raspberry_pi()),
        presets_dirs,
        backend: match raw.hardware.backend.as_deref() {
            None | Some("rppal") => Backend::Rppal,
            Some("linux") => Backend::Linux,
            Some(other) => {
                return Err(FieldError::new(
                    "hardware.backend",
                    format!("must be \"rppal\" or \"linux\", got \"{other}\""),
                ))
            }
        },
    };
    Ok(Config {
        source,
        mqtt: super::mqtt::validate_mqtt(&raw.mqtt, &instrument.id)?,
        control: super::mqtt::validate_control(&raw.control),
        web: super::web::validate_web(&raw.web)?,
        instrument,
        hardware,
        acquisition: acquisition(&raw.acquisition)?,
        sim: sim(&raw.sim)?,
    })
}
