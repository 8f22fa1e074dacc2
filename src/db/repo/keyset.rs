//! What one page of a keyset-paginated list reads (`crate::paging` checks the request): the
//! rows after a cursor, in key order, optionally only those starting with a prefix.

/// A checked page request; `limit` is the number of rows shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub after: Option<String>,
    pub prefix: Option<String>,
    pub limit: i64,
}

impl PageQuery {
    /// Rows to read: one more than shown, to know whether a next page exists.
    pub fn rows_to_read(&self) -> i64 {
        self.limit + 1
    }
}

/// The bounds of the strings that start with `prefix`, in code point order (which is
/// UTF-8's byte order): at least `prefix`, and below the returned upper bound when there is
/// one (none when `prefix` is all U+10FFFF). The listed columns compare that way on both
/// backends (SQLite's binary collation, `COLLATE "C"` on PostgreSQL), so a prefix search is
/// a range of their index, and `%` or `_` in it mean nothing special.
pub fn prefix_bounds(prefix: &str) -> (String, Option<String>) {
    let mut upper: Vec<char> = prefix.chars().collect();
    while let Some(last) = upper.pop() {
        // The next scalar value: after the surrogates' gap, 0xD800..=0xDFFF, comes 0xE000.
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            upper.push(next);
            return (prefix.to_string(), Some(upper.into_iter().collect()));
        }
    }
    (prefix.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts_within(s: &str, prefix: &str) -> bool {
        let (low, high) = prefix_bounds(prefix);
        s >= low.as_str() && high.is_none_or(|h| s < h.as_str())
    }

    #[test]
    fn the_bounds_hold_exactly_the_strings_with_the_prefix() {
        let words = [
            "",
            "a",
            "al",
            "ali",
            "alice",
            "alicf",
            "alice@x",
            "alb",
            "am",
            "b",
            "Al",
            "al\u{10FFFF}",
            "al\u{10FFFF}x",
            "é",
            "éa",
            "f",
            "\u{D7FF}",
            "\u{D7FF}a",
            "\u{E000}",
            "\u{10FFFF}",
            "\u{10FFFF}\u{10FFFF}",
            "a%",
            "a_b",
            "ab",
        ];
        let prefixes = [
            "a",
            "al",
            "alice",
            "Al",
            "é",
            "\u{D7FF}",
            "\u{10FFFF}",
            "al\u{10FFFF}",
            "a%",
            "a_",
        ];
        for prefix in prefixes {
            for word in words {
                assert_eq!(
                    starts_within(word, prefix),
                    word.starts_with(prefix),
                    "{word:?} against {prefix:?}"
                );
            }
        }
        assert_eq!(prefix_bounds("al"), ("al".into(), Some("am".into())));
        assert_eq!(prefix_bounds("\u{10FFFF}").1, None);
    }
}
