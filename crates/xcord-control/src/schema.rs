//! OpenAPI schemas of the values the API's objects share: ids, invite codes, colours, handles,
//! display names, passwords, names and message content. The types here exist only for the
//! API document: fields point at them (`#[schema(value_type = schema::Id)]`) and nothing
//! constructs them. Each limit is the constant its rule checks (`limits`, read by `accounts::validate` and
//! `communities::validate`), so the document and the rules cannot drift apart.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::limits::{
    DISPLAY_NAME_CHARS, HANDLE_CHARS, MAX_MESSAGE_CHARS, NAME_CHARS, PASSWORD_CHARS,
};

/// The shape of an id (`db::new_id`: a UUIDv7 as 32 lowercase hex digits).
pub const ID_PATTERN: &str = "^[0-9a-f]{32}$";
/// The shape of an invite code (`communities::store::invites::new_code`).
pub const INVITE_CODE_PATTERN: &str = "^[A-Za-z0-9]{10}$";

/// Not all white space and no control characters: a control-free string with at least one
/// character that is neither white space nor control (what a trimmed, non-empty, control-free
/// name looks like before trimming).
const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";
/// White space as Rust's `str::trim` sees it.
const WHITE_SPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// How names are checked.
const TRIMMED: &str = "Trimmed of surrounding white space before it is checked and stored";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn with_length(builder: ObjectBuilder, chars: &std::ops::RangeInclusive<usize>) -> ObjectBuilder {
    builder
        .min_length(Some(*chars.start()))
        .max_length(Some(*chars.end()))
}

/// A trimmed, control-free name of `chars` characters.
fn name(chars: &std::ops::RangeInclusive<usize>, extra: &str) -> ObjectBuilder {
    with_length(string(), chars)
        .pattern(Some(NAME_PATTERN))
        .description(Some(format!(
            "{TRIMMED}: {} to {} characters (Unicode scalar values) that are not all white \
             space, without control characters. The limits here are on the string as sent.{extra}",
            chars.start(),
            chars.end()
        )))
}

/// Declares a schema-only type whose schema is `$schema`.
macro_rules! schema_type {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $name {}
    };
}

schema_type!(
    /// An id.
    Id => string()
        .pattern(Some(ID_PATTERN))
        .description(Some(
            "An id: 32 lowercase hex digits (a UUIDv7, so ids sort by creation time).",
        ))
        .examples(["0193a1f2c3d47e5f8a0718293a4b5c6d"])
);

schema_type!(
    /// An invite code.
    InviteCode => string()
        .pattern(Some(INVITE_CODE_PATTERN))
        .description(Some("An invite code: 10 characters of `[A-Za-z0-9]`."))
);

schema_type!(
    /// A CSS colour.
    Colour => string()
        .pattern(Some("^#[0-9A-Fa-f]{6}$"))
        .description(Some("A CSS colour `#rrggbb`."))
);

schema_type!(
    /// A handle: the name a user signs in with.
    Handle => with_length(string(), &HANDLE_CHARS)
        .pattern(Some(format!(
            "^[A-Za-z0-9_.]{{{},{}}}$",
            HANDLE_CHARS.start(),
            HANDLE_CHARS.end()
        )))
        .description(Some(format!(
            "{} to {} letters, digits, `_` and `.`; unique without regard to case.",
            HANDLE_CHARS.start(),
            HANDLE_CHARS.end()
        )))
);

schema_type!(
    /// A user's display name.
    DisplayName => name(&DISPLAY_NAME_CHARS, "")
);

schema_type!(
    /// A password.
    Password => with_length(string(), &PASSWORD_CHARS).description(Some(format!(
        "{} to {} characters (Unicode scalar values).",
        PASSWORD_CHARS.start(),
        PASSWORD_CHARS.end()
    )))
);

schema_type!(
    /// The name of a community or a channel.
    Name => name(&NAME_CHARS, "")
);

schema_type!(
    /// The name of a role: a name, and not `@everyone`.
    RoleName => name(
        &NAME_CHARS,
        " `@everyone` (in any case, after trimming) is reserved.",
    )
    .extensions(Some(Extensions::from_iter([(
        "not",
        serde_json::json!({
            "pattern": format!(
                "^[{WHITE_SPACE}]*@[Ee][Vv][Ee][Rr][Yy][Oo][Nn][Ee][{WHITE_SPACE}]*$"
            )
        }),
    )])))
);

schema_type!(
    /// A message's content.
    Content => string()
        .min_length(Some(1))
        .max_length(Some(MAX_MESSAGE_CHARS))
        .pattern(Some(format!("[^{WHITE_SPACE}]")))
        .description(Some(format!(
            "1 to {MAX_MESSAGE_CHARS} characters (Unicode scalar values), not only white \
             space; kept as written."
        )))
);

/// The two colours of an avatar's gradient.
pub struct AvatarGradient;

impl PartialSchema for AvatarGradient {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(Colour::name()))
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("The two colours of the avatar's gradient."))
            .into()
    }
}

impl ToSchema for AvatarGradient {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Colour::name().into(), Colour::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: PartialSchema>() -> serde_json::Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    #[test]
    fn ids_and_codes_have_the_shape_the_generators_give() {
        assert_eq!(ID_PATTERN, "^[0-9a-f]{32}$");
        for id in [crate::db::new_id(), crate::db::new_id()] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
        assert_eq!(json::<Id>()["pattern"], ID_PATTERN);
        let example = json::<Id>()["examples"][0].as_str().unwrap().to_owned();
        assert_eq!(example.len(), 32);
    }

    #[test]
    fn limits_are_the_rules_limits() {
        assert_eq!(json::<Handle>()["maxLength"], 32);
        assert_eq!(json::<Handle>()["pattern"], "^[A-Za-z0-9_.]{3,32}$");
        assert_eq!(json::<DisplayName>()["maxLength"], 64);
        assert_eq!(json::<Password>()["minLength"], 8);
        assert_eq!(json::<Name>()["maxLength"], 100);
        assert_eq!(json::<Content>()["maxLength"], 4000);
        let role = json::<RoleName>();
        assert_eq!(role["maxLength"], 100);
        assert!(role["not"]["pattern"].as_str().unwrap().contains("@[Ee]"));
        assert!(
            role["description"]
                .as_str()
                .unwrap()
                .ends_with("is reserved.")
        );
        let gradient = json::<AvatarGradient>();
        assert_eq!(gradient["items"]["$ref"], "#/components/schemas/Colour");
        assert_eq!(
            (gradient["minItems"].clone(), gradient["maxItems"].clone()),
            (2.into(), 2.into())
        );
    }
}
