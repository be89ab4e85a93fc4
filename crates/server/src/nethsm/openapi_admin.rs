//! The part of the face's OpenAPI document (`openapi.rs`) that describes the appliance's own
//! administration: `/config/*`, `/system/*`, `/metrics` and `/cluster/*`, merged into it. Its
//! own list of paths, and the refusals only these operations give (a PEM or octet-stream
//! body, a 412 that means more than the wrong state); the shared ones are `openapi.rs`'s.

use utoipa::{OpenApi, ToSchema};

use super::openapi::{BAD_REQUEST, NOT_ACCEPTABLE_PEM, UNAUTHENTICATED, UNAVAILABLE};
use super::wire::RestoreArguments;
use super::{
    cluster, cluster_join, config, config_logging, config_network, config_tls, metrics, system,
    system_update,
};
use crate::face::openapi::{self, NOT_ACCEPTABLE, RATE_LIMITED, Refusal, TOO_LARGE, refusals};

#[derive(OpenApi)]
#[openapi(
    paths(
        config::config_unattended_boot_get,
        config::config_unattended_boot_put,
        config::config_backup_passphrase_put,
        config::config_unlock_passphrase_put,
        config::config_time_get,
        config::config_time_put,
        config_network::config_network_get,
        config_network::config_network_put,
        config_logging::config_logging_get,
        config_logging::config_logging_put,
        config_tls::tls_public_pem_get,
        config_tls::tls_cert_pem_get,
        config_tls::tls_cert_pem_put,
        config_tls::tls_csr_pem_post,
        config_tls::tls_generate_post,
        config_tls::tls_cluster_ca_get,
        config_tls::tls_cluster_ca_put,
        system::system_info_get,
        system::system_reboot_post,
        system::system_shutdown_post,
        system::system_factory_reset_post,
        system_update::system_update_post,
        system_update::system_commit_update_post,
        system_update::system_cancel_update_post,
        system::system_backup_post,
        system::system_restore_post,
        metrics::metrics_get,
        cluster_join::cluster_join_post,
        cluster_join::cluster_force_new_post,
        cluster::members_get,
        cluster::members_post,
        cluster::member_put,
        cluster::member_delete,
        cluster::member_promote_post,
    ),
    modifiers(&COMPONENTS),
)]
pub(super) struct AdminDoc;

/// The `multipart/form-data` body of `POST /system/restore`, as the handler reads it part by
/// part (the document's description of it, not a type the handler parses into).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RestoreForm {
    arguments: RestoreArguments,
    /// The backup file (docs/backup-format.md).
    #[schema(value_type = String, format = Binary)]
    backup_file: Vec<u8>,
}

const WRONG_CURRENT: Refusal = Refusal {
    name: "WrongCurrentPassphrase",
    status: 403,
    description: "The caller is not the root Administrator, or the current passphrase is \
                  wrong (then the next attempt from this address within a second is 429).",
};
const PEM_MEDIA_TYPE: Refusal = Refusal {
    name: "UnsupportedMediaTypePem",
    status: 415,
    description: "A body that is not application/x-pem-file.",
};
const PEM_TOO_LARGE: Refusal = Refusal {
    name: "PemTooLarge",
    status: 413,
    description: "The body is larger than 256 KiB.",
};
const BAD_PEM: Refusal = Refusal {
    name: "BadPem",
    status: 400,
    description: "Not PEM text (or not UTF-8, or the body could not be read), or not a \
                  certificate this operation takes (one for the served key; a CA \
                  certificate).",
};
const TLS_CHAIN: Refusal = Refusal {
    name: "TlsChainRefused",
    status: 412,
    description: "The node is not Operational; or the served certificate would not be \
                  signed by the cluster CA (a certificate not signed by the CA set, or a CA \
                  that did not sign the served certificate).",
};
const NO_CLUSTER_CA: Refusal = Refusal {
    name: "NoClusterCa",
    status: 404,
    description: "No cluster CA has been set.",
};
const OCTET_MEDIA_TYPE: Refusal = Refusal {
    name: "UnsupportedMediaTypeOctetStream",
    status: 415,
    description: "A body that is not application/octet-stream (none given counts as it).",
};
const UPDATE_REFUSED: Refusal = Refusal {
    name: "UpdateRefused",
    status: 400,
    description: "Always, for any image: this server is updated by its host's package \
                  manager, and the message says how.",
};
const NO_UPDATE_STAGED: Refusal = Refusal {
    name: "NoUpdateStaged",
    status: 412,
    description: "The node is not Operational; otherwise always: no update is staged here.",
};
const NOT_ACCEPTABLE_OCTET: Refusal = Refusal {
    name: "NotAcceptableOctetStream",
    status: 406,
    description: "`Accept` excludes application/octet-stream.",
};
const BACKUP_GATE: Refusal = Refusal {
    name: "BackupUnavailable",
    status: 412,
    description: "The node is not Operational, or no backup passphrase is set.",
};
const MULTIPART_MEDIA_TYPE: Refusal = Refusal {
    name: "UnsupportedMediaTypeMultipart",
    status: 415,
    description: "A body that is not multipart/form-data.",
};
const RESTORE_TOO_LARGE: Refusal = Refusal {
    name: "RestoreTooLarge",
    status: 413,
    description: "The backup file is larger than the server's `restore_max_bytes`.",
};
const BAD_RESTORE: Refusal = Refusal {
    name: "BadRestore",
    status: 400,
    description: "A malformed multipart body or `arguments`, a part missing or unexpected, \
                  or a backup file that does not open with the backup passphrase or does \
                  not verify.",
};
const CLUSTER_GATE: Refusal = Refusal {
    name: "NotInCluster",
    status: 412,
    description: "The node is not Operational; or it runs on its embedded store, not in a \
                  cluster (then every members call is 412, after the credentials and before \
                  the body or the member id are looked at); or etcd refuses the change for \
                  now (a learner that has not caught up); or, to add a member, no backup \
                  passphrase is set (the joiner kit is sealed under it).",
};
const JOIN_REFUSED: Refusal = Refusal {
    name: "JoinRefused",
    status: 412,
    description: "Always, once the request is valid: the node is not Operational, no \
                  cluster CA is set, or (otherwise) this build does not join through this \
                  call; the message says what to do instead.",
};
const FORCE_NEW_REFUSED: Refusal = Refusal {
    name: "ForceNewRefused",
    status: 412,
    description: "Always: the node is not Failed, or (Failed) this build does not rebuild \
                  its etcd member itself; the message says how to do it by hand.",
};

