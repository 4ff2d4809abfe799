//! Message ids: like `db::new_id` (28 hex digits, milliseconds first) but strictly increasing
//! within the process, so messages sent in the same millisecond keep their order and a page
//! cursor (`before=<id>`) splits a channel's history exactly.

use std::sync::Mutex;

use crate::db::now_ms;

static LAST: Mutex<(i64, u32)> = Mutex::new((0, 0));

/// The largest in-millisecond sequence (6 hex digits); beyond it the clock is moved on by 1 ms.
const MAX_SEQ: u32 = 0xff_ffff;

/// A new message id: 12 hex digits of milliseconds, 6 of sequence, 10 random.
pub fn message_id() -> String {
    use rand::Rng;
    let now = now_ms();
    let (ms, seq) = match LAST.lock() {
        Ok(mut last) => {
            let next = if now > last.0 {
                (now, 0)
            } else if last.1 < MAX_SEQ {
                (last.0, last.1 + 1)
            } else {
                (last.0 + 1, 0)
            };
            *last = next;
            next
        }
        Err(_) => (now, 0),
    };
    let random: u64 = rand::rng().random::<u64>() & 0xff_ffff_ffff;
    format!("{ms:012x}{seq:06x}{random:010x}")
}

/// Whether `s` has the shape of an id (a page cursor, for instance).
pub fn looks_like_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_strictly() {
        let ids: Vec<String> = (0..2000).map(|_| message_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|i| i.len() == 28 && looks_like_id(i)));
        assert!(!looks_like_id("x; DROP"));
    }
}
