//! Decryption and encryption with a stored key (`POST /keys/{KeyID}/decrypt`, `/encrypt`), and
//! Generic keys (AES-128, -192, -256), the keys AES-CBC takes.
//!
//! RSA decryption: RAW (the bare private operation: a ciphertext of exactly the modulus length,
//! less than the modulus, answered as the modulus length), EME-OAEP (the mode's hash for OAEP and
//! MGF1, the empty label) and PKCS#1 v1.5. aws-lc does the private operation ([`lc`]).
//!
//! PKCS#1 v1.5 decryption is a padding oracle (Bleichenbacher 1998, and its timing variants up
//! to Marvin, 2023) as soon as a caller can tell a padding failure from a success. aws-lc does
//! not offer implicit rejection (its `rsa_crypt.c` tells callers to use RSA_NO_PADDING and check
//! the padding themselves), so that is what this module does: a RAW decryption, then the padding
//! check of draft-irtf-cfrg-rsa-guidance (the algorithm of OpenSSL 3.2+), which on a failure
//! answers a synthetic message derived from the ciphertext and the private exponent, in constant
//! time (`subtle`): the same ciphertext always gets the same answer, and a caller sees a 200 with
//! some plaintext either way. docs/security-model.md has the reasoning.
//!
//! AES-CBC takes and answers whole blocks: NetHSM adds and removes no padding.
//!
//! A Generic key's record holds the raw AES key (hex) where other keys hold their PKCS#8, in the
//! same sealed record; it has no public part, so `public.pem`, certificates and anything else
//! that needs one answer 400.
//!
//! [`lc`]: super::lc

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptingKey, DecryptionContext, EncryptingKey,
    EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::{digest, hmac};
use subtle::{
    Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess,
};
use zeroize::Zeroizing;

use super::lc::{Decrypt, Md};
use super::{Mechanism, internal};
use crate::crypto;
use crate::error::{Error, Result};
use crate::handles::Keys;

/// The length of an AES-CBC IV.
pub const AES_IV_BYTES: usize = 16;

/// A decrypt mode (the spec's `DecryptMode`), as the mechanism it needs.
pub fn decrypt_mode(mode: &str) -> Result<Mechanism> {
    Ok(match mode {
        "RAW" => Mechanism::RsaDecryptRaw,
        "PKCS1" => Mechanism::RsaDecryptPkcs1,
        "OAEP_MD5" => Mechanism::RsaDecryptOaepMd5,
        "OAEP_SHA1" => Mechanism::RsaDecryptOaepSha1,
        "OAEP_SHA224" => Mechanism::RsaDecryptOaepSha224,
        "OAEP_SHA256" => Mechanism::RsaDecryptOaepSha256,
        "OAEP_SHA384" => Mechanism::RsaDecryptOaepSha384,
        "OAEP_SHA512" => Mechanism::RsaDecryptOaepSha512,
        "AES_CBC" => Mechanism::AesDecryptCbc,
        _ => {
            return Err(Error::InvalidInput(format!("Unknown decrypt mode {mode}.")));
        }
    })
}

/// An encrypt mode (the spec's `EncryptMode`), as the mechanism it needs.
pub fn encrypt_mode(mode: &str) -> Result<Mechanism> {
    match mode {
        "AES_CBC" => Ok(Mechanism::AesEncryptCbc),
        _ => Err(Error::InvalidInput(format!("Unknown encrypt mode {mode}."))),
    }
}

/// What asking a Generic key for its public part answers.
pub(super) fn no_public_key() -> Error {
    Error::InvalidInput("A Generic key has no public key.".into())
}

/// A new AES key of `length` bits.
pub(super) fn generate_secret(length: Option<u32>) -> Result<Zeroizing<Vec<u8>>> {
    match length {
        Some(bits @ (128 | 192 | 256)) => {
            let mut key = Zeroizing::new(vec![0u8; bits as usize / 8]);
            crypto::fill_random(&mut key);
            Ok(key)
        }
        _ => Err(Error::InvalidInput(
            "Generic keys are 128, 192 or 256 bits long (length).".into(),
        )),
    }
}

