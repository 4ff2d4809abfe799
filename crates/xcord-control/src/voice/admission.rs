//! Who may be in a channel's media room, decided from what the server knows now — not from
//! what a ticket said when it was issued. Pure: the caller reads the member's standing, the
//! people already inside and the member's moderation, and acts on the verdict (admit with
//! these live permissions, or remove).

use livekit_protocol as proto;

use super::moderation::Moderation;
use super::token;
use crate::communities::{ChannelAccess, Permissions};

/// Why someone may not be in a channel's room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member of the community (never was, left, or kicked), or the channel is gone.
    NotMember,
    Banned,
    /// Lost VIEW_CHANNEL or CONNECT.
    NoConnect,
    /// The channel's user limit is reached (members with MOVE_MEMBERS may exceed it).
    ChannelFull,
}

/// What the server decided about someone in a channel's room.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// They may stay, with these flags and these live permissions (what their ticket would
    /// say if it were issued now).
    Admit {
        moderation: Moderation,
        permission: proto::ParticipantPermission,
    },
    Refuse(Refusal),
}

/// Decides about a user in a channel's room. `access` is their standing towards the channel
/// (None when the channel or the user is unknown); `others_inside` counts the other users
/// already in the channel, and `None` skips the user limit (someone already admitted is not
/// removed because the limit was lowered).
pub fn decide(
    access: Option<&ChannelAccess>,
    others_inside: Option<usize>,
    moderation: Moderation,
) -> Verdict {
    let Some(access) = access.filter(|a| a.is_member || a.banned) else {
        return Verdict::Refuse(Refusal::NotMember);
    };
    if access.banned {
        return Verdict::Refuse(Refusal::Banned);
    }
    if !access.permissions.grants(Permissions::VIEW_CHANNEL)
        || !access.permissions.grants(Permissions::CONNECT)
    {
        return Verdict::Refuse(Refusal::NoConnect);
    }
    if let Some(others) = others_inside
        && access.user_limit > 0
        && others >= access.user_limit as usize
        && !access.permissions.grants(Permissions::MOVE_MEMBERS)
    {
        return Verdict::Refuse(Refusal::ChannelFull);
    }
    Verdict::Admit {
        moderation,
        permission: token::permission(
            access.permissions,
            moderation.server_mute,
            moderation.server_deaf,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communities::ChannelKind;

    fn access(perms: Permissions, limit: u32) -> ChannelAccess {
        ChannelAccess {
            community_id: "c".into(),
            channel_id: "ch".into(),
            kind: ChannelKind::Voice,
            user_limit: limit,
            is_member: true,
            banned: false,
            permissions: perms,
        }
    }

    fn without(p: Permissions) -> Permissions {
        Permissions::EVERYONE_DEFAULT.difference(p)
    }

    #[test]
    fn outsiders_banned_and_disconnected_members_are_refused() {
        let none = Moderation::default();
        assert_eq!(
            decide(None, Some(0), none),
            Verdict::Refuse(Refusal::NotMember)
        );
        let left = ChannelAccess {
            is_member: false,
            ..access(Permissions::empty(), 0)
        };
        assert_eq!(
            decide(Some(&left), Some(0), none),
            Verdict::Refuse(Refusal::NotMember)
        );
        let banned = ChannelAccess {
            is_member: false,
            banned: true,
            ..access(Permissions::empty(), 0)
        };
        assert_eq!(
            decide(Some(&banned), Some(0), none),
            Verdict::Refuse(Refusal::Banned)
        );
        for lost in [Permissions::CONNECT, Permissions::VIEW_CHANNEL] {
            assert_eq!(
                decide(Some(&access(without(lost), 0)), Some(0), none),
                Verdict::Refuse(Refusal::NoConnect)
            );
        }
    }

    #[test]
    fn the_user_limit_counts_others_and_spares_movers_and_those_inside() {
        let none = Moderation::default();
        let member = access(Permissions::EVERYONE_DEFAULT, 1);
        assert!(matches!(
            decide(Some(&member), Some(0), none),
            Verdict::Admit { .. }
        ));
        assert_eq!(
            decide(Some(&member), Some(1), none),
            Verdict::Refuse(Refusal::ChannelFull)
        );
        assert!(matches!(
            decide(Some(&member), None, none),
            Verdict::Admit { .. }
        ));
        let mover = access(
            Permissions::EVERYONE_DEFAULT.union(Permissions::MOVE_MEMBERS),
            1,
        );
        assert!(matches!(
            decide(Some(&mover), Some(5), none),
            Verdict::Admit { .. }
        ));
    }

    #[test]
    fn admitted_permissions_follow_roles_and_moderation() {
        let muted = Moderation {
            server_mute: true,
            server_deaf: true,
        };
        let Verdict::Admit { permission, .. } = decide(
            Some(&access(Permissions::EVERYONE_DEFAULT, 0)),
            Some(0),
            muted,
        ) else {
            panic!("refused");
        };
        let mic = proto::TrackSource::Microphone as i32;
        assert!(!permission.can_publish_sources.contains(&mic));
        assert!(!permission.can_subscribe);
        let Verdict::Admit { permission, .. } = decide(
            Some(&access(without(Permissions::SPEAK), 0)),
            Some(0),
            Moderation::default(),
        ) else {
            panic!("refused");
        };
        assert!(!permission.can_publish_sources.contains(&mic));
        assert!(permission.can_subscribe);
    }
}
