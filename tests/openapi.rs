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
            !l.starts_with("JWT_SECRET:")
                && !l.starts_with("EVENTS_API_KEY:")
                && !l.starts_with("WEBHOOK_SECRET:")
                && !l.starts_with("VAPID_PRIVATE_KEY:"),
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
    // Each may read exactly its own secret.
    assert!(r.contains("Resource: !Ref EventsApiKeyValue"), "{r}");
    assert!(
        !r.contains("JwtSecretValue") && !r.contains("WebhookSecretValue"),
        "{r}"
    );
    for f in ["WsConnectFunction", "ApiFunction"] {
        let r = resource(&t, f);
        assert!(r.contains("Resource: !Ref JwtSecretValue"), "{r}");
        assert!(
            !r.contains("EventsApiKeyValue") && !r.contains("WebhookSecretValue"),
            "{r}"
        );
    }
    let r = resource(&t, "WebhooksFunction");
    assert!(
        r.contains(r#"WEBHOOK_SECRET_ARN: !If [HasWebhook, !Ref WebhookSecretValue, ""]"#),
        "{r}"
    );
    assert!(r.contains("Resource: !Ref WebhookSecretValue"), "{r}");
    assert!(
        !r.contains("JwtSecretValue") && !r.contains("EventsApiKeyValue"),
        "{r}"
    );
    // The VAPID key: the sender signs with it, the api derives the public
    // key from it; each reads that secret and, the api, its JWT secret.
    for f in ["SenderFunction", "ApiFunction"] {
        let r = resource(&t, f);
        assert!(
            r.contains(r#"VAPID_PRIVATE_KEY_ARN: !If [HasVapid, !Ref VapidPrivateKeyValue, ""]"#),
            "{f}: {r}"
        );
        assert!(
            r.contains("Resource: !Ref VapidPrivateKeyValue"),
            "{f}: {r}"
        );
    }
    let r = resource(&t, "SenderFunction");
    assert!(
        !r.contains("JwtSecretValue")
            && !r.contains("EventsApiKeyValue")
            && !r.contains("WebhookSecretValue"),
        "{r}"
    );
    for f in [
        "WsDisconnectFunction",
        "WsMessageFunction",
        "WorkerFunction",
        "FeedbackFunction",
    ] {
        assert!(
            !resource(&t, f).contains("secretsmanager:"),
            "{f} reads no secret"
        );
    }
    // The secret values go only into the secrets.
    for param in [
        "!Ref JwtSecret",
        "!Ref EventsApiKey",
        "!Ref WebhookSecret",
        "!Ref VapidPrivateKey",
    ] {
        let uses: Vec<&str> = t
            .lines()
            .filter(|l| l.trim_end().ends_with(param))
            .map(str::trim)
            .collect();
        assert_eq!(uses, [format!("SecretString: {param}")], "{param}");
    }
    assert!(resource(&t, "JwtSecretValue").contains("AWS::SecretsManager::Secret"));
    assert!(resource(&t, "EventsApiKeyValue").contains("AWS::SecretsManager::Secret"));
    assert!(resource(&t, "WebhookSecretValue").contains("AWS::SecretsManager::Secret"));
    assert!(resource(&t, "VapidPrivateKeyValue").contains("AWS::SecretsManager::Secret"));
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
        "Feedback",
        "Webhooks",
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
    // The statement's resources: the lines between its action and its condition.
    let ses_resources: Vec<&str> = ses
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("Condition:"))
        .collect();
    assert!(
        ses_resources
            .iter()
            .any(|l| l.contains(":identity/${SesIdentity}")),
        "SES scoped to the identity: {ses_resources:?}"
    );
    assert!(
        ses_resources
            .iter()
            .all(|l| !l.contains('*') && (l.trim() == "Resource:" || l.contains("!Sub"))),
        "SES scoped to named resources only: {ses_resources:?}"
    );
    let topic = resource(&t, "AlarmTopic");
    assert!(topic.contains("Condition: CreateAlarmTopic"), "{topic}");
    // CloudWatch cannot publish to a topic under the AWS managed key: its
    // key policy, which cannot be changed, does not let CloudWatch use it.
    assert!(
        !topic
            .lines()
            .any(|l| l.trim().starts_with("KmsMasterKeyId: alias/aws/sns")),
        "{topic}"
    );
    let subscription = resource(&t, "AlarmEmailSubscription");
    assert!(
        subscription.contains("Condition: SubscribeAlarmEmail")
            && subscription.contains("Endpoint: !Ref AlarmEmail"),
        "{subscription}"
    );
    for a in [
        "EventsDeadLetterAlarm",
        "DeliveriesDeadLetterAlarm",
        "BroadcastDeadLetterAlarm",
        "FeedbackDeadLetterAlarm",
        "WebhookDeadLetterAlarm",
    ] {
        assert!(
            resource(&t, a).contains(
                "AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]]"
            ),
            "{a} notifies a topic whether or not one is given"
        );
    }
    // The Outputs entry, after the resource of the same name.
    let output = &t[t.find("\nOutputs:").expect("Outputs")..];
    assert!(
        resource(output, "AlarmTopic")
            .contains("Value: !If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]"),
        "the topic the alarms use is an output"
    );
}

