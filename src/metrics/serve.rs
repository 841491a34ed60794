//! The HTTP endpoint Prometheus scrapes: `/metrics` and `/healthz`. On `tail`'s own tokio
//! runtime (one thread: a scrape is answered between two looks at the logs, so a `/healthz`
//! answer also says the reading loop is turning), or on a thread of its own.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use super::Metrics;

/// Connections answered at once; more wait to be accepted (a scraper needs one).
const MAX_CONNECTIONS: usize = 16;
/// A client that has not sent its request's headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The endpoint, serving until it is dropped.
pub struct Server {
    /// Where it listens (the port chosen when port 0 was asked for).
    pub addr: SocketAddr,
    running: Running,
}

enum Running {
    /// A task on the command's runtime: served while the command's loop awaits.
    Task(tokio::task::JoinHandle<()>),
    /// A thread of its own, for commands whose runtime is not at hand (`scan`, `filter`
    /// on a live stdin): told to stop, then joined.
    Thread(
        Option<tokio::sync::oneshot::Sender<()>>,
        Option<std::thread::JoinHandle<()>>,
    ),
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.running {
            Running::Task(task) => task.abort(),
            Running::Thread(stop, thread) => {
                drop(stop.take());
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// Listens on `addr` at once (so a port in use is an error before anything is read) and
/// serves `metrics` from a task on `rt`, or from a thread of its own when there is none.
pub fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    rt: Option<&tokio::runtime::Handle>,
) -> io::Result<Server> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let running = match rt {
        Some(rt) => {
            let _in_rt = rt.enter();
            let listener = tokio::net::TcpListener::from_std(listener)?;
            Running::Task(rt.spawn(accept(listener, metrics)))
        }
        None => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let listener = {
                let _in_rt = rt.enter();
                tokio::net::TcpListener::from_std(listener)?
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || {
                    rt.block_on(async {
                        tokio::select! {
                            () = accept(listener, metrics) => {}
                            _ = stopped => {}
                        }
                    });
                })?;
            Running::Thread(Some(stop), Some(thread))
        }
    };
    Ok(Server { addr, running })
}

async fn accept(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, or a connection reset before it was accepted:
                // try again a little later rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let metrics = Arc::clone(&metrics);
                async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
            });
            // A client that goes away mid-request is its own business.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

/// Whether the scraper asked for OpenMetrics (Prometheus does, first, in its `Accept`).
fn wants_openmetrics(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

fn answer(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, kind: &'static str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        r
    };
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            if wants_openmetrics(req) {
                reply(StatusCode::OK, OPENMETRICS, metrics.encode(true))
            } else {
                reply(
                    StatusCode::OK,
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    metrics.encode(false),
                )
            }
        }
        "/healthz" => reply(StatusCode::OK, PLAIN, "ok\n".into()),
        _ => reply(
            StatusCode::NOT_FOUND,
            PLAIN,
            "unclosed serves /metrics and /healthz\n".into(),
        ),
    }
}
