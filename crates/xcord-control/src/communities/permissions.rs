//! Permissions: a bit set (bitflags) with fixed bits, shown to clients as a list of names
//! (`["VIEW_CHANNEL", "CONNECT", …]`). `ADMINISTRATOR` implies every other permission; that
//! rule lives in [`Permissions::grants`] and [`Permissions::missing`], never in the set
//! operations (`contains` is plain bit containment). Its OpenAPI schema (an array of
//! [`PermissionName`]s) is generated from the flags, with what each one allows.

use std::fmt;

use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

bitflags::bitflags! {
    #[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub struct Permissions: u64 {
        const VIEW_CHANNEL = 1 << 0;
        const SEND_MESSAGES = 1 << 1;
        const CONNECT = 1 << 2;
        const SPEAK = 1 << 3;
        const VIDEO = 1 << 4;
        const SCREEN_SHARE = 1 << 5;
        const MUTE_MEMBERS = 1 << 6;
        const DEAFEN_MEMBERS = 1 << 7;
        const MOVE_MEMBERS = 1 << 8;
        const KICK_MEMBERS = 1 << 9;
        const BAN_MEMBERS = 1 << 10;
        const MANAGE_CHANNELS = 1 << 11;
        const MANAGE_ROLES = 1 << 12;
        const ADMINISTRATOR = 1 << 13;
    }
}

impl Permissions {
    /// What the `@everyone` role of a new community allows.
    pub const EVERYONE_DEFAULT: Self = Self::VIEW_CHANNEL
        .union(Self::SEND_MESSAGES)
        .union(Self::CONNECT)
        .union(Self::SPEAK)
        .union(Self::VIDEO)
        .union(Self::SCREEN_SHARE);

    /// Whether this set allows everything in `required`: `ADMINISTRATOR` allows everything.
    pub const fn grants(self, required: Self) -> bool {
        self.contains(Self::ADMINISTRATOR) || self.contains(required)
    }

    /// The bits of `required` this set does not grant (none for an administrator).
    pub const fn missing(self, required: Self) -> Self {
        if self.grants(required) {
            Self::empty()
        } else {
            required.difference(self)
        }
    }

    /// The set with `ADMINISTRATOR` expanded to every bit.
    pub const fn effective(self) -> Self {
        if self.contains(Self::ADMINISTRATOR) {
            Self::all()
        } else {
            self
        }
    }

    /// The names of the bits set, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter_names().map(|(name, _)| name).collect()
    }

    /// The set named by `names`; the first unknown name is the error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        names.iter().try_fold(Self::empty(), |set, name| {
            let name = name.as_ref();
            Self::from_name(name)
                .map(|bit| set | bit)
                .ok_or_else(|| name.to_owned())
        })
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

/// What each permission allows, in bit order (for the API document).
const MEANINGS: [(Permissions, &str); 14] = [
    (
        Permissions::VIEW_CHANNEL,
        "see the community's channels and read their messages",
    ),
    (
        Permissions::SEND_MESSAGES,
        "send messages in channels (and publish data in voice rooms)",
    ),
    (Permissions::CONNECT, "join voice and video channels"),
    (
        Permissions::SPEAK,
        "publish a microphone in voice and video channels",
    ),
    (Permissions::VIDEO, "publish a camera"),
    (
        Permissions::SCREEN_SHARE,
        "publish a screen share (and its audio)",
    ),
    (
        Permissions::MUTE_MEMBERS,
        "server-mute members in voice channels",
    ),
    (
        Permissions::DEAFEN_MEMBERS,
        "server-deafen members in voice channels",
    ),
    (
        Permissions::MOVE_MEMBERS,
        "move members between voice channels, disconnect them, and join full channels",
    ),
    (Permissions::KICK_MEMBERS, "remove members"),
    (Permissions::BAN_MEMBERS, "ban and unban users, list bans"),
    (
        Permissions::MANAGE_CHANNELS,
        "create, edit and delete channels, list and revoke invites, delete others' messages",
    ),
    (
        Permissions::MANAGE_ROLES,
        "create, edit, delete, assign and unassign roles (only within one's own permissions)",
    ),
    (
        Permissions::ADMINISTRATOR,
        "every permission, and renaming the community",
    ),
];

/// The name of one permission on the wire (a schema for the API document only).
pub struct PermissionName;

impl PartialSchema for PermissionName {
    fn schema() -> RefOr<Schema> {
        let meanings: Vec<String> = MEANINGS
            .iter()
            .map(|(bit, meaning)| format!("`{bit}`: {meaning}"))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Permissions::all().names()))
            .description(Some(format!(
                "A permission: {}. `ADMINISTRATOR` implies every other permission; the \
                 community's owner has them all.",
                meanings.join("; ")
            )))
            .into()
    }
}

impl ToSchema for PermissionName {}

/// A set of permissions: the names of its bits, in bit order.
impl PartialSchema for Permissions {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(PermissionName::name()))
            .unique_items(true)
            .description(Some("A set of permissions by name, in bit order."))
            .into()
    }
}

impl ToSchema for Permissions {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((PermissionName::name().into(), PermissionName::schema()));
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
        assert_eq!(Permissions::all().bits(), (1 << 14) - 1);
        for (i, (_, bit)) in Permissions::all().iter_names().enumerate() {
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
            serde_json::to_value(p).unwrap(),
            serde_json::json!(["VIEW_CHANNEL", "CONNECT"])
        );
        assert_eq!(p.to_string(), "VIEW_CHANNEL, CONNECT");
    }

    #[test]
    fn the_schema_names_and_explains_every_permission_in_bit_order() {
        let bits: Vec<Permissions> = MEANINGS.iter().map(|(bit, _)| *bit).collect();
        let all: Vec<Permissions> = Permissions::all().iter().collect();
        assert_eq!(bits, all);
        let schema = serde_json::to_value(PermissionName::schema()).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(Permissions::all().names())
        );
        assert_eq!(schema["enum"].as_array().unwrap().len(), 14);
        let description = schema["description"].as_str().unwrap();
        assert!(description.contains("`MANAGE_ROLES`: create, edit, delete"));
        let set = serde_json::to_value(Permissions::schema()).unwrap();
        assert_eq!(set["items"]["$ref"], "#/components/schemas/PermissionName");
        assert_eq!(set["uniqueItems"], true);
    }

    #[test]
    fn administrator_grants_all_but_contains_stays_plain() {
        let admin = Permissions::ADMINISTRATOR;
        assert!(admin.grants(Permissions::BAN_MEMBERS | Permissions::MANAGE_ROLES));
        assert!(!admin.contains(Permissions::BAN_MEMBERS));
        assert_eq!(admin.effective(), Permissions::all());
        assert_eq!(
            admin.missing(Permissions::KICK_MEMBERS),
            Permissions::empty()
        );
        let member = Permissions::EVERYONE_DEFAULT;
        assert!(!member.grants(Permissions::MANAGE_CHANNELS));
        assert_eq!(
            member.missing(Permissions::MANAGE_CHANNELS | Permissions::CONNECT),
            Permissions::MANAGE_CHANNELS
        );
        assert!(!member.grants(Permissions::ADMINISTRATOR));
        assert_eq!(
            Permissions::from_bits_truncate(u64::MAX),
            Permissions::all()
        );
    }
}
