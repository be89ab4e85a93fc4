//! `strongroom keys ...`: the key store of the NetHSM face (`/api/v1/keys`, docs/keys.md):
//! generate, import, list, show, public key, CSR, sign, decrypt, encrypt, certificates,
//! labels, move, tag restrictions. Data in (sign, decrypt, encrypt) comes from a file or stdin;
//! data out goes raw to a file or stdout, or as base64.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use crate::conn::{Api, Opts};
use crate::fail::{Exit, Failure};
use crate::nethsm::{
    With, emit, new_private_file, path_segment, refuse_raw_to_terminal, safe, table,
};

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

/// The spec's `KeyType`.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum KeyType {
    RSA,
    Curve25519,
    EC_P256,
    EC_P384,
    EC_P521,
    EC_P256K1,
    BrainpoolP256,
    BrainpoolP384,
    BrainpoolP512,
    Generic,
}

/// The spec's `KeyMechanism`.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum Mechanism {
    RSA_Decryption_RAW,
    RSA_Decryption_PKCS1,
    RSA_Decryption_OAEP_MD5,
    RSA_Decryption_OAEP_SHA1,
    RSA_Decryption_OAEP_SHA224,
    RSA_Decryption_OAEP_SHA256,
    RSA_Decryption_OAEP_SHA384,
    RSA_Decryption_OAEP_SHA512,
    RSA_Signature_PKCS1,
    RSA_Signature_PSS_MD5,
    RSA_Signature_PSS_SHA1,
    RSA_Signature_PSS_SHA224,
    RSA_Signature_PSS_SHA256,
    RSA_Signature_PSS_SHA384,
    RSA_Signature_PSS_SHA512,
    EdDSA_Signature,
    ECDSA_Signature,
    BIP340_Signature,
    AES_Encryption_CBC,
    AES_Decryption_CBC,
}

/// The spec's `SignMode`.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum SignMode {
    PKCS1,
    PSS_MD5,
    PSS_SHA1,
    PSS_SHA224,
    PSS_SHA256,
    PSS_SHA384,
    PSS_SHA512,
    EdDSA,
    ECDSA,
    BIP340,
}

/// The spec's `DecryptMode`.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum DecryptMode {
    RAW,
    PKCS1,
    OAEP_MD5,
    OAEP_SHA1,
    OAEP_SHA224,
    OAEP_SHA256,
    OAEP_SHA384,
    OAEP_SHA512,
    AES_CBC,
}

/// The spec's `EncryptMode`.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "verbatim")]
enum EncryptMode {
    AES_CBC,
}

/// The name the server knows a value by: the variant's, as clap prints it.
fn name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .expect("no variant is skipped")
        .get_name()
        .to_owned()
}

/// What a new key is allowed and labelled with (generate and import).
#[derive(Args)]
struct NewKey {
    /// A mechanism the key may be used with (repeatable), e.g. ECDSA_Signature.
    #[arg(
        long = "mechanism",
        value_enum,
        value_name = "MECHANISM",
        required = true
    )]
    mechanisms: Vec<Mechanism>,
    /// A tag restricting the key to Operators carrying it (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// The key's label (at most 32 bytes of UTF-8).
    #[arg(long)]
    label: Option<String>,
}

impl NewKey {
    fn fields(&self) -> Value {
        let mut v = json!({
            "mechanisms": self.mechanisms.iter().map(name).collect::<Vec<_>>(),
            "restrictions": {"tags": self.tags},
        });
        if let Some(label) = &self.label {
            v["label"] = json!(label);
        }
        v
    }
}