/// An imported AES key (the spec's `data`: the raw key).
pub(super) fn import_secret(data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    aes_algorithm(data.len())?;
    Ok(Zeroizing::new(data.to_vec()))
}

fn aes_algorithm(key_len: usize) -> Result<&'static Algorithm> {
    match key_len {
        16 => Ok(&AES_128),
        24 => Ok(&AES_192),
        32 => Ok(&AES_256),
        _ => Err(Error::InvalidInput(
            "A Generic private key (data) is an AES key of 16, 24 or 32 bytes.".into(),
        )),
    }
}

impl Mechanism {
    /// The hash of an OAEP mode.
    fn oaep_md(self) -> Option<Md> {
        Some(match self {
            Mechanism::RsaDecryptOaepMd5 => Md::Md5,
            Mechanism::RsaDecryptOaepSha1 => Md::Sha1,
            Mechanism::RsaDecryptOaepSha224 => Md::Sha224,
            Mechanism::RsaDecryptOaepSha256 => Md::Sha256,
            Mechanism::RsaDecryptOaepSha384 => Md::Sha384,
            Mechanism::RsaDecryptOaepSha512 => Md::Sha512,
            _ => return None,
        })
    }
}

fn check_blocks(input: &[u8]) -> Result<()> {
    // Whole blocks (not `is_multiple_of`, newer than the workspace's rust-version).
    if input.is_empty() || !input.chunks_exact(AES_IV_BYTES).remainder().is_empty() {
        return Err(Error::InvalidInput(
            "AES_CBC takes whole blocks: a non-empty multiple of 16 bytes (no padding is added or removed).".into(),
        ));
    }
    Ok(())
}

fn check_iv(iv: &[u8]) -> Result<[u8; AES_IV_BYTES]> {
    iv.try_into()
        .map_err(|_| Error::InvalidInput("The IV (iv) is 16 bytes.".into()))
}

