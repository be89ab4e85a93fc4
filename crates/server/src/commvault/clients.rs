//! `Client`, `Client/{id}`, `Organization/{id}`, `Commcell/properties`.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use strongroom_core::clients::BackupClient;
use strongroom_core::passkeys::{CompanySettings, PasskeyState};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::error::{CommvaultError, GenericResponse};
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
    Reply::ok(f, &list, xml)
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
    params(("clientId" = u64, Path, description = "The client's id.", example = 1)),
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

/// `GET Organization/{id}`'s answer (`App_GetOrganizationResponse` in XML).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationResponse {
    organization_info: OrganizationInfo,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationInfo {
    organization: Organization,
    organization_properties: OrganizationProperties,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    short_name: ShortName,
    /// `CommCell` (absent in XML).
    connect_name: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShortName {
    id: u64,
    /// `CommCell`.
    domain_name: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationProperties {
    advanced_privacy_settings: AdvancedPrivacySettings,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedPrivacySettings {
    /// 2 while a passkey is set, 1 otherwise.
    auth_type: u8,
    passkey_enabled: bool,
    /// Until when browse and restore are authorized (RFC 3339), if they are; absent in XML
    /// when null.
    authorized_for_restore_until: Option<String>,
}

impl OrganizationResponse {
    fn xml(&self) -> Element {
        let info = &self.organization_info;
        let short = &info.organization.short_name;
        let p = &info.organization_properties.advanced_privacy_settings;
        let mut privacy = Element::new("advancedPrivacySettings")
            .attr("authType", p.auth_type)
            .attr("passkeyEnabled", p.passkey_enabled);
        if let Some(u) = &p.authorized_for_restore_until {
            privacy = privacy.attr("authorizedForRestoreUntil", u);
        }
        Element::new("App_GetOrganizationResponse").child(
            Element::new("organizationInfo")
                .child(
                    Element::new("organization").child(
                        Element::new("shortName")
                            .attr("id", short.id)
                            .attr("domainName", short.domain_name),
                    ),
                )
                .child(Element::new("organizationProperties").child(privacy)),
        )
    }
}

/// `GET Organization/{id}`: `advancedPrivacySettings.authType` is 2 while a passkey is set,
/// 1 otherwise. Only company 0 (the whole installation) exists. Root Administrators.
#[utoipa::path(
    get,
    path = "/Organization/{companyId}",
    operation_id = "getOrganization",
    tag = "passkeys",
    params(("companyId" = u64, Path, description = "The company's id: 0, the whole \
        installation, is the only one.", example = 0)),
    responses(
        (status = 200, description = "The company's passkey state.",
            body = OrganizationResponse),
        super::openapi::Session,
        super::openapi::Privileged,
        super::openapi::Item,
    )
)]
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
    let answer = OrganizationResponse {
        organization_info: OrganizationInfo {
            organization: Organization {
                short_name: ShortName {
                    id,
                    domain_name: "CommCell",
                },
                connect_name: "CommCell",
            },
            organization_properties: OrganizationProperties {
                advanced_privacy_settings: AdvancedPrivacySettings {
                    auth_type: if state.enabled { 2 } else { 1 },
                    passkey_enabled: state.enabled,
                    authorized_for_restore_until: until(&state),
                },
            },
        },
    };
    Ok(Reply::ok(f, &answer, answer.xml()))
}

/// The installation's settings: `GET Commcell/properties`'s answer and `PUT`'s request
/// (`App_GetCommCellPropertiesResponse` in XML; the request's root element is not looked at).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommCellProperties {
    comm_cell_info: CommCellInfo,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommCellInfo {
    general_info: GeneralInfo,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneralInfo {
    /// Whether client owners may create passkeys (in XML `true` or `1` mean yes, any other
    /// value no).
    allow_users_to_enable_passkey: bool,
}

impl CommCellProperties {
    fn new(settings: &CompanySettings) -> Self {
        Self {
            comm_cell_info: CommCellInfo {
                general_info: GeneralInfo {
                    allow_users_to_enable_passkey: settings.allow_users_to_enable_passkey,
                },
            },
        }
    }

    /// The settings of a `PUT` body, JSON or XML.
    fn of_body(body: &Body) -> Option<CompanySettings> {
        let allow = match body {
            Body::Json(v) => {
                let p: CommCellProperties = serde::Deserialize::deserialize(v).ok()?;
                p.comm_cell_info.general_info.allow_users_to_enable_passkey
            }
            Body::Xml(el) => el
                .find("commCellInfo")
                .and_then(|c| c.find("generalInfo"))
                .and_then(|g| g.get("allowUsersToEnablePasskey"))
                .map(|a| a == "true" || a == "1")?,
        };
        Some(CompanySettings {
            allow_users_to_enable_passkey: allow,
        })
    }
}

fn properties_reply(f: Format, settings: &CompanySettings) -> Reply {
    let json = CommCellProperties::new(settings);
    let xml = Element::new("App_GetCommCellPropertiesResponse").child(
        Element::new("commCellInfo").child(
            Element::new("generalInfo").attr(
                "allowUsersToEnablePasskey",
                json.comm_cell_info
                    .general_info
                    .allow_users_to_enable_passkey,
            ),
        ),
    );
    Reply::ok(f, &json, xml)
}

/// `GET Commcell/properties` (root Administrators).
#[utoipa::path(
    get,
    path = "/Commcell/properties",
    operation_id = "getCommCellProperties",
    tag = "passkeys",
    responses(
        (status = 200, description = "The installation's settings.", body = CommCellProperties),
        super::openapi::Session,
        super::openapi::Privileged,
    )
)]
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

/// `PUT Commcell/properties`'s answer (`App_GenericResponse` with a `response` element in XML).
#[derive(Serialize, ToSchema)]
pub struct GenericResponseList {
    response: Vec<ResponseCode>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseCode {
    /// 0: done.
    error_code: i64,
}

/// `PUT Commcell/properties` `{"commCellInfo": {"generalInfo": {"allowUsersToEnablePasskey": bool}}}`
/// (root Administrators). When false, client owners may not create passkeys.
#[utoipa::path(
    put,
    path = "/Commcell/properties",
    operation_id = "setCommCellProperties",
    tag = "passkeys",
    request_body = CommCellProperties,
    responses(
        (status = 200, description = "The settings are stored.", body = GenericResponseList),
        super::openapi::RequestBody,
        (status = 409, description = "Another writer changed the settings meanwhile; try \
            again.", body = GenericResponse),
        super::openapi::Session,
        super::openapi::Privileged,
    )
)]
pub async fn commcell_properties_put(
    State(s): State<AppState>,
    Accept(f): Accept,
    session: LoggedIn,
    CvBody(body): CvBody,
) -> Result<Reply, CommvaultError> {
    let settings = CommCellProperties::of_body(&body).ok_or_else(|| {
        CommvaultError::bad_request("Expected commCellInfo.generalInfo.allowUsersToEnablePasskey.")
            .in_format(f)
    })?;
    let who = session.principal;
    s.run(move |core| {
        core.operational(&who)?
            .passkeys()
            .set_company_settings(&settings)
    })
    .await
    .map_err(|e| CommvaultError::from_core(e, f))?;
    let xml =
        Element::new("App_GenericResponse").child(Element::new("response").attr("errorCode", 0));
    let json = GenericResponseList {
        response: vec![ResponseCode { error_code: 0 }],
    };
    Ok(Reply::ok(f, &json, xml))
}
