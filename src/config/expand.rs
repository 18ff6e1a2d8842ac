//! `$VAR` and `${VAR}` in external label values, expanded from the environment as Prometheus
//! does with Go's `os.Expand` (`$$` is a literal `$`, an unset variable is empty).

/// Expands `$VAR` and `${VAR}` from the environment the way Go's `os.Expand` does for
/// Prometheus's external labels; `$$` is a literal `$`, an unset variable is empty.
pub(super) fn expand_env(value: &str) -> String {
    expand_with(value, |name| std::env::var(name).unwrap_or_default())
}

/// [`expand_env`] over any variable lookup (tests pass their own instead of the environment).
pub(crate) fn expand_with(value: &str, env: impl Fn(&str) -> String) -> String {
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".to_owned();
        }
        env(name)
    };
    let is_special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut copied_to = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&value[copied_to..j]);
            let rest = &value[j + 1..];
            let rb = rest.as_bytes();
            // (name, characters consumed after the '$'); an empty name with width 0 keeps the '$'.
            let (name, width): (&str, usize) = if rb[0] == b'{' {
                if rb.len() > 2 && is_special(rb[1]) && rb[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(end) => (&rest[1..1 + end], end + 2),
                        None => ("", 1),
                    }
                }
            } else if is_special(rb[0]) {
                (&rest[..1], 1)
            } else {
                let len = rb.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
                (&rest[..len], len)
            };
            if name.is_empty() && width == 0 {
                out.push('$');
            } else if !name.is_empty() {
                out.push_str(&lookup(name));
            }
            j += width + 1;
            copied_to = j;
        } else {
            j += 1;
        }
    }
    out.push_str(&value[copied_to..]);
    out
}
