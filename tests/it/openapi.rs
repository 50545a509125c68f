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
    // Routes are registered only through utoipa-axum's `routes!`, which refuses a
    // handler without `#[utoipa::path]`; so the router cannot hold an undocumented
    // route unless something registers one with plain axum. Nothing may.
    let http_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    for entry in std::fs::read_dir(http_dir).unwrap() {
        let path = entry.unwrap().path();
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