impl Keys<'_> {
    /// `POST /keys/{KeyID}/decrypt`: `input` decrypted with `mode` (see the module's notes);
    /// `iv` only for AES_CBC (and needed there), ignored otherwise.
    pub fn decrypt(
        &self,
        id: &str,
        mode: Mechanism,
        input: &[u8],
        iv: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let record = self.usable(id, mode)?;
        if mode == Mechanism::AesDecryptCbc {
            let iv = iv.ok_or_else(|| {
                Error::InvalidInput("AES_CBC decryption needs the IV (iv).".into())
            })?;
            let iv = check_iv(iv)?;
            check_blocks(input)?;
            let fail = |_| Error::Internal("AES decryption failed".into());
            let secret = record.private();
            let key = UnboundCipherKey::new(aes_algorithm(secret.len())?, secret).map_err(fail)?;
            let mut data = Zeroizing::new(input.to_vec());
            DecryptingKey::cbc(key)
                .map_err(fail)?
                .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(fail)?;
            self.count_operation(&record);
            return Ok(data);
        }
        let pkey = record.pkey()?;
        let k = pkey.bits().div_ceil(8);
        if input.len() != k {
            return Err(Error::InvalidInput(format!(
                "{} decryption takes a ciphertext of exactly {k} bytes (the key's modulus length).",
                mode.as_str()
            )));
        }
        // Public values both: compared in variable time.
        let (modulus, _) = pkey.rsa_public().map_err(internal("read"))?;
        if input >= &modulus[..] {
            return Err(Error::InvalidInput(
                "The ciphertext is not less than the key's modulus.".into(),
            ));
        }
        let decrypted = match mode {
            Mechanism::RsaDecryptRaw => pkey
                .decrypt(Decrypt::Raw, input)
                .map_err(internal("decrypt")),
            Mechanism::RsaDecryptPkcs1 => {
                let em = pkey
                    .decrypt(Decrypt::Raw, input)
                    .map_err(internal("decrypt"))?;
                let d = pkey.rsa_private_exponent(k).map_err(internal("read"))?;
                Ok(pkcs1_unpad_implicit(&em, &d, input))
            }
            oaep => {
                let md = oaep
                    .oaep_md()
                    .ok_or_else(|| Error::Internal("not a decryption mode".into()))?;
                // OAEP is not malleable: one answer for every failure, checked in constant
                // time by aws-lc, gives an attacker nothing to work with.
                pkey.decrypt(Decrypt::Oaep(md), input).map_err(|_| {
                    Error::InvalidInput(format!(
                        "The ciphertext does not decrypt with {}.",
                        oaep.as_str()
                    ))
                })
            }
        }?;
        self.count_operation(&record);
        Ok(decrypted)
    }

    /// `POST /keys/{KeyID}/encrypt`: `message` (whole blocks) encrypted with AES-CBC under
    /// `iv`, or under a fresh random IV if none is given; answers the ciphertext and the IV.
    pub fn encrypt(
        &self,
        id: &str,
        mode: Mechanism,
        message: &[u8],
        iv: Option<&[u8]>,
    ) -> Result<(Vec<u8>, [u8; AES_IV_BYTES])> {
        let record = self.usable(id, mode)?;
        if mode != Mechanism::AesEncryptCbc {
            return Err(Error::Internal("not an encryption mode".into()));
        }
        let iv = match iv {
            Some(iv) => check_iv(iv)?,
            None => {
                let mut iv = [0u8; AES_IV_BYTES];
                crypto::fill_random(&mut iv);
                iv
            }
        };
        check_blocks(message)?;
        let fail = |_| Error::Internal("AES encryption failed".into());
        let secret = record.private();
        let key = UnboundCipherKey::new(aes_algorithm(secret.len())?, secret).map_err(fail)?;
        let mut data = message.to_vec();
        EncryptingKey::cbc(key)
            .map_err(fail)?
            .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(fail)?;
        self.count_operation(&record);
        Ok((data, iv))
    }
}

