//! `Client`, `Client/{id}`, `Organization/{id}`, `Commcell/properties`.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::json;
use strongroom_core::clients::BackupClient;
use strongroom_core::passkeys::{CompanySettings, PasskeyState};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::error::CommvaultError;
use super::extract::{Accept, CvBody, LoggedIn};
use super::wire::{Body, Format, Reply};
use crate::app::AppState;
use crate::xml::Element;

fn until(state: &PasskeyState) -> Option<String> {
    state.authorized_until.and_then(|t| t.format(&Rfc3339).ok())
}

/// The clients `GET Client` and `GET Client/{clientId}` answer (`App_GetClientPropertiesResponse`
/// in XML, with a `clientProperties` element for each).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientPropertiesList {
    client_properties: Vec<ClientProperties>,
}

/// A client and its passkey state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientProperties {
    client: ClientRef,
    client_props: ClientProps,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientRef {
    client_entity: ClientEntity,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientEntity {
    client_id: u64,
    client_name: String,
    host_name: String,
    display_name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientProps {
    passkey_settings: PasskeySettings,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySettings {
    /// A passkey is set on the client.
    enabled: bool,
    /// Until when browse and restore are authorized (RFC 3339), if they are; absent in XML
    /// when null.
    authorized_for_restore_until: Option<String>,
}

impl ClientProperties {
    fn new(c: &BackupClient, p: &PasskeyState) -> Self {
        Self {
            client: ClientRef {
                client_entity: ClientEntity {
                    client_id: c.id,
                    client_name: c.name.clone(),
                    host_name: c.host_name.clone(),
                    display_name: c.display_name.clone(),
                },
            },
            client_props: ClientProps {
                passkey_settings: PasskeySettings {
                    enabled: p.enabled,
                    authorized_for_restore_until: until(p),
                },
            },
        }
    }

    /// The XML form: a `clientProperties` element.
    fn xml(&self) -> Element {
        let e = &self.client.client_entity;
        let p = &self.client_props.passkey_settings;
        let mut settings = Element::new("passkeySettings").attr("enabled", p.enabled);
        if let Some(u) = &p.authorized_for_restore_until {
            settings = settings.attr("authorizedForRestoreUntil", u);
        }
        Element::new("clientProperties")
            .child(
                Element::new("client").child(
                    Element::new("clientEntity")
                        .attr("clientId", e.client_id)
                        .attr("clientName", &e.client_name)
                        .attr("hostName", &e.host_name)
                        .attr("displayName", &e.display_name),
                ),
            )
            .child(Element::new("clientProps").child(settings))
    }
}

fn clients_reply(f: Format, clients: Vec<(BackupClient, PasskeyState)>) -> Reply {
    let list = ClientPropertiesList {
        client_properties: clients
            .iter()
            .map(|(c, p)| ClientProperties::new(c, p))
            .collect(),
    };
    let xml = (list.client_properties.iter())
        .fold(Element::new("App_GetClientPropertiesResponse"), |xml, c| {
            xml.child(c.xml())
        });
    Reply::ok_typed(f, &list, xml)
}

/// `GET Client`: the clients the caller may see (all for root Administrators, the owned ones
/// otherwise), with their passkey state.
#[utoipa::path(
    get,
    path = "/Client",
    operation_id = "getClients",
    tag = "clients",
    responses(
        (status = 200, description = "The clients the user may see (all for root \
            Administrators, the ones they own otherwise).", body = ClientPropertiesList),
        super::openapi::Session,
    )
)]
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
#[utoipa::path(
    get,
    path = "/Client/{clientId}",
    operation_id = "getClient",
    tag = "clients",
    params(("clientId" = u64, Path, description = "The client's id.")),
    responses(
        (status = 200, description = "The client, alone in the list.",
            body = ClientPropertiesList),
        super::openapi::Session,
        super::openapi::Privileged,
        super::openapi::Item,
    )
)]
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
