//! The functions' structured logs: what `lambda_runtime`'s default
//! subscriber does (Lambda's log level and format, no time or target: the
//! platform stamps each line), with a `Targets` filter instead of its
//! `EnvFilter`, which brings a regex engine into every bootstrap
//! (about 0.25 MB on arm64; docs/benchmarks.md, issue 16).

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter of `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging
/// controls, first) or `RUST_LOG`: a level (`INFO`, `debug`) or
/// `target=level` directives (`shared=debug,info`). INFO when neither is
/// set; what does not parse is reported and INFO is used.
pub fn filter(aws_level: Option<&str>, rust_log: Option<&str>) -> Result<Targets, String> {
    let Some(spec) = aws_level
        .or(rust_log)
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Ok(Targets::new().with_default(LevelFilter::INFO));
    };
    // Lambda's levels include FATAL, which tracing spells ERROR.
    let spec = if spec.eq_ignore_ascii_case("fatal") {
        "error"
    } else {
        spec
    };
    Targets::from_str(&spec.to_ascii_lowercase())
        .map_err(|e| format!("log level {spec:?} does not parse ({e}); logging at INFO"))
}

/// Installs the subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is
/// `JSON`, text otherwise, on standard output.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let (targets, problem) = match filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    ) {
        Ok(t) => (t, None),
        Err(e) => (Targets::new().with_default(LevelFilter::INFO), Some(e)),
    };
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(targets);
    // A second init (the tests start several apps) keeps the first.
    let _ = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(t: &Targets, target: &str, level: Level) -> bool {
        t.would_enable(target, &level)
    }

    #[test]
    fn lambdas_level_wins_over_rust_log_and_info_is_the_default() {
        let t = filter(Some("DEBUG"), Some("error")).unwrap();
        assert!(enabled(&t, "shared", Level::DEBUG));
        let t = filter(None, Some("error")).unwrap();
        assert!(!enabled(&t, "shared", Level::WARN));
        let t = filter(None, None).unwrap();
        assert!(enabled(&t, "shared", Level::INFO));
        assert!(!enabled(&t, "shared", Level::DEBUG));
    }

    #[test]
    fn directives_per_target_and_lambdas_fatal() {
        let t = filter(None, Some("info,shared=debug")).unwrap();
        assert!(enabled(&t, "shared::usecases", Level::DEBUG));
        assert!(!enabled(&t, "aws_smithy_runtime", Level::DEBUG));
        assert!(enabled(&t, "aws_smithy_runtime", Level::INFO));
        let t = filter(Some("FATAL"), None).unwrap();
        assert!(enabled(&t, "shared", Level::ERROR));
        assert!(!enabled(&t, "shared", Level::WARN));
    }

    #[test]
    fn a_spec_that_does_not_parse_is_an_error_not_silence() {
        let e = filter(None, Some("shared=loud")).unwrap_err();
        assert!(e.contains("shared=loud"), "{e}");
    }
}
