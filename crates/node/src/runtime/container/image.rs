//! Image references, pull policies and the kubelet's image messages, with
//! no I/O.
//!
//! Upstream: `pkg/kubelet/images/image_manager.go` (`EnsureImageExists`,
//! `applyDefaultImageTag`, `shouldPullImage`), `pkg/kubelet/images/types.go`
//! and the reference grammar of `github.com/distribution/reference`
//! (`regexp.go`): a name is `[domain/]path` with lowercase path components,
//! then `:tag` and/or `@digest`.

use std::time::Duration;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `[domain/]path`, as written.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// The reference with the default tag applied (`applyDefaultImageTag`):
    /// `:latest` when there is neither a tag nor a digest.
    pub fn with_default_tag(&self) -> String {
        let mut s = self.name.clone();
        match (&self.tag, &self.digest) {
            (None, None) => s.push_str(":latest"),
            (Some(t), _) => {
                s.push(':');
                s.push_str(t);
            }
            _ => {}
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// What to pull: the repository and the tag (or digest).
    pub fn pull_args(&self) -> (String, String) {
        match (&self.digest, &self.tag) {
            (Some(d), _) => (self.name.clone(), d.clone()),
            (None, Some(t)) => (self.name.clone(), t.clone()),
            (None, None) => (self.name.clone(), "latest".into()),
        }
    }
}

fn path_component_ok(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or "-"+, between alphanumerics.
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "."
            || sep == "_"
            || sep == "__"
            || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'));
        if !ok || i == b.len() {
            return false;
        }
    }
    true
}

fn domain_ok(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return host.ends_with(']');
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Parses a reference as `reference.ParseNormalizedNamed` does; the error
/// is the upstream `invalid reference format` family.
pub fn parse(image: &str) -> Result<ImageRef, String> {
    // The grammar is checked on the lowercased reference first: only a
    // reference that is otherwise valid is "must be lowercase".
    let lower = image.to_ascii_lowercase();
    if lower != image {
        parse_lowercase(&lower)?;
        let name_end = image.find(['@']).unwrap_or(image.len());
        let last_slash = image[..name_end].rfind('/').map(|i| i + 1).unwrap_or(0);
        let name = match image[last_slash..name_end].rfind(':') {
            Some(i) => &image[..last_slash + i],
            None => &image[..name_end],
        };
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("invalid reference format: repository name must be lowercase".into());
        }
    }
    parse_lowercase(image)
}

fn parse_lowercase(image: &str) -> Result<ImageRef, String> {
    if image.is_empty() {
        return Err("invalid reference format".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => {
            let (algo, hex) = d
                .split_once(':')
                .ok_or_else(|| "invalid reference format".to_string())?;
            let algo_ok = !algo.is_empty()
                && algo
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
            if !algo_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("invalid reference format".into());
            }
            (r, Some(d.to_string()))
        }
        None => (image, None),
    };
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    if let Some(t) = &tag {
        let b = t.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
        if !ok {
            return Err("invalid reference format".into());
        }
    }
    if name.len() > 255 {
        return Err("repository name must not be more than 255 characters".into());
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // The first component is a domain when it has a '.' or ':' or is localhost.
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        if !domain_ok(parts[0]) {
            return Err("invalid reference format".into());
        }
        parts.remove(0);
    }
    if parts
        .iter()
        .any(|p| p.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err("invalid reference format: repository name must be lowercase".into());
    }
    if !parts.iter().all(|p| path_component_ok(p)) {
        return Err("invalid reference format".into());
    }
    Ok(ImageRef {
        name: name.to_string(),
        tag,
        digest,
    })
}

/// `spec.containers[].imagePullPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// The stated policy, or the API default for the reference: `Always`
    /// for `:latest` or no tag (and no digest), else `IfNotPresent`.
    pub fn of(stated: Option<&str>, image: &ImageRef) -> PullPolicy {
        match stated {
            Some("Always") => PullPolicy::Always,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            Some("Never") => PullPolicy::Never,
            _ => match (&image.tag, &image.digest) {
                (_, Some(_)) => PullPolicy::IfNotPresent,
                (Some(t), None) if t != "latest" => PullPolicy::IfNotPresent,
                _ => PullPolicy::Always,
            },
        }
    }
}

