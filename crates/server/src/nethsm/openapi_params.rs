//! The path parameters of the NetHSM face's OpenAPI document, each described once and named
//! in the handlers' `params(...)`. Strings, as the handlers take them: the core checks their
//! form and answers 400 (each operation's `Item` refusals say so).

use utoipa::IntoParams;

/// `{KeyID}`.
#[derive(IntoParams)]
#[into_params(names("KeyID"), parameter_in = Path)]
#[allow(dead_code)]
pub struct KeyId(
    /// The key's id.
    String,
);

/// `{Tag}`.
#[derive(IntoParams)]
#[into_params(names("Tag"), parameter_in = Path)]
#[allow(dead_code)]
pub struct Tag(
    /// The tag.
    String,
);

/// `{UserID}`.
#[derive(IntoParams)]
#[into_params(names("UserID"), parameter_in = Path)]
#[allow(dead_code)]
pub struct UserId(
    /// `user` or `namespace~user`.
    String,
);

/// `{NamespaceID}`.
#[derive(IntoParams)]
#[into_params(names("NamespaceID"), parameter_in = Path)]
#[allow(dead_code)]
pub struct NamespaceId(
    /// The namespace.
    String,
);

/// `{MemberID}`.
#[derive(IntoParams)]
#[into_params(names("MemberID"), parameter_in = Path)]
#[allow(dead_code)]
pub struct MemberId(
    /// 16 lowercase hex digits, as `GET /cluster/members` lists them.
    String,
);
