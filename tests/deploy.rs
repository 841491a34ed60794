//! What `deploy/` ships, checked with the tools that will read it: the Kubernetes manifests
//! against the API's schemas (`kubernetes-validate`, from PyPI in .ci/run's venv) and against
//! each other; the alerting rule by `promtool check rules` and its unit tests by `promtool
//! test rules`; the Grafana dashboard and the rule query only metrics `tail --metrics` serves;
//! the Dockerfile copies everything the build reads.

mod common;

use std::collections::BTreeSet;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::stdout_of;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_bin(name: &str) -> PathBuf {
    let p = root().join(".venv-test/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: .ci/run installs it (pip install kubernetes-validate)",
        p.display()
    );
    p
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let dir = root().join("deploy/kubernetes");
    let out = stdout_of(
        Command::new(venv_bin("kubernetes-validate"))
            .arg("--strict")
            .args(["daemonset.yaml", "service.yaml"])
            .current_dir(&dir),
    );
    let out = String::from_utf8(out).unwrap();
    for kind in ["daemonset/unclosed", "service/unclosed"] {
        assert!(
            out.contains(&format!("passed for resource {kind}")),
            "{out}"
        );
    }
}

/// The schemas know nothing of the Prometheus Operator's PodMonitor, nor of how the files
/// refer to each other: the DaemonSet's pods are what the Service and the PodMonitor select,
/// on the port the command serves and the probes ask.
#[test]
fn the_manifests_agree_with_each_other_and_with_the_command() {
    let script = r#"
import sys, yaml
ds, svc, pm = (yaml.safe_load(open(f)) for f in ("daemonset.yaml", "service.yaml", "podmonitor.yaml"))
pod = ds["spec"]["template"]
labels = pod["metadata"]["labels"]
assert ds["spec"]["selector"]["matchLabels"].items() <= labels.items()
assert svc["spec"]["selector"].items() <= labels.items(), svc
assert pm["apiVersion"] == "monitoring.coreos.com/v1" and pm["kind"] == "PodMonitor"
assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items(), pm
(c,) = pod["spec"]["containers"]
(port,) = c["ports"]
metrics = [a for a in c["args"] if a.startswith("--metrics=")]
assert metrics == [f"--metrics=0.0.0.0:{port['containerPort']}"], c["args"]
for probe in ("livenessProbe", "readinessProbe"):
    assert c[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}, c[probe]
(ep,) = pm["spec"]["podMetricsEndpoints"]
assert ep["port"] == port["name"] and ep["path"] == "/metrics" and ep["honorLabels"] is True
assert svc["spec"]["ports"][0]["targetPort"] == port["name"]
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
assert all(m["readOnly"] for m in c["volumeMounts"])
assert {v["hostPath"]["path"] for v in pod["spec"]["volumes"]} == {"/var/log/pods", "/var/log/containers"}
assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
print("ok")
"#;
    let out = stdout_of(
        Command::new(venv_bin("python"))
            .args(["-c", script])
            .current_dir(root().join("deploy/kubernetes")),
    );
    assert_eq!(String::from_utf8(out).unwrap(), "ok\n");
}

#[test]
fn the_alerting_rule_checks_and_passes_its_unit_tests() {
    let dir = root().join("deploy/prometheus");
    let checked = stdout_of(
        Command::new("promtool")
            .args(["check", "rules", "unclosed-alerts.yaml"])
            .current_dir(&dir),
    );
    assert!(String::from_utf8_lossy(&checked).contains("SUCCESS: 1 rules found"));
    let tested = stdout_of(
        Command::new("promtool")
            .args(["test", "rules", "unclosed-alerts.test.yaml"])
            .current_dir(&dir),
    );
    assert!(String::from_utf8_lossy(&tested).contains("SUCCESS"));
}

/// The metric names a text queries (`unclosed_…`).
fn names_in(text: &str) -> BTreeSet<String> {
    regex::Regex::new(r"\bunclosed_[a-z_]+")
        .unwrap()
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Every string a JSON value holds under the key `expr`.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The series names `tail --metrics` serves after reading a real fixture from a file named
/// like the kubelet's.
fn served_names() -> BTreeSet<String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("containers");
    std::fs::create_dir_all(&dir).unwrap();
    let id = "6f0b5a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90";
    std::fs::copy(
        common::samples().join("percall_cri.log"),
        dir.join(format!("api-1_shop_web-{id}.log")),
    )
    .unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("unclosed"))
        .args([
            "tail",
            "--metrics=127.0.0.1:0",
            "--from-start",
            "-f",
            "list",
        ])
        .arg(dir.join("*.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = common::metrics_address(&mut err, "tail");
    // Only a guard against a hang: polled until the fixture's findings are counted.
    let deadline = Instant::now() + Duration::from_secs(120);
    let names = loop {
        let mut body = String::new();
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            let _ = write!(s, "GET /metrics HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(&mut body);
        }
        let series: BTreeSet<String> = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if series.contains("unclosed_findings_total") {
            break series;
        }
        assert!(Instant::now() < deadline, "no findings served: {body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    names
}

#[test]
fn the_dashboard_and_the_rule_query_only_what_tail_serves() {
    let dashboard: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("deploy/grafana/unclosed-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    exprs(&dashboard["panels"], &mut queries);
    exprs(&dashboard["templating"], &mut queries);
    let mut wanted = names_in(&queries.join("\n"));
    let variable = dashboard["templating"]["list"][1]["query"]
        .as_str()
        .unwrap();
    wanted.extend(names_in(variable));
    // The panels show what the issue asks: leaks and pooled connections per namespace and
    // site, the top call sites, unread mentions.
    for name in [
        "unclosed_findings_total",
        "unclosed_pooled_connections_total",
        "unclosed_unread_mentions_total",
    ] {
        assert!(wanted.contains(name), "the dashboard shows {name}");
    }
    let rule =
        std::fs::read_to_string(root().join("deploy/prometheus/unclosed-alerts.yaml")).unwrap();
    wanted.extend(names_in(&rule));
    let served = served_names();
    let missing: Vec<_> = wanted.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "queried but not served: {missing:?}\nserved: {served:?}"
    );
}

/// The image builds from the files the Dockerfile copies: every file the source includes at
/// build time is among them, and the build is the command .ci/run proves.
#[test]
fn the_dockerfile_copies_what_the_build_reads() {
    let docker = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(docker.contains("\nRUN cargo build --release --locked\n"));
    let copied: BTreeSet<&str> = docker
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            parts[..parts.len() - 1].to_vec()
        })
        .collect();
    let include = regex::Regex::new(r#"env!\("CARGO_MANIFEST_DIR"\),\s*"/([^/"]+)"#).unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![root().join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let mut read = BTreeSet::from(["Cargo.toml", "Cargo.lock", "src"]);
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for t in &texts {
        for c in include.captures_iter(t) {
            read.insert(c.get(1).unwrap().as_str());
        }
    }
    assert!(read.contains("grammars"), "{read:?}");
    let missing: Vec<_> = read.difference(&copied).collect();
    assert!(
        missing.is_empty(),
        "the Dockerfile does not copy {missing:?}"
    );
}
