//! The [`Frontend`]: everything the engine may ask of the boards, and nothing more.
//!
//! The simulator and the real boards implement the same trait, so the engine cannot tell them
//! apart (except through [`FrontendInfo::simulated`], which every record carries).
//! Implementations enforce safety themselves, whatever the caller asks: A = B or M/N on A/B is
//! refused before any bus write.

use std::fmt;
use std::time::Duration;

use crate::survey::{Electrode, QuadError, Quadrupole};

/// Direction of the injected current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Off,
    /// Current flows from A to B.
    Positive,
    /// Current flows from B to A.
    Negative,
}

impl Polarity {
    pub fn sign(self) -> i8 {
        match self {
            Self::Off => 0,
            Self::Positive => 1,
            Self::Negative => -1,
        }
    }
}

/// A role an electrode plays in a quadrupole.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
pub enum Role {
    A,
    B,
    M,
    N,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::A => "A",
            Self::B => "B",
            Self::M => "M",
            Self::N => "N",
        };
        f.write_str(s)
    }
}

/// Relay, supply and converter timings of a system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// Multiplexer relays: time to close, time to open.
    pub mux_activation: Duration,
    pub mux_release: Duration,
    /// Polarity relays of the measurement board.
    pub polarity_activation: Duration,
    pub polarity_release: Duration,
    /// From power relays on until the supply answers.
    pub power_up: Duration,
    /// From a new Vab set-point until the output has settled.
    pub supply_settle: Duration,
    /// Time the discharge relay is held closed.
    pub discharge: Duration,
}

/// Limits of the system: the smallest of the board, multiplexer and supply limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub vab_min_v: f64,
    pub vab_max_v: f64,
    pub iab_max_ma: f64,
    pub pab_max_w: f64,
    /// Largest |Vmn| the receiver reads.
    pub vmn_max_mv: f64,
    /// Largest current the current-sense converter reads.
    pub iab_readable_max_ma: f64,
}

/// What powers the injection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Supply {
    /// A battery: Vab is its voltage, nothing to choose.
    Fixed { voltage_v: f64 },
    /// A programmable supply (DPH5005): Vab is set per quadrupole.
    Adjustable,
}

/// What the engine needs to know about the system it drives.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendInfo {
    /// The system preset's name.
    pub system: String,
    /// True when the "boards" are the simulator.
    pub simulated: bool,
    /// Highest electrode number cabled.
    pub nelec: Electrode,
    pub timings: Timings,
    pub limits: Limits,
    pub supply: Supply,
    /// Highest rate at which `read_sample` can give fresh values.
    pub max_sampling_rate_hz: f64,
    /// Current-sense shunt \[Ω\] (contact checks subtract it).
    pub r_shunt_ohm: f64,
    /// Whether the supply can be discharged after a high-voltage quadrupole.
    pub can_discharge: bool,
}

/// One reading of the current and the receiver voltage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RawSample {
    /// Injected current \[mA\], never negative (the shunt is before the polarity relays).
    pub iab_ma: f64,
    /// Receiver voltage \[mV\], signed.
    pub vmn_mv: f64,
    /// A converter was at full scale.
    pub saturated: bool,
}

/// Board-level state of health.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Health {
    /// Supply output voltage read back \[V\], when known.
    pub supply_v: Option<f64>,
    /// Battery (supply input) voltage \[V\], when known.
    pub battery_v: Option<f64>,
    /// Bus errors since start.
    pub bus_errors: u64,
    /// Relays currently closed.
    pub relays_closed: bool,
    /// Current being injected.
    pub injecting: bool,
}

/// A failure of the boards. Plain data, so it can cross the event ring without allocation.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum FrontendError {
    #[error("unsafe quadrupole refused: {0}")]
    Unsafe(QuadError),
    #[error("electrode {electrode} is not cabled for role {role} on this system")]
    NotCabled { electrode: Electrode, role: Role },
    #[error("I2C error talking to {device} at address {address:#04x}")]
    Bus { device: &'static str, address: u8 },
    #[error("the power supply does not answer")]
    SupplyNotAnswering,
    /// The board refused a command that would be unsafe in its present state; nothing was
    /// written.
    #[error("refused by the board: {0}")]
    Interlock(&'static str),
    #[error("{what} {value} exceeds the system limit {limit}")]
    Limit {
        what: &'static str,
        value: f64,
        limit: f64,
    },
}

/// The boards as the engine sees them. Waiting (relay and supply times) is the engine's job:
/// every method returns as soon as the command is given.
pub trait Frontend: Send {
    fn info(&self) -> &FrontendInfo;

    /// Checks a quadrupole (safety rules and cabling) without touching any bus.
    fn check_quad(&self, quad: Quadrupole) -> Result<(), FrontendError>;

    /// Puts everything in its safe state: injection off, power off, relays open.
    fn reset(&mut self) -> Result<(), FrontendError>;

    /// Closes the relays of A, B, M and N (after [`Frontend::check_quad`]).
    fn switch(&mut self, quad: Quadrupole) -> Result<(), FrontendError>;

    /// Closes only the relays of A and B (contact-resistance check).
    fn switch_pair(&mut self, a: Electrode, b: Electrode) -> Result<(), FrontendError>;

    /// Opens every relay.
    fn release(&mut self) -> Result<(), FrontendError>;

    /// Powers the injection supply on or off.
    fn set_power(&mut self, on: bool) -> Result<(), FrontendError>;

    /// Sets Vab and returns the set point as the supply took it (the DPH5005 sets in 10 mV
    /// steps; the battery voltage for a fixed supply). What the supply gives under load is
    /// [`Frontend::read_vab`].
    fn set_vab(&mut self, volts: f64) -> Result<f64, FrontendError>;

    /// Switches the supply's output off, leaving the supply powered (DPH5005: ONOFF = 0; the
    /// next [`Frontend::set_vab`] switches it on again). Nothing to do for a battery. Comes
    /// before the discharge relay closes.
    fn supply_output_off(&mut self) -> Result<(), FrontendError>;

    /// The supply's output voltage as the supply measures it now, under the present load
    /// (DPH5005: one Modbus read of UOUT, below the set point when the current limit holds it
    /// down); `None` for a supply that cannot tell (a battery: Vab is its nominal voltage).
    fn read_vab(&mut self) -> Result<Option<f64>, FrontendError>;

    fn set_polarity(&mut self, polarity: Polarity) -> Result<(), FrontendError>;

    /// Reads the latest conversion of Iab and Vmn.
    fn read_sample(&mut self) -> Result<RawSample, FrontendError>;

    /// Closes (`true`) or opens the supply-discharge relay.
    fn set_discharge(&mut self, on: bool) -> Result<(), FrontendError>;

    fn health(&mut self) -> Health;
}

impl From<QuadError> for FrontendError {
    fn from(e: QuadError) -> Self {
        Self::Unsafe(e)
    }
}
