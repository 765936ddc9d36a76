//! Converter ranges of the mb_2023 chosen for each pulse from what both polarities may read.

use super::model::Ground2023;
use super::*;

#[test]
fn mb_2023_gives_the_negative_pulse_the_range_its_larger_vmn_needs() {
    let (mut s, board, _, _) = open("mb_2023__no_mux_batt");
    // SP = −300 mV, V = 500 mV: +200 mV during the + pulse, −300 mV off, −800 mV during the −
    // pulse, larger than anything the + pulse and the off time read.
    board.state().ground_2023 = Some(Ground2023 {
        sp_mv: -300.0,
        v_mv: 500.0,
        iab_ma: 5.0,
    });
    s.switch(Quadrupole::new(1, 2, 3, 4)).unwrap();
    s.set_power(true).unwrap();
    s.set_vab(12.0).unwrap();
    let read = |s: &mut BoardSystem<_, _, _>, polarity| {
        s.set_polarity(polarity).unwrap();
        let r: Vec<RawSample> = (0..5).map(|_| s.read_sample().unwrap()).collect();
        r
    };
    let plus = read(&mut s, Polarity::Positive);
    let off = read(&mut s, Polarity::Off);
    let minus = read(&mut s, Polarity::Negative);
    let _ = read(&mut s, Polarity::Off);
    let plus_again = read(&mut s, Polarity::Positive);
    for (r, want) in [
        (&plus, 200.0),
        (&off, -300.0),
        (&minus, -800.0),
        (&plus_again, 200.0),
    ] {
        for x in r {
            assert!(!x.saturated, "{want} mV read as {x:?}");
            assert!((x.vmn_mv - want).abs() < 1.0, "{want} mV read as {x:?}");
        }
    }
    // The − pulse got ±0.512 V (800 mV / 2.5 = 0.32 V), not the ±0.256 V that the + pulse and
    // the off time alone would have given; the second + pulse keeps it (largest seen).
    let Board::Mb2023(mb) = s.board() else {
        panic!("not an mb_2023")
    };
    assert_eq!(mb.gains().1, crate::drivers::ads1115::Gain::Fsr0512);
}
