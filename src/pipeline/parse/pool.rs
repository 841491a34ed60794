//! The `connections:` value of a connector block: how many connections it pooled.

use nom::{
    Parser,
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::{char, digit1},
    combinator::opt,
    sequence::preceded,
};

use super::PResult;

/// Pooled connections listed in a connector block's `connections:` value (docs/formats.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pool {
    /// Entries counted: one per `(<protocol>, time)` tuple, across all keys.
    pub connections: u64,
    /// Pool keys (host/port/TLS/proxy combinations) seen.
    pub keys: u64,
    /// False when the value was cut off or not of the expected shape: `connections` then
    /// counts only the entries that were complete.
    pub complete: bool,
}

/// Counts the entries of a `connections:` value: `['deque([(<…>, 1.5), …])', …]` (aiohttp
/// 3.11+), `['[(<…>, 1.5), …]', …]` (up to 3.10) and the three-item entries of aiohttp 0.x.
pub fn pool(value: &str) -> Pool {
    let mut pool = Pool::default();
    let result = pool_list(value, &mut pool);
    pool.complete = matches!(result, Ok(rest) if rest.trim().is_empty());
    pool
}

fn pool_list<'a>(
    i: &'a str,
    pool: &mut Pool,
) -> Result<&'a str, nom::Err<nom::error::Error<&'a str>>> {
    let (mut i, _) = char('[')(i)?;
    loop {
        if let Ok((j, _)) = char::<_, nom::error::Error<&str>>(']')(i) {
            return Ok(j);
        }
        let (j, quote) = opt(alt((char('\''), char('"')))).parse(i)?;
        i = pool_container(j, pool)?;
        if let Some(q) = quote {
            i = char(q)(i)?.0;
        }
        if let Ok((j, _)) = tag::<_, _, nom::error::Error<&str>>(", ")(i) {
            i = j;
        }
    }
}

/// `deque([…])`, `deque([…], maxlen=N)` or `[…]`, each entry a tuple.
fn pool_container<'a>(
    i: &'a str,
    pool: &mut Pool,
) -> Result<&'a str, nom::Err<nom::error::Error<&'a str>>> {
    let (i, deque) = opt(tag("deque(")).parse(i)?;
    let (mut i, _) = char('[')(i)?;
    pool.keys += 1;
    loop {
        if let Ok((j, _)) = char::<_, nom::error::Error<&str>>(']')(i) {
            i = j;
            break;
        }
        i = tuple(i)?.0;
        pool.connections += 1;
        if let Ok((j, _)) = tag::<_, _, nom::error::Error<&str>>(", ")(i) {
            i = j;
        }
    }
    if deque.is_some() {
        let (j, _) = opt(preceded(tag(", maxlen="), digit1)).parse(i)?;
        i = char(')')(j)?.0;
    }
    Ok(i)
}

/// `(<repr>, 12.5)` or `(<transport>, <protocol>, 12.5)`.
fn tuple(i: &str) -> PResult<'_, ()> {
    let (mut i, _) = char('(')(i)?;
    loop {
        i = alt((
            angle,
            take_while1(|c: char| c != ',' && c != ')' && c != '<'),
        ))
        .parse(i)?
        .0;
        if let Ok((j, _)) = char::<_, nom::error::Error<&str>>(')')(i) {
            return Ok((j, ()));
        }
        i = tag(", ")(i)?.0;
    }
}

/// A repr in angle brackets, which may nest (`<…write=<idle, bufsize=0>>`).
fn angle(i: &str) -> PResult<'_, &str> {
    if !i.starts_with('<') {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Char,
        )));
    }
    let mut depth = 0usize;
    for (at, b) in i.bytes().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&i[at + 1..], &i[..=at]));
                }
            }
            _ => {}
        }
    }
    Err(nom::Err::Incomplete(nom::Needed::Unknown))
}