/// Where data comes from and goes to (sign, decrypt, encrypt).
#[derive(Args)]
struct Data {
    /// Read the input from this file [default: stdin].
    #[arg(long = "in", short, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the output to this file (mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the output as base64 instead of raw bytes.
    #[arg(long)]
    base64: bool,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the keys' ids (one request) or, for people, with type, label and tags.
    List {
        /// Only the keys whose tags the login Operator meets.
        #[arg(long)]
        filter: bool,
        /// Only the ids that start with PREFIX.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// Only the keys of exactly this label ("" for the keys without one).
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
    },
    /// Show one key: type, mechanisms, tags, label, operations.
    Show { id: String },
    /// Generate a key in the server (as an Administrator).
    Generate {
        /// The new key's id [default: one the server picks].
        id: Option<String>,
        #[arg(long = "type", value_enum)]
        key_type: KeyType,
        /// Bits: RSA 2048, 3072, 4096 or 8192; Generic (AES) 128, 192 or 256.
        #[arg(long)]
        length: Option<u32>,
        #[command(flatten)]
        new: NewKey,
    },
    /// Import a private key from a PEM or DER file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC),
    /// unencrypted (as an Administrator).
    Import {
        /// The private key file.
        file: PathBuf,
        /// The key's id [default: one the server picks].
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        new: NewKey,
    },
    /// Delete a key (as an Administrator).
    Delete { id: String },
    /// Print the key's public key as PEM (SubjectPublicKeyInfo).
    PublicKey {
        id: String,
        /// Write it to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A certificate signing request for the key, signed by it, as PEM.
    Csr {
        id: String,
        #[arg(long, value_name = "CN")]
        common_name: String,
        /// Two letters.
        #[arg(long, value_name = "C")]
        country: Option<String>,
        #[arg(long, value_name = "ST")]
        state: Option<String>,
        #[arg(long, value_name = "L")]
        locality: Option<String>,
        #[arg(long, value_name = "O")]
        organization: Option<String>,
        #[arg(long, value_name = "OU")]
        organizational_unit: Option<String>,
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
        /// A subject alternative name (repeatable): a DNS name, or IP:ADDRESS [default: the
        /// common name].
        #[arg(long = "san", value_name = "NAME", conflicts_with = "no_san")]
        sans: Vec<String>,
        /// No subject alternative names at all.
        #[arg(long)]
        no_san: bool,
        /// Write it to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign the input (as an Operator). PKCS1 takes a DigestInfo, PSS and ECDSA a digest,
    /// EdDSA and BIP340 the message (docs/keys.md).
    Sign {
        id: String,
        #[arg(long, value_enum)]
        mode: SignMode,
        #[command(flatten)]
        data: Data,
    },
    /// Decrypt the input (as an Operator).
    Decrypt {
        id: String,
        #[arg(long, value_enum)]
        mode: DecryptMode,
        /// The IV, base64 (AES_CBC).
        #[arg(long, value_name = "BASE64")]
        iv: Option<String>,
        #[command(flatten)]
        data: Data,
    },
    /// Encrypt the input, whole 16-byte blocks (as an Operator); without --iv the server picks
    /// one and it is printed on stderr (`iv: BASE64`).
    Encrypt {
        id: String,
        #[arg(long, value_enum, default_value = "AES_CBC")]
        mode: EncryptMode,
        /// The IV, base64 [default: a fresh random one].
        #[arg(long, value_name = "BASE64")]
        iv: Option<String>,
        #[command(flatten)]
        data: Data,
    },
    /// The key's certificate: get, put, delete.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Set the key's label, or remove it with --remove (as an Administrator).
    Label {
        id: String,
        #[arg(required_unless_present = "remove")]
        label: Option<String>,
        #[arg(long, conflicts_with = "label")]
        remove: bool,
    },
    /// Give the key a new id (as an Administrator).
    Move { id: String, new_id: String },
    /// Restrict the key to Operators carrying TAG (as an Administrator).
    Tag { id: String, tag: String },
    /// Remove TAG from the key's restriction (as an Administrator).
    Untag { id: String, tag: String },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write the key's certificate, as it was stored, to stdout or a file.
    Get {
        id: String,
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Store a certificate (X.509 PEM or DER, or OpenPGP) for the key.
    Put { id: String, file: PathBuf },
    /// Delete the key's certificate.
    Delete { id: String },
}

fn key_path(id: &str) -> String {
    format!("/keys/{}", path_segment(id))
}

pub fn run(w: With<KeysArgs>) -> anyhow::Result<()> {
    let opts = &w.opts;
    // Local input first, so a missing file fails before anything is sent.
    let input = match &w.args.command {
        KeysCommand::Sign { data, .. }
        | KeysCommand::Decrypt { data, .. }
        | KeysCommand::Encrypt { data, .. } => {
            refuse_raw_to_terminal(opts, data.out.as_deref(), data.base64)?;
            Some(read_input(data.input.as_deref())?)
        }
        _ => None,
    };
    let import = match &w.args.command {
        KeysCommand::Import { file, .. } => Some(private_key_pem(file)?),
        _ => None,
    };
    let api = opts.api()?;
    api.runtime.block_on(async {
        match &w.args.command {
            KeysCommand::List {
                filter,
                prefix,
                label,
            } => list(&api, opts, *filter, prefix.as_deref(), label.as_deref()).await,
            KeysCommand::Show { id } => {
                let k = read_key(&api, id).await?;
                let shown = summary(id, &k);
                emit(opts, shown.clone(), || details(&shown));
                Ok(())
            }
            KeysCommand::Generate {
                id,
                key_type,
                length,
                new,
            } => {
                let mut body = new.fields();
                body["type"] = json!(name(key_type));
                if let Some(length) = length {
                    body["length"] = json!(length);
                }
                if let Some(id) = id {
                    body["id"] = json!(id);
                }
                let req = api.authed(Method::POST, "/keys/generate")?.json(&body);
                let created = created_id(&api, req, "generating the key").await?;
                emit(opts, json!({"id": created, "type": name(key_type)}), || {
                    format!("generated {} key {}\n", name(key_type), safe(&created))
                });
                Ok(())
            }
            KeysCommand::Import { id, new, .. } => {
                let pem = import.expect("read above");
                let pem_len = pem.len() as u64;
                let form = reqwest::multipart::Form::new()
                    .part(
                        "arguments",
                        reqwest::multipart::Part::text(new.fields().to_string())
                            .mime_str("application/json")?,
                    )
                    .part(
                        "key_file",
                        // The private key's memory is wiped once the request is sent.
                        reqwest::multipart::Part::stream_with_length(
                            bytes::Bytes::from_owner(pem),
                            pem_len,
                        )
                        .mime_str("application/x-pem-file")?,
                    );
                let created = match id {
                    Some(id) => {
                        let req = api.authed(Method::PUT, &key_path(id))?.multipart(form);
                        api.send(req, &format!("importing the key {id}")).await?;
                        id.clone()
                    }
                    None => {
                        let req = api.authed(Method::POST, "/keys")?.multipart(form);
                        created_id(&api, req, "importing the key").await?
                    }
                };
                let k = read_key(&api, &created).await?;
                let key_type = k["type"].as_str().unwrap_or("").to_owned();
                emit(opts, json!({"id": created, "type": key_type}), || {
                    format!("imported {} key {}\n", safe(&key_type), safe(&created))
                });
                Ok(())
            }
            KeysCommand::Delete { id } => {
                let req = api.authed(Method::DELETE, &key_path(id))?;
                api.send(req, &format!("deleting the key {id}")).await?;
                emit(opts, json!({"deleted": id}), || {
                    format!("deleted key {}\n", safe(id))
                });
                Ok(())
            }
            KeysCommand::PublicKey { id, out } => {
                let req = api
                    .authed(Method::GET, &format!("{}/public.pem", key_path(id)))?
                    .header(reqwest::header::ACCEPT, "application/x-pem-file");
                let what = format!("reading the public key of {id}");
                let pem = text(&api, req, &what).await?;
                pem_out(opts, out.as_deref(), id, "publicKey", &pem)
            }
            KeysCommand::Csr {
                id,
                common_name,
                country,
                state,
                locality,
                organization,
                organizational_unit,
                email,
                sans,
                no_san,
                out,
            } => {
                let mut dn = json!({"commonName": common_name});
                for (field, value) in [
                    ("countryName", country),
                    ("stateOrProvinceName", state),
                    ("localityName", locality),
                    ("organizationName", organization),
                    ("organizationalUnitName", organizational_unit),
                    ("emailAddress", email),
                ] {
                    if let Some(v) = value {
                        dn[field] = json!(v);
                    }
                }
                if *no_san || !sans.is_empty() {
                    dn["subjectAltNames"] = json!(sans);
                }
                let req = api
                    .authed(Method::POST, &format!("{}/csr.pem", key_path(id)))?
                    .header(reqwest::header::ACCEPT, "application/x-pem-file")
                    .json(&dn);
                let pem = text(&api, req, &format!("making a CSR for {id}")).await?;
                pem_out(opts, out.as_deref(), id, "csr", &pem)
            }
            KeysCommand::Sign { id, mode, data } => {
                let body = json!({"mode": name(mode),
                                  "message": B64.encode(input.as_deref().expect("read above"))});
                let req = api
                    .authed(Method::POST, &format!("{}/sign", key_path(id)))?
                    .json(&body);
                let v = api.json(req, &format!("signing with {id}")).await?;
                let signature = base64_field(&v, "signature")?;
                bytes_out(opts, data, "signature", &signature, json!({"id": id}))
            }
            KeysCommand::Decrypt { id, mode, iv, data } => {
                let mut body = json!({"mode": name(mode),
                                      "encrypted": B64.encode(input.as_deref().expect("read above"))});
                if let Some(iv) = iv {
                    body["iv"] = json!(iv);
                }
                let req = api
                    .authed(Method::POST, &format!("{}/decrypt", key_path(id)))?
                    .json(&body);
                let v = api.json(req, &format!("decrypting with {id}")).await?;
                let decrypted = zeroize::Zeroizing::new(base64_field(&v, "decrypted")?);
                bytes_out(opts, data, "decrypted", &decrypted, json!({"id": id}))
            }
            KeysCommand::Encrypt { id, mode, iv, data } => {
                let mut body = json!({"mode": name(mode),
                                      "message": B64.encode(input.as_deref().expect("read above"))});
                if let Some(iv) = iv {
                    body["iv"] = json!(iv);
                }
                let req = api
                    .authed(Method::POST, &format!("{}/encrypt", key_path(id)))?
                    .json(&body);
                let v = api.json(req, &format!("encrypting with {id}")).await?;
                let encrypted = base64_field(&v, "encrypted")?;
                let used_iv = v["iv"].as_str().unwrap_or("").to_owned();
                // The server's IV is needed to decrypt: said on stderr unless it is in the JSON
                // or was given.
                if iv.is_none() && !opts.json {
                    eprintln!("iv: {used_iv}");
                }
                bytes_out(
                    opts,
                    data,
                    "encrypted",
                    &encrypted,
                    json!({"id": id, "iv": used_iv}),
                )
            }
            KeysCommand::Cert { command } => cert(&api, opts, command).await,
            KeysCommand::Label { id, label, remove } => {
                let path = format!("{}/label", key_path(id));
                let changed = if *remove {
                    let req = api.authed(Method::DELETE, &path)?;
                    api.send(req, &format!("removing the label of {id}"))
                        .await?;
                    true
                } else {
                    let req = api
                        .authed(Method::PUT, &path)?
                        .json(&json!({"label": label}));
                    unless_unchanged(api.send(req, &format!("labelling {id}")).await)?
                };
                let label = label.clone().unwrap_or_default();
                emit(opts, json!({"id": id, "label": label, "changed": changed}), || {
                    match (*remove, changed) {
                        (true, _) => format!("removed the label of {}\n", safe(id)),
                        (false, true) => format!("labelled {} {}\n", safe(id), safe(&label)),
                        (false, false) => {
                            format!("{} has the label {} already\n", safe(id), safe(&label))
                        }
                    }
                });
                Ok(())
            }
            KeysCommand::Move { id, new_id } => {
                let req = api
                    .authed(Method::POST, &format!("{}/move", key_path(id)))?
                    .json(&json!({"newId": new_id}));
                api.json(req, &format!("moving {id} to {new_id}")).await?;
                emit(opts, json!({"id": new_id, "from": id}), || {
                    format!("moved key {} to {}\n", safe(id), safe(new_id))
                });
                Ok(())
            }
            KeysCommand::Tag { id, tag } => {
                let path = format!("{}/restrictions/tags/{}", key_path(id), path_segment(tag));
                let req = api.authed(Method::PUT, &path)?;
                let changed =
                    unless_unchanged(api.send(req, &format!("tagging {id} with {tag}")).await)?;
                emit(opts, json!({"id": id, "tagged": tag, "changed": changed}), || {
                    if changed {
                        format!("restricted key {} to the tag {}\n", safe(id), safe(tag))
                    } else {
                        format!("key {} has the tag {} already\n", safe(id), safe(tag))
                    }
                });
                Ok(())
            }
            KeysCommand::Untag { id, tag } => {
                let path = format!("{}/restrictions/tags/{}", key_path(id), path_segment(tag));
                let req = api.authed(Method::DELETE, &path)?;
                api.send(req, &format!("removing the tag {tag} from {id}"))
                    .await?;
                emit(opts, json!({"id": id, "untagged": tag}), || {
                    format!("removed the tag {} from key {}\n", safe(tag), safe(id))
                });
                Ok(())
            }
        }
    })
}

async fn list(
    api: &Api,
    opts: &Opts,
    filter: bool,
    prefix: Option<&str>,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let mut path = match prefix {
        Some(p) => format!("/keys/{}*", path_segment(p)),
        None => "/keys".to_owned(),
    };
    let mut query = Vec::new();
    if filter {
        query.push("filter=true".to_owned());
    }
    if let Some(label) = label {
        // Percent-encoded UTF-8, as the server reads it.
        query.push(format!("label={}", path_segment(label)));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let list = api
        .json(api.authed(Method::GET, &path)?, "listing the keys")
        .await?;
    let mut keys = Vec::new();
    for item in list.as_array().into_iter().flatten() {
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        keys.push(summary(&id, &read_key(api, &id).await?));
    }
    emit(opts, Value::Array(keys.clone()), || {
        if keys.is_empty() {
            return "no keys\n".to_owned();
        }
        let rows = keys.iter().map(|k| {
            [
                k["id"].as_str().unwrap_or("").to_owned(),
                k["type"].as_str().unwrap_or("").to_owned(),
                k["label"].as_str().unwrap_or("").to_owned(),
                joined(&k["tags"]),
            ]
        });
        table(&["ID", "TYPE", "LABEL", "TAGS"], rows)
    });
    Ok(())
}

async fn read_key(api: &Api, id: &str) -> anyhow::Result<Value> {
    api.json(
        api.authed(Method::GET, &key_path(id))?,
        &format!("reading the key {id}"),
    )
    .await
}

/// A key as the CLI shows it: stable field names whatever the server adds.
fn summary(id: &str, k: &Value) -> Value {
    json!({
        "id": id,
        "type": k["type"],
        "label": k["label"].as_str().unwrap_or(""),
        "mechanisms": k["mechanisms"],
        "tags": k["restrictions"]["tags"].as_array().cloned().unwrap_or_default(),
        "operations": k["operations"],
    })
}

fn joined(v: &Value) -> String {
    (v.as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn details(k: &Value) -> String {
    let rows = [
        ("id", k["id"].as_str().unwrap_or("").to_owned()),
        ("type", k["type"].as_str().unwrap_or("").to_owned()),
        ("label", k["label"].as_str().unwrap_or("").to_owned()),
        ("mechanisms", joined(&k["mechanisms"])),
        ("tags", joined(&k["tags"])),
        (
            "operations",
            k["operations"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
    ];
    rows.iter()
        .map(|(label, v)| {
            let v = if v.is_empty() {
                "-".to_owned()
            } else {
                safe(v)
            };
            format!("{:<12}{v}\n", format!("{label}:"))
        })
        .collect()
}

/// Sends a create request that answers 201 `{"id"}`; returns the id.
async fn created_id(api: &Api, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<String> {
    let v = api.json(req, what).await?;
    Ok(v["id"]
        .as_str()
        .with_context(|| format!("the server's answer to {what} names no id"))?
        .to_owned())
}

async fn text(api: &Api, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<String> {
    let resp = api.send(req, what).await?;
    resp.text().await.map_err(|e| api.transport(e))
}

/// `Ok(true)` for a change, `Ok(false)` for the server's 304 (it was so already).
fn unless_unchanged(sent: anyhow::Result<reqwest::Response>) -> anyhow::Result<bool> {
    match sent {
        Ok(_) => Ok(true),
        Err(e) if e.downcast_ref::<Failure>().and_then(|f| f.status) == Some(304) => Ok(false),
        Err(e) => Err(e),
    }
}

fn base64_field(v: &Value, field: &str) -> anyhow::Result<Vec<u8>> {
    B64.decode(v[field].as_str().unwrap_or(""))
        .with_context(|| format!("the server's {field} is not base64"))
}

/// PEM text (a public key, a CSR) to a file or stdout; `--json` puts it in `field`.
fn pem_out(
    opts: &Opts,
    out: Option<&Path>,
    id: &str,
    field: &str,
    pem: &str,
) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
            emit(opts, json!({"id": id, "file": path}), || {
                format!("wrote {} to {}\n", field_words(field), path.display())
            });
        }
        None => emit(opts, json!({"id": id, field: pem}), || pem.to_owned()),
    }
    Ok(())
}

fn field_words(field: &str) -> &str {
    match field {
        "publicKey" => "the public key",
        "csr" => "the CSR",
        _ => field,
    }
}

/// The input of sign, decrypt and encrypt: the file, else stdin (not a terminal).
fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let mut input = Vec::new();
    match file {
        Some(path) => {
            std::fs::File::open(path)
                .and_then(|mut f| f.read_to_end(&mut input))
                .with_context(|| format!("reading the input {}", path.display()))?;
        }
        None if std::io::stdin().is_terminal() => {
            return Err(Failure::usage("no input: stdin is a terminal")
                .hint("pass --in FILE, or pipe the input in")
                .into());
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading the input from stdin")?;
        }
    }
    if input.is_empty() {
        return Err(Failure::usage("the input is empty").into());
    }
    Ok(input)
}

/// The result of sign, decrypt or encrypt: raw to `--out` (mode 0600) or stdout, or base64;
/// with `--json`, `extra` and `field` as base64.
fn bytes_out(
    opts: &Opts,
    data: &Data,
    field: &str,
    bytes: &[u8],
    extra: Value,
) -> anyhow::Result<()> {
    if let Some(path) = &data.out {
        new_private_file(path)?
            .write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        let mut v = extra;
        v["file"] = json!(path);
        v["length"] = json!(bytes.len());
        emit(opts, v, || {
            format!(
                "wrote {} bytes ({field}) to {}\n",
                bytes.len(),
                path.display()
            )
        });
    } else if opts.json {
        let mut v = extra;
        v[field] = json!(B64.encode(bytes));
        println!("{v}");
    } else if data.base64 {
        println!("{}", B64.encode(bytes));
    } else {
        std::io::stdout().write_all(bytes)?;
    }
    Ok(())
}

async fn cert(api: &Api, opts: &Opts, command: &CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Get { id, out } => {
            let req = api
                .authed(Method::GET, &format!("{}/cert", key_path(id)))?
                .header(reqwest::header::ACCEPT, "*/*");
            let resp = api
                .send(req, &format!("reading the certificate of {id}"))
                .await?;
            let media = (resp.headers().get(reqwest::header::CONTENT_TYPE))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = resp.bytes().await.map_err(|e| api.transport(e))?;
            match out {
                Some(path) => {
                    std::fs::write(path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                    emit(
                        opts,
                        json!({"id": id, "file": path, "mediaType": media, "length": bytes.len()}),
                        || {
                            format!(
                                "wrote the certificate of {} to {}\n",
                                safe(id),
                                path.display()
                            )
                        },
                    );
                }
                None if opts.json => println!(
                    "{}",
                    json!({"id": id, "mediaType": media, "certificate": B64.encode(&bytes)})
                ),
                None => {
                    if std::str::from_utf8(&bytes).is_err() && std::io::stdout().is_terminal() {
                        return Err(Failure::usage(
                            "refusing to write a binary certificate to a terminal",
                        )
                        .hint("pass --out FILE, or redirect stdout")
                        .into());
                    }
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
        CertCommand::Put { id, file } => {
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the certificate {}", file.display()))?;
            let req = api
                .authed(Method::PUT, &format!("{}/cert", key_path(id)))?
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes);
            api.send(req, &format!("storing the certificate of {id}"))
                .await?;
            emit(opts, json!({"id": id, "certificate": "stored"}), || {
                format!("stored the certificate of key {}\n", safe(id))
            });
        }
        CertCommand::Delete { id } => {
            let req = api.authed(Method::DELETE, &format!("{}/cert", key_path(id)))?;
            api.send(req, &format!("deleting the certificate of {id}"))
                .await?;
            emit(opts, json!({"id": id, "certificate": "deleted"}), || {
                format!("deleted the certificate of key {}\n", safe(id))
            });
        }
    }
    Ok(())
}

/// A private key file as the PEM the server's import takes: PEM as it is; DER wrapped in
/// the PEM label its structure says (PKCS#8, PKCS#1 RSA or SEC1 EC).
fn private_key_pem(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?,
    );
    if bytes.starts_with(b"-----BEGIN ") || bytes.trim_ascii_start().starts_with(b"-----BEGIN ") {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| bad_key_file(path, "a PEM file that is not text"))?;
        return Ok(zeroize::Zeroizing::new(text.to_owned()));
    }
    let label = der_private_key_label(&bytes)
        .ok_or_else(|| bad_key_file(path, "neither PEM nor a DER private key"))?;
    let b64 = zeroize::Zeroizing::new(B64.encode(&*bytes));
    let mut pem = zeroize::Zeroizing::new(format!("-----BEGIN {label}-----\n"));
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    Ok(pem)
}

fn bad_key_file(path: &Path, what: &str) -> anyhow::Error {
    Failure::new(
        Exit::Other,
        format!("the key file {} is {what}", path.display()),
    )
    .hint("give an unencrypted private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), PEM or DER")
    .into()
}

/// Which private key a DER structure is: `SEQUENCE { INTEGER version, X, ... }` where X is
/// a SEQUENCE (PKCS#8's AlgorithmIdentifier), an INTEGER (PKCS#1's modulus) or an OCTET
/// STRING (SEC1's private key).
fn der_private_key_label(der: &[u8]) -> Option<&'static str> {
    let (tag, body, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (version_tag, _, rest) = der_element(body)?;
    if version_tag != 0x02 {
        return None;
    }
    let (next, _, _) = der_element(rest)?;
    match next {
        0x30 => Some("PRIVATE KEY"),
        0x02 => Some("RSA PRIVATE KEY"),
        0x04 => Some("EC PRIVATE KEY"),
        _ => None,
    }
}

/// One DER element: its tag, its contents and what follows it.
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_private_keys_are_told_apart_by_their_structure() {
        // SEQUENCE { INTEGER 0, SEQUENCE {} }: PKCS#8's shape.
        assert_eq!(
            der_private_key_label(&[0x30, 5, 2, 1, 0, 0x30, 0]),
            Some("PRIVATE KEY")
        );
        assert_eq!(
            der_private_key_label(&[0x30, 6, 2, 1, 0, 2, 1, 5]),
            Some("RSA PRIVATE KEY")
        );
        assert_eq!(
            der_private_key_label(&[0x30, 6, 2, 1, 1, 4, 1, 9]),
            Some("EC PRIVATE KEY")
        );
        // Long-form length.
        let mut long = vec![0x30, 0x81, 0x85, 2, 1, 0, 4, 0x81, 0x7f];
        long.extend([0u8; 0x7f]);
        assert_eq!(der_private_key_label(&long), Some("EC PRIVATE KEY"));
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 9, 2, 1, 0],
            &[0x31, 3, 2, 1, 0],
            b"hello",
        ] {
            assert_eq!(der_private_key_label(bad), None, "{bad:?}");
        }
    }
}
