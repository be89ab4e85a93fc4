//! Certificate signing requests (`POST /keys/{KeyID}/csr.pem`): a PKCS#10 request (RFC 2986)
//! for a stored key, with the subject the caller names, signed by the key itself.
//!
//! The request is written with `yasna` (the DER writer rcgen already brings; rcgen's own CSR
//! builder only knows the algorithms it ships, and the curves part adds keys it does not
//! know): the key's SubjectPublicKeyInfo comes from aws-lc as it is, and [`csr_signature`]
//! is the one place that says how each key type signs a request.
//!
//! Like NetHSM, the key signs its request whatever mechanisms it was created with (a CSR is
//! not one of the key's operations, it proves the key is held). Unlike NetHSM, an Operator
//! must meet the key's tag restriction, as for signing: the request is a signature by the key.

use std::net::IpAddr;

use yasna::Tag;
use yasna::models::ObjectIdentifier;

use super::{KeyRecord, KeyType, crypt, curves, meets};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::handles::Keys;

/// The subject of a request (the spec's `DistinguishedName`): `common_name` is required and
/// not empty; the other fields are left out when absent or empty.
#[derive(Debug, Clone, Default)]
pub struct CsrSubject {
    pub country_name: Option<String>,
    pub state_or_province_name: Option<String>,
    pub locality_name: Option<String>,
    pub organization_name: Option<String>,
    pub organizational_unit_name: Option<String>,
    pub common_name: String,
    pub email_address: Option<String>,
    /// `None`: the common name, as a DNS name; an empty list: no SAN extension. `IP:` starts
    /// an IP address; anything else is a DNS name.
    pub subject_alt_names: Option<Vec<String>>,
}

const OID_COUNTRY: &[u64] = &[2, 5, 4, 6];
const OID_STATE: &[u64] = &[2, 5, 4, 8];
const OID_LOCALITY: &[u64] = &[2, 5, 4, 7];
const OID_ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const OID_ORG_UNIT: &[u64] = &[2, 5, 4, 11];
const OID_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const OID_EMAIL: &[u64] = &[1, 2, 840, 113549, 1, 9, 1];
const OID_EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];
const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];

/// How one attribute of the subject is written.
#[derive(Debug, Clone, Copy)]
enum Text {
    Printable,
    Ia5,
    Utf8,
}

/// One subject attribute: its OID, string type and value.
type Attribute<'a> = (&'static [u64], Text, &'a str);

/// A subject alternative name.
#[derive(Debug)]
enum AltName {
    Dns(String),
    Ip(Vec<u8>),
}

fn bad(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

impl CsrSubject {
    /// The subject's attributes in the usual order (C, ST, L, O, OU, CN, emailAddress), each
    /// checked against the string type it is written as.
    fn attributes(&self) -> Result<Vec<Attribute<'_>>> {
        if self.common_name.is_empty() {
            return Err(bad("commonName must not be empty."));
        }
        let mut out = Vec::new();
        if let Some(c) = present(&self.country_name) {
            // X.520: a two-letter ISO 3166 code, as a PrintableString.
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(bad("countryName must be a two-letter country code."));
            }
            out.push((OID_COUNTRY, Text::Printable, c));
        }
        for (oid, field) in [
            (OID_STATE, &self.state_or_province_name),
            (OID_LOCALITY, &self.locality_name),
            (OID_ORGANIZATION, &self.organization_name),
            (OID_ORG_UNIT, &self.organizational_unit_name),
        ] {
            if let Some(v) = present(field) {
                out.push((oid, Text::Utf8, v));
            }
        }
        out.push((OID_COMMON_NAME, Text::Utf8, &self.common_name));
        if let Some(e) = present(&self.email_address) {
            // PKCS#9: an IA5String.
            if !e.is_ascii() {
                return Err(bad("emailAddress must be ASCII."));
            }
            out.push((OID_EMAIL, Text::Ia5, e));
        }
        Ok(out)
    }

    fn alt_names(&self) -> Result<Vec<AltName>> {
        let Some(names) = &self.subject_alt_names else {
            // The spec: without subjectAltNames, the common name is the one SAN (a DNS name).
            if !is_dns_name(&self.common_name) {
                return Err(bad(
                    "The commonName is not a DNS name (ASCII); give subjectAltNames (an empty list for none).",
                ));
            }
            return Ok(vec![AltName::Dns(self.common_name.clone())]);
        };
        names
            .iter()
            .map(|name| {
                if let Some(ip) = name.strip_prefix("IP:") {
                    return match ip.parse::<IpAddr>() {
                        Ok(IpAddr::V4(v4)) => Ok(AltName::Ip(v4.octets().to_vec())),
                        Ok(IpAddr::V6(v6)) => Ok(AltName::Ip(v6.octets().to_vec())),
                        Err(_) => Err(bad(format!(
                            "subjectAltNames: {name:?} is not an IP address."
                        ))),
                    };
                }
                if !is_dns_name(name) {
                    return Err(bad(format!(
                        "subjectAltNames: {name:?} is not a DNS name (ASCII, not empty)."
                    )));
                }
                Ok(AltName::Dns(name.clone()))
            })
            .collect()
    }
}

