//! `$(VAR)` expansion in `command`, `args` and `env` values, as upstream does
//! it: `third_party/forked/golang/expansion/expand.go`.
//!
//! `$(VAR)` is replaced by the variable's value when it is defined and left
//! as written when not; `$$` escapes to `$`; an unterminated `$(` and a `$`
//! before any other character are kept verbatim.

/// Expands `input` with `lookup`.
pub(crate) fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                // Escaped operator.
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(end) => {
                        let name = &rest[1..1 + end];
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        end + 2
                    }
                    // Incomplete reference: keep `$(` and go on after it.
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                // Not an expression: the operator and the next character.
                _ => {
                    let ch = rest.chars().next().unwrap_or('$');
                    out.push('$');
                    out.push(ch);
                    ch.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from upstream `expand_test.go` (`TestMapReference`, `TestMapping`).
    #[test]
    fn expands_like_upstream() {
        let vars = |k: &str| -> Option<String> {
            match k {
                "VAR_A" => Some("A".into()),
                "VAR_B" => Some("B".into()),
                "VAR_C" => Some("C".into()),
                "VAR_REF" => Some("$(VAR_A)".into()),
                "VAR_EMPTY" => Some(String::new()),
                _ => None,
            }
        };
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("$(VAR_A", "$(VAR_A"),
            ("$VAR_A", "$VAR_A"),
            ("$", "$"),
            ("foo$", "foo$"),
            ("$()", "$()"),
            ("$(VAR_A)$", "A$"),
            ("héllo $é $(VAR_B)", "héllo $é B"),
            ("$(VAR_A)$$(VAR_B)", "A$(VAR_B)"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars), want, "input {input:?}");
        }
    }
}
