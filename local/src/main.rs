//! `cargo run -p local`: the whole product on this machine.

use std::net::SocketAddr;
use std::process::ExitCode;

use local::{Backend, Options};

const HELP: &str = "\
notify local stack: the REST API, POST /events, the WebSocket gateway, the
management API and the queues, in one process.

USAGE: cargo run -p local -- [OPTIONS]

OPTIONS:
  --http-port N          HTTP port (REST API, /events, demo page)    [3000]
  --ws-port N            WebSocket gateway and management API port   [3001]
  --host ADDR            address to listen on                        [127.0.0.1]
  --data-dir DIR         where the embedded store keeps its data     [.local]
  --aws                  use DynamoDB and SES through the AWS SDK
                         (AWS_ENDPOINT_URL, e.g. a moto server)
  --max-message-bytes N  largest WebSocket frame (closes with 1009)  [131072]
  --idle-timeout-secs N  close idle connections after N seconds      [600]
  --max-connection-secs N  close every connection after N seconds    [7200]
  --retry-after-ms N     visibility timeout of the queues            [10000]
  --max-receives N       receives before a message is dead-lettered  [3]
  --aws-quotas           behave like an AWS account at its default quotas:
                         API Gateway 10,000 req/s (burst 5,000) and 500 new
                         connections/s, DynamoDB 1,000 WRU/3,000 RRU per key
                         and the table's throughput, the queue mappings'
                         MaximumConcurrency (see docs/capacity.md)
  --quota-scale F        those quotas times F, 0 < F <= 1 (implies --aws-quotas) [1]
  --connect-quota-scale F  the new-connections quota alone times F       [F]
  --signed-pushes        push through the SDK's signed management API calls
                         (POST /@connections/{id}), as the sender on AWS does,
                         instead of straight into the gateway's sockets
  -h, --help             this text

ENVIRONMENT (dev defaults in brackets):
  JWT_SECRET [local-dev-secret-not-for-production]
  JWT_PUBLIC_KEY  JWT_ISSUER  JWT_AUDIENCE
  EVENTS_API_KEY [local-dev-key]  EMAIL_FROM [notify@localhost]
  TABLE_NAME [notifications] (with --aws)  RUST_LOG [info]
  WEBHOOK_URL  WEBHOOK_SECRET (whsec_<base64>)  signed webhooks to the shop
                         (https, or http to a loopback host)
  WEBHOOK_RETRY_SCHEDULE [5,300,1800,7200,18000,36000,36000] seconds between attempts

Email to success@, bounce@, complaint@ or suppressionlist@simulator.amazonses.com
gets the feedback SES's mailbox simulator sends; any other address is delivered
to the outbox.
";

fn parse(mut opts: Options) -> Result<Option<Options>, String> {
    let mut args = std::env::args().skip(1);
    let mut host = opts.http.ip();
    let (mut http_port, mut ws_port) = (opts.http.port(), opts.ws.port());
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: `{v}` is not a number"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--http-port" => http_port = num(&arg, value(&arg)?)? as u16,
            "--ws-port" => ws_port = num(&arg, value(&arg)?)? as u16,
            "--host" => {
                host = value(&arg)?
                    .parse()
                    .map_err(|_| "--host: not an IP address".to_owned())?
            }
            "--data-dir" => opts.data_dir = value(&arg)?.into(),
            "--aws" => opts.backend = Backend::Aws,
            "--max-message-bytes" => {
                opts.limits.max_message_bytes = num(&arg, value(&arg)?)? as usize
            }
            "--idle-timeout-secs" => {
                opts.limits.idle_timeout = std::time::Duration::from_secs(num(&arg, value(&arg)?)?)
            }
            "--max-connection-secs" => {
                opts.limits.max_lifetime = std::time::Duration::from_secs(num(&arg, value(&arg)?)?)
            }
            "--retry-after-ms" => {
                opts.visibility_timeout = std::time::Duration::from_millis(num(&arg, value(&arg)?)?)
            }
            "--max-receives" => opts.max_receives = num(&arg, value(&arg)?)? as u32,
            "--signed-pushes" => opts.signed_pushes = true,
            "--aws-quotas" => {
                opts.quota_scale.get_or_insert(1.0);
            }
            "--quota-scale" => opts.quota_scale = Some(scale(&arg, value(&arg)?)?),
            "--connect-quota-scale" => opts.connect_quota_scale = Some(scale(&arg, value(&arg)?)?),
            other => return Err(format!("unknown option `{other}`; see --help")),
        }
    }
    opts.http = SocketAddr::new(host, http_port);
    opts.ws = SocketAddr::new(host, ws_port);
    Ok(Some(opts))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
    let opts = match parse(Options::from_env()) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let backend = opts.backend;
    let data_dir = opts.data_dir.clone();
    let stack = match local::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let http = stack.http_url();
    let store = match backend {
        Backend::Embedded => format!("embedded, durable in {}/", data_dir.display()),
        Backend::Aws => format!(
            "DynamoDB table {} via the AWS SDK",
            stack.app.config.table_name
        ),
    };
    println!(
        "\nnotify local stack ready in {:.0} ms\n\
         \x20 demo page       {http}/\n\
         \x20 REST API        {http}/notifications   (token: GET {http}/dev/token?user=alice)\n\
         \x20 business events POST {http}/events   (x-api-key: {})\n\
         \x20 WebSocket       {}/?token=JWT\n\
         \x20 management API  http://{}/@connections/{{id}}\n\
         \x20 email outbox    {http}/dev/outbox   dead letters: {http}/dev/dlq\n\
         \x20 admin console   {http}/admin.html   webhooks: {}\n\
         \x20 store           {store}\n\
         Ctrl-C stops it; nothing is lost.\n",
        stack.started_in.as_secs_f64() * 1000.0,
        stack.app.config.events_api_key.as_deref().unwrap_or("?"),
        stack.ws_url(),
        stack.ws_addr,
        stack
            .app
            .config
            .webhook_url
            .as_deref()
            .unwrap_or("off (WEBHOOK_URL)"),
    );
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping...");
    stack.stop().await;
    ExitCode::SUCCESS
}

/// A quota scale: a number in (0, 1].
fn scale(name: &str, v: String) -> Result<f64, String> {
    v.parse()
        .ok()
        .filter(|f: &f64| *f > 0.0 && *f <= 1.0)
        .ok_or_else(|| format!("{name}: a number in (0, 1]"))
}
