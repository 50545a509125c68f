//! The OpenAPI document and the router describe the same API.

use crate::support::server::Mode;
use crate::support::TestServer;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn every_documented_operation_is_routed_and_the_document_is_openapi_3_1() {
    let server = TestServer::start(Mode::Embedded).await;
    let document = server
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 8, "{paths:?}");
    for (path, operations) in paths {
        let concrete = path.replace("{org}", "acme").replace("{id}", "x_1");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = server.call(method.clone(), &concrete, None, None).await;
            // A routed operation may refuse us (401, 415, 404 for a missing record),
            // but never as an unknown route or with 405.
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            if reply.status == StatusCode::NOT_FOUND
                && reply.body["error"]["message"] == "no such route"
            {
                panic!(
                    "{method} {path} is documented but not routed: {}",
                    reply.body
                );
            }
        }
    }
    server.stop().await.unwrap();
}

#[test]
fn every_route_of_the_router_is_in_the_document() {
    // API routes are registered only through utoipa-axum's `routes!`, which refuses a
    // handler without `#[utoipa::path]`; so the router cannot hold an undocumented
    // API route unless something registers one with plain axum. Nothing may, except
    // the console (`http/console/`), whose HTML pages are for browsers, not API
    // clients, and all live under `/console`.
    let http_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let console = std::fs::read_to_string(http_dir.join("console/mod.rs")).unwrap();
    for route in console.split(".route(").skip(1) {
        let path = route.trim_start().trim_start_matches('"');
        assert!(
            path.starts_with("/console"),
            "a console route outside /console: {path:.40}"
        );
    }
    for entry in std::fs::read_dir(http_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for forbidden in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            assert!(
                !source.contains(forbidden),
                "{} registers a route outside the OpenAPI router ({forbidden})",
                path.display()
            );
        }
    }
    let document = hookgate::http::openapi();
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/orgs",
        "/v1/orgs/{org}/audit",
    ] {
        assert!(document.paths.paths.contains_key(path), "{path}");
    }
}

/// What OpenAPI validators and client generators check first: every path parameter is
/// in its template and every other parameter is not a path one, operation ids are
/// unique, and the unauthenticated routes say so.
#[test]
fn parameters_operation_ids_and_security_are_what_tools_expect() {
    let document = serde_json::to_value(hookgate::http::openapi()).unwrap();
    let mut operation_ids = std::collections::HashSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} used twice ({method} {path})"
            );
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let in_template = path.contains(&format!("{{{name}}}"));
                let is_path = parameter["in"] == "path";
                assert_eq!(
                    is_path, in_template,
                    "{method} {path}: parameter {name} is in {}",
                    parameter["in"]
                );
            }
        }
    }
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            document["paths"][open]["get"]["security"],
            serde_json::json!([{}]),
            "{open} needs no credential"
        );
    }
    let limit = &document["paths"]["/v1/orgs/{org}/sources"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"];
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&serde_json::json!(1), &serde_json::json!(200))
    );
}

fn python_tool(name: &str) -> std::path::PathBuf {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/senders-venv/bin")
        .join(name);
    assert!(tool.exists(), "run scripts/test: it installs the test venv");
    tool
}

/// openapi-spec-validator, the validator client generators' users run first.
#[tokio::test]
async fn the_served_document_passes_openapi_spec_validator() {
    let server = TestServer::start(Mode::Embedded).await;
    let document = server
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document.to_string()).unwrap();
    let output = std::process::Command::new(python_tool("openapi-spec-validator"))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await.unwrap();
}

/// Every error answer names the envelope's schema, and the routes that take a JSON
/// body, a path or credentials document what those can be refused with.
#[test]
fn every_operation_documents_its_refusals_with_the_error_envelope() {
    let document = serde_json::to_value(hookgate::http::openapi()).unwrap();
    assert_eq!(
        document["components"]["schemas"]["Error"]["required"],
        serde_json::json!(["error"])
    );
    let mut operations = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
            let needs = |status: &str| {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                )
            };
            if operation["security"] != serde_json::json!([{}]) {
                needs("401");
                needs("403");
            }
            if path.contains('{') {
                needs("404");
            }
            if operation["requestBody"]["content"]["application/json"].is_object() {
                ["400", "413", "415", "422"].into_iter().for_each(needs);
            }
            if path.starts_with("/v1/") {
                needs("503");
            }
        }
    }
    assert!(operations >= 38, "{operations}");
}

/// schemathesis (property-based, from the document) for a bounded time: no 5xx, and
/// every status, content type and body is one the document describes.
async fn schemathesis_finds_only_documented_answers(mode: Mode) {
    let server = TestServer::start(mode).await;
    let org = format!("st-{}", crate::support::unique_suffix());
    server.create_org(&org).await;
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    let seconds = std::env::var("HOOKGATE_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "30".into());
    let scratch = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(python_tool("schemathesis"));
    command
        .args(["--config-file".as_ref(), config.as_os_str()])
        .arg("run")
        .arg(format!("{}/openapi.json", server.url))
        .args(["--header", &format!("Authorization: Bearer {}", crate::support::server::OPERATOR_TOKEN)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
        ])
        .args(["--max-time", &seconds, "--workers", "1", "--no-color"])
        .env("HOOKGATE_TEST_ORG", &org)
        .env("SCHEMATHESIS_HOOKS", "")
        // It keeps a cache of what it found in its working directory.
        .current_dir(&scratch);
    // One worker: with two threads, CPython 3.11's `ast` module can fail hypothesis's
    // lambda introspection ("AST constructor recursion depth mismatch", gh-106905), a
    // tool error rather than a finding. The server runs on this runtime meanwhile.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    server.stop().await.unwrap();
}

crate::in_both_modes!(schemathesis_finds_only_documented_answers);
