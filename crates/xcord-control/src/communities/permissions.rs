//! Permissions: a `u64` bit set with fixed bits, shown to clients as a list of names
//! (`["VIEW_CHANNEL", "CONNECT", …]`). `ADMINISTRATOR` implies every other permission.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u64);

impl Permissions {
    pub const VIEW_CHANNEL: Self = Self(1 << 0);
    pub const SEND_MESSAGES: Self = Self(1 << 1);
    pub const CONNECT: Self = Self(1 << 2);
    pub const SPEAK: Self = Self(1 << 3);
    pub const VIDEO: Self = Self(1 << 4);
    pub const SCREEN_SHARE: Self = Self(1 << 5);
    pub const MUTE_MEMBERS: Self = Self(1 << 6);
    pub const DEAFEN_MEMBERS: Self = Self(1 << 7);
    pub const MOVE_MEMBERS: Self = Self(1 << 8);
    pub const KICK_MEMBERS: Self = Self(1 << 9);
    pub const BAN_MEMBERS: Self = Self(1 << 10);
    pub const MANAGE_CHANNELS: Self = Self(1 << 11);
    pub const MANAGE_ROLES: Self = Self(1 << 12);
    pub const ADMINISTRATOR: Self = Self(1 << 13);

    /// Every bit with its name, in bit order.
    pub const NAMED: [(&'static str, Self); 14] = [
        ("VIEW_CHANNEL", Self::VIEW_CHANNEL),
        ("SEND_MESSAGES", Self::SEND_MESSAGES),
        ("CONNECT", Self::CONNECT),
        ("SPEAK", Self::SPEAK),
        ("VIDEO", Self::VIDEO),
        ("SCREEN_SHARE", Self::SCREEN_SHARE),
        ("MUTE_MEMBERS", Self::MUTE_MEMBERS),
        ("DEAFEN_MEMBERS", Self::DEAFEN_MEMBERS),
        ("MOVE_MEMBERS", Self::MOVE_MEMBERS),
        ("KICK_MEMBERS", Self::KICK_MEMBERS),
        ("BAN_MEMBERS", Self::BAN_MEMBERS),
        ("MANAGE_CHANNELS", Self::MANAGE_CHANNELS),
        ("MANAGE_ROLES", Self::MANAGE_ROLES),
        ("ADMINISTRATOR", Self::ADMINISTRATOR),
    ];

    /// What the `@everyone` role of a new community allows.
    pub const EVERYONE_DEFAULT: Self = Self(
        Self::VIEW_CHANNEL.0
            | Self::SEND_MESSAGES.0
            | Self::CONNECT.0
            | Self::SPEAK.0
            | Self::VIDEO.0
            | Self::SCREEN_SHARE.0,
    );

    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every defined bit.
    pub const fn all() -> Self {
        Self((1 << 14) - 1)
    }

    /// The set of the defined bits among `bits` (unknown bits are dropped).
    pub const fn from_bits_truncate(bits: u64) -> Self {
        Self(bits & Self::all().0)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every bit of `other` is granted; `ADMINISTRATOR` grants everything.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & Self::ADMINISTRATOR.0 != 0 || self.0 & other.0 == other.0
    }

    /// The bits of `required` this set does not grant.
    pub const fn missing(self, required: Self) -> Self {
        if self.contains(required) {
            Self::empty()
        } else {
            Self(required.0 & !self.0)
        }
    }

    /// The set with `ADMINISTRATOR` expanded to every bit.
    pub const fn effective(self) -> Self {
        if self.0 & Self::ADMINISTRATOR.0 != 0 {
            Self::all()
        } else {
            self
        }
    }

    /// The names of the bits set, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMED
            .iter()
            .filter(|(_, bit)| self.0 & bit.0 != 0)
            .map(|(name, _)| *name)
            .collect()
    }

    /// The set named by `names`; the first unknown name is the error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        names.iter().try_fold(Self::empty(), |set, name| {
            let name = name.as_ref();
            Self::NAMED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bit)| set | *bit)
                .ok_or_else(|| name.to_owned())
        })
    }
}

impl BitOr for Permissions {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({})", self.names().join("|"))
    }
}

/// Names joined with `, ` (for messages).
impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_fixed() {
        assert_eq!(Permissions::VIEW_CHANNEL.bits(), 1);
        assert_eq!(Permissions::SCREEN_SHARE.bits(), 1 << 5);
        assert_eq!(Permissions::MANAGE_ROLES.bits(), 1 << 12);
        assert_eq!(Permissions::ADMINISTRATOR.bits(), 1 << 13);
        assert_eq!(Permissions::EVERYONE_DEFAULT.bits(), 0b11_1111);
        for (i, (_, bit)) in Permissions::NAMED.iter().enumerate() {
            assert_eq!(bit.bits(), 1 << i);
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_reported() {
        let p = Permissions::CONNECT | Permissions::VIEW_CHANNEL;
        assert_eq!(p.names(), ["VIEW_CHANNEL", "CONNECT"]);
        assert_eq!(Permissions::from_names(&p.names()), Ok(p));
        assert_eq!(
            Permissions::from_names(&["CONNECT", "FLY"]),
            Err("FLY".to_owned())
        );
        assert_eq!(
            serde_json::to_value(p).ok(),
            Some(serde_json::json!(["VIEW_CHANNEL", "CONNECT"]))
        );
    }

    #[test]
    fn administrator_implies_all() {
        let admin = Permissions::ADMINISTRATOR;
        assert!(admin.contains(Permissions::BAN_MEMBERS | Permissions::MANAGE_ROLES));
        assert_eq!(admin.effective(), Permissions::all());
        assert_eq!(
            admin.missing(Permissions::KICK_MEMBERS),
            Permissions::empty()
        );
        let member = Permissions::EVERYONE_DEFAULT;
        assert!(!member.contains(Permissions::MANAGE_CHANNELS));
        assert_eq!(
            member.missing(Permissions::MANAGE_CHANNELS | Permissions::CONNECT),
            Permissions::MANAGE_CHANNELS
        );
        assert!(!member.contains(Permissions::ADMINISTRATOR));
        assert_eq!(
            Permissions::from_bits_truncate(u64::MAX),
            Permissions::all()
        );
    }
}
