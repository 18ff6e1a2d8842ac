//! URL passwords hidden wherever a URL is shown: responses, pages, logs and metric labels. As
//! upstream's `config.URL` marshals through Go's `URL.Redacted`, `http://user:pass@host/`
//! shows as `http://user:xxxxx@host/`.
//!
//! Invariant: only the password changes; the rest of the text is shown as written (no parsing,
//! no normalising), so an invalid URL quoted in a config error is hidden the same way. This is
//! the one place that decides what a URL's password is; every URL-typed config field
//! (`promlite::config::Url`) and every URL the server shows goes through it.

use std::borrow::Cow;
use std::ops::Range;

/// What a URL's password looks like wherever the URL is shown.
pub const REDACTED_PASSWORD: &str = "xxxxx";

/// `url` with its password, if it has one, replaced by `xxxxx`.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    match password_range(url) {
        Some(range) => Cow::Owned(format!("{}{REDACTED_PASSWORD}{}", &url[..range.start], &url[range.end..])),
        None => Cow::Borrowed(url),
    }
}

/// `text` with every occurrence of `url`'s password replaced by `xxxxx`: for error texts of an
/// HTTP client, which may quote the URL or a part of it.
pub fn redact_password_in<'a>(text: &'a str, url: &str) -> Cow<'a, str> {
    match password_range(url).map(|range| &url[range]) {
        Some(password) if !password.is_empty() && text.contains(password) => {
            Cow::Owned(text.replace(password, REDACTED_PASSWORD))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Where the password of `url` is, the way WHATWG and Go's `net/url` find it: the authority
/// follows `scheme:` and its slashes (or starts the text, for a bare `user:pass@host:port`) and
/// ends at the first `/`, `?`, `#` or `\`; the userinfo is the authority up to its last `@`; the
/// password follows the userinfo's first `:`.
///
/// A password holding an unescaped `/`, `?` or `#` ends the authority early and leaves a port
/// that is not a number, which no parser accepts. Such a URL only ever appears in a config
/// error, so its password is taken to run up to the text's last `@`, to hide it too.
fn password_range(url: &str) -> Option<Range<usize>> {
    let start = authority_start(url);
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let at = match rest[..end].rfind('@') {
        Some(at) => at,
        None if !has_numeric_port(&rest[..end]) => rest.rfind('@')?,
        None => return None,
    };
    let colon = rest[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// Where the authority starts: after `scheme:` and any slashes, when the text has a scheme
/// followed by a slash; at 0 otherwise (`user:pass@host:9100`, or `http:user:pass@host`, whose
/// userinfo then starts with `http:` and still ends at the `@`).
fn authority_start(url: &str) -> usize {
    let Some(colon) = url.find(':') else { return 0 };
    let scheme = &url[..colon];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let after = &url[colon + 1..];
    if !is_scheme || !after.starts_with(['/', '\\']) {
        return 0;
    }
    url.len() - after.trim_start_matches(['/', '\\']).len()
}

/// Whether `authority` (without userinfo) is `host` or `host:port` with a numeric port;
/// `[v6]` hosts keep their colons inside the brackets.
fn has_numeric_port(authority: &str) -> bool {
    let after_host = match authority.strip_prefix('[') {
        Some(v6) => v6.find(']').map_or("", |close| &v6[close + 1..]),
        None => authority,
    };
    match after_host.rfind(':') {
        Some(colon) => after_host[colon + 1..].bytes().all(|b| b.is_ascii_digit()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> String {
        redact_url(url).into_owned()
    }

    #[test]
    fn a_password_becomes_xxxxx() {
        assert_eq!(check("http://user:pass@host:9090/api/v1/write"), "http://user:xxxxx@host:9090/api/v1/write");
        assert_eq!(check("https://user:p%40ss@host"), "https://user:xxxxx@host");
        // Go's `Redacted` marks an empty password too.
        assert_eq!(check("http://user:@host/"), "http://user:xxxxx@host/");
        // The userinfo ends at the authority's last `@`.
        assert_eq!(check("http://user:p@ss@host/"), "http://user:xxxxx@host/");
        assert_eq!(check("http://user:pass@[::1]:9090/"), "http://user:xxxxx@[::1]:9090/");
        // A target address with userinfo, before a scheme is added.
        assert_eq!(check("user:pass@host:9100"), "user:xxxxx@host:9100");
        // Forms WHATWG accepts for special schemes.
        assert_eq!(check("http:/user:pass@host/"), "http:/user:xxxxx@host/");
        assert_eq!(check("http:\\\\user:pass@host/"), "http:\\\\user:xxxxx@host/");
        assert_eq!(check("http:user:pass@host/"), "http:xxxxx@host/");
    }

    #[test]
    fn everything_else_is_shown_as_written() {
        for url in [
            "http://host:9090/api/v1/write",
            "http://user@host/",
            "http://host/path@with-at",
            "http://host:9090/a@b",
            "http://host/metrics?email=a@b:c",
            "http://[::1]:9090/x@y",
            "localhost:9090",
            "",
            "not a url",
        ] {
            assert_eq!(check(url), url);
        }
    }

    #[test]
    fn a_password_that_breaks_the_url_is_hidden_too() {
        assert_eq!(check("http://user:pa/ss@host/"), "http://user:xxxxx@host/");
        assert_eq!(check("http://user:pa?ss@host/"), "http://user:xxxxx@host/");
        assert_eq!(check("http://user:pa#ss@host/"), "http://user:xxxxx@host/");
    }

    #[test]
    fn passwords_quoted_in_errors_become_xxxxx() {
        let url = "https://user:s3cret@example.org/api/v1/read";
        let error = "error sending request for url (https://user:s3cret@example.org/api/v1/read): s3cret";
        assert_eq!(
            redact_password_in(error, url),
            "error sending request for url (https://user:xxxxx@example.org/api/v1/read): xxxxx"
        );
        assert_eq!(redact_password_in("no password here", "http://user:@host/"), "no password here");
        assert_eq!(redact_password_in("plain", "http://host/"), "plain");
    }
}
