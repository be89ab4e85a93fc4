//! `POST /keys/{KeyID}/decrypt` and `/encrypt`: RSA RAW, PKCS1 and OAEP decryption, AES-CBC
//! both ways. Rules and cryptography live in the core (`strongroom_core::keys`, its `crypt`
//! module); the extractor checks the Operator role first.

use super::wire::not_null;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use strongroom_core::keys;
use zeroize::Zeroizing;

use super::error::NetHsmError;
use super::extract::{Caller, NetHsmJson, NetHsmPath, OperatorUser};
use super::keys_metrics::{KeyOp, count};
use crate::app::AppState;

/// `DecryptRequestData`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptRequestData {
    pub mode: String,
    pub encrypted: String,
    #[serde(default, deserialize_with = "not_null")]
    pub iv: Option<String>,
}

/// `DecryptData`.
#[derive(Serialize)]
pub struct DecryptData {
    /// Plaintext (base64), wiped on drop.
    pub decrypted: Zeroizing<String>,
}

/// `EncryptRequestData`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptRequestData {
    pub mode: String,
    /// Plaintext (base64), wiped on drop.
    pub message: Zeroizing<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub iv: Option<String>,
}

/// `EncryptData`.
#[derive(Debug, Serialize)]
pub struct EncryptData {
    pub encrypted: String,
    pub iv: String,
}

fn decode(field: &str, value: &str) -> Result<Zeroizing<Vec<u8>>, NetHsmError> {
    STANDARD.decode(value).map(Zeroizing::new).map_err(|_| {
        NetHsmError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("{field} is not valid base64."),
        )
    })
}

fn decode_iv(iv: Option<&str>) -> Result<Option<Vec<u8>>, NetHsmError> {
    iv.map(|v| decode("iv", v).map(|v| v.to_vec())).transpose()
}

/// `POST /keys/{KeyID}/decrypt`.
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