/// The block `header:` at `indent` spaces inside `text` (an event under a
/// function's `Events:`, at eight), up to the next line at that level or
/// above; None when there is none.
fn block(text: &str, indent: usize, header: &str) -> Option<String> {
    let head = format!("{}{header}:", " ".repeat(indent));
    let deeper = " ".repeat(indent + 1);
    let mut lines = text.lines().skip_while(|l| *l != head);
    let first = lines.next()?;
    let body = lines.take_while(|l| l.is_empty() || l.starts_with(&deeper));
    Some(
        std::iter::once(first)
            .chain(body)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Whether `text` has a line that is exactly `line` once indentation and
/// trailing spaces are trimmed (so `MaximumConcurrency: 50` is not found
/// in `MaximumConcurrency: 500`).
fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

/// The limits the design sets itself, in shared/src/quotas.rs (which the
/// local stack's `--aws-quotas` enforces), are the ones the template deploys.
#[test]
fn the_template_runs_at_the_capacity_in_shared_quotas() {
    use shared::quotas::*;
    let t = template();

    // Each queue's mapping is bounded, so a backlog cannot take the region's pool.
    let mappings = [
        (
            "WorkerFunction",
            "Events",
            "EventsQueue",
            EVENTS_MAX_CONCURRENCY,
        ),
        (
            "WorkerFunction",
            "Broadcast",
            "BroadcastQueue",
            BROADCAST_MAX_CONCURRENCY,
        ),
        (
            "SenderFunction",
            "Deliveries",
            "DeliveriesQueue",
            DELIVERIES_MAX_CONCURRENCY,
        ),
        (
            "FeedbackFunction",
            "Feedback",
            "FeedbackQueue",
            FEEDBACK_MAX_CONCURRENCY,
        ),
        (
            "WebhooksFunction",
            "Webhooks",
            "WebhookQueue",
            WEBHOOKS_MAX_CONCURRENCY,
        ),
    ];
    for (function, name, queue, max) in mappings {
        assert!(
            (2..=1000).contains(&max),
            "{function}'s {name} mapping: MaximumConcurrency {max} is outside the 2..=1000 AWS accepts"
        );
        let f = resource(&t, function);
        let event = block(&f, 8, name)
            .unwrap_or_else(|| panic!("{function} has no event `{name}` (on {queue}):\n{f}"));
        assert!(
            has_line(&event, "Type: SQS")
                && has_line(&event, &format!("Queue: !GetAtt {queue}.Arn")),
            "{function}'s event `{name}` is not the SQS mapping on {queue}:\n{event}"
        );
        assert!(
            has_line(&event, "FunctionResponseTypes: [ReportBatchItemFailures]"),
            "{function}'s mapping on {queue} does not report batch item failures:\n{event}"
        );
        assert!(
            has_line(&event, "ScalingConfig:")
                && has_line(&event, &format!("MaximumConcurrency: {max}")),
            "{function}'s mapping on {queue} is not bounded at MaximumConcurrency {max} \
             (shared::quotas), so a backlog there could take the region's Lambda pool:\n{event}"
        );
    }
    let broadcast = block(&resource(&t, "WorkerFunction"), 8, "Broadcast").unwrap_or_default();
    assert!(
        has_line(&broadcast, "BatchSize: 1"),
        "the worker's broadcast mapping must take one page (one directory shard) per invocation:\n{broadcast}"
    );
    let worker = resource(&t, "WorkerFunction");
    for needed in [
        "BROADCAST_QUEUE_URL: !Ref BroadcastQueue",
        "Resource: !GetAtt BroadcastQueue.Arn",
        "Action: [execute-api:ManageConnections]",
    ] {
        assert!(
            worker.contains(needed),
            "the worker consumes the broadcast queue and pushes broadcasts itself, \
             but lacks `{needed}`:\n{worker}"
        );
    }
    let globals = resource(&t, "Function");
    assert!(
        globals.contains("WS_ENDPOINT: !Sub") && !worker.contains("WS_ENDPOINT:"),
        "the worker pushes broadcasts: it needs WS_ENDPOINT, from Globals as the sender gets it"
    );

    // The WebSocket functions have their own share, so a backlog elsewhere
    // never throttles $connect.
    let reserved = [
        ("WsConnectFunction", WS_CONNECT_RESERVED),
        ("WsDisconnectFunction", WS_DISCONNECT_RESERVED),
        ("WsMessageFunction", WS_MESSAGE_RESERVED),
    ];
    for (function, n) in reserved {
        let f = resource(&t, function);
        assert!(
            has_line(&f, &format!("ReservedConcurrentExecutions: {n}")),
            "{function} must reserve {n} concurrent executions (shared::quotas):\n{f}"
        );
    }
    let total_reserved: u32 = reserved.iter().map(|(_, n)| n).sum();
    let mapped: u32 = mappings.iter().map(|m| m.3).sum();
    assert!(
        total_reserved + 100 <= aws::LAMBDA_CONCURRENCY,
        "{total_reserved} reserved leaves less than the 100 unreserved executions AWS requires \
         of a {} pool",
        aws::LAMBDA_CONCURRENCY
    );
    assert!(
        total_reserved + mapped < aws::LAMBDA_CONCURRENCY,
        "the mappings ({mapped}) and the reserved functions ({total_reserved}) could take \
         the whole regional pool of {}",
        aws::LAMBDA_CONCURRENCY
    );

    // The table starts warm: a broadcast must not start at a new table's
    // 4,000 write units/s.
    let table = resource(&t, "Table");
    assert!(
        has_line(&table, "BillingMode: PAY_PER_REQUEST") && has_line(&table, "WarmThroughput:"),
        "the on-demand table has no WarmThroughput:\n{table}"
    );
    assert!(
        has_line(
            &table,
            &format!("WriteUnitsPerSecond: {TABLE_WARM_WRITE_UNITS}")
        ),
        "the table's warm write throughput is not {TABLE_WARM_WRITE_UNITS} (shared::quotas):\n{table}"
    );
    assert!(
        has_line(
            &table,
            &format!("ReadUnitsPerSecond: {TABLE_WARM_READ_UNITS}")
        ),
        "the table's warm read throughput is not {TABLE_WARM_READ_UNITS} (shared::quotas):\n{table}"
    );
    assert!(
        f64::from(TABLE_WARM_WRITE_UNITS) >= aws::TABLE_WRU
            && f64::from(TABLE_WARM_READ_UNITS) >= aws::TABLE_RRU,
        "warm throughput below what a new on-demand table has anyway"
    );

    // Keepalive pings are answered by API Gateway: no Lambda, no DynamoDB.
    let api = resource(&t, "WebSocketApi");
    assert!(
        api.contains(r#"RouteSelectionExpression: "$request.body.action""#),
        "routes are selected by `action`, which the ping route relies on:\n{api}"
    );
    let route = resource(&t, "PingRoute");
    assert!(
        has_line(&route, "RouteKey: ping")
            && has_line(&route, r#"Target: !Sub "integrations/${PingIntegration}""#),
        "no `ping` route on the ping integration:\n{route}"
    );
    assert!(
        has_line(&route, "RouteResponseSelectionExpression: $default"),
        "the ping route is not two-way (RouteResponseSelectionExpression), so no pong is sent:\n{route}"
    );
    let integration = resource(&t, "PingIntegration");
    assert!(
        has_line(&integration, "IntegrationType: MOCK") && !integration.contains("IntegrationUri"),
        "the ping integration must be MOCK, calling nothing:\n{integration}"
    );
    let route_response = resource(&t, "PingRouteResponse");
    assert!(
        has_line(&route_response, "Type: AWS::ApiGatewayV2::RouteResponse")
            && has_line(&route_response, "RouteId: !Ref PingRoute")
            && has_line(&route_response, "RouteResponseKey: $default"),
        "the ping route has no $default route response, so the client never gets its pong:\n{route_response}"
    );
    let pong = String::from_utf8(shared::protocol::ServerMessage::Pong.to_bytes())
        .expect("a pong is UTF-8");
    let answer = resource(&t, "PingIntegrationResponse");
    assert!(
        has_line(&answer, "Type: AWS::ApiGatewayV2::IntegrationResponse")
            && has_line(&answer, "IntegrationId: !Ref PingIntegration")
            && has_line(&answer, "IntegrationResponseKey: $default"),
        "the ping integration has no $default integration response:\n{answer}"
    );
    assert!(
        has_line(&answer, &format!("$default: '{pong}'")),
        "the ping integration response does not answer {pong} (ServerMessage::Pong):\n{answer}"
    );
    assert!(
        !t.contains("/*/ping"),
        "a Lambda permission for the ping route: it calls no function"
    );
    let stage = resource(&t, "WebSocketStage");
    assert!(
        stage
            .lines()
            .any(|l| l.trim().starts_with("DependsOn:") && l.contains("PingRoute")),
        "the stage must depend on the ping route, or it may deploy without it:\n{stage}"
    );
    // A million devices' keepalives fit under the ping route's own throttle
    // (the stage's default route throttle is 1,000 requests/s).
    let ping = block(&stage, 8, "ping").expect("RouteSettings for the ping route");
    let rate: u64 = ping
        .lines()
        .find_map(|l| l.trim().strip_prefix("ThrottlingRateLimit:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a ThrottlingRateLimit for ping");
    assert!(
        rate >= 1_000_000 / CLIENT_PING_SECS,
        "ping route throttled at {rate}/s, below a million devices' keepalives"
    );
}

/// The number after `key:` on the first line of `text` that starts with it
/// once indentation is trimmed (a trailing `# comment` ignored).
fn number(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(key)?
            .strip_prefix(':')?
            .split('#')
            .next()?
            .trim()
            .parse::<u64>()
            .ok()
    })
}

/// Every resource the policy statements in `text` that name `action` apply
/// to: each one's `Resource:` value, or the list under it (`!GetAtt X.Arn`,
/// `!Sub "…"`, `"*"`), in order.
fn resources_of<'a>(text: &'a str, action: &str) -> Vec<&'a str> {
    let lines: Vec<&'a str> = text.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with('#') || !l.contains(action) {
            continue;
        }
        let Some(first) = lines
            .get(i + 1)
            .copied()
            .and_then(|n| n.strip_prefix("Resource:"))
        else {
            continue;
        };
        if !first.trim().is_empty() {
            out.push(first.trim());
            continue;
        }
        out.extend(
            lines[i + 2..]
                .iter()
                .copied()
                .take_while(|n| n.starts_with("- !"))
                .map(|n| &n[2..]),
        );
    }
    out
}

