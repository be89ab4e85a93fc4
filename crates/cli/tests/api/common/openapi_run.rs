//! Schemathesis runs against the OpenAPI documents the server publishes (our own API's,
//! `openapi.rs`, and the faces', `openapi_faces.rs`): the same options, checks, size, seed and
//! time limit for each, and the same report on a failure (docs/testing.md).

use std::time::Duration;

use super::Server;
use super::python::test_python;
use super::schemathesis;

/// Cases per operation in each phase of a run, unless `STRONGROOM_OPENAPI_MAX_EXAMPLES` asks
/// for more (release checks).
const DEFAULT_MAX_EXAMPLES: u32 = 25;

/// The coverage phase sends methods the document does not declare. Every method RFC 9110
/// defines is refused with 405 and `Allow` (checked by `unsupported_method`); QUERY, which the
/// default list has too, is an IETF draft the server does not know, and a method the server
/// does not know is 501 Not Implemented (RFC 9110, 15.6.2; the NetHSM convention this API
/// follows, docs/errors.md): correct HTTP, but a 5xx to `not_a_server_error`. So QUERY is
/// left out of the list.
///
/// The hooks (a top-level key, so before any table) teach schemathesis the media types it does
/// not know: [`HOOKS_PY`].
const SCHEMATHESIS_TOML: &str = r#"
hooks = "./hooks.py"

[phases.coverage]
unexpected-methods = ["get", "put", "post", "delete", "options", "patch", "trace"]
"#;

/// schemathesis sends bodies only of the media types it has a serializer for: PEM
/// (`application/x-pem-file`, the NetHSM face's certificate uploads) is text, sent as
/// `text/plain` would be, under its own media type.
const HOOKS_PY: &str = r#"
import schemathesis

schemathesis.serializer.alias("application/x-pem-file", "text/plain")
"#;

/// What each run may spend: cases per operation (per phase).
fn max_examples() -> u32 {
    match std::env::var("STRONGROOM_OPENAPI_MAX_EXAMPLES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("STRONGROOM_OPENAPI_MAX_EXAMPLES={v} is not a number")),
        Err(_) => DEFAULT_MAX_EXAMPLES,
    }
}

/// The seed of the runs' generation: fixed, so a failure replays, unless
/// `STRONGROOM_OPENAPI_SEED` gives another (to explore other inputs in a longer run).
fn seed() -> u64 {
    match std::env::var("STRONGROOM_OPENAPI_SEED") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("STRONGROOM_OPENAPI_SEED={v} is not a number")),
        Err(_) => 20261130,
    }
}

/// The options of a run against the API at `url`, with `extra` (credentials, selection) and
/// the checks every run of the server's own documents makes.
fn run_options(url: &str, extra: Vec<String>) -> Vec<String> {
    let mut args = vec![
        format!("--url={url}"),
        // The server's certificate is self-signed; the harness pins it, schemathesis cannot.
        "--tls-verify=false".into(),
    ];
    args.extend(extra);
    args.extend([
        // The document's promises: no 5xx; every status documented; every answer of its
        // documented media type, headers and schema; a request the document calls invalid is
        // refused; a method it does not declare is 405 with `Allow`; a resource deleted is
        // gone and one created is there. Left out: `positive_data_acceptance`, because the
        // server refuses values by rules a JSON schema cannot state exactly (lengths in bytes,
        // Unicode character classes, owners that must be existing users), each a documented
        // 400; and `ignored_auth`, which sends wrong credentials in quick succession and
        // wants 401 or 403 for each, while the second within a second is 429 by design
        // (docs/errors.md, and documented in the document too).
        "--checks=not_a_server_error,status_code_conformance,content_type_conformance,\
         response_headers_conformance,response_schema_conformance,negative_data_rejection,\
         missing_required_header,unsupported_method,use_after_free,\
         ensure_resource_availability"
            .into(),
        format!("--max-examples={}", max_examples()),
        format!("--seed={}", seed()),
        "--request-timeout=20".into(),
        "--generation-database=none".into(),
        "--no-color".into(),
    ]);
    args
}

/// Runs schemathesis against the document `text` (`what` names it in a failure) served by
/// `server` at `url`, once per run of `runs` in order, each its extra options (credentials,
/// `--include-...` or `--exclude-operation-id`) and how many operations they select; panics
/// with the report and the server's log when a run fails or selects another number, else
/// prints the reports.
pub async fn conform(
    server: &Server,
    what: &str,
    url: &str,
    text: &str,
    runs: Vec<(Vec<String>, usize)>,
) {
    conform_with(server, what, url, text, "", runs).await
}

/// [`conform`] with `config` added to every run's `schemathesis.toml` (values for parameters,
/// say).
pub async fn conform_with(
    server: &Server,
    what: &str,
    url: &str,
    text: &str,
    config: &str,
    runs: Vec<(Vec<String>, usize)>,
) {
    let python = test_python("schemathesis.cli");
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("openapi.json");
    std::fs::write(&spec, text).unwrap();
    // Schemathesis reads its configuration from the directory it runs in.
    std::fs::write(
        work.path().join("schemathesis.toml"),
        format!("{SCHEMATHESIS_TOML}{config}"),
    )
    .unwrap();
    std::fs::write(work.path().join("hooks.py"), HOOKS_PY).unwrap();
    // Generous: a run takes a few minutes at the default size on a busy 2-core machine.
    let timeout = Duration::from_secs(600 + 20 * u64::from(max_examples()));
    let mut outputs = Vec::new();
    for (extra, operations) in runs {
        let args = run_options(url, extra);
        let run =
            schemathesis::schemathesis_within(&python, work.path(), &spec, &args, timeout).await;
        let selected = format!("{operations} selected /");
        if !run.passed() || !run.run.stdout.contains(&selected) {
            let findings = format!(
                "schemathesis found {what} not conforming to its OpenAPI document, or did not \
                 run (expected \"{selected}\" operations)\n{}",
                run.report()
            );
            panic!("{}", schemathesis::failure(&findings, &server.log()));
        }
        outputs.push(run.report());
    }
    for output in outputs {
        println!("{output}");
    }
}
