//! `unclosed audit` over LiteLLM's own source: the wheel of litellm 1.72.6 (the version the
//! LiteLLM fixtures in samples/ ran) fetched with `pip download --no-deps` into a cache under
//! the target directory at test time and unpacked (never committed), audited with the
//! fixtures' logs joined.
//!
//! It must flag the constructions behind LiteLLM's issues #13251 and #11657: the factory
//! `lambda: ClientSession(connector=TCPConnector(…))` in `llms/custom_httpx/http_handler.py`
//! (every leaked session in both fixtures was created there: their truth's `created_in`),
//! which `LiteLLMAiohttpTransport` (`aiohttp_transport.py`) keeps and calls into
//! `self.client`, replacing a live session without closing it when the event loop changed
//! (each `asyncio.run` of #11657's sync embedding path) and never closing the last one
//! (#13251's session held by the cached client at exit); and the transport's own
//! replacements, and `BaseLLMAIOHTTPHandler`'s session that no method closes.
//!
//! Needs PyPI: when pip says it cannot connect, the test says so on stderr and returns.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const VERSION: &str = "1.72.6";

/// Errors pip prints when the index cannot be reached at all.
const UNREACHABLE: [&str; 7] = [
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
];

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The unpacked wheel's directory, or `None` when PyPI is unreachable.
fn litellm_source() -> Option<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("litellm-{VERSION}"));
    let unpacked = cache.join("src");
    if unpacked.join("litellm/__init__.py").exists() {
        return Some(unpacked);
    }
    std::fs::create_dir_all(&cache).unwrap();
    let out = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--quiet", "--dest"])
        .arg(&cache)
        .arg(format!("litellm=={VERSION}"))
        .output()
        .expect("python runs");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if UNREACHABLE.iter().any(|m| err.contains(m)) {
            eprintln!(
                "SKIPPED audit_litellm: pip cannot reach the package index to fetch litellm=={VERSION}:\n{err}"
            );
            return None;
        }
        panic!("pip download litellm=={VERSION} failed:\n{err}");
    }
    let wheel = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("a wheel");
    // Unpacked into a fresh directory, renamed into place when complete.
    let partial = cache.join("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let status = Command::new(python())
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&partial)
        .status()
        .unwrap();
    assert!(status.success(), "unzip {wheel:?}");
    std::fs::rename(&partial, &unpacked).unwrap();
    Some(unpacked)
}

fn find<'a>(list: &'a [Value], file: &str, line: u64) -> Vec<&'a Value> {
    list.iter()
        .filter(|c| c["file"].as_str().unwrap().ends_with(file) && c["line"] == line)
        .collect()
}

#[test]
fn audit_flags_the_constructions_behind_litellm_13251_and_11657_and_the_logs_confirm_them() {
    let Some(src) = litellm_source() else {
        return;
    };
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/logs");
    let fixtures = ["litellm172_embedding_debug", "litellm172_acompletion_debug"];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unclosed"));
    cmd.args(["audit", "--format", "json"]);
    for f in fixtures {
        cmd.arg("--log").arg(logs.join(format!("{f}.log")));
    }
    let out = cmd.arg(src.join("litellm")).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"]["skipped"], 0);
    let list = v["constructions"].as_array().unwrap();

    // What the fixtures' truth says was created in the factory, over both logs.
    let (mut findings, mut pooled) = (0, 0);
    for f in fixtures {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(logs.join(format!("{f}.truth.json"))).unwrap(),
        )
        .unwrap();
        for s in truth["sites"].as_array().unwrap() {
            assert!(
                s["created_in"]
                    .as_str()
                    .unwrap()
                    .ends_with("custom_httpx/http_handler.py:559")
            );
            findings += s["findings"].as_u64().unwrap();
            pooled += s["pooled_connections"].as_u64().unwrap();
        }
    }
    assert_eq!((findings, pooled), (7, 26));

    // The factory and its connector: flagged, owned by the transport that replaces its
    // sessions unclosed, and confirmed by both logs.
    let factory = find(list, "litellm/llms/custom_httpx/http_handler.py", 559);
    let connector = find(list, "litellm/llms/custom_httpx/http_handler.py", 560);
    assert_eq!(factory.len(), 1, "{factory:?}");
    assert_eq!(connector.len(), 1, "{connector:?}");
    for (c, kind) in [
        (factory[0], "ClientSession"),
        (connector[0], "TCPConnector"),
    ] {
        assert_eq!(c["constructs"], kind);
        assert_eq!(c["verdict"], "owned_never_closed", "{c:#}");
        assert!(
            c["why"]
                .as_str()
                .unwrap()
                .contains("aiohttp_transport.py:173"),
            "{c:#}"
        );
        assert_eq!(c["confirmed"]["findings"], findings, "{c:#}");
        assert_eq!(c["confirmed"]["leak"], findings, "{c:#}");
        assert_eq!(c["confirmed"]["pooled_connections"], pooled, "{c:#}");
    }
    // The transport's own sessions replaced without a close, and the handler's never closed.
    for (file, line) in [
        ("litellm/llms/custom_httpx/aiohttp_transport.py", 175),
        ("litellm/llms/custom_httpx/aiohttp_transport.py", 182),
        ("litellm/llms/custom_httpx/aiohttp_handler.py", 47),
    ] {
        let c = find(list, file, line);
        assert_eq!(c.len(), 1, "{file}:{line}");
        assert_eq!(c[0]["verdict"], "owned_never_closed", "{:#}", c[0]);
    }
    // Made only when there is none yet: not a replacement.
    assert_eq!(
        find(list, "litellm/llms/custom_httpx/aiohttp_transport.py", 148)[0]["verdict"],
        "ok"
    );
    // `async with` in the proxy's guardrail and Ollama chat: ok; MCP's ClientSession is not
    // aiohttp's and is not listed.
    for (file, line) in [
        ("litellm/proxy/guardrails/guardrail_hooks/presidio.py", 201),
        ("litellm/llms/ollama_chat.py", 367),
    ] {
        assert_eq!(find(list, file, line)[0]["verdict"], "ok", "{file}:{line}");
    }
    assert!(
        list.iter()
            .all(|c| !c["file"].as_str().unwrap().contains("mcp")),
        "{list:#?}"
    );
    // Every log site is explained by a construction.
    assert_eq!(v["unexplained"], Value::Array(Vec::new()));
}