/// SES's delivery feedback (configuration set → topic → feedback queue) and
/// the webhooks to the shop (their queue, retries, secret and URL) are wired
/// as the feedback and webhooks functions expect.
#[test]
fn the_template_wires_ses_feedback_and_webhooks() {
    let t = template();

    // Every email goes out with the configuration set, which has SES
    // suppress hard bounces and complaints itself.
    let set = resource(&t, "EmailConfigurationSet");
    assert!(
        has_line(&set, "Type: AWS::SES::ConfigurationSet")
            && has_line(&set, "SuppressedReasons: [BOUNCE, COMPLAINT]"),
        "the configuration set must suppress hard bounces and complaints:\n{set}"
    );
    let sender = resource(&t, "SenderFunction");
    assert!(
        has_line(&sender, "SES_CONFIGURATION_SET: !Ref EmailConfigurationSet"),
        "the sender must name the configuration set on every SendEmail:\n{sender}"
    );
    let ses = resources_of(&sender, "ses:SendEmail");
    assert!(
        ses.iter()
            .any(|r| r.ends_with(":configuration-set/${EmailConfigurationSet}\"")),
        "SES v2 authorizes SendEmail against the configuration set too: {ses:?}"
    );

    // SES → topic → FeedbackQueue, each message SES's event JSON itself.
    let destination = resource(&t, "EmailEventDestination");
    assert!(
        has_line(
            &destination,
            "Type: AWS::SES::ConfigurationSetEventDestination"
        ) && has_line(
            &destination,
            "ConfigurationSetName: !Ref EmailConfigurationSet"
        ) && has_line(&destination, "Enabled: true")
            && has_line(&destination, "TopicARN: !Ref EmailEventsTopic"),
        "the configuration set's events must go to the topic:\n{destination}"
    );
    let types: BTreeSet<&str> = destination
        .lines()
        .find_map(|l| l.trim().strip_prefix("MatchingEventTypes:"))
        .unwrap_or_else(|| panic!("no MatchingEventTypes:\n{destination}"))
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "send",
            "delivery",
            "bounce",
            "complaint",
            "reject",
            "deliveryDelay"
        ]),
        "the event types the feedback function records, in CloudFormation's spelling"
    );
    let policy = resource(&t, "EmailEventsTopicPolicy");
    for line in [
        "Type: AWS::SNS::TopicPolicy",
        "Topics: [!Ref EmailEventsTopic]",
        "Principal: { Service: ses.amazonaws.com }",
        "Action: [sns:Publish]",
        "AWS:SourceAccount: !Ref AWS::AccountId",
        "ArnLike:",
        r#"AWS:SourceArn: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${EmailConfigurationSet}""#,
    ] {
        assert!(
            has_line(&policy, line),
            "only SES, for this account's configuration set, may publish to the topic; \
             the policy lacks `{line}`:\n{policy}"
        );
    }
    assert_eq!(
        policy.matches("Principal:").count(),
        1,
        "one publisher:\n{policy}"
    );
    let subscription = resource(&t, "EmailEventsSubscription");
    for line in [
        "Type: AWS::SNS::Subscription",
        "TopicArn: !Ref EmailEventsTopic",
        "Protocol: sqs",
        "Endpoint: !GetAtt FeedbackQueue.Arn",
        "RawMessageDelivery: true",
    ] {
        assert!(
            has_line(&subscription, line),
            "the topic must deliver SES's event JSON itself to FeedbackQueue; \
             the subscription lacks `{line}`:\n{subscription}"
        );
    }
    let queue_policy = resource(&t, "FeedbackQueuePolicy");
    for line in [
        "Type: AWS::SQS::QueuePolicy",
        "Queues: [!Ref FeedbackQueue]",
        "Principal: { Service: sns.amazonaws.com }",
        "Action: [sqs:SendMessage]",
        "aws:SourceArn: !Ref EmailEventsTopic",
    ] {
        assert!(
            has_line(&queue_policy, line),
            "only the topic may send to FeedbackQueue; its policy lacks `{line}`:\n{queue_policy}"
        );
    }

    // Both queues have a dead-letter queue, watched, kept 14 days, and a
    // visibility timeout six times their consumer's timeout.
    for (queue, dlq, alarm, receives, function) in [
        (
            "FeedbackQueue",
            "FeedbackDLQ",
            "FeedbackDeadLetterAlarm",
            5,
            "FeedbackFunction",
        ),
        (
            "WebhookQueue",
            "WebhookDLQ",
            "WebhookDeadLetterAlarm",
            8,
            "WebhooksFunction",
        ),
    ] {
        let q = resource(&t, queue);
        assert!(
            has_line(&q, &format!("deadLetterTargetArn: !GetAtt {dlq}.Arn"))
                && has_line(&q, &format!("maxReceiveCount: {receives}")),
            "{queue} must move a message to {dlq} after {receives} receives:\n{q}"
        );
        assert_eq!(
            number(&resource(&t, dlq), "MessageRetentionPeriod"),
            Some(14 * 24 * 3600),
            "{dlq} keeps its messages 14 days"
        );
        assert!(
            resource(&t, alarm).contains(&format!("Value: !GetAtt {dlq}.QueueName")),
            "{alarm} must watch {dlq}"
        );
        let visibility = number(&q, "VisibilityTimeout").expect("a VisibilityTimeout");
        let timeout = number(&resource(&t, function), "Timeout").expect("a Timeout");
        assert!(
            visibility >= 6 * timeout,
            "{queue}'s visibility timeout {visibility} s is under six times {function}'s {timeout} s"
        );
    }

    // The webhooks function's retries: the delay before each next attempt,
    // set as the failed message's visibility timeout (5 s, 5 min, 30 min,
    // 2 h, 5 h, 10 h, 10 h), eight attempts in all.
    let backoff_secs = shared::webhook::RETRY_SCHEDULE_SECS;
    assert!(
        backoff_secs.iter().all(|&d| d <= 12 * 3600),
        "SQS takes a visibility timeout of 12 h at most"
    );
    let webhook_queue = resource(&t, "WebhookQueue");
    assert!(
        has_line(
            &webhook_queue,
            &format!("maxReceiveCount: {}", backoff_secs.len() + 1)
        ),
        "a webhook goes to its DLQ after its last attempt:\n{webhook_queue}"
    );
    let retries: u64 = backoff_secs.iter().sum();
    let retention =
        number(&webhook_queue, "MessageRetentionPeriod").expect("WebhookQueue's retention");
    assert!(
        retention >= 24 * 3600 + retries,
        "WebhookQueue keeps a message {retention} s, less than a day beyond its {retries} s of \
         retries (retention counts from the first enqueue)"
    );

    // The webhooks function delays its retries itself and reads only its secret.
    let webhooks = resource(&t, "WebhooksFunction");
    assert_eq!(
        resources_of(&webhooks, "sqs:ChangeMessageVisibility"),
        ["!GetAtt WebhookQueue.Arn"],
        "the webhooks function sets a failed webhook's visibility to its next delay \
         (not among the SQS event source's permissions):\n{webhooks}"
    );
    assert_eq!(
        resources_of(&webhooks, "secretsmanager:GetSecretValue"),
        ["!Ref WebhookSecretValue"],
        "the webhooks function reads exactly its secret:\n{webhooks}"
    );
    assert!(
        has_line(
            &webhooks,
            r#"WEBHOOK_SECRET_ARN: !If [HasWebhook, !Ref WebhookSecretValue, ""]"#
        ) && !webhooks.contains("dynamodb:"),
        "{webhooks}"
    );
    for event in ["Feedback", "Webhooks"] {
        let f = resource(&t, &format!("{event}Function"));
        let mapping = block(&f, 8, event).unwrap_or_else(|| panic!("no `{event}` mapping:\n{f}"));
        assert!(has_line(&mapping, "BatchSize: 10"), "{mapping}");
    }
    let feedback = resource(&t, "FeedbackFunction");
    assert_eq!(
        resources_of(&feedback, "dynamodb:"),
        ["!GetAtt Table.Arn"],
        "{feedback}"
    );
    assert!(
        has_line(
            &feedback,
            "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]"
        ),
        "the feedback function reads, records and updates, nothing more:\n{feedback}"
    );
    // ws-connect stores the connection and reads whether its user is in the
    // directory (a GetItem: without it every connect on AWS answers 500).
    let connect = resource(&t, "WsConnectFunction");
    assert!(
        has_line(&connect, "Action: [dynamodb:GetItem, dynamodb:PutItem]"),
        "ws-connect reads the directory entry and writes the connection:\n{connect}"
    );
    let secret = resource(&t, "WebhookSecretValue");
    assert!(
        has_line(&secret, "Condition: HasWebhook")
            && has_line(&secret, "SecretString: !Ref WebhookSecret"),
        "{secret}"
    );

    // The parameters. There is no regex crate here, so the patterns are
    // pinned as written; CloudFormation matches them against the whole value.
    // `^(https://\S+)?$` takes "" and https:// followed by no spaces: http://,
    // https:// alone and HTTPS:// are refused.
    let url = resource(&t, "WebhookUrl");
    assert!(
        has_line(&url, r"AllowedPattern: '^(https://\S+)?$'") && has_line(&url, r#"Default: """#),
        "WebhookUrl must be empty or https://:\n{url}"
    );
    let key = resource(&t, "WebhookSecret");
    assert!(
        has_line(&key, "NoEcho: true")
            && has_line(&key, r"AllowedPattern: '^(whsec_[A-Za-z0-9+/]+={0,2})?$'"),
        "WebhookSecret must be NoEcho and empty or whsec_<base64>:\n{key}"
    );
    let rule = resource(&t, "WebhookNeedsASecret");
    assert!(
        has_line(
            &rule,
            r#"RuleCondition: !Not [!Equals [!Ref WebhookUrl, ""]]"#
        ) && has_line(
            &rule,
            r#"- Assert: !Not [!Equals [!Ref WebhookSecret, ""]]"#
        ),
        "a WebhookUrl without a WebhookSecret must be refused:\n{rule}"
    );

    // Whatever raises an event the shop hears may queue its webhook.
    for f in [
        "WsMessageFunction",
        "WorkerFunction",
        "SenderFunction",
        "FeedbackFunction",
        "ApiFunction",
    ] {
        let r = resource(&t, f);
        assert!(
            has_line(&r, "WEBHOOK_URL: !Ref WebhookUrl")
                && has_line(&r, "WEBHOOK_QUEUE_URL: !Ref WebhookQueue"),
            "{f} lacks WEBHOOK_URL or WEBHOOK_QUEUE_URL:\n{r}"
        );
        assert!(
            resources_of(&r, "sqs:SendMessage").contains(&"!GetAtt WebhookQueue.Arn"),
            "{f} may not send to WebhookQueue:\n{r}"
        );
    }
    assert!(
        has_line(&webhooks, "WEBHOOK_URL: !Ref WebhookUrl"),
        "{webhooks}"
    );

    // The console shows and redrives both new dead-letter queues, and a
    // re-confirmed address leaves SES's suppression list.
    let api = resource(&t, "ApiFunction");
    for line in [
        "FEEDBACK_QUEUE_URL: !Ref FeedbackQueue",
        "FEEDBACK_DLQ_URL: !Ref FeedbackDLQ",
        "WEBHOOK_DLQ_URL: !Ref WebhookDLQ",
    ] {
        assert!(has_line(&api, line), "the api lacks `{line}`:\n{api}");
    }
    let dead_letters = resources_of(&api, "sqs:StartMessageMoveTask");
    let sends = resources_of(&api, "sqs:SendMessage");
    for (queue, dlq) in [
        ("FeedbackQueue", "FeedbackDLQ"),
        ("WebhookQueue", "WebhookDLQ"),
    ] {
        assert!(
            dead_letters.contains(&format!("!GetAtt {dlq}.Arn").as_str()),
            "the api cannot read or redrive {dlq}: {dead_letters:?}"
        );
        assert!(
            sends.contains(&format!("!GetAtt {queue}.Arn").as_str()),
            "a redrive from {dlq} needs sqs:SendMessage on {queue}: {sends:?}"
        );
    }
    assert_eq!(
        resources_of(&api, "ses:DeleteSuppressedDestination"),
        [r#""*""#],
        "{api}"
    );

    let outputs = &t[t.find("\nOutputs:").expect("Outputs")..];
    for (name, value) in [
        (
            "EmailConfigurationSetName",
            "Value: !Ref EmailConfigurationSet",
        ),
        ("EmailEventsTopicArn", "Value: !Ref EmailEventsTopic"),
        ("FeedbackDeadLetterQueueUrl", "Value: !Ref FeedbackDLQ"),
        ("WebhookDeadLetterQueueUrl", "Value: !Ref WebhookDLQ"),
    ] {
        let o = resource(outputs, name);
        assert!(has_line(&o, value), "output {name}:\n{o}");
    }
}

/// Every `LogLevel` the template offers must mean the same to Lambda's
/// `ApplicationLogLevel` and to the functions' logger (`adapters::logs`,
/// which reads AWS_LAMBDA_LOG_LEVEL and reports a value it does not know).
#[test]
fn every_log_level_the_template_offers_is_one_the_functions_understand() {
    use tracing::Level;
    let t = template();
    let param = resource(&t, "LogLevel");
    let allowed = param
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedValues:"))
        .unwrap_or_else(|| panic!("LogLevel has AllowedValues:\n{param}"));
    let values: Vec<&str> = allowed
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    assert!(
        values.contains(&"DEBUG") && values.contains(&"INFO"),
        "{values:?}"
    );
    let default = param
        .lines()
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .map(str::trim);
    assert!(
        default.is_some_and(|d| values.contains(&d)),
        "LogLevel's default {default:?} is one of {values:?}"
    );
    for v in values {
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].contains(&v),
            "{v} is not a Lambda ApplicationLogLevel"
        );
        let (filter, problems) = shared::adapters::logs::filter(Some(v), None);
        assert!(
            problems.is_empty(),
            "LogLevel {v}: the functions' logger does not understand it: {problems:?}"
        );
        // Each level shows its own lines and hides the ones below it.
        let own = match v {
            "FATAL" => Level::ERROR,
            v => v.parse::<Level>().unwrap(),
        };
        assert!(filter.would_enable("shared", &own), "{v}");
        // The next more verbose level is hidden.
        let finer = match own {
            Level::ERROR => Some(Level::WARN),
            Level::WARN => Some(Level::INFO),
            Level::INFO => Some(Level::DEBUG),
            Level::DEBUG => Some(Level::TRACE),
            _ => None,
        };
        if let Some(finer) = finer {
            assert!(!filter.would_enable("shared", &finer), "{v} shows {finer}");
        }
    }
    // LogLevel is the one setting: the template gives no function a
    // RUST_LOG (its directives would add to the level behind its back).
    assert!(
        !t.lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("RUST_LOG")),
        "RUST_LOG in the template next to LogLevel"
    );
    // What every function gets: Lambda turns it into AWS_LAMBDA_LOG_LEVEL.
    let globals = resource(&t, "Function");
    assert!(
        globals.contains("ApplicationLogLevel: !Ref LogLevel"),
        "{globals}"
    );
    assert!(globals.contains("LogFormat: JSON"), "{globals}");
}

