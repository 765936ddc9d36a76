use super::*;
use std::collections::VecDeque;

/// A slave that answers each request with the next scripted reply (`None`: silence).
#[derive(Default)]
pub(crate) struct FakeSerial {
    pub written: Vec<Vec<u8>>,
    pub replies: VecDeque<Option<Vec<u8>>>,
    pending: VecDeque<u8>,
}

impl FakeSerial {
    pub(crate) fn replying(replies: impl IntoIterator<Item = Option<Vec<u8>>>) -> Self {
        Self {
            replies: replies.into_iter().collect(),
            ..Self::default()
        }
    }
}

impl Serial for FakeSerial {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written.push(bytes.to_vec());
        if let Some(Some(reply)) = self.replies.pop_front() {
            self.pending.extend(reply);
        }
        Ok(())
    }

    fn read_some(&mut self, buf: &mut [u8], _deadline: Instant) -> io::Result<usize> {
        // Hands out at most 3 bytes at a time, as a UART would in pieces.
        let n = buf.len().min(self.pending.len()).min(3);
        for b in buf.iter_mut().take(n) {
            *b = self.pending.pop_front().unwrap();
        }
        Ok(n)
    }

    fn clear_input(&mut self) -> io::Result<()> {
        self.pending.clear();
        Ok(())
    }
}

/// `body` followed by its CRC.
pub(crate) fn framed(body: &[u8]) -> Vec<u8> {
    let mut f = body.to_vec();
    f.extend_from_slice(&crc16(body).to_le_bytes());
    f
}

fn client(replies: impl IntoIterator<Item = Option<Vec<u8>>>) -> Client<FakeSerial> {
    Client::new(FakeSerial::replying(replies), Duration::from_millis(10))
}

#[test]
fn crc_matches_known_vectors() {
    assert_eq!(
        crc16(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x01]).to_le_bytes(),
        [0x84, 0x0A]
    );
    // "123456789" is the catalogue check value of CRC-16/MODBUS.
    assert_eq!(crc16(b"123456789"), 0x4B37);
}

#[test]
fn requests_are_byte_exact() {
    assert_eq!(
        encode_request(1, READ_HOLDING, 0, 1),
        [0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A]
    );
    let w = encode_request(1, WRITE_SINGLE, 0x0009, 0x0001);
    assert_eq!(w[..6], [0x01, 0x06, 0x00, 0x09, 0x00, 0x01]);
    assert_eq!(w[6..], crc16(&w[..6]).to_le_bytes());
}

#[test]
fn read_holding_parses_registers() {
    let reply = framed(&[0x01, 0x03, 0x04, 0x13, 0x88, 0x00, 0x64]);
    let mut c = client([Some(reply)]);
    assert_eq!(c.read_holding(1, 0x02, 2).unwrap(), vec![5000, 100]);
    let s = c.destroy();
    assert_eq!(s.written, vec![encode_request(1, 0x03, 0x02, 2).to_vec()]);
}

#[test]
fn write_single_checks_the_echo() {
    let req = encode_request(1, WRITE_SINGLE, 0x00, 1200);
    let mut c = client([Some(req.to_vec())]);
    c.write_single(1, 0x00, 1200).unwrap();
    assert_eq!(c.destroy().written, vec![req.to_vec()]);

    let wrong = encode_request(1, WRITE_SINGLE, 0x00, 1201).to_vec();
    let mut c = client([Some(wrong.clone()), Some(wrong.clone()), Some(wrong)]);
    assert!(matches!(
        c.write_single(1, 0x00, 1200),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn exception_is_named_and_not_retried() {
    let mut c = client([Some(framed(&[0x01, 0x83, 0x02]))]);
    let err = c.read_holding(1, 0x99, 1).unwrap_err();
    assert!(matches!(err, Error::Exception(2)));
    assert!(err.to_string().contains("illegal data address"), "{err}");
    assert_eq!(c.destroy().written.len(), 1);
}

#[test]
fn corrupted_crc_is_retried() {
    let good = framed(&[0x01, 0x03, 0x02, 0x04, 0xD2]);
    let mut bad = good.clone();
    bad[5] ^= 0xFF;
    let mut c = client([Some(bad), Some(good)]);
    assert_eq!(c.read_holding(1, 0x05, 1).unwrap(), vec![1234]);
    assert_eq!(c.destroy().written.len(), 2);
}

#[test]
fn crc_errors_on_every_try_give_crc() {
    let mut bad = framed(&[0x01, 0x03, 0x02, 0x04, 0xD2]);
    bad[6] ^= 0x01;
    let mut c = client([Some(bad.clone()), Some(bad.clone()), Some(bad)]);
    assert!(matches!(c.read_holding(1, 0x05, 1), Err(Error::Crc)));
    assert_eq!(c.destroy().written.len(), TRIES as usize);
}

#[test]
fn silence_times_out_after_bounded_tries() {
    let mut c = client([None, None, None, None]);
    let err = c.read_holding(1, 0, 1).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(c.destroy().written.len(), TRIES as usize);
}

#[test]
fn short_frame_is_malformed_then_retried() {
    let good = framed(&[0x01, 0x03, 0x02, 0x00, 0x07]);
    let mut c = client(vec![Some(good[..4].to_vec()); 3]);
    assert!(matches!(
        c.read_holding(1, 0, 1),
        Err(Error::Malformed("short frame"))
    ));

    let mut c = client([Some(good[..4].to_vec()), Some(good)]);
    assert_eq!(c.read_holding(1, 0, 1).unwrap(), vec![7]);
}

#[test]
fn wrong_byte_count_and_slave_are_malformed() {
    let mut c = client(vec![Some(framed(&[0x01, 0x03, 0x02, 0x00, 0x07])); 3]);
    assert!(matches!(c.read_holding(1, 0, 2), Err(Error::Malformed(_))));
    let mut c = client(vec![Some(framed(&[0x02, 0x03, 0x02, 0x00, 0x07])); 3]);
    assert!(matches!(c.read_holding(1, 0, 1), Err(Error::Malformed(_))));
    let mut c = client([]);
    assert!(matches!(
        c.read_holding(1, 0, 126),
        Err(Error::Malformed(_))
    ));
    assert!(c.destroy().written.is_empty());
}

#[test]
fn parse_rejects_odd_lengths() {
    assert!(parse_read_holding(&[2, 0], 1).is_err());
    assert!(parse_read_holding(&[], 1).is_err());
    assert!(check_frame(&[1, 3, 0], 1, 3).is_err());
}
