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

fn template() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml")
}

/// The lines of the YAML block `header:` at two spaces (a resource, a
/// parameter, an output), up to the next one at that level.
fn resource(t: &str, header: &str) -> String {
    let mut lines = t.lines().skip_while(|l| *l != format!("  {header}:"));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no `{header}` in the template"));
    let body = lines.take_while(|l| l.is_empty() || l.starts_with("   "));
    std::iter::once(first)
        .chain(body)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_template_keeps_secrets_out_of_environments() {
    let t = template();
    for line in t.lines() {
        let l = line.trim_start();
        assert!(
            !l.starts_with("JWT_SECRET:") && !l.starts_with("EVENTS_API_KEY:"),
            "a secret's value in a function's environment: {line}"
        );
    }
    for f in ["WsConnectFunction", "ApiFunction"] {
        let r = resource(&t, f);
        assert!(
            r.contains("JWT_SECRET_ARN:"),
            "{f} gets the JWT secret's ARN"
        );
        assert!(
            r.contains("secretsmanager:GetSecretValue"),
            "{f} may read it"
        );
    }
    let r = resource(&t, "OrderEventsFunction");
    assert!(r.contains("EVENTS_API_KEY_ARN: !Ref EventsApiKeyValue"));
    assert!(r.contains("Resource: !Ref EventsApiKeyValue"));
    assert!(resource(&t, "JwtSecretValue").contains("AWS::SecretsManager::Secret"));
    assert!(resource(&t, "EventsApiKeyValue").contains("AWS::SecretsManager::Secret"));
}

#[test]
fn the_template_deploys_routes_logs_at_its_level_and_alarms_someone() {
    let t = template();
    let stage = resource(&t, "WebSocketStage");
    assert!(stage.contains("AutoDeploy: true"), "{stage}");
    assert!(
        !stage.contains("DeploymentId"),
        "a fixed deployment never publishes later routes"
    );
    assert!(t.contains("ApplicationLogLevel: !Ref LogLevel"));
    for f in [
        "WsConnect",
        "WsDisconnect",
        "WsMessage",
        "OrderEvents",
        "Worker",
        "Sender",
        "Api",
    ] {
        let logs = resource(&t, &format!("{f}Logs"));
        assert!(
            logs.contains("RetentionInDays: !Ref LogRetentionDays"),
            "{logs}"
        );
        assert!(
            resource(&t, &format!("{f}Function")).contains(&format!("LogGroup: !Ref {f}Logs")),
            "{f} logs into its group"
        );
    }
    let sender = resource(&t, "SenderFunction");
    let ses = &sender[sender.find("ses:SendEmail").expect("ses:SendEmail")..];
    assert!(!resource(&t, "ApiFunction").contains("ses:SendEmail"));
    let ses_resource = ses.lines().nth(1).unwrap_or_default();
    assert!(
        ses_resource.contains(":identity/${SesIdentity}"),
        "SES scoped to the identity: {ses_resource}"
    );
    assert!(resource(&t, "AlarmTopic").contains("Condition: CreateAlarmTopic"));
    for a in ["EventsDeadLetterAlarm", "DeliveriesDeadLetterAlarm"] {
        assert!(
            resource(&t, a).contains(
                "AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]]"
            ),
            "{a} notifies a topic whether or not one is given"
        );
    }
}

/// A function binary, built if needed, from the target directory this test
/// binary lives in.
fn function_binary(name: &str) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps");
    let bin = profile_dir.join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", name])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("CARGO_TARGET_DIR", profile_dir.parent().expect("<target>"))
        .status();
    assert!(
        bin.is_file(),
        "no {} and `cargo build -p {name}` could not build it ({built:?})",
        bin.display()
    );
    bin
}

/// What `LogLevel` becomes in Lambda (AWS_LAMBDA_LOG_LEVEL) decides whether
/// a function's debug lines appear: run a real function binary at DEBUG and
/// at INFO. It logs its cold start at debug, then finds no runtime API.
#[test]
fn debug_logs_appear_only_when_the_level_says_debug() {
    let bin = function_binary("order-events");
    let run = |level: &str| {
        let out = std::process::Command::new(&bin)
            .env_clear()
            .env("AWS_LAMBDA_LOG_LEVEL", level)
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env("AWS_LAMBDA_FUNCTION_NAME", "order-events")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("EVENTS_API_KEY", "k".repeat(24))
            .output()
            .expect("run order-events");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let debug = run("DEBUG");
    assert!(
        debug
            .lines()
            .any(|l| l.contains("\"level\":\"DEBUG\"") && l.contains("cold start")),
        "no debug line at DEBUG:\n{debug}"
    );
    let info = run("INFO");
    assert!(
        !info.contains("\"level\":\"DEBUG\""),
        "debug lines at INFO:\n{info}"
    );
}
