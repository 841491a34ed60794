//! `--metrics`: a command's tally feeds the Prometheus metrics ([`crate::metrics`]) and an
//! endpoint on the command's runtime serves them. The hooks in the commands are these calls.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cmd::cli::MetricsArgs;
use crate::cmd::tally::Tally;
use crate::metrics::{FollowError, Metrics, Observer, Server, serve};

/// Starts serving when `--metrics` was given: `tally` feeds the metrics from now on. The
/// address is said on stderr (the port the system chose, for `--metrics=127.0.0.1:0`).
/// Served from `rt` while the command runs it, or from a thread of its own (`None`);
/// serving stops when the returned server is dropped.
pub fn start(
    args: &MetricsArgs,
    rt: Option<&tokio::runtime::Handle>,
    tally: &mut Tally,
    err: &mut dyn Write,
) -> Result<Option<Server>> {
    let Some(addr) = args.metrics else {
        return Ok(None);
    };
    let metrics = Arc::new(Metrics::new(args.metrics_max_sites));
    let server = serve(addr, Arc::clone(&metrics), rt)
        .with_context(|| format!("--metrics: cannot listen on {addr}"))?;
    writeln!(
        err,
        "unclosed: serving metrics at http://{}/metrics",
        server.addr
    )?;
    tally.metrics = Some(Observer::new(metrics));
    Ok(Some(server))
}

/// Counts a trouble following files, when metrics are served.
pub fn follow_error(tally: &Tally, why: FollowError) {
    if let Some(m) = &tally.metrics {
        m.metrics().follow_error(why);
    }
}

/// The followed paths and whether a file is at each now, when metrics are served: the
/// followed-files gauge, and the series of pods whose files are gone are dropped in time.
pub fn followed(tally: &mut Tally, files: &mut dyn Iterator<Item = (&Path, bool)>) {
    if let Some(m) = &mut tally.metrics {
        m.followed(files, Instant::now());
    }
}
