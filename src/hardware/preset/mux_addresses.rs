//! I2C addresses of the multiplexer boards' chips, from their spec alone (jumpers, TCA9548A):
//! what the preset checks for clashes and what the boards and the doctor address.

use super::{Jumper, MuxModel, MuxSpec};

/// Address of the MCP23017 behind each TCA9548A channel on a mux_2023 board.
pub const MUX2023_MCP_ADDRESS: u8 = 0x20;
/// TCA9548A channel of the MCP23017 with index 0, 1, 2, 3 on a mux_2023 board.
pub const MUX2023_CHANNELS: [u8; 4] = [7, 6, 5, 4];

/// I2C addresses (mcp0, mcp1) of a mux_2024 board from its jumpers (up = 0, down = 1):
/// mcp0 = 0b0100_{addr2}{addr1}0, mcp1 = mcp0 + 1.
pub fn mux2024_addresses(addr1: Jumper, addr2: Jumper) -> (u8, u8) {
    let bit = |j: Jumper| match j {
        Jumper::Up => 0u8,
        Jumper::Down => 1u8,
    };
    let mcp0 = 0x20 | (bit(addr2) << 2) | (bit(addr1) << 1);
    (mcp0, mcp0 + 1)
}

/// One MCP23017 on the bus: its address and the TCA9548A channel in front of it, if any.
/// (Several mux_2023 boards have an MCP23017 at 0x20, told apart by their TCA.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expander {
    pub tca: Option<(u8, u8)>,
    pub mcp: u8,
}

/// Every MCP23017 of one board.
pub fn expanders_of(spec: &MuxSpec) -> Vec<Expander> {
    match spec.model {
        MuxModel::Mux2024 => {
            let (mcp0, mcp1) = mux2024_addresses(
                spec.addr1.unwrap_or(Jumper::Up),
                spec.addr2.unwrap_or(Jumper::Up),
            );
            let tca = spec.tca_address.zip(spec.tca_channel);
            vec![Expander { tca, mcp: mcp0 }, Expander { tca, mcp: mcp1 }]
        }
        MuxModel::Mux2023 => match spec.tca_address {
            Some(address) => MUX2023_CHANNELS
                .iter()
                .map(|&ch| Expander {
                    tca: Some((address, ch)),
                    mcp: MUX2023_MCP_ADDRESS,
                })
                .collect(),
            None => Vec::new(),
        },
    }
}
