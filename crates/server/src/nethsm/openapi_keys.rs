//! The parts of the NetHSM face's OpenAPI document only `/keys*` uses: the refusals whose
//! meaning there differs from the face's shared ones (key imports, certificates, the CSR's
//! PEM answer), the query of `GET /keys`, and the schemas of bodies the handlers read by hand
//! (a multipart PEM import, a certificate's bytes).

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::keys_pem::PemArguments;
use super::openapi::{BAD_REQUEST, CONFLICT, NOT_FOUND};
use super::wire::{KeyItem, PublicKey};
use crate::face::openapi::{self, NOT_ACCEPTABLE, Refusal, TOO_LARGE, refusals};

const IMPORT_TOO_LARGE: Refusal = Refusal {
    name: "ImportTooLarge",
    status: 413,
    description: "The body is larger than 1 MiB, or a part of a multipart body larger than \
                  64 KiB.",
};
const IMPORT_MEDIA_TYPE: Refusal = Refusal {
    name: "ImportMediaTypeUnsupported",
    status: 415,
    description: "A PUT body that is neither application/json nor multipart/form-data.",
};
const CERT_MEDIA_TYPE: Refusal = Refusal {
    name: "CertificateMediaTypeUnsupported",
    status: 415,
    description: "A certificate whose media type is not one of the request body's (a body \
                  without one counts as application/octet-stream).",
};
const CERT_EXISTS: Refusal = Refusal {
    name: "CertificateExists",
    status: 409,
    description: "The key has a certificate already (delete it first).",
};
const NOT_ACCEPTABLE_CERT: Refusal = Refusal {
    name: "NotAcceptableCertificate",
    status: 406,
    description: "`Accept` allows neither the media type the certificate was stored with nor \
                  application/octet-stream.",
};

/// The refusals of this module, added to the document's components with the face's.
pub const REFUSALS: [Refusal; 5] = [
    IMPORT_TOO_LARGE,
    IMPORT_MEDIA_TYPE,
    CERT_MEDIA_TYPE,
    CERT_EXISTS,
    NOT_ACCEPTABLE_CERT,
];

/// [`REFUSALS`] as response components (the face's security scheme comes with its own).
pub const COMPONENTS: openapi::Components = openapi::Components {
    refusals: &REFUSALS,
    component: Refusal::component,
    schemes: Vec::new,
};

refusals!(
    /// A key import by POST: JSON, or a PEM file as multipart.
    ImportBody: BAD_REQUEST, NOT_ACCEPTABLE, IMPORT_TOO_LARGE
);
refusals!(
    /// A key import by PUT, whose body must say what it is.
    PutImportBody: BAD_REQUEST, NOT_ACCEPTABLE, IMPORT_TOO_LARGE, IMPORT_MEDIA_TYPE
);
refusals!(
    /// Storing a certificate: its bytes, in one of the media types a certificate is kept
    /// with, checked against the key (400), and a JSON answer on refusal.
    CertBody: BAD_REQUEST, NOT_ACCEPTABLE, TOO_LARGE, CERT_MEDIA_TYPE, CERT_EXISTS
);
refusals!(
    /// An operation that answers a stored certificate.
    AnswersCert: NOT_ACCEPTABLE_CERT
);
refusals!(
    /// A JSON body to an operation that answers PEM (its 406 is `AnswersPem`'s).
    JsonBodyForPem: BAD_REQUEST, TOO_LARGE
);
refusals!(
    /// A query the handler cannot read.
    MalformedQuery: BAD_REQUEST
);
refusals!(
    /// Moving a key: none by the old id, a malformed id, or a key under the new one.
    Move: NOT_FOUND, BAD_REQUEST, CONFLICT
);

/// The query of `GET /keys` (`keys::list_query` reads it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct KeysQuery {
    /// Only the keys the caller may use (their tag restrictions), when given with any value.
    filter: Option<String>,
    /// Only the keys with exactly this label, when given (the empty string: keys without one).
    label: Option<String>,
}

/// `PrivateKeyPem`, the multipart form of a key import.
#[derive(ToSchema)]
#[schema(example = json!({
    "arguments": {"mechanisms": ["EdDSA_Signature"]},
    "key_file": "-----BEGIN PRIVATE KEY-----\n\
                 MC4CAQAwBQYDK2VwBCIEIKmfAF8wtNjJBfP0oz/o7g6Syve6Zc20/of++Mfsevl+\n\
                 -----END PRIVATE KEY-----\n",
}))]
#[allow(dead_code)]
pub struct PrivateKeyPem {
    /// JSON: the key's mechanisms, and optionally its restrictions and label.
    arguments: PemArguments,
    /// The private key, PEM (PKCS#8, or the type's own form); its type is the key's. The
    /// part's media type is not looked at (the vendor's clients send application/x-pem-file).
    key_file: String,
}

/// A certificate's bytes, as stored and answered.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Certificate(Vec<u8>);

/// What `GET /keys/{KeyID}` answers: the key, or for a prefix (`{KeyPrefix}*`) a list.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum KeyOrKeys {
    Key(PublicKey),
    Keys(Vec<KeyItem>),
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::openapi::DOCUMENT;

    fn document() -> Value {
        serde_json::from_str(&DOCUMENT).unwrap()
    }

    /// Both imports take the key as JSON and as a PEM file with its arguments as JSON.
    #[test]
    fn imports_take_json_and_pem() {
        let doc = document();
        for (path, method) in [("/keys", "post"), ("/keys/{KeyID}", "put")] {
            let content = &doc["paths"][path][method]["requestBody"]["content"];
            assert_eq!(
                content["application/json"]["schema"]["$ref"], "#/components/schemas/PrivateKey",
                "{method} {path}"
            );
            let form = &content["multipart/form-data"];
            assert_eq!(form["schema"]["$ref"], "#/components/schemas/PrivateKeyPem");
            assert_eq!(
                form["encoding"]["arguments"]["contentType"],
                "application/json"
            );
        }
    }

    /// A certificate is taken and answered in every media type the core stores one with.
    #[test]
    fn certificates_name_the_cores_media_types() {
        let doc = document();
        let cert = &doc["paths"]["/keys/{KeyID}/cert"];
        let mut types: Vec<&str> = strongroom_core::keys::CERT_MEDIA_TYPES.to_vec();
        types.sort();
        for content in [
            &cert["put"]["requestBody"]["content"],
            &cert["get"]["responses"]["200"]["content"],
        ] {
            let mut named: Vec<&str> = content
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            named.sort();
            assert_eq!(named, types);
        }
    }

    /// Each path parameter is described once: the same object wherever it appears.
    #[test]
    fn path_parameters_are_described_alike() {
        let doc = document();
        let mut seen: std::collections::BTreeMap<String, Value> = Default::default();
        let mut count = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for p in operation["parameters"].as_array().into_iter().flatten() {
                    if p["in"] != "path" {
                        continue;
                    }
                    count += 1;
                    let name = p["name"].as_str().unwrap().to_owned();
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}");
                    let first = seen.entry(name.clone()).or_insert_with(|| p.clone());
                    assert_eq!(first, p, "{name} of {method} {path}");
                }
            }
        }
        assert!(count > 20, "{count} path parameters");
        for name in ["KeyID", "NamespaceID", "Tag", "UserID"] {
            assert!(seen.contains_key(name), "{name}");
        }
    }
}
