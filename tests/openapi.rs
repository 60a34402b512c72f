//! docs/openapi.yaml and the router must list the same routes.

use std::collections::BTreeSet;

/// (METHOD, path) pairs under `paths:`; the spec keeps paths at two spaces
/// and operations at four, which this reads without a YAML library.
fn spec_routes(spec: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in spec.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line.starts_with("paths:");
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let Some(op) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let method = op.trim_end_matches(':');
            if ["get", "put", "post", "patch", "delete"].contains(&method) {
                out.insert((
                    method.to_uppercase(),
                    path.clone().expect("operation under a path"),
                ));
            }
        }
    }
    out
}

#[test]
fn the_spec_lists_exactly_the_routes_that_exist() {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .expect("docs/openapi.yaml");
    assert!(spec.starts_with("openapi: 3.1"), "OpenAPI 3.1");
    let documented = spec_routes(&spec);
    let mut served: BTreeSet<(String, String)> = shared::api::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    // Served by the order-events function rather than the api router.
    served.insert(("POST".into(), "/events".into()));
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "routes the spec lacks: {missing:?}");
    assert!(extra.is_empty(), "spec routes that do not exist: {extra:?}");
}

#[test]
fn the_reader_sees_every_operation() {
    let spec = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      x: 1\n    post:\n  /b/{id}:\n    parameters:\n    delete:\ncomponents:\n  x:\n    get:\n";
    let got: Vec<_> = spec_routes(spec).into_iter().collect();
    assert_eq!(
        got,
        [
            ("DELETE".into(), "/b/{id}".into()),
            ("GET".into(), "/a".into()),
            ("POST".into(), "/a".into())
        ]
    );
}

#[test]
fn the_sam_template_routes_exactly_the_same_paths() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml");
    // The value after `key:` on a line: quoted, or up to a comma, space or brace.
    fn value_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let rest = line[line.find(key)? + key.len()..].trim_start();
        match rest.strip_prefix('"') {
            Some(q) => q.split('"').next(),
            None => rest.split([',', ' ', '}']).next(),
        }
    }
    let mut routed = BTreeSet::new();
    let mut path: Option<String> = None;
    for line in template.lines() {
        if let Some(p) = value_after(line, " Path:") {
            path = Some(p.to_owned());
        }
        if let Some(m) = value_after(line, " Method:") {
            routed.insert((
                m.to_uppercase(),
                path.take().expect("a Path before each Method"),
            ));
        }
    }
    let mut served: BTreeSet<(String, String)> = shared::api::ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    served.insert(("POST".into(), "/events".into()));
    assert_eq!(
        routed, served,
        "HttpApi events in infra/template.yaml vs the router"
    );
}