/// Whether `name` can be written as a dNSName (an IA5String); its syntax is the CA's to judge.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
}

/// A signature algorithm as an AlgorithmIdentifier writes it.
struct SignatureAlgorithm {
    oid: &'static [u64],
    /// RSA's identifiers carry an explicit NULL (RFC 4055); ECDSA's and Ed25519's none.
    null_params: bool,
}

/// How a key of `t` signs a request, and the signature of `message` (the DER of the
/// CertificationRequestInfo) by `record`'s key: RSA sha256WithRSAEncryption (PKCS#1 v1.5),
/// Ed25519 (RFC 8410), ECDSA with the curve's hash (SHA-256, -384, -512 for P-256, P-384,
/// P-521; RFC 5758). New key types add their arm here.
fn csr_signature(record: &KeyRecord, message: &[u8]) -> Result<(SignatureAlgorithm, Vec<u8>)> {
    use aws_lc_rs::signature as sig;
    let unreadable = || Error::Internal("a stored key is not readable".into());
    let pkcs8 = record.pkcs8()?;
    match record.key_type {
        KeyType::Rsa => {
            let pair = sig::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| unreadable())?;
            let mut out = vec![0u8; pair.public_modulus_len()];
            pair.sign(
                &sig::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut out,
            )
            .map_err(|_| Error::Internal("aws-lc could not sign".into()))?;
            let alg = SignatureAlgorithm {
                oid: &[1, 2, 840, 113549, 1, 1, 11],
                null_params: true,
            };
            Ok((alg, out))
        }
        KeyType::Curve25519 => {
            let pair = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                .map_err(|_| unreadable())?;
            let alg = SignatureAlgorithm {
                oid: &[1, 3, 101, 112],
                null_params: false,
            };
            Ok((alg, pair.sign(message).as_ref().to_vec()))
        }
        KeyType::EcP256 | KeyType::EcP256K1 | KeyType::EcP384 | KeyType::EcP521 => {
            let (signing, oid): (_, &'static [u64]) = match record.key_type {
                KeyType::EcP256 => (
                    &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &[1, 2, 840, 10045, 4, 3, 2],
                ),
                KeyType::EcP256K1 => (
                    &sig::ECDSA_P256K1_SHA256_ASN1_SIGNING,
                    &[1, 2, 840, 10045, 4, 3, 2],
                ),
                KeyType::EcP384 => (
                    &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    &[1, 2, 840, 10045, 4, 3, 3],
                ),
                _ => (
                    &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
                    &[1, 2, 840, 10045, 4, 3, 4],
                ),
            };
            let pair = sig::EcdsaKeyPair::from_pkcs8(signing, &pkcs8).map_err(|_| unreadable())?;
            let signature = pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .map_err(|_| Error::Internal("aws-lc could not sign".into()))?;
            let alg = SignatureAlgorithm {
                oid,
                null_params: false,
            };
            Ok((alg, signature.as_ref().to_vec()))
        }
        KeyType::BrainpoolP256 | KeyType::BrainpoolP384 | KeyType::BrainpoolP512 => {
            // ecdsa-with-SHA256/384/512, the curve's own hash (RustCrypto: not in aws-lc).
            let oid: &'static [u64] = match record.key_type {
                KeyType::BrainpoolP256 => &[1, 2, 840, 10045, 4, 3, 2],
                KeyType::BrainpoolP384 => &[1, 2, 840, 10045, 4, 3, 3],
                _ => &[1, 2, 840, 10045, 4, 3, 4],
            };
            let signature = curves::sign_message_sha2(record.key_type, &pkcs8, message)?;
            let alg = SignatureAlgorithm {
                oid,
                null_params: false,
            };
            Ok((alg, signature))
        }
        // A Generic key signs nothing: the same 400 as its public key (NetHSM: 400).
        KeyType::Generic => Err(crypt::no_public_key()),
    }
}

fn oid(components: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(components)
}