/// `InvalidImageName`'s message (`applyDefaultImageTag` fails).
pub fn invalid_name_message(image: &str, err: &str) -> String {
    format!(
        "Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: {err}"
    )
}

/// `ErrImageNeverPull`'s message.
pub fn never_pull_message(image: &str) -> String {
    format!("Container image {image:?} is not present with pull policy of Never")
}

/// The `Pulled` message of an image already on the node.
pub fn present_message(image: &str) -> String {
    format!("Container image {image:?} already present on machine")
}

/// The `Pulled` message after a pull.
pub fn pulled_message(image: &str, pull: Duration, total: Duration, size: i64) -> String {
    format!(
        "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {size} bytes.",
        go_duration_ms(pull),
        go_duration_ms(total)
    )
}

/// Go's `time.Duration.String()` of a duration truncated to milliseconds
/// (`time.Since(start).Truncate(time.Millisecond)`): `523ms`, `1.2s`, `1m5.003s`.
pub fn go_duration_ms(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let frac = |ms: u64| -> String {
        if ms == 0 {
            String::new()
        } else {
            format!(".{:03}", ms).trim_end_matches('0').to_string()
        }
    };
    let secs = ms / 1000;
    let rem = ms % 1000;
    if secs < 60 {
        return format!("{secs}{}s", frac(rem));
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}{}s", frac(rem))
    } else {
        format!("{m}m{s}{}s", frac(rem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_as_distribution_does() {
        let r = parse("gcr.io/kuar-demo/kuard-amd64:blue").unwrap();
        assert_eq!(r.name, "gcr.io/kuar-demo/kuard-amd64");
        assert_eq!(r.tag.as_deref(), Some("blue"));
        assert_eq!(r.with_default_tag(), "gcr.io/kuar-demo/kuard-amd64:blue");
        let r = parse("busybox").unwrap();
        assert_eq!(r.with_default_tag(), "busybox:latest");
        assert_eq!(r.pull_args(), ("busybox".into(), "latest".into()));
        let r = parse("localhost:5000/a/b:1.0").unwrap();
        assert_eq!(r.name, "localhost:5000/a/b");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        let r = parse(&d).unwrap();
        assert_eq!(
            r.digest.as_deref(),
            Some(&*format!("sha256:{}", "a".repeat(64)))
        );
        assert_eq!(
            parse("Not/A:Valid:Ref").unwrap_err(),
            "invalid reference format"
        );
        assert!(parse("busybox:Latest").is_ok());
        for bad in [
            "",
            "Busybox",
            "a b",
            "busybox:",
            "busybox:-x",
            "a//b",
            "-a",
            "a@sha256:zz",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            invalid_name_message("Busybox", &parse("Busybox").unwrap_err()),
            "Failed to apply default image tag \"Busybox\": couldn't parse image name \"Busybox\": invalid reference format: repository name must be lowercase"
        );
    }

    #[test]
    fn pull_policies_default_as_the_api_does() {
        let p = |img: &str| PullPolicy::of(None, &parse(img).unwrap());
        assert_eq!(p("busybox"), PullPolicy::Always);
        assert_eq!(p("busybox:latest"), PullPolicy::Always);
        assert_eq!(p("busybox:1.36"), PullPolicy::IfNotPresent);
        assert_eq!(
            PullPolicy::of(Some("Never"), &parse("busybox").unwrap()),
            PullPolicy::Never
        );
    }

    #[test]
    fn pull_messages_use_go_durations() {
        assert_eq!(go_duration_ms(Duration::from_micros(523_400)), "523ms");
        assert_eq!(go_duration_ms(Duration::from_millis(1200)), "1.2s");
        assert_eq!(go_duration_ms(Duration::from_millis(65_003)), "1m5.003s");
        assert_eq!(
            pulled_message(
                "busybox",
                Duration::from_millis(1200),
                Duration::from_millis(1500),
                42
            ),
            "Successfully pulled image \"busybox\" in 1.2s (1.5s including waiting). Image size: 42 bytes."
        );
    }
}
