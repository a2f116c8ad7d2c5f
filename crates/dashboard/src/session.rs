//! Login by one-time code, sessions, and the CSRF rule: pure logic over a
//! clock the caller passes, so every rule is tested without a server.
//!
//! - `joblite dashboard` asks the engine (with the API's bearer token) for
//!   a login code: 128 random bits, usable once, for [`CODE_TTL`].
//! - The browser opens `/ui/login?code=…`; the code becomes a session whose
//!   id travels only in a cookie the page's script cannot read
//!   (`HttpOnly`), only over TLS (`Secure`), and never on a request another
//!   site starts (`SameSite=Strict`). The `__Host-` prefix pins it to this
//!   origin and path `/`.
//! - Every write also carries the session's CSRF token in a header, which a
//!   cross-site form cannot set; the page reads the token from
//!   `/ui/session`, which only a same-origin script can read.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng;

/// How long a login code stays usable.
pub(crate) const CODE_TTL: Duration = Duration::from_secs(5 * 60);
/// A session ends after this long without a request.
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);
/// The session cookie's name.
pub(crate) const COOKIE: &str = "__Host-joblite-session";
/// The header that carries the CSRF token on writes.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub csrf: String,
    last_seen: Instant,
}

/// Codes and sessions of one dashboard.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    codes: HashMap<String, Instant>,
    sessions: HashMap<String, Session>,
}

impl Sessions {
    /// Mints a login code valid until `now + CODE_TTL`.
    pub(crate) fn new_code(&mut self, now: Instant) -> String {
        self.codes.retain(|_, exp| *exp > now);
        let code = random_token();
        self.codes.insert(code.clone(), now + CODE_TTL);
        code
    }

    /// Trades a code for a new session id; the code is spent either way.
    pub(crate) fn redeem(&mut self, code: &str, now: Instant) -> Option<String> {
        let exp = self.codes.remove(code)?;
        if exp <= now {
            return None;
        }
        self.sessions
            .retain(|_, s| now.duration_since(s.last_seen) < SESSION_IDLE);
        let id = random_token();
        self.sessions.insert(
            id.clone(),
            Session {
                csrf: random_token(),
                last_seen: now,
            },
        );
        Some(id)
    }

    /// The live session for a cookie value, touched.
    pub(crate) fn get(&mut self, id: &str, now: Instant) -> Option<Session> {
        let s = self.sessions.get_mut(id)?;
        if now.duration_since(s.last_seen) >= SESSION_IDLE {
            self.sessions.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub(crate) fn remove(&mut self, id: &str) {
        self.sessions.remove(id);
    }
}

/// The session id in a `Cookie` header, if any.
pub(crate) fn cookie_value(header: &str) -> Option<&str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE).then_some(v)
    })
}

/// The `Set-Cookie` value for a new session.
pub(crate) fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that ends the session in the browser.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// Whether a request may write: it names the session's CSRF token, and
/// when the browser says where it came from (`Sec-Fetch-Site`), it came
/// from this origin.
pub(crate) fn write_allowed(
    session: &Session,
    token: Option<&str>,
    fetch_site: Option<&str>,
) -> bool {
    let same_origin = fetch_site.is_none_or(|s| s == "same-origin");
    same_origin && token.is_some_and(|t| constant_time_eq(t.as_bytes(), session.csrf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_good_once_and_only_until_it_expires() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let code = s.new_code(t0);
        let id = s.redeem(&code, t0 + Duration::from_secs(10)).unwrap();
        assert!(s.redeem(&code, t0).is_none(), "spent");
        assert!(s.get(&id, t0 + Duration::from_secs(11)).is_some());
        let late = s.new_code(t0);
        assert!(s.redeem(&late, t0 + CODE_TTL).is_none(), "expired");
        assert!(s.redeem("forged", t0).is_none());
    }

    #[test]
    fn idle_sessions_end() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let code = s.new_code(t0);
        let id = s.redeem(&code, t0).unwrap();
        assert!(s.get(&id, t0 + SESSION_IDLE / 2).is_some());
        assert!(s.get(&id, t0 + SESSION_IDLE / 2 + SESSION_IDLE).is_none());
        assert!(s.get(&id, t0).is_none(), "removed");
    }

    #[test]
    fn cookies_and_csrf() {
        assert_eq!(
            cookie_value(&format!("a=b; {COOKIE}=xyz; c=d")),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=b"), None);
        let c = set_cookie("id");
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
        let session = Session {
            csrf: "tok".into(),
            last_seen: Instant::now(),
        };
        assert!(write_allowed(&session, Some("tok"), Some("same-origin")));
        assert!(write_allowed(&session, Some("tok"), None));
        assert!(!write_allowed(&session, Some("tok"), Some("cross-site")));
        assert!(!write_allowed(&session, Some("tok"), Some("same-site")));
        assert!(!write_allowed(&session, None, Some("same-origin")));
        assert!(!write_allowed(&session, Some("other"), None));
    }
}
