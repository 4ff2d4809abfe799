//! Roles: any member sees them; creating, editing, deleting and assigning them takes
//! MANAGE_ROLES, and nobody (but the owner and administrators, who have everything) can create,
//! edit, delete, grant or take a role with permissions they do not have themselves. The
//! `@everyone` role cannot be renamed, deleted or assigned; its permissions can be edited.

use super::{Actor, actor};
use crate::app::Services;
use crate::communities::events::{self, MEMBER_UPDATE, ROLE_CREATE, ROLE_DELETE, ROLE_UPDATE};
use crate::communities::hooks;
use crate::communities::store::roles::EVERYONE;
use crate::communities::{Member, Permissions, Role, store, validate};
use crate::error::{Error, Result};

/// Permission names from a request; an unknown name is a 400 that names it.
pub fn parse_permissions(names: &[String]) -> Result<Permissions> {
    Permissions::from_names(names)
        .map_err(|name| Error::invalid(format!("unknown permission {name:?}")))
}

fn role_name(name: &str) -> Result<&str> {
    let name = validate::name("name", name)?;
    if name.eq_ignore_ascii_case(EVERYONE) {
        return Err(Error::invalid(format!(
            "the role name {EVERYONE} is reserved"
        )));
    }
    Ok(name)
}

/// A role of the actor's community that the actor may manage.
async fn managed_role(services: &Services, actor: &Actor, role_id: &str) -> Result<Role> {
    actor.require(Permissions::MANAGE_ROLES)?;
    let role = store::roles::role(&services.db, &actor.community.id, role_id)
        .await?
        .ok_or_else(|| Error::not_found("role not found"))?;
    actor.require_within(&format!("role {:?}", role.name), role.permissions)?;
    Ok(role)
}

pub async fn list(services: &Services, user_id: &str, community_id: &str) -> Result<Vec<Role>> {
    actor(&services.db, community_id, user_id).await?;
    Ok(store::roles::roles(&services.db, community_id).await?)
}

pub async fn create(
    services: &Services,
    user_id: &str,
    community_id: &str,
    name: &str,
    permissions: &[String],
) -> Result<Role> {
    let actor = actor(&services.db, community_id, user_id).await?;
    actor.require(Permissions::MANAGE_ROLES)?;
    let name = role_name(name)?;
    let permissions = parse_permissions(permissions)?;
    actor.require_within("the new role", permissions)?;
    let role = store::roles::insert(
        &services.db,
        community_id,
        name,
        permissions,
        services.clock.now_ms(),
    )
    .await?;
    events::to_members(services, community_id, ROLE_CREATE, &role).await;
    Ok(role)
}

pub async fn update(
    services: &Services,
    user_id: &str,
    community_id: &str,
    role_id: &str,
    name: Option<&str>,
    permissions: Option<&[String]>,
) -> Result<Role> {
    let actor = actor(&services.db, community_id, user_id).await?;
    let role = managed_role(services, &actor, role_id).await?;
    let name = match name {
        Some(_) if role.is_everyone => {
            return Err(Error::invalid("the @everyone role cannot be renamed"));
        }
        Some(n) => Some(role_name(n)?),
        None => None,
    };
    let permissions = permissions.map(parse_permissions).transpose()?;
    if let Some(p) = permissions {
        actor.require_within("the edited role", p)?;
    }
    let role = store::roles::update(&services.db, community_id, role_id, name, permissions)
        .await?
        .ok_or_else(|| Error::not_found("role not found"))?;
    events::to_members(services, community_id, ROLE_UPDATE, &role).await;
    if permissions.is_some() {
        hooks::permissions_changed(services, community_id).await;
    }
    Ok(role)
}

pub async fn delete(
    services: &Services,
    user_id: &str,
    community_id: &str,
    role_id: &str,
) -> Result<()> {
    let actor = actor(&services.db, community_id, user_id).await?;
    let role = managed_role(services, &actor, role_id).await?;
    if role.is_everyone {
        return Err(Error::invalid("the @everyone role cannot be deleted"));
    }
    if !store::roles::delete(&services.db, community_id, role_id).await? {
        return Err(Error::not_found("role not found"));
    }
    let data = serde_json::json!({ "id": role_id, "communityId": community_id });
    events::to_members(services, community_id, ROLE_DELETE, data).await;
    hooks::permissions_changed(services, community_id).await;
    Ok(())
}

/// Gives (`assign`) or takes a role from a member; returns the member as they are now.
pub async fn set_assigned(
    services: &Services,
    user_id: &str,
    community_id: &str,
    target: &str,
    role_id: &str,
    assign: bool,
) -> Result<Member> {
    let actor = actor(&services.db, community_id, user_id).await?;
    let role = managed_role(services, &actor, role_id).await?;
    if role.is_everyone {
        return Err(Error::invalid(
            "every member has the @everyone role implicitly",
        ));
    }
    if !store::is_member(&services.db, community_id, target).await? {
        return Err(Error::not_found("member not found"));
    }
    let changed = if assign {
        store::roles::assign(&services.db, community_id, target, role_id).await?
    } else {
        store::roles::unassign(&services.db, community_id, target, role_id).await?
    };
    if !assign && !changed {
        return Err(Error::not_found("the member does not have that role"));
    }
    let member = store::members::member(&services.db, community_id, target)
        .await?
        .ok_or_else(|| Error::not_found("member not found"))?;
    if changed {
        events::to_members(services, community_id, MEMBER_UPDATE, &member).await;
        hooks::permissions_changed(services, community_id).await;
    }
    Ok(member)
}