/// A function binary from the target directory this test binary was built
/// in (`<target>/<profile>/deps/suite-…` → `<target>/<profile>/NAME`,
/// whatever `CARGO_TARGET_DIR` is), built first with `cargo build -p NAME`
/// (a no-op when it is fresh), as `support::process::local_binary` does for
/// the local stack.
fn function_binary(name: &str) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let bin = profile_dir.join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", name, "--bin", name])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("CARGO_TARGET_DIR", target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => panic!("no profile directory in {}", exe.display()),
    }
    let built = cmd.status();
    assert!(
        bin.is_file(),
        "no {} and `cargo build -p {name}` could not build it ({built:?})",
        bin.display()
    );
    if !matches!(built, Ok(s) if s.success()) {
        eprintln!(
            "warning: `cargo build -p {name}` failed ({built:?}); using the {} already there",
            bin.display()
        );
    }
    bin
}

/// The request id the stand-in runtime API hands out.
const REQUEST_ID: &str = "5b2f9e6e-0c47-4d1b-9d55-1f1e2a3b4c5d";

/// A minimal Lambda Runtime API on 127.0.0.1: the first
/// `GET /2018-06-01/runtime/invocation/next` gets `event`, later ones wait
/// forever (as Lambda freezes an idle function); every POST (the answer, or
/// an error report) is sent to the receiver as (path, body).
async fn runtime_api(
    event: bytes::Bytes,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(String, bytes::Bytes)>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use http_body_util::{BodyExt, Full};
    use hyper::{Method, Request, Response, body::Incoming, server::conn::http1};
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the runtime API");
    let addr = listener.local_addr().expect("its address");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handed_out = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (tx, event, handed_out) = (tx.clone(), event.clone(), handed_out.clone());
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (tx, event, handed_out) = (tx.clone(), event.clone(), handed_out.clone());
                async move {
                    let path = req.uri().path().to_owned();
                    if req.method() == Method::GET && path == "/2018-06-01/runtime/invocation/next"
                    {
                        if handed_out.swap(true, Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .expect("after 1970")
                            .as_millis()
                            + 60_000;
                        return Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .header("lambda-runtime-aws-request-id", REQUEST_ID)
                                .header("lambda-runtime-deadline-ms", deadline.to_string())
                                .header(
                                    "lambda-runtime-invoked-function-arn",
                                    "arn:aws:lambda:us-east-1:123456789012:function:order-events",
                                )
                                .header(
                                    "lambda-runtime-trace-id",
                                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                                )
                                .body(Full::new(event))
                                .expect("a response"),
                        );
                    }
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let _ = tx.send((path, body));
                    Ok(Response::builder()
                        .status(202)
                        .header("content-type", "application/json")
                        .body(Full::new(bytes::Bytes::from_static(b"{\"status\":\"OK\"}")))
                        .expect("a response"))
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, rx)
}

