//! `POST /keys/{KeyID}/decrypt` and `/encrypt`: RSA RAW, PKCS1 and OAEP decryption, AES-CBC
//! both ways. Rules and cryptography live in the core (`strongroom_core::keys`, its `crypt`
//! module); the extractor checks the Operator role first.

use super::wire::not_null;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use strongroom_core::keys;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::error::NetHsmError;
use super::extract::{Caller, NetHsmJson, NetHsmPath, OperatorUser};
use super::keys::decode;
use super::keys_metrics::{KeyOp, count};
use super::openapi::{Authenticated, CoreCall, Gated, Item, JsonBody};
use super::openapi_params::KeyId;
use crate::app::AppState;

/// `DecryptRequestData`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "AES_CBC", "encrypted": "WL7q5zbUbodXbDXPSlBG2Q==",
    "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}))]
pub struct DecryptRequestData {
    /// `RAW`, `PKCS1`, `OAEP_MD5`, `OAEP_SHA1`, `OAEP_SHA224`, `OAEP_SHA256`, `OAEP_SHA384`,
    /// `OAEP_SHA512` (RSA keys) or `AES_CBC` (Generic keys).
    pub mode: String,
    /// Base64.
    pub encrypted: String,
    /// Base64: the initialisation vector of `AES_CBC`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub iv: Option<String>,
}

/// `DecryptData`.
#[derive(Serialize, ToSchema)]
pub struct DecryptData {
    /// Plaintext (base64), wiped on drop.
    #[schema(value_type = String)]
    pub decrypted: Zeroizing<String>,
}

/// `EncryptRequestData`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "AES_CBC", "message": "AAECAwQFBgcICQoLDA0ODw=="}))]
pub struct EncryptRequestData {
    /// `AES_CBC`.
    pub mode: String,
    /// Plaintext (base64), wiped on drop.
    #[schema(value_type = String)]
    pub message: Zeroizing<String>,
    /// Base64: the initialisation vector; a random one when left out.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false)]
    pub iv: Option<String>,
}

/// `EncryptData`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EncryptData {
    pub encrypted: String,
    pub iv: String,
}

fn decode_iv(iv: Option<&str>) -> Result<Option<Vec<u8>>, NetHsmError> {
    iv.map(|v| decode("iv", v).map(|v| v.to_vec())).transpose()
}

/// `POST /keys/{KeyID}/decrypt`.
#[utoipa::path(
    post,
    path = "/keys/{KeyID}/decrypt",
    operation_id = "decryptWithKey",
    tag = "keys",
    params(KeyId),
    request_body = DecryptRequestData,
    responses(
        (status = 200, description = "The plaintext, base64.", body = DecryptData),
        Gated,
        Authenticated,
        JsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn key_decrypt_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): OperatorUser,
    NetHsmJson(req): NetHsmJson<DecryptRequestData>,
) -> Result<NetHsmJson<DecryptData>, NetHsmError> {
    let decrypted = async {
        let mode = keys::decrypt_mode(&req.mode)?;
        let input = decode("encrypted", &req.encrypted)?;
        let iv = decode_iv(req.iv.as_deref())?;
        let decrypted = s
            .run(move |core| {
                core.operational(&who)?
                    .keys()
                    .decrypt(&id, mode, &input, iv.as_deref())
            })
            .await?;
        Ok(NetHsmJson(DecryptData {
            decrypted: Zeroizing::new(STANDARD.encode(&decrypted[..])),
        }))
    };
    count(&s, KeyOp::Decrypt(&req.mode), decrypted.await)
}

/// `POST /keys/{KeyID}/encrypt`.
#[utoipa::path(
    post,
    path = "/keys/{KeyID}/encrypt",
    operation_id = "encryptWithKey",
    tag = "keys",
    params(KeyId),
    request_body = EncryptRequestData,
    responses(
        (status = 200, description = "The ciphertext and the initialisation vector, base64.",
            body = EncryptData),
        Gated,
        Authenticated,
        JsonBody,
        Item,
        CoreCall,
    )
)]
pub async fn key_encrypt_post(
    State(s): State<AppState>,
    NetHsmPath(id): NetHsmPath<String>,
    Caller(who, _): OperatorUser,
    NetHsmJson(req): NetHsmJson<EncryptRequestData>,
) -> Result<NetHsmJson<EncryptData>, NetHsmError> {
    let encrypted = async {
        let mode = keys::encrypt_mode(&req.mode)?;
        let message = decode("message", &req.message)?;
        let iv = decode_iv(req.iv.as_deref())?;
        let (encrypted, iv) = s
            .run(move |core| {
                core.operational(&who)?
                    .keys()
                    .encrypt(&id, mode, &message, iv.as_deref())
            })
            .await?;
        Ok(NetHsmJson(EncryptData {
            encrypted: STANDARD.encode(encrypted),
            iv: STANDARD.encode(iv),
        }))
    };
    count(&s, KeyOp::Encrypt(&req.mode), encrypted.await)
}
