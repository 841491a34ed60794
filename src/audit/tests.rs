//! The audit's edges on small inputs written for the test; the shapes of real code are in
//! tests/audit/ (tests/audit.rs).

use super::*;

fn one(src: &str) -> Construction {
    let a = audit_source(src.as_bytes()).unwrap();
    assert_eq!(a.constructions.len(), 1, "{:?}", a.constructions);
    a.constructions.into_iter().next().unwrap()
}

#[test]
fn a_file_that_never_names_aiohttp_is_not_parsed() {
    let a = audit_source(b"def f(:\n  ClientSession()\n").unwrap();
    assert!(!a.parsed && a.constructions.is_empty() && a.syntax_error.is_none());
}

#[test]
fn only_files_that_can_construct_are_parsed() {
    let parsed = |src: &str| audit_source(src.as_bytes()).unwrap().parsed;
    assert!(!parsed(
        "import aiohttp\ntry:\n    pass\nexcept aiohttp.ClientError:\n    pass\n"
    ));
    assert!(!parsed(
        "import aiohttp\ndef f(request):\n    return request\n"
    ));
    assert!(parsed(
        "from aiohttp import web\nasync def f(request):\n    return request\n"
    ));
    assert!(parsed(
        "import aiohttp as ah\nasync def f():\n    async with ah.request('GET', u) as r:\n        pass\n"
    ));
    // What the filter lets through is audited as usual (tests/audit/ has every spelling).
    let a = audit_source(b"import aiohttp\nasync def f(u):\n    async with aiohttp.request('GET', u) as r:\n        pass\n").unwrap();
    assert_eq!(a.constructions.len(), 1);
}

#[test]
fn line_and_column_are_the_constructors_name_in_characters() {
    let c = one(
        "import aiohttp\nasync def f():\n    s = 'é'; x = aiohttp.\\\n        ClientSession()\n",
    );
    assert_eq!((c.line, c.column), (4, 9));
    let c = one("import aiohttp\nasync def f():\n    s = 'é'; x = aiohttp.ClientSession()\n");
    assert_eq!((c.line, c.column), (3, 26), "characters, not bytes (27)");
    assert_eq!(c.function.as_deref(), Some("f"));
}

#[test]
fn a_syntax_error_near_a_construction_makes_it_unknown_and_is_reported() {
    let a = audit_source(
        b"import aiohttp\nasync def f():\n    s = aiohttp.ClientSession()\n    if (:\n        pass\nasync def g():\n    s = aiohttp.ClientSession()\n",
    )
    .unwrap();
    assert_eq!(a.syntax_error.map(|e| e.0), Some(4));
    let v: Vec<_> = a.constructions.iter().map(|c| c.verdict).collect();
    assert_eq!(
        v,
        [Verdict::Unknown, Verdict::PerCall],
        "{:?}",
        a.constructions
    );
}

#[test]
fn a_name_bound_to_aiohttp_and_to_another_library_is_unknown() {
    let c = one(
        "from aiohttp import ClientSession\nfrom mcp import ClientSession\nasync def f():\n    s = ClientSession()\n",
    );
    // The later import wins at run time; the audit does not guess.
    assert_eq!(c.verdict, Verdict::Unknown, "{c:?}");
    assert!(c.why.contains("bound both"), "{}", c.why);
}

#[test]
fn suppression_comments_name_verdicts_or_all() {
    use owner::suppression_accepts as acc;
    assert!(acc("# unclosed: ignore[per_call]", "per_call"));
    assert!(acc("# unclosed: ignore[ok, per_call ]", "per_call"));
    assert!(!acc("# unclosed: ignore[owned_never_closed]", "per_call"));
    assert!(acc("# unclosed: ignore", "per_call"));
    assert!(acc("# noqa  # unclosed: ignore  reviewed", "per_call"));
    assert!(!acc("# unclosed: ignored", "per_call"));
    assert!(!acc("# ignore[per_call]", "per_call"));
    let src = "import aiohttp\nasync def f():\n    s = aiohttp.ClientSession()  # unclosed: ignore[per_call]\n";
    assert!(one(src).suppressed);
    assert!(!one(&src.replace("per_call]", "ok]")).suppressed);
}

