//! What an envelope's record holds: a JSON record's text and stream, and a time written in
//! journald's or a logging prefix's form.

pub(super) type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Parses `line` as a JSON object that has one of the `text` fields.
pub(super) fn json_fields(line: &str, text: &[String]) -> Option<JsonObject> {
    let t = line.trim_start();
    if !t.starts_with('{') {
        return None;
    }
    let obj: JsonObject = serde_json::from_str(t).ok()?;
    text_of(&obj, text)?;
    Some(obj)
}

/// The first `fields` entry that holds text; journald gives non-UTF-8 messages as byte arrays.
pub(super) fn text_of(obj: &JsonObject, fields: &[String]) -> Option<String> {
    fields.iter().find_map(|f| match obj.get(f)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => {
            let bytes: Option<Vec<u8>> = a
                .iter()
                .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
        _ => None,
    })
}

pub(super) fn stream_key(obj: &JsonObject, fields: &[String]) -> String {
    let mut key = String::new();
    for f in fields {
        if let Some(v) = obj.get(f) {
            if !key.is_empty() {
                key.push(' ');
            }
            match v {
                serde_json::Value::String(s) => key.push_str(s),
                other => key.push_str(&other.to_string()),
            }
        }
    }
    key
}

/// journald's `__REALTIME_TIMESTAMP` (microseconds since the epoch) as RFC 3339 UTC.
pub(super) fn epoch_micros_to_rfc3339(t: &str) -> Option<String> {
    let us: i64 = t.parse().ok()?;
    let (secs, micros) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Finds a date-time in a record prefix (`2026-11-23 22:27:48,367`, `2026-11-23T22:27:48Z`),
/// for inputs whose envelope gives none.
pub fn find_timestamp(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let mut from = 0;
    while let Some(off) = b.get(from..)?.iter().position(u8::is_ascii_digit) {
        let s = from + off;
        let shape = digits(s, 4)
            && b.get(s + 4) == Some(&b'-')
            && digits(s + 5, 2)
            && b.get(s + 7) == Some(&b'-')
            && digits(s + 8, 2)
            && matches!(b.get(s + 10), Some(b' ' | b'T'))
            && digits(s + 11, 2)
            && b.get(s + 13) == Some(&b':')
            && digits(s + 14, 2)
            && b.get(s + 16) == Some(&b':')
            && digits(s + 17, 2);
        if shape {
            let mut e = s + 19;
            if matches!(b.get(e), Some(b'.' | b',')) && b.get(e + 1).is_some_and(u8::is_ascii_digit)
            {
                e += 1;
                while b.get(e).is_some_and(u8::is_ascii_digit) {
                    e += 1;
                }
            }
            if b.get(e) == Some(&b'Z') {
                e += 1;
            }
            return Some(&text[s..e]);
        }
        from = s + b[s..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    None
}