/// The CertificationRequestInfo DER: version 0, the subject (one attribute per RDN), the
/// key's SubjectPublicKeyInfo, and the extension request with the SANs (none if empty).
fn request_info(attributes: &[Attribute<'_>], spki: &[u8], alt_names: &[AltName]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence_of(|w| {
                for (attr_oid, text, value) in attributes {
                    w.next().write_set_of(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&oid(attr_oid));
                            let v = w.next();
                            match text {
                                Text::Printable => v.write_printable_string(value),
                                Text::Ia5 => v.write_ia5_string(value),
                                Text::Utf8 => v.write_utf8_string(value),
                            }
                        });
                    });
                }
            });
            w.next().write_der(spki);
            w.next().write_tagged_implicit(Tag::context(0), |w| {
                w.write_set_of(|w| {
                    if alt_names.is_empty() {
                        return;
                    }
                    let general_names = yasna::construct_der(|w| {
                        w.write_sequence_of(|w| {
                            for name in alt_names {
                                match name {
                                    AltName::Dns(dns) => {
                                        w.next().write_tagged_implicit(Tag::context(2), |w| {
                                            w.write_ia5_string(dns)
                                        })
                                    }
                                    AltName::Ip(ip) => {
                                        w.next().write_tagged_implicit(Tag::context(7), |w| {
                                            w.write_bytes(ip)
                                        })
                                    }
                                }
                            }
                        });
                    });
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&oid(OID_EXTENSION_REQUEST));
                        w.next().write_set_of(|w| {
                            // Extensions: one, the SAN, not critical (the default, left out).
                            w.next().write_sequence_of(|w| {
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&oid(OID_SUBJECT_ALT_NAME));
                                    w.next().write_bytes(&general_names);
                                });
                            });
                        });
                    });
                });
            });
        });
    })
}

impl Keys<'_> {
    /// `POST /keys/{KeyID}/csr.pem`: a PKCS#10 request for key `id` with `subject`, signed by
    /// the key; answers its DER. Administrators, and Operators that meet the key's tags.
    pub fn csr(&self, id: &str, subject: &CsrSubject) -> Result<Vec<u8>> {
        let (core, u, who) = self.parts();
        self.require(Access::AdministratorOrOperator)?;
        let record = core.read_key(u, who, id)?;
        if Access::Operator.permits(who) && !meets(&record.tags, &core.user_tags(u, &who.user_id)?)
        {
            return Err(Error::Forbidden);
        }
        let attributes = subject.attributes()?;
        let alt_names = subject.alt_names()?;
        let spki = record.spki()?;
        let info = request_info(&attributes, &spki, &alt_names);
        let (alg, signature) = csr_signature(&record, &info)?;
        tracing::info!(by = %who.user_id, key = %id, "certificate signing request made");
        Ok(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(&info);
                w.next().write_sequence(|w| {
                    w.next().write_oid(&oid(alg.oid));
                    if alg.null_params {
                        w.next().write_null();
                    }
                });
                w.next().write_bitvec_bytes(&signature, signature.len() * 8);
            });
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(common_name: &str) -> CsrSubject {
        CsrSubject {
            common_name: common_name.into(),
            ..CsrSubject::default()
        }
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidInput(m) => m,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn the_subject_is_checked_against_what_it_is_written_as() {
        assert_eq!(
            message(subject("").attributes().unwrap_err()),
            "commonName must not be empty."
        );
        for country in ["DEU", "D", "D1", "Ü"] {
            let s = CsrSubject {
                country_name: Some(country.into()),
                ..subject("x")
            };
            assert!(s.attributes().is_err(), "{country}");
        }
        let s = CsrSubject {
            email_address: Some("ä@example.com".into()),
            ..subject("x")
        };
        assert_eq!(
            message(s.attributes().unwrap_err()),
            "emailAddress must be ASCII."
        );
        // Empty optional fields are left out; the order is C, ST, L, O, OU, CN, emailAddress.
        let s = CsrSubject {
            country_name: Some("DE".into()),
            organization_name: Some(String::new()),
            email_address: Some("a@example.com".into()),
            locality_name: Some("Berlin".into()),
            ..subject("cn")
        };
        let oids: Vec<&[u64]> = s.attributes().unwrap().iter().map(|a| a.0).collect();
        assert_eq!(
            oids,
            [OID_COUNTRY, OID_LOCALITY, OID_COMMON_NAME, OID_EMAIL]
        );
    }

    #[test]
    fn alt_names_default_to_the_common_name_and_ip_names_are_addresses() {
        let dns = |names: Vec<AltName>| -> Vec<String> {
            names
                .into_iter()
                .map(|n| match n {
                    AltName::Dns(d) => d,
                    AltName::Ip(ip) => format!("ip {ip:?}"),
                })
                .collect()
        };
        assert_eq!(
            dns(subject("a.example").alt_names().unwrap()),
            ["a.example"]
        );
        assert!(subject("Schlüssel").alt_names().is_err());
        let with = |names: &[&str]| CsrSubject {
            subject_alt_names: Some(names.iter().map(|n| n.to_string()).collect()),
            ..subject("Schlüssel")
        };
        assert!(with(&[]).alt_names().unwrap().is_empty());
        assert_eq!(
            dns(with(&["b.example", "IP:10.0.0.1", "IP:::1"])
                .alt_names()
                .unwrap()),
            [
                "b.example".to_owned(),
                "ip [10, 0, 0, 1]".to_owned(),
                format!("ip {:?}", std::net::Ipv6Addr::LOCALHOST.octets()),
            ]
        );
        for bad in ["IP:10.0.0", "IP:", "", "bücher.example", "tab\there"] {
            assert!(with(&[bad]).alt_names().is_err(), "{bad:?}");
        }
    }
}
