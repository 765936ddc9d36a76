//! Board code: drivers composed into OhmPi boards.

pub mod mb2023;
pub mod mb2024;
pub mod mux;
pub mod power;
pub mod system;

use crate::drivers::{ads1115, mcp23008};
use crate::hardware::FrontendError;

/// A command a measurement board refuses in its present state; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interlock {
    #[error("polarity reversal without going through Off")]
    PolarityReversal,
    #[error("discharge while injecting")]
    DischargeWhileInjecting,
    #[error("injection while discharging")]
    InjectWhileDischarging,
    #[error("this board (mb_2024_0_2) has no discharge relay")]
    NoDischargeRelay,
    #[error("converter range change while injecting")]
    GainWhileInjecting,
}

impl Interlock {
    /// The refusal as plain text, for [`FrontendError::Interlock`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PolarityReversal => "polarity reversal without going through Off",
            Self::DischargeWhileInjecting => "discharge while injecting",
            Self::InjectWhileDischarging => "injection while discharging",
            Self::NoDischargeRelay => "this board (mb_2024_0_2) has no discharge relay",
            Self::GainWhileInjecting => "converter range change while injecting",
        }
    }
}

/// Why a measurement-board operation failed (mb_2023_0_X, mb_2024_0_2, mb_2024_1_X).
#[derive(Debug, thiserror::Error)]
pub enum BoardError<E: core::fmt::Debug> {
    /// Refused in the board's present state; nothing was written.
    #[error("refused: {0}")]
    Interlock(Interlock),
    /// A write to an MCP23008 failed.
    #[error("MCP23008 at {address:#04x}: {source}")]
    Mcp {
        address: u8,
        source: mcp23008::Error<E>,
    },
    /// An ADS1115 transaction failed.
    #[error("ADS1115 at {address:#04x}: {source}")]
    Adc {
        address: u8,
        source: ads1115::Error<E>,
    },
}

impl<E: core::fmt::Debug> From<BoardError<E>> for FrontendError {
    fn from(e: BoardError<E>) -> Self {
        match e {
            BoardError::Interlock(i) => FrontendError::Interlock(i.as_str()),
            BoardError::Mcp { address, .. } => FrontendError::Bus {
                device: "MCP23008",
                address,
            },
            BoardError::Adc { address, .. } => FrontendError::Bus {
                device: "ADS1115",
                address,
            },
        }
    }
}
