//! The authenticated caller of a route, and the rule it must pass. The rules themselves are
//! the core's ([`Access`]); a route names one through a marker type of [`rule`], so the rule
//! shows in each handler's signature (through each face's aliases, e.g. `RootAdmin`).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use strongroom_core::access::Access;
use strongroom_core::identity::Principal;

use crate::app::AppState;
use crate::auth;

/// A role rule a route requires, as a type: one of [`rule`]'s markers.
pub trait Rule {
    const ACCESS: Access;
}

/// One marker per [`Access`] rule, of the same name.
pub mod rule {
    use strongroom_core::access::Access;

    macro_rules! rules {
        ($($name:ident),* $(,)?) => {
            $(
                #[doc = concat!("[`Access::", stringify!($name), "`].")]
                pub struct $name;
                impl super::Rule for $name {
                    const ACCESS: Access = Access::$name;
                }
            )*
        };
    }

    rules!(
        AnyUser,
        RootAdministrator,
        Administrator,
        AdministratorOrOperator,
        Operator,
        Metrics,
        RootBackup,
        RootAdministratorOrRootBackup,
    );
}

/// A caller authenticated by HTTP Basic who passed the rule `R`; refusals are the face's error
/// `E`. The rule is checked right after authentication, so a caller of the wrong role gets
/// 403 before anything about the body is looked at.
pub struct Caller<R, E>(pub Principal, pub PhantomData<fn() -> (R, E)>);

impl<R, E> FromRequestParts<AppState> for Caller<R, E>
where
    R: Rule,
    E: From<strongroom_core::Error> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = auth::authenticate_basic(state, parts).await?;
        R::ACCESS.check(&principal)?;
        Ok(Caller(principal, PhantomData))
    }
}