const ALL: [Refusal; 17] = [
    WRONG_CURRENT,
    PEM_MEDIA_TYPE,
    PEM_TOO_LARGE,
    BAD_PEM,
    TLS_CHAIN,
    NO_CLUSTER_CA,
    OCTET_MEDIA_TYPE,
    UPDATE_REFUSED,
    NO_UPDATE_STAGED,
    NOT_ACCEPTABLE_OCTET,
    BACKUP_GATE,
    MULTIPART_MEDIA_TYPE,
    RESTORE_TOO_LARGE,
    BAD_RESTORE,
    CLUSTER_GATE,
    JOIN_REFUSED,
    FORCE_NEW_REFUSED,
];

/// This part's refusals as response components (the shared ones and the security scheme are
/// `openapi.rs`'s).
const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &ALL,
    component: Refusal::component,
    schemes: Vec::new,
};

refusals!(
    /// Changing a secret given with the current one: the caller's refusals, a wrong current
    /// one, and the rate limit both share.
    ChangeWithCurrent: UNAUTHENTICATED, WRONG_CURRENT, RATE_LIMITED, UNAVAILABLE
);
refusals!(
    /// A PEM body, answered with JSON or nothing.
    PemUpload: PEM_MEDIA_TYPE, PEM_TOO_LARGE, BAD_PEM, NOT_ACCEPTABLE
);
refusals!(
    /// Installing a certificate or a CA: the state, or the chain to the cluster CA.
    TlsChain: TLS_CHAIN
);
refusals!(
    /// A JSON body (of any media type, as for every POST here) answered with PEM.
    CsrBody: BAD_REQUEST, TOO_LARGE, NOT_ACCEPTABLE_PEM
);
refusals!(
    /// The cluster CA, before one is set.
    NoClusterCa: NO_CLUSTER_CA
);
refusals!(
    /// An update image.
    UpdateUpload: OCTET_MEDIA_TYPE, UPDATE_REFUSED, NOT_ACCEPTABLE
);
refusals!(
    /// Committing or cancelling an update.
    NoUpdateStaged: NO_UPDATE_STAGED
);
refusals!(
    /// An operation that answers a file.
    AnswersOctetStream: NOT_ACCEPTABLE_OCTET
);
refusals!(
    /// A backup: the state, or no backup passphrase.
    BackupGate: BACKUP_GATE
);
refusals!(
    /// A backup file to restore, answered with nothing.
    RestoreUpload: MULTIPART_MEDIA_TYPE, RESTORE_TOO_LARGE, BAD_RESTORE, NOT_ACCEPTABLE
);
refusals!(
    /// A members call: the state, no cluster, or etcd's refusal.
    ClusterGate: CLUSTER_GATE
);
refusals!(
    /// Joining a cluster.
    JoinRefused: JOIN_REFUSED
);
refusals!(
    /// Forcing a new cluster.
    ForceNewRefused: FORCE_NEW_REFUSED
);
