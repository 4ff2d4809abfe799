//! Who may open a gateway socket: at most [`MAX_UNIDENTIFIED_PER_ADDRESS`] sockets from one
//! client address that have not identified (or resumed) yet, and [`MAX_PER_ADDRESS`] in all.
//! A socket holds a [`Ticket`] for its life; dropping it gives the place back. Memory is bounded
//! by the sockets open: an address is forgotten when its last socket closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Gateway sockets from one address that have not identified yet.
pub const MAX_UNIDENTIFIED_PER_ADDRESS: u32 = 16;
/// Gateway sockets from one address in all (several users behind one NAT share it).
pub const MAX_PER_ADDRESS: u32 = 256;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    total: u32,
    unidentified: u32,
}

/// The open gateway sockets of each address.
#[derive(Debug)]
pub struct Admission {
    max_total: u32,
    max_unidentified: u32,
    open: Mutex<HashMap<IpAddr, Counts>>,
}

/// Why a socket was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many gateway connections from this address are waiting to identify")]
    TooManyUnidentified,
    #[error("too many gateway connections from this address")]
    TooMany,
}

/// One admitted socket's place; given back on drop.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    identified: bool,
}

impl Admission {
    /// The standard caps.
    pub fn standard() -> Arc<Self> {
        Self::new(MAX_PER_ADDRESS, MAX_UNIDENTIFIED_PER_ADDRESS)
    }

    pub fn new(max_total: u32, max_unidentified: u32) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_unidentified,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a new, unidentified socket from `ip`.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let mut open = self.open.lock().map_err(|_| Refusal::TooMany)?;
        let counts = open.entry(ip).or_default();
        if counts.total >= self.max_total {
            return Err(Refusal::TooMany);
        }
        if counts.unidentified >= self.max_unidentified {
            return Err(Refusal::TooManyUnidentified);
        }
        counts.total += 1;
        counts.unidentified += 1;
        Ok(Ticket {
            admission: self.clone(),
            ip,
            identified: false,
        })
    }

    /// Addresses with open sockets.
    pub fn addresses(&self) -> usize {
        self.open.lock().map_or(0, |o| o.len())
    }

    /// Open sockets from `ip`: (all, unidentified).
    pub fn open_from(&self, ip: IpAddr) -> (u32, u32) {
        self.open
            .lock()
            .ok()
            .and_then(|o| o.get(&ip).map(|c| (c.total, c.unidentified)))
            .unwrap_or_default()
    }
}

impl Ticket {
    /// The socket identified (or resumed): it no longer counts as waiting.
    pub fn identified(&mut self) {
        if self.identified {
            return;
        }
        self.identified = true;
        if let Ok(mut open) = self.admission.open.lock()
            && let Some(c) = open.get_mut(&self.ip)
        {
            c.unidentified = c.unidentified.saturating_sub(1);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Ok(mut open) = self.admission.open.lock() else {
            return;
        };
        if let Some(c) = open.get_mut(&self.ip) {
            c.total = c.total.saturating_sub(1);
            if !self.identified {
                c.unidentified = c.unidentified.saturating_sub(1);
            }
            if c.total == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_unidentified_and_all_sockets_per_address() {
        let a = Admission::new(3, 2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let mut first = a.admit(ip).unwrap();
        let second = a.admit(ip).unwrap();
        assert_eq!(a.admit(ip).unwrap_err(), Refusal::TooManyUnidentified);
        assert!(a.admit(other).is_ok(), "another address has its own caps");
        first.identified();
        first.identified();
        assert_eq!(a.open_from(ip), (2, 1));
        let third = a.admit(ip).unwrap();
        assert_eq!(a.admit(ip).unwrap_err(), Refusal::TooMany);
        drop(second);
        assert_eq!(a.open_from(ip), (2, 1));
        drop((first, third));
        assert_eq!(a.open_from(ip), (0, 0));
        assert_eq!(a.addresses(), 0, "an address without sockets is forgotten");
    }
}
