//! Integration tests: the real `strongroom` binary over real HTTPS on an ephemeral port, with
//! a real store in a temporary directory. One test binary, organised by modules.

mod common;

mod admin_network;
mod admin_power;
mod admin_services;
mod admin_syslog;
mod admin_tls;
mod appliance;
mod at_rest;
mod audit;
mod backup;
mod backup_client;
mod bad_input;
mod cli_admin;
mod cli_appliance;
mod cli_audit;
mod cli_client;
mod cli_help;
mod cli_keys;
mod cli_lifecycle;
mod cli_passkey;
mod cli_scenario;
mod clock;
#[cfg(feature = "etcd-test")]
mod cluster;
#[cfg(feature = "etcd-test")]
mod cluster_backup;
#[cfg(feature = "etcd-test")]
mod cluster_backup_large;
#[cfg(feature = "etcd-test")]
mod cluster_endpoints;
#[cfg(feature = "etcd-test")]
mod cluster_failure;
#[cfg(feature = "etcd-test")]
mod cluster_member;
#[cfg(feature = "etcd-test")]
mod cluster_members;
#[cfg(feature = "etcd-test")]
mod cluster_peer_tls;
#[cfg(feature = "etcd-test")]
mod cluster_reads;
#[cfg(feature = "etcd-test")]
mod cluster_reads_sessions;
#[cfg(feature = "etcd-test")]
mod cluster_rotation;
mod conformance;
mod conformance_nethsm;
mod connections;
mod console;
mod console_pages;
mod crash;
mod crash_load;
mod cvpysdk_interop;
mod data_dir;
mod data_key;
mod errors;
mod exhaustion;
mod identity;
mod interop;
mod kdf;
mod keys;
mod keys_cache;
mod keys_clients;
mod keys_crypt;
mod keys_csr;
mod keys_curves;
mod lifecycle;
mod negative_data;
mod openapi;
mod openapi_commvault;
mod openapi_faces;
mod openapi_nethsm;
mod openapi_nethsm_admin;
mod proptest_bodies;
mod random;
mod rollback;
mod secret_scan;
mod slow_clients;
mod system;
mod systemd_notify;
mod upgrade;
mod upload_scratch;