/// The implicit-rejection PRF of draft-irtf-cfrg-rsa-guidance: HMAC-SHA256 under `kdk` of a
/// big-endian 16-bit counter, `label` and the output length in bits (16-bit big-endian), the
/// blocks concatenated to `len` bytes.
fn implicit_rejection_prf(kdk: &[u8], label: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, kdk);
    // RSA keys here are at most 8192 bits: 8192 bits of output fits 16 bits.
    let bits = u16::try_from(len * 8).unwrap_or(u16::MAX).to_be_bytes();
    // Room for the last whole block, so the buffer never moves (and leaves no copy behind).
    let mut out = Zeroizing::new(Vec::with_capacity(len + digest::SHA256_OUTPUT_LEN));
    let mut counter: u16 = 0;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&counter.to_be_bytes());
        ctx.update(label);
        ctx.update(&bits);
        out.extend_from_slice(ctx.sign().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// How many 16-bit candidates the synthetic length is drawn from (OpenSSL's
/// `MAX_LEN_GEN_TRIES`): none fitting has probability below 2^-128.
const LENGTH_CANDIDATES: usize = 128;

/// RSAES-PKCS1-v1_5 decoding with implicit rejection (draft-irtf-cfrg-rsa-guidance; OpenSSL
/// 3.2's `ossl_rsa_padding_check_PKCS1_type_2`): `em` is the RAW decryption (the modulus
/// length), `d` the private exponent padded to that length, `c` the ciphertext. A valid
/// padding answers the message; any other a synthetic message, derived from `c` under a key
/// derived from `d`. Both are always computed, and the choice is made in constant time.
fn pkcs1_unpad_implicit(em: &[u8], d: &[u8], c: &[u8]) -> Zeroizing<Vec<u8>> {
    let k = em.len();
    let d_hash = digest::digest(&digest::SHA256, d);
    let kdk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, d_hash.as_ref()), c);
    let synthetic = implicit_rejection_prf(kdk.as_ref(), b"message", k);
    let candidates = implicit_rejection_prf(kdk.as_ref(), b"length", 2 * LENGTH_CANDIDATES);

    // The longest message: the modulus length less 00 02, eight bytes of padding and 00.
    let max_len = (k.saturating_sub(10)) as u32;
    let mut mask = max_len;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    let mut synthetic_len = 0u32;
    for pair in candidates.chunks_exact(2) {
        let candidate = u32::from(u16::from_be_bytes([pair[0], pair[1]])) & mask;
        synthetic_len =
            u32::conditional_select(&synthetic_len, &candidate, candidate.ct_lt(&max_len));
    }
    let synthetic_index = k as u32 - synthetic_len;

    let mut good: Choice = em[0].ct_eq(&0) & em[1].ct_eq(&2);
    let mut found = Choice::from(0);
    let mut zero_index = 0u32;
    for (i, b) in em.iter().enumerate().skip(2) {
        let is_zero = b.ct_eq(&0);
        zero_index = u32::conditional_select(&zero_index, &(i as u32), !found & is_zero);
        found |= is_zero;
    }
    // At least eight bytes of padding after 00 02 (so no zero found at all fails too).
    good &= zero_index.ct_gt(&9);
    let index = u32::conditional_select(&synthetic_index, &(zero_index + 1), good) as usize;
    // The answer's length is the answer's: from here on only its bytes are chosen, reading
    // both buffers alike.
    let mut out = Zeroizing::new(Vec::with_capacity(k - index));
    for i in index..k {
        out.push(u8::conditional_select(&synthetic[i], &em[i], good));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;

    /// A well-padded block decodes to its message; every malformed one to a synthetic
    /// message that depends on the ciphertext and the exponent, and is the same each time.
    #[test]
    fn implicit_rejection_decodes_good_padding_and_synthesises_for_bad() {
        let k = 256;
        let d = vec![7u8; k];
        let c = vec![1u8; k];
        let message = b"the secret";
        let mut em = vec![0u8, 2];
        em.extend(std::iter::repeat_n(0x55, k - 3 - message.len()));
        em.push(0);
        em.extend_from_slice(message);
        assert_eq!(em.len(), k);
        assert_eq!(&pkcs1_unpad_implicit(&em, &d, &c)[..], message);

        let mut bad_cases = Vec::new();
        let mut wrong_type = em.clone();
        wrong_type[1] = 1;
        bad_cases.push(wrong_type);
        let mut nonzero_first = em.clone();
        nonzero_first[0] = 1;
        bad_cases.push(nonzero_first);
        let mut short_padding = em.clone();
        short_padding[9] = 0; // the separator after seven bytes of padding
        bad_cases.push(short_padding);
        let mut no_separator = em.clone();
        no_separator[k - message.len() - 1] = 0x55;
        bad_cases.push(no_separator);
        let first = pkcs1_unpad_implicit(&bad_cases[0], &d, &c);
        for bad in &bad_cases {
            let out = pkcs1_unpad_implicit(bad, &d, &c);
            assert_ne!(&out[..], message);
            assert!(out.len() <= k - 10);
            // The synthetic message depends on the ciphertext and the key, not on the block.
            assert_eq!(out, first);
        }
        let other_c = pkcs1_unpad_implicit(&bad_cases[0], &d, &[2u8; 256]);
        assert_ne!(other_c, first);
        let other_d = pkcs1_unpad_implicit(&bad_cases[0], &[8u8; 256], &c);
        assert_ne!(other_d, first);
        // Eight bytes of padding exactly is the shortest valid one.
        let mut shortest = vec![0u8, 2];
        shortest.extend_from_slice(&[0x11; 8]);
        shortest.push(0);
        shortest.extend(std::iter::repeat_n(0x42, k - 11));
        assert_eq!(
            &pkcs1_unpad_implicit(&shortest, &d, &c)[..],
            &vec![0x42; k - 11][..]
        );
    }

    /// A Generic key imported, used with the NIST SP 800-38A CBC-AES128 vectors, backed up
    /// (never in clear in the backup) and restored into another node, where it is the same key.
    #[test]
    fn a_generic_key_matches_sp800_38a_and_survives_backup_and_restore() {
        use crate::keys::{ImportedKey, NewKey};
        use crate::secret::Passphrase;
        use crate::tests::{
            UNLOCK, admin, backup_bytes, create_operator, open_provisioned, operator, restored,
        };

        let secret: Vec<u8> = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv: Vec<u8> = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let plain = hex::decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
            .unwrap();
        let cipher =
            hex::decode("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
                .unwrap();
        let (_a_dir, a) = open_provisioned();
        create_operator(&a, "op", &Passphrase::new("operator passphrase 1"));
        let new = NewKey {
            id: Some("aes".into()),
            key_type: KeyType::Generic,
            mechanisms: vec![Mechanism::AesEncryptCbc, Mechanism::AesDecryptCbc],
            tags: vec![],
            label: String::new(),
        };
        let key = ImportedKey {
            data: Zeroizing::new(secret.clone()),
            ..ImportedKey::default()
        };
        a.operational(&admin())
            .and_then(|h| h.keys().import(&new, &key))
            .unwrap();
        let op = operator("op");
        let (encrypted, answered_iv) = a
            .operational(&op)
            .and_then(|h| {
                h.keys()
                    .encrypt("aes", Mechanism::AesEncryptCbc, &plain, Some(&iv))
            })
            .unwrap();
        assert_eq!(encrypted, cipher);
        assert_eq!(&answered_iv[..], &iv[..]);
        let info = a
            .operational(&op)
            .and_then(|h| h.keys().get("aes"))
            .unwrap();
        assert_eq!(info.public, super::super::PublicData::None);

        let bytes = backup_bytes(&a);
        assert!(!bytes.windows(16).any(|w| w == &secret[..]));
        assert!(
            !bytes
                .windows(32)
                .any(|w| w == hex::encode(&secret).as_bytes())
        );

        let (_b_dir, b) = restored(&bytes);
        b.unlock(&Passphrase::new(UNLOCK)).unwrap();
        let decrypted = b
            .operational(&op)
            .and_then(|h| {
                h.keys()
                    .decrypt("aes", Mechanism::AesDecryptCbc, &cipher, Some(&iv))
            })
            .unwrap();
        assert_eq!(&decrypted[..], &plain[..]);
    }

    // Vectors from an independent implementation: an RSA-2048 key made by pyca/cryptography
    // (d = e^-1 mod (p-1)(q-1), the d an import computes), ciphertexts of malformed and valid
    // PKCS#1 v1.5 blocks, and what OpenSSL 4.0.3's implicit rejection (through pyca) decrypts
    // them to. (The draft's own vectors were not at hand; OpenSSL implements the draft.)
    const VECTOR_P: &str = "e4a8e85f229c08daf8f5c86ebc923f0b3d43b63f4aef079d586c250d4232939438d5d888444af3003eabc3d15aa6a668001e0df68afee6153f6b431d3aff6c57bd2de673fccb599d41c6497cea50851e3e0706e45a1e28e329ecd3325348e4054b76b7c7f2d5a08f40a696303d1ead9cc2f354c7952924a335046949b1b26427";
    const VECTOR_Q: &str = "b9944066e2b3364e4097bca718c16c3a60f9d086e74ed9e2656c2c9db9763099ab2d3f4c9d0792888da334563b4825ed9a07c55d7f668b81631b3b7648ccbbf9a38a84499c6e37c5f7651ac4d32b4384bdea1d7be1b32dff8dca18ad449af1455d6b7e51a9374297a153b3b8c71363abf8c148b52033bbae01c72866260dd05b";
    /// (what the block is, ciphertext, what OpenSSL 4.0.3 answers)
    const VECTORS: [(&str, &str, &str); 4] = [
        (
            "block type 1",
            "5ee3874bd04528c5b30ec004dba75befaa49b3cf15d8d171c8ee678adfe3936a4d007cb27e10054abd09a4a20865d0a06127b98424c5f0135b952813e8d44157c19ec84eb834fb8d49d05ac7723190160ca47c656c6a5d27fd7e8a3a23d19dc48902368cde9650239d1ef4b4b1c7d11fb43223118854f48633df3dd2722cb1000c3355d1dc81bbfde1bf038bed4dbaeb8ecff71f22cce428863dd60440c9632c8da88fe1c9440c62699f87bef99dc40b20f8e238189db021b65fd683fe9114c1f97fc66bf3810c660efdcf58db9736fb8948ea17e7477905f3fb241fdc3377d74162a0145cacc5fc30aba62c19b10e93e9fe8028a4820f29b9e7299f13fc854a",
            "122f4bb392f810eaea1651dba4120fb82304167e197cb396f1ba65ecae989c95c16f98a3f16252f4ca5812e810dedf108edd7995ef8832fa746819e858ec584b175213f4f16b7e035fcd5cf75884d2ba9ee5d295a43c776d06b5488a93306b53a9a16fb91e22d9fa4abe0107d4debb3b5b3f1464180f8432eeb306728b2eabe2d6559e344a21d73f76fea82a25c1e148e70848e9ba00b398411357ca86eced19f0629b9f7239e40af031b3d99edb3f457754b063b9275f061f687c32e00ff7bb9d6d8a074c7a0748305ed4861174f2a84f8ed49fbbdfb87305a635838af12ef5cf2346d8a2",
        ),
        (
            "no separator",
            "7743ddde39263fb0039add6863851993e7dafaf76ee61901b14ff0b5ed387a4ee6c3a75b86d08e44acfbd6cf0bb8fbec34022b864f554a84196c4504697d649c4cc97d5c3ef5cc14a5754f2ed84afb18a102dd6abb678d1c7d35f2d7e791f3cb40369a10457cd2b3e8b805a75b2d62b64784305c89f8c023461fec4c40e5ab549e01a22fa76ac3ba3423802d58fd18684099157b9b0ab79bc7647dca9930e7a416e123b1d32249ec038868e62b6dddac2cc84f6e575aace0e8953236a01ea8ddb7085b483665dcbfd129498a0e06a085b5ceac4a0c66d06272981f8a1667c9f111abdc6db2228fc6829ef225d228c7b960e48f90cfc0f99fa8eceba4d3661599",
            "2be2bcd8f0b4d0d972a76ab4c7d9aace2a8acc5487ee307fc7f4837a2f0f841efd978078a57bc7a9d13398ffe67f3399b055d824ac5fd251b8e80fa4a2b5c8859392731c7f563d2754f425c5e48c394ed4a70e7413cc292b5bcc5ae321cbbcff60ffbdfc148164a8433b962f7df8de3f8b315597497cb29191571e7a7d7d73d60842f96614031c24fa45d207786653c93f33b22583822385e049",
        ),
        (
            "seven bytes of padding",
            "633fa0b100f0d69784283a11b03192938ac768777e5f00ff8abe76a9a60f6a5a13c50e8de3656fba7e5225df53337b13deb81c55862f53d12d8285b1e02bf8d6d53ef6700a3be847d894c594043cb9e78ac2c46f762830b8d38ca7758f266b9c650377ab183353caac6db446ec4095f911e85c9c1915a430b98b3d28e799607468963e9556abd9477c440c56220e202d6e5036fe87d175f5a2bf67df4e681cb3ff66323761e4950ecb35477ad577c96f14b148e23ff92585ea403dff3dd70e4efcd8edc90c81853db7824195846b9f96c3016c02d669eecde960f033387fe51701d141fef12b08a743943f0d5085068682a123f592f73cad1a383fb50cc745bb",
            "f28fb34c7f1052789f6c16ad3c9cf2471aa276738fa0e31a5a9b8d6afe6e902b126e0cab933c619983d51481576e089bd3f07823a05c54aaf18004da828aca47beb0b7602d95df24bb2c5acf2d4ac35e8e72f54b92561dff0777af5808d2315a2cf3ec00cf7d104f124935870c3ae3dcc4bb18513aea68bca74e94bfd214dded3936baf6f96f6f33777abcafc82ced0c00c7a1e83b33b6e49b2307f3b49db5c3882d23d9594c575598b250904a27625b22bf8ffdddb8270a6cae40bb6b4ac93fc096a4ea2e12eae88ae3b8fb554d7ae7b8867e0b1f615ef369e3291052",
        ),
        (
            "valid",
            "261fd377fedd2123ec463e305fd8be3db8a3842fbe31e4163df80a28b626d8fed2f8abc55d32624dadeeff405817733a6e1d274db9d15ba0254b7dcd3a0a2ad002c222ac1e1cff676684f6d9d281007dac1c251a43551c5cc02771dd028765c4bc62d8c04108899df68deb5581ad7451aa6afb6ffabdbea6f65b5eea3326439a8f2dc44cb76acf23f4ad322c45ebceb86ee083ec2750f22343271feeada521e90e71126c29a595cfac8d506661b7080dda26c88474aafeb305ce1ccf1dd3ba642d4eee985b0a66251de145324a31544407de2a218dd445595e23a2ec04df2770c23518870e9ab2cf00d3383a0616c6e791a4f124ecbde0f864534385af000465",
            "696d706c696369742072656a656374696f6e",
        ),
    ];

    #[test]
    fn pkcs1_decryption_answers_what_openssl_implicit_rejection_answers() {
        use crate::keys::{ImportedKey, NewKey};
        use crate::secret::Passphrase;
        use crate::tests::{admin, create_operator, open_provisioned, operator};

        let (_dir, core) = open_provisioned();
        create_operator(&core, "op", &Passphrase::new("operator passphrase 1"));
        let new = NewKey {
            id: Some("rsa".into()),
            key_type: KeyType::Rsa,
            mechanisms: vec![Mechanism::RsaDecryptPkcs1],
            tags: vec![],
            label: String::new(),
        };
        let key = ImportedKey {
            prime_p: Zeroizing::new(hex::decode(VECTOR_P).unwrap()),
            prime_q: Zeroizing::new(hex::decode(VECTOR_Q).unwrap()),
            public_exponent: vec![1, 0, 1],
            ..ImportedKey::default()
        };
        core.operational(&admin())
            .and_then(|h| h.keys().import(&new, &key))
            .unwrap();
        for (what, c, expected) in VECTORS {
            let out = core
                .operational(&operator("op"))
                .and_then(|h| {
                    h.keys().decrypt(
                        "rsa",
                        Mechanism::RsaDecryptPkcs1,
                        &hex::decode(c).unwrap(),
                        None,
                    )
                })
                .unwrap();
            assert_eq!(hex::encode(&out[..]), expected, "{what}");
        }
        assert_eq!(
            VECTORS[3].2,
            hex::encode(b"implicit rejection"),
            "the valid block's message"
        );
    }

    #[test]
    fn the_prf_is_hmac_sha256_in_counter_mode() {
        let kdk = [9u8; 32];
        let out = implicit_rejection_prf(&kdk, b"length", 40);
        assert_eq!(out.len(), 40);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &kdk);
        let block = |i: u16| {
            let mut input = i.to_be_bytes().to_vec();
            input.extend_from_slice(b"length");
            input.extend_from_slice(&320u16.to_be_bytes());
            hmac::sign(&key, &input)
        };
        assert_eq!(&out[..32], block(0).as_ref());
        assert_eq!(&out[32..], &block(1).as_ref()[..8]);
    }
}
