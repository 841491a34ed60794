//! Prometheus metrics: what the commands read and found, as counters a fleet's Prometheus
//! scrapes (`--metrics`). An edge like [`crate::input`]: the commands feed it ([`Observer`]),
//! it serves them over HTTP ([`serve`]); it reads nothing but the pipeline's results.
//!
//! Label values come from logs and file names, so their number is bounded where a log could
//! make it grow without end: a pod's call sites ([`Metrics::new`]'s `max_sites`).

mod serve;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::pipeline::group::Triaged;
use crate::pipeline::kube::Pod;
use crate::pipeline::pair::Decided;
use crate::pipeline::parse::Kind;
use crate::pipeline::scan::InputStats;

pub use serve::{Server, serve};

/// The `site` label of a finding without a creation traceback.
pub const NO_SITE: &str = "none";
/// The `site` label of a pod's call sites beyond the bound.
pub const OTHER_SITE: &str = "other";

/// Where a finding was: its pod (empty labels for a file that is not the kubelet's).
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PodLabels {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
}

impl PodLabels {
    /// The labels of an input named `name`.
    pub fn of_input(name: &str) -> PodLabels {
        Pod::of_path(name).map_or_else(PodLabels::default, |p| PodLabels {
            namespace: p.namespace,
            pod: p.pod,
            container: p.container,
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    label: &'static str,
    pattern: &'static str,
    site: String,
    namespace: String,
    pod: String,
    container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
    namespace: String,
    pod: String,
    container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabels {
    file: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// Why following a file went wrong (`unclosed_follow_errors_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowError {
    /// A file at a followed path could not be opened (permissions, gone meanwhile).
    Open,
    /// A file was emptied under the reader (copytruncate): what the writer added between the
    /// copy and the truncation may be lost.
    Truncated,
    /// File notifications could not start: polling instead.
    Notify,
}

impl FollowError {
    fn name(self) -> &'static str {
        match self {
            FollowError::Open => "open",
            FollowError::Truncated => "truncated",
            FollowError::Notify => "notify",
        }
    }
}

/// `text` with each counter's and gauge's series in label order: the encoder writes a
/// family's series in its hash map's order, which changes from one scrape to the next, so two
/// scrapes of the same state would not read (or diff) the same. Other types keep their order
/// (a histogram's buckets must stay in `le` order).
fn sorted_series(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<&str> = Vec::new();
    let mut sortable = false;
    let flush = |run: &mut Vec<&str>, sortable: bool, out: &mut String| {
        if sortable {
            run.sort_unstable();
        }
        for l in run.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut run, sortable, &mut out);
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                sortable = matches!(rest.rsplit(' ').next(), Some("counter" | "gauge"));
            }
            out.push_str(line);
            out.push('\n');
        } else {
            run.push(line);
        }
    }
    flush(&mut run, sortable, &mut out);
    out
}

/// The metric families and the registry that serves them.
pub struct Metrics {
    registry: Registry,
    findings: Family<FindingLabels, Counter>,
    pooled: Family<FindingLabels, Counter>,
    objects: Family<KindLabels, Counter>,
    unread: Family<PodLabels, Counter>,
    lines: Family<FileLabels, Counter>,
    bytes: Counter,
    files_followed: Gauge,
    follow_errors: Family<ReasonLabels, Counter>,
    max_sites: usize,
    /// What each pod has in the families, by (namespace, pod).
    pods: Mutex<HashMap<(String, String), PodSeries>>,
}

/// A pod's call sites that have a label of their own, and its series: removed together when
/// the pod is gone ([`Metrics::forget`]).
#[derive(Default)]
struct PodSeries {
    sites: HashSet<String>,
    findings: HashSet<FindingLabels>,
    objects: HashSet<KindLabels>,
    unread: HashSet<PodLabels>,
    files: HashSet<FileLabels>,
}