#[test]
fn verdict_names_round_trip_and_bugs_are_the_five() {
    for v in VERDICTS {
        assert_eq!(Verdict::from_name(v.name()), Some(v));
    }
    assert_eq!(VERDICTS.iter().filter(|v| v.is_bug()).count(), 5);
}

/// LiteLLM 1.72's shape in two modules (hand-written): a handler hands a factory lambda to
/// a transport class of another module, which keeps it and calls it into `self.client`.
const TRANSPORT: &str = "from aiohttp import ClientSession\n\nclass Transport:\n    def __init__(self, client):\n        self.client = client\n        if callable(client):\n            self._factory = client\n\n    async def aclose(self):\n        if isinstance(self.client, ClientSession):\n            await self.client.close()\n\n    def session(self):\n        if not isinstance(self.client, ClientSession):\n            self.client = self._factory()\n            return self.client\n        if self.client._loop.is_closed():\n            self.client = self._factory()\n        return self.client\n";

fn handler(import: &str) -> String {
    format!(
        "from aiohttp import ClientSession, TCPConnector\n\ndef make():\n    {import}\n    return Transport(\n        client=lambda: ClientSession(\n            connector=TCPConnector()\n        ),\n    )\n"
    )
}

fn across(files: &[(&str, &str)]) -> Vec<(String, FileAudit)> {
    let mut v: Vec<(String, FileAudit)> = files
        .iter()
        .map(|(p, src)| ((*p).to_owned(), audit_source(src.as_bytes()).unwrap()))
        .collect();
    resolve_across(&mut v);
    v
}

#[test]
fn a_factory_handed_to_a_class_of_another_audited_module_takes_its_verdict() {
    for (path, import) in [
        ("src/pkg/handler.py", "from pkg.transport import Transport"),
        ("src/pkg/handler.py", "from .transport import Transport"),
        (
            "src/pkg/sub/handler.py",
            "from ..transport import Transport",
        ),
    ] {
        let src = handler(import);
        let v = across(&[(path, &src), ("src/pkg/transport.py", TRANSPORT)]);
        let h = &v[0].1.constructions;
        assert_eq!(h.len(), 2, "{h:?}");
        for c in h {
            assert_eq!(c.verdict, Verdict::OwnedNeverClosed, "{import}: {c:?}");
            assert!(c.why.contains("transport.py:18"), "{}", c.why);
        }
        assert!(
            h[0].owner
                .starts_with("factory handed to Transport (transport.py)")
        );
        assert!(h[1].owner.starts_with("connector of the session at line 6"));
    }
    // Not among the audited files, or another module: unknown, as in one file.
    for (path, other) in [
        ("src/pkg/handler.py", "src/other/transport.py"),
        ("src/pkg/sub/handler.py", "src/pkg/sub/transport.py"),
    ] {
        let src = handler(if path.contains("sub") {
            "from ..transport import Transport"
        } else {
            "from pkg.transport import Transport"
        });
        let v = across(&[(path, &src), (other, TRANSPORT)]);
        assert!(
            v[0].1
                .constructions
                .iter()
                .all(|c| c.verdict == Verdict::Unknown),
            "{path} {other}: {:?}",
            v[0].1.constructions
        );
    }
    // A transport that closes the old session before making a new one: ok.
    let fixed = TRANSPORT
        .replace("    def session(self):", "    async def session(self):")
        .replace(
            "        if self.client._loop.is_closed():\n",
            "        if self.client._loop.is_closed():\n            await self.client.close()\n",
        );
    let src = handler("from pkg.transport import Transport");
    let v = across(&[("pkg/handler.py", &src), ("pkg/transport.py", &fixed)]);
    assert!(
        v[0].1
            .constructions
            .iter()
            .all(|c| c.verdict == Verdict::Ok),
        "{:?}",
        v[0].1.constructions
    );
}
