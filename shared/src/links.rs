//! Links that reach users' browsers: a notification's `actionUrl` ends up in
//! an `href` on every device of its user, so only harmless schemes pass.

use url::{Host, Url};

use crate::error::ValidationError;

/// Longest action URL kept.
pub const MAX_URL_BYTES: usize = 2000;

/// Accepts `https:` URLs and site-relative paths (`/orders/o_1`); `http:`
/// only to a loopback host and only when `loopback_http` (the local stack).
/// `javascript:`, `data:`, scheme-relative `//host` and anything with
/// spaces or control characters are refused, naming `field`.
pub fn check_action_url(
    field: &str,
    url: &str,
    loopback_http: bool,
) -> Result<(), ValidationError> {
    let bad = |why: String| {
        Err(ValidationError::new(
            field,
            format!("{why}; use an https: URL or a site-relative path such as /orders/o_1"),
        ))
    };
    if url.len() > MAX_URL_BYTES {
        return bad(format!("is longer than {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("contains spaces or control characters".into());
    }
    if let Some(rest) = url.strip_prefix('/') {
        // Browsers read `//host` and `/\host` as another site.
        if rest.starts_with(['/', '\\']) {
            return bad("is a scheme-relative URL to another site".into());
        }
        return Ok(());
    }
    match Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(()),
        Ok(u) if u.scheme() == "http" && loopback_http && is_loopback(u.host()) => Ok(()),
        Ok(u) if u.scheme() == "http" => bad("is an http: URL".into()),
        Ok(u) => bad(format!("has the scheme `{}:`", u.scheme())),
        Err(_) => bad("is not a URL".into()),
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_site_paths_pass() {
        for ok in [
            "https://shop.example/orders/1",
            "/orders/o_1",
            "/",
            "/orders/o_1?tab=items#top",
        ] {
            assert!(check_action_url("actionUrl", ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn scripts_and_other_sites_are_refused() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/x",
            "/\\evil.example/x",
            "http://evil.example/x",
            "http://127.0.0.1:3000/x",
            "orders/1",
            "ftp://files.example/x",
            "https://",
            "",
        ] {
            let e = check_action_url("actionUrl", bad, false).unwrap_err();
            assert_eq!(e.field, "actionUrl", "{bad}");
        }
    }

    #[test]
    fn http_only_to_loopback_and_only_when_allowed() {
        for ok in [
            "http://127.0.0.1:3000/x",
            "http://localhost/x",
            "http://[::1]:8080/",
        ] {
            assert!(check_action_url("actionUrl", ok, true).is_ok(), "{ok}");
        }
        assert!(check_action_url("actionUrl", "http://10.0.0.1/x", true).is_err());
        assert!(check_action_url("actionUrl", "http://localhost.evil.example/", true).is_err());
    }
}