impl Metrics {
    /// The families, registered; at most `max_sites` call sites per pod get a `site` label of
    /// their own (the rest are `site="other"`).
    pub fn new(max_sites: usize) -> Metrics {
        let mut registry = Registry::with_prefix("unclosed");
        let m = Metrics {
            registry: Registry::default(),
            findings: Family::default(),
            pooled: Family::default(),
            objects: Family::default(),
            unread: Family::default(),
            lines: Family::default(),
            bytes: Counter::default(),
            files_followed: Gauge::default(),
            follow_errors: Family::default(),
            max_sites,
            pods: Mutex::new(HashMap::new()),
        };
        // Help texts end without a full stop: the encoder adds one.
        registry.register(
            "findings",
            "aiohttp objects collected unclosed, one finding per object or paired session and connector, by label (leak, noise, unknown), pattern of mistake, call site and pod",
            m.findings.clone(),
        );
        registry.register(
            "pooled_connections",
            "Pooled connections the findings' connectors still held when collected (sockets left open), by the same labels as unclosed_findings_total",
            m.pooled.clone(),
        );
        registry.register(
            "objects",
            "Objects collected unclosed, by kind (session, connector, response, connection; transport, socket, task, unawaited_close for the related warnings) and pod",
            m.objects.clone(),
        );
        registry.register(
            "unread_mentions",
            "Lines carrying one of aiohttp's warning headers that could not be read as a block (a log format the tool does not know), by pod",
            m.unread.clone(),
        );
        registry.register("lines", "Log lines read, by file", m.lines.clone());
        registry.register(
            "bytes",
            "Log bytes read (after gzip decoding)",
            m.bytes.clone(),
        );
        registry.register(
            "files_followed",
            "Followed paths with a file at them now (tail)",
            m.files_followed.clone(),
        );
        registry.register(
            "follow_errors",
            "Trouble following files (tail), by reason: open (a file could not be opened), truncated (a file emptied under the reader; lines may be lost), notify (notifications unavailable, polling)",
            m.follow_errors.clone(),
        );
        registry.register(
            "build",
            "The unclosed version serving these metrics",
            Info::new(VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        // Every reason is a series from the start (0), so rate() sees the first one.
        for why in [
            FollowError::Open,
            FollowError::Truncated,
            FollowError::Notify,
        ] {
            m.follow_errors
                .get_or_create(&ReasonLabels { reason: why.name() })
                .inc_by(0);
        }
        Metrics { registry, ..m }
    }

    /// The exposition: OpenMetrics text when `openmetrics`, else Prometheus text 0.0.4.
    pub fn encode(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        sorted_series(&out)
    }

    /// The pod's entry (a poisoned lock only means another thread panicked while inserting:
    /// the map is still a map).
    fn with_pod<T>(&self, pod: &PodLabels, f: impl FnOnce(&mut PodSeries) -> T) -> T {
        let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
        f(pods
            .entry((pod.namespace.clone(), pod.pod.clone()))
            .or_default())
    }

    /// The `site` label of `site` in `pod`: its own while the pod has fewer than the bound.
    fn site_label(&self, pod: &PodLabels, site: String) -> String {
        self.with_pod(pod, |p| {
            if p.sites.contains(&site) {
                site
            } else if p.sites.len() < self.max_sites {
                p.sites.insert(site.clone());
                site
            } else {
                OTHER_SITE.to_owned()
            }
        })
    }

    /// Removes a pod's series (its files are gone, and Prometheus has scraped their last
    /// values long since): a node's pods come and go, and their series must not pile up.
    pub fn forget(&self, namespace: &str, pod: &str) {
        let gone = {
            let mut pods = self.pods.lock().unwrap_or_else(|e| e.into_inner());
            pods.remove(&(namespace.to_owned(), pod.to_owned()))
        };
        let Some(gone) = gone else { return };
        for l in &gone.findings {
            self.findings.remove(l);
            self.pooled.remove(l);
        }
        for l in &gone.objects {
            self.objects.remove(l);
        }
        for l in &gone.unread {
            self.unread.remove(l);
        }
        for l in &gone.files {
            self.lines.remove(l);
        }
    }

    fn finding(&self, t: &Triaged, pod: &PodLabels) {
        let site = t
            .site
            .as_ref()
            .map_or_else(|| NO_SITE.to_owned(), |s| s.key());
        let labels = FindingLabels {
            label: t.label.name(),
            pattern: t.pattern.name(),
            site: self.site_label(pod, site),
            namespace: pod.namespace.clone(),
            pod: pod.pod.clone(),
            container: pod.container.clone(),
        };
        self.findings.get_or_create(&labels).inc();
        self.pooled
            .get_or_create(&labels)
            .inc_by(t.pooled_connections);
        self.with_pod(pod, |p| p.findings.insert(labels));
        for (kind, n) in [
            (Kind::Session, t.sessions),
            (Kind::Connector, t.connectors),
            (Kind::Response, t.responses),
            (Kind::Connection, t.connections),
        ] {
            if n > 0 {
                self.object(kind, n, pod);
            }
        }
    }

    fn object(&self, kind: Kind, n: u64, pod: &PodLabels) {
        let kind = match kind {
            Kind::Session => "session",
            Kind::Connector => "connector",
            Kind::Response => "response",
            Kind::Connection => "connection",
            Kind::Transport => "transport",
            Kind::Socket => "socket",
            Kind::Task => "task",
            Kind::UnawaitedClose => "unawaited_close",
        };
        let labels = KindLabels {
            kind,
            namespace: pod.namespace.clone(),
            pod: pod.pod.clone(),
            container: pod.container.clone(),
        };
        self.objects.get_or_create(&labels).inc_by(n);
        self.with_pod(pod, |p| p.objects.insert(labels));
    }

    /// Sets how many followed paths have a file at them.
    pub fn set_files_followed(&self, n: usize) {
        self.files_followed
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a trouble following files.
    pub fn follow_error(&self, why: FollowError) {
        self.follow_errors
            .get_or_create(&ReasonLabels { reason: why.name() })
            .inc();
    }
}

/// What the observer knows of one input: its labels, fixed when first seen (a rotated file
/// renamed keeps counting where it began), and the counts already added.
struct Seen {
    file: FileLabels,
    pod: PodLabels,
    lines: u64,
    bytes: u64,
    unread: u64,
}

/// A command's view of the metrics: fed each input's counts and each decision, it adds
/// what is new. Single-threaded (the command's tally holds it); the [`Metrics`] it feeds are
/// shared with the server.
pub struct Observer {
    metrics: Arc<Metrics>,
    inputs: Vec<Option<Seen>>,
    /// The input counts were last given for: related objects carry no input of their own.
    current: usize,
    /// Pods none of whose followed files is there, since when ([`Observer::followed`]).
    gone: HashMap<(String, String), Instant>,
    /// When pods were last looked for.
    pods_checked: Option<Instant>,
}

/// A pod whose files have all been gone this long has its series removed: Prometheus has
/// scraped their last values many times by then.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// How often the followed paths are looked through for pods that are gone.
const PODS_EVERY: Duration = Duration::from_secs(10);

impl Observer {
    /// An observer feeding `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Observer {
        Observer {
            metrics,
            inputs: Vec::new(),
            current: 0,
            gone: HashMap::new(),
            pods_checked: None,
        }
    }

    /// The metrics fed.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn seen(&mut self, i: usize, name: &str) -> &mut Seen {
        if self.inputs.len() <= i {
            self.inputs.resize_with(i + 1, || None);
        }
        self.inputs[i].get_or_insert_with(|| Seen {
            file: FileLabels {
                file: name.to_owned(),
            },
            pod: PodLabels::of_input(name),
            lines: 0,
            bytes: 0,
            unread: 0,
        })
    }

    /// Input `i` (named `name`) has read this much so far: what is new is added.
    pub fn input(&mut self, i: usize, name: &str, stats: &InputStats) {
        self.current = i;
        let m = Arc::clone(&self.metrics);
        let seen = self.seen(i, name);
        let lines = stats.lines.saturating_sub(seen.lines);
        let bytes = stats.bytes.saturating_sub(seen.bytes);
        let unread = stats.unread_mentions.saturating_sub(seen.unread);
        if lines > 0 || seen.lines == 0 {
            m.lines.get_or_create(&seen.file).inc_by(lines);
            m.unread.get_or_create(&seen.pod).inc_by(unread);
            m.with_pod(&seen.pod, |p| {
                p.files.insert(seen.file.clone());
                p.unread.insert(seen.pod.clone());
            });
        }
        m.bytes.inc_by(bytes);
        seen.lines = seen.lines.max(stats.lines);
        seen.bytes = seen.bytes.max(stats.bytes);
        seen.unread = seen.unread.max(stats.unread_mentions);
    }

    /// The followed paths and whether a file is at each now (`tail`): the followed-files
    /// gauge; and a pod none of whose files has been there for [`FORGET_AFTER`] has its
    /// series removed.
    pub fn followed(&mut self, files: &mut dyn Iterator<Item = (&Path, bool)>, now: Instant) {
        let due = self
            .pods_checked
            .is_none_or(|t| now.saturating_duration_since(t) >= PODS_EVERY);
        let mut present = 0;
        let mut pods: HashMap<(String, String), bool> = HashMap::new();
        for (path, there) in files {
            present += usize::from(there);
            if due && let Some(p) = Pod::of_path(&path.to_string_lossy()) {
                *pods.entry((p.namespace, p.pod)).or_default() |= there;
            }
        }
        self.metrics.set_files_followed(present);
        if !due {
            return;
        }
        self.pods_checked = Some(now);
        for (pod, there) in pods {
            if there {
                self.gone.remove(&pod);
                continue;
            }
            let since = *self.gone.entry(pod.clone()).or_insert(now);
            if now.saturating_duration_since(since) >= FORGET_AFTER {
                self.metrics.forget(&pod.0, &pod.1);
                // Counted from now again: what its inputs still read comes back as new series.
                self.gone.insert(pod, now);
            }
        }
    }

    /// One decision, triaged when it is a finding; `name` names the inputs by index.
    pub fn decided(&mut self, d: &Decided, t: Option<&Triaged>, name: &dyn Fn(usize) -> String) {
        match (d, t) {
            (Decided::Finding(_), Some(t)) => {
                let m = Arc::clone(&self.metrics);
                let pod = self.seen(t.input, &name(t.input)).pod.clone();
                m.finding(t, &pod);
            }
            (Decided::Related(o), _) => {
                let i = self.current;
                let m = Arc::clone(&self.metrics);
                let pod = self.seen(i, &name(i)).pod.clone();
                m.object(o.kind, 1, &pod);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
