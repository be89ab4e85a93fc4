//! `Client`, `Client/{id}`, `Organization/{id}`, `Commcell/properties`.

use axum::extract::{Path, State};
use serde_json::{Value, json};
use strongroom_core::clients::BackupClient;
use strongroom_core::passkeys::{CompanySettings, PasskeyState};
use time::format_description::well_known::Rfc3339;

use super::error::CommvaultError;
use super::extract::{Accept, CvBody, LoggedIn};
use super::wire::{Body, Format, Reply};
use crate::app::AppState;
use crate::xml::Element;

fn until(state: &PasskeyState) -> Option<String> {
    state.authorized_until.and_then(|t| t.format(&Rfc3339).ok())
}

/// One entry of `clientProperties`, in both shapes.
fn client_properties(c: &BackupClient, p: &PasskeyState) -> (Value, Element) {
    let json = json!({
        "client": {"clientEntity": {
            "clientId": c.id, "clientName": c.name, "hostName": c.host_name, "displayName": c.display_name,
        }},
        "clientProps": {"passkeySettings": {
            "enabled": p.enabled,
            "authorizedForRestoreUntil": until(p),
        }},
    });
    let mut settings = Element::new("passkeySettings").attr("enabled", p.enabled);
    if let Some(u) = until(p) {
        settings = settings.attr("authorizedForRestoreUntil", u);
    }
    let xml = Element::new("clientProperties")
        .child(
            Element::new("client").child(
                Element::new("clientEntity")
                    .attr("clientId", c.id)
                    .attr("clientName", &c.name)
                    .attr("hostName", &c.host_name)
                    .attr("displayName", &c.display_name),
            ),
        )
        .child(Element::new("clientProps").child(settings));
    (json, xml)
}

fn clients_reply(f: Format, clients: Vec<(BackupClient, PasskeyState)>) -> Reply {
    let mut list = Vec::new();
    let mut xml = Element::new("App_GetClientPropertiesResponse");
    for (c, p) in &clients {
        let (j, x) = client_properties(c, p);
        list.push(j);
        xml = xml.child(x);
    }
    Reply::ok(f, json!({"clientProperties": list}), xml)
}

/// `GET Client`: the clients the caller may see (all for root Administrators, the owned ones
/// otherwise), with their passkey state.
pub async fn client_get(
    State(s): State<AppState>,
    Accept(f): Accept,
    session: LoggedIn,
) -> Result<Reply, CommvaultError> {
    let who = session.principal;
    let clients = s
        .run(move |core| core.operational(&who)?.clients().list_with_passkeys())
        .await
        .map_err(|e| CommvaultError::from_core(e, f))?;
    Ok(clients_reply(f, clients))
}

/// `GET Client/{id}`.
pub async fn client_id_get(
    State(s): State<AppState>,
    Path(client_id): Path<String>,
    Accept(f): Accept,
    session: LoggedIn,
) -> Result<Reply, CommvaultError> {
    let who = session.principal;
    let id: u64 = client_id.trim().parse().map_err(|_| {
        CommvaultError::from_core(
            strongroom_core::Error::NotFound("Client not found.".into()),
            f,
        )
    })?;
    let one = s
        .run(move |core| {
            let node = core.operational(&who)?;
            Ok((node.clients().get(id)?, node.passkeys().client_state(id)?))
        })
        .await
        .map_err(|e| CommvaultError::from_core(e, f))?;
    Ok(clients_reply(f, vec![one]))
}