/// Runs the order-events binary against its own runtime API with
/// AWS_LAMBDA_LOG_LEVEL = `level` (what Lambda sets from `LogLevel`) and
/// JSON logs, hands it one valid `POST /events` (events/order-events.json)
/// whose queue is unreachable, and returns its answer and everything it
/// printed (stdout and stderr).
async fn invoke_order_events_at(level: &str) -> (serde_json::Value, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};

    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let bin = BIN.get_or_init(|| function_binary("order-events"));
    let event = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/order-events.json"
    ))
    .expect("events/order-events.json");
    let (api, mut answers) = runtime_api(event.into()).await;
    let mut child = Command::new(bin)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_LOG_LEVEL", level)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_FUNCTION_NAME", "order-events")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        // Nothing listens there: nothing leaves this machine.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("EVENTS_QUEUE_URL", "http://127.0.0.1:9/123456789012/events")
        .env("EVENTS_API_KEY", "local-dev-key")
        .env("TABLE_NAME", "notify")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let answer = tokio::time::timeout(std::time::Duration::from_secs(60), answers.recv()).await;
    let _ = child.kill();
    let status = child.wait();
    let logs = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    let (path, body) = match answer {
        Ok(Some(a)) => a,
        other => {
            panic!("order-events at {level} answered nothing ({other:?}, {status:?}):\n{logs}")
        }
    };
    assert_eq!(
        path,
        format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/response"),
        "order-events at {level} reported an error instead of answering:\n{}\n{logs}",
        String::from_utf8_lossy(&body)
    );
    let answer = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (answer, logs)
}

