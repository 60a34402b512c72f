//! The functions' structured logs: what `lambda_runtime`'s default
//! subscriber does (Lambda's log level and format, no time or target: the
//! platform stamps each line), with a `Targets` filter instead of its
//! `EnvFilter`, which brings a regex engine into every bootstrap
//! (about 0.25 MB on arm64; docs/benchmarks.md, issue 16).

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter, and what in the settings was ignored. The level is
/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), else a
/// bare level in `RUST_LOG`, else INFO; `RUST_LOG`'s `target=level`
/// directives apply on top of it (`shared=debug` to debug one crate while
/// Lambda's level stays INFO for the rest). As with `EnvFilter`, a
/// directive that does not parse is skipped, not the whole setting.
pub fn filter(aws_level: Option<&str>, rust_log: Option<&str>) -> (Targets, Vec<String>) {
    let mut problems = Vec::new();
    let mut level = None;
    if let Some(aws) = aws_level.map(str::trim).filter(|s| !s.is_empty()) {
        match parse_level(aws) {
            Some(l) => level = Some(l),
            None => problems.push(format!("AWS_LAMBDA_LOG_LEVEL {aws:?} is not a level")),
        }
    }
    let mut targets = Vec::new();
    let mut rust_level = None;
    let pieces = rust_log.unwrap_or_default().split(',').map(str::trim);
    for piece in pieces.filter(|p| !p.is_empty()) {
        match piece.split_once('=') {
            None => match parse_level(piece) {
                // The last one, as EnvFilter reads it.
                Some(l) => rust_level = Some(l),
                // A bare target: everything it logs, as EnvFilter reads it.
                None => targets.push((piece.to_owned(), LevelFilter::TRACE)),
            },
            Some((target, l)) => match parse_level(l.trim()) {
                Some(l) if !target.trim().is_empty() => targets.push((target.trim().to_owned(), l)),
                _ => problems.push(format!("RUST_LOG directive {piece:?} does not parse")),
            },
        }
    }
    // Lambda's level, when set, wins over RUST_LOG's.
    let filter = Targets::new()
        .with_default(level.or(rust_level).unwrap_or(LevelFilter::INFO))
        .with_targets(targets);
    (filter, problems)
}

/// tracing's levels and `off`, any case; Lambda's FATAL is ERROR.
fn parse_level(s: &str) -> Option<LevelFilter> {
    // tracing reads "" as ERROR; here it is no level at all.
    if s.is_empty() {
        return None;
    }
    if s.eq_ignore_ascii_case("fatal") {
        return Some(LevelFilter::ERROR);
    }
    LevelFilter::from_str(s).ok()
}

/// Installs the subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is
/// `JSON`, text otherwise, on standard output. What the settings had that
/// could not be used is logged as a warning.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let (targets, problems) = filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
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
    for problem in problems {
        tracing::warn!("{problem}; ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn on(aws: Option<&str>, rust_log: Option<&str>, target: &str, level: Level) -> bool {
        filter(aws, rust_log).0.would_enable(target, &level)
    }

    #[test]
    fn lambdas_level_then_rust_logs_then_info() {
        assert!(on(Some("DEBUG"), Some("error"), "shared", Level::DEBUG));
        assert!(!on(Some("DEBUG"), Some("error"), "shared", Level::TRACE));
        assert!(!on(None, Some("error"), "shared", Level::WARN));
        assert!(on(None, None, "shared", Level::INFO));
        assert!(!on(None, None, "shared", Level::DEBUG));
        // An empty Lambda level does not hide RUST_LOG.
        assert!(on(Some(" "), Some("debug"), "shared", Level::DEBUG));
    }

    #[test]
    fn rust_logs_targets_apply_on_top_of_lambdas_level() {
        let (aws, rust_log) = (Some("INFO"), Some("shared=debug"));
        assert!(on(aws, rust_log, "shared::usecases", Level::DEBUG));
        assert!(!on(aws, rust_log, "aws_smithy_runtime", Level::DEBUG));
        assert!(on(aws, rust_log, "aws_smithy_runtime", Level::INFO));
        // A bare target is everything it logs.
        assert!(on(None, Some("warn,shared"), "shared", Level::TRACE));
        assert!(!on(None, Some("warn,shared"), "hyper", Level::INFO));
    }

    #[test]
    fn empty_pieces_and_spaces_are_not_directives() {
        // An empty target would match every target at TRACE.
        assert!(!on(None, Some("info,"), "shared", Level::DEBUG));
        assert!(!on(None, Some(",,info"), "shared", Level::DEBUG));
        assert!(on(None, Some("info, shared=debug"), "shared", Level::DEBUG));
        assert!(filter(None, Some("info, shared=debug ,")).1.is_empty());
    }

    #[test]
    fn fatal_is_error_and_a_bad_directive_is_skipped_and_reported() {
        assert!(on(Some("FATAL"), None, "shared", Level::ERROR));
        assert!(!on(Some("FATAL"), None, "shared", Level::WARN));
        let (t, problems) = filter(None, Some("shared=loud,hyper=warn,debug"));
        assert!(
            t.would_enable("shared", &Level::DEBUG),
            "the rest still applies"
        );
        assert!(!t.would_enable("hyper", &Level::INFO));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("shared=loud"), "{problems:?}");
        let (_, problems) = filter(None, Some("shared=,hyper=warn"));
        assert_eq!(
            problems.len(),
            1,
            "an empty level is not ERROR: {problems:?}"
        );
        // The last bare level in RUST_LOG, as EnvFilter reads it.
        assert!(on(None, Some("info,debug"), "shared", Level::DEBUG));
        let (t, problems) = filter(Some("LOUD"), None);
        assert!(t.would_enable("shared", &Level::INFO) && !t.would_enable("shared", &Level::DEBUG));
        assert!(problems[0].contains("LOUD"), "{problems:?}");
    }
}