/// `GET Organization/{id}`: `advancedPrivacySettings.authType` is 2 while a passkey is set,
/// 1 otherwise. Only company 0 (the whole installation) exists. Root Administrators.
pub async fn organization_get(
    State(s): State<AppState>,
    Path(company_id): Path<String>,
    Accept(f): Accept,
    session: LoggedIn,
) -> Result<Reply, CommvaultError> {
    let who = session.principal;
    let id: u64 = company_id.trim().parse().map_err(|_| {
        CommvaultError::from_core(
            strongroom_core::Error::NotFound("Company not found.".into()),
            f,
        )
    })?;
    let state = s
        .run(move |core| core.operational(&who)?.passkeys().company_state(id))
        .await
        .map_err(|e| CommvaultError::from_core(e, f))?;
    let auth_type = if state.enabled { 2 } else { 1 };
    let mut privacy = Element::new("advancedPrivacySettings")
        .attr("authType", auth_type)
        .attr("passkeyEnabled", state.enabled);
    if let Some(u) = until(&state) {
        privacy = privacy.attr("authorizedForRestoreUntil", u);
    }
    Ok(Reply::ok(
        f,
        json!({"organizationInfo": {
            "organization": {"shortName": {"id": id, "domainName": "CommCell"}, "connectName": "CommCell"},
            "organizationProperties": {"advancedPrivacySettings": {
                "authType": auth_type,
                "passkeyEnabled": state.enabled,
                "authorizedForRestoreUntil": until(&state),
            }},
        }}),
        Element::new("App_GetOrganizationResponse").child(
            Element::new("organizationInfo")
                .child(
                    Element::new("organization").child(
                        Element::new("shortName")
                            .attr("id", id)
                            .attr("domainName", "CommCell"),
                    ),
                )
                .child(Element::new("organizationProperties").child(privacy)),
        ),
    ))
}

fn properties_reply(f: Format, settings: &CompanySettings) -> Reply {
    Reply::ok(
        f,
        json!({"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": settings.allow_users_to_enable_passkey}}}),
        Element::new("App_GetCommCellPropertiesResponse").child(
            Element::new("commCellInfo").child(Element::new("generalInfo").attr(
                "allowUsersToEnablePasskey",
                settings.allow_users_to_enable_passkey,
            )),
        ),
    )
}

/// `GET Commcell/properties` (root Administrators).
pub async fn commcell_properties_get(
    State(s): State<AppState>,
    Accept(f): Accept,
    session: LoggedIn,
) -> Result<Reply, CommvaultError> {
    let who = session.principal;
    let settings = s
        .run(move |core| core.operational(&who)?.passkeys().company_settings())
        .await
        .map_err(|e| CommvaultError::from_core(e, f))?;
    Ok(properties_reply(f, &settings))
}

/// `PUT Commcell/properties` `{"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": bool}}}`
/// (root Administrators). When false, client owners may not create passkeys.
pub async fn commcell_properties_put(
    State(s): State<AppState>,
    Accept(f): Accept,
    session: LoggedIn,
    CvBody(body): CvBody,
) -> Result<Reply, CommvaultError> {
    let allow = match &body {
        Body::Json(v) => v
            .pointer("/commCellInfo/generalInfo/allowUsersToEnablePasskey")
            .and_then(|a| {
                a.as_bool()
                    .or_else(|| a.as_str().map(|s| s == "true" || s == "1"))
            }),
        Body::Xml(el) => el
            .find("commCellInfo")
            .and_then(|c| c.find("generalInfo"))
            .and_then(|g| g.get("allowUsersToEnablePasskey"))
            .map(|a| a == "true" || a == "1"),
    }
    .ok_or_else(|| {
        CommvaultError::bad_request("Expected commCellInfo.generalInfo.allowUsersToEnablePasskey.")
            .in_format(f)
    })?;
    let who = session.principal;
    let settings = CompanySettings {
        allow_users_to_enable_passkey: allow,
    };
    s.run(move |core| {
        core.operational(&who)?
            .passkeys()
            .set_company_settings(&settings)
    })
    .await
    .map_err(|e| CommvaultError::from_core(e, f))?;
    Ok(Reply::ok(
        f,
        json!({"response": [{"errorCode": 0}]}),
        Element::new("App_GenericResponse").child(Element::new("response").attr("errorCode", 0)),
    ))
}