/// What `LogLevel` becomes in Lambda (AWS_LAMBDA_LOG_LEVEL) decides whether
/// a function's debug lines appear: a real function binary handles one
/// invocation at DEBUG and at INFO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_appear_only_when_the_level_says_debug() {
    let level_of = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .and_then(|v| v["level"].as_str().map(str::to_owned))
    };

    let (answer, debug) = invoke_order_events_at("DEBUG").await;
    // The queue is unreachable: the event is refused, so that it is retried.
    assert_eq!(answer["statusCode"], 503, "{answer}");
    assert!(
        debug
            .lines()
            .any(|l| level_of(l).as_deref() == Some("DEBUG")),
        "no debug line at DEBUG:\n{debug}"
    );
    // Logged while handling the invocation, in lambda_runtime's span that
    // carries the request id, not only at cold start.
    assert!(
        debug
            .lines()
            .any(|l| level_of(l).as_deref() == Some("DEBUG") && l.contains(REQUEST_ID)),
        "no debug line from the invocation at DEBUG:\n{debug}"
    );

    let (answer, info) = invoke_order_events_at("INFO").await;
    assert_eq!(answer["statusCode"], 503, "{answer}");
    assert!(
        !info.contains("\"level\":\"DEBUG\""),
        "debug lines at INFO:\n{info}"
    );
    // It does log at INFO (the failed enqueue), so the silence above is the
    // level's doing, not lost output.
    assert!(
        info.lines()
            .any(|l| level_of(l).as_deref() == Some("ERROR") && l.contains(REQUEST_ID)),
        "no error line at INFO:\n{info}"
    );
}

/// The sender treats its attempt number `DELIVERIES_MAX_RECEIVES` as the
/// last (final failure, webhook): the queue must dead-letter right after it.
#[test]
fn the_deliveries_queue_dead_letters_after_the_senders_last_attempt() {
    let q = resource(&template(), "DeliveriesQueue");
    assert!(
        has_line(
            &q,
            &format!(
                "maxReceiveCount: {}",
                shared::quotas::DELIVERIES_MAX_RECEIVES
            )
        ),
        "DeliveriesQueue's maxReceiveCount is not shared::quotas::DELIVERIES_MAX_RECEIVES:\n{q}"
    );
}
