//! tail in the live loop ([`live::Source`]): what wakes it, the looks that follow, and
//! each file's flush clock.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{COALESCE, Tail};
use crate::cmd::cli::TailArgs;
use crate::cmd::printer::Sink;
use crate::cmd::tally::Show;
use crate::input::follow::Watches;
use crate::input::live;

/// What woke tail's loop.
pub(super) enum Wake {
    /// A file holds bytes a look's budget left unread.
    Further,
    /// The timer: everything is looked at.
    Tick,
    /// Notifications.
    Events,
    /// The watches are back after [`COALESCE`].
    Resume,
}

/// The followed files as the live loop reads them ([`live::Source`]): what wakes it
/// (notifications, the timer, the watches coming back), the looks that follow, and each
/// file's flush clock.
pub(super) struct Following<'a, 's, 'w> {
    tail: &'a mut Tail<'s>,
    sink: &'a mut Sink<'w>,
    watches: Option<Watches>,
    events: mpsc::Receiver<()>,
    ticker: tokio::time::Interval,
    /// While the watches are paused after an event: when they come back.
    resume: Option<Instant>,
}

impl<'a, 's, 'w> Following<'a, 's, 'w> {
    /// Starts the watches (or says why it polls); the timer's first tick looks at every file.
    pub(super) fn new(
        tail: &'a mut Tail<'s>,
        sink: &'a mut Sink<'w>,
        args: &TailArgs,
        err: &mut dyn Write,
    ) -> Self {
        let (tx, events) = mpsc::channel::<()>(1);
        let mut watches = if args.poll { None } else { Watches::start(tx) };
        if let Some(w) = &mut watches {
            for d in tail.dirs() {
                w.want(&d);
            }
            w.refresh();
            if !w.is_watching() {
                watches = None;
            }
        }
        if watches.is_none() && !args.poll {
            crate::cmd::metrics::follow_error(&sink.tally, crate::metrics::FollowError::Notify);
            let _ = writeln!(
                err,
                "unclosed: file notifications unavailable here; polling every {} ms",
                args.poll_ms
            );
        }
        let tick = if watches.is_some() {
            Duration::from_millis(args.rescan_ms.max(10))
        } else {
            Duration::from_millis(args.poll_ms.max(10))
        };
        let mut ticker = tokio::time::interval(tick);
        // A run busy reading for a while looks once after it, not once per tick missed.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Following {
            tail,
            sink,
            watches,
            events,
            ticker,
            resume: None,
        }
    }

    fn status(&mut self) -> Result<()> {
        let files = self.tail.files.len();
        let what = format!(
            "following {files} file{}",
            if files == 1 { "" } else { "s" }
        );
        let tally = &self.sink.tally;
        self.sink.printer.status(&|| tally.status_text(&what))?;
        Ok(())
    }
}

impl live::Source for Following<'_, '_, '_> {
    type Wake = Wake;

    async fn wake(&mut self) -> Option<Wake> {
        let behind = self.tail.has_more();
        if behind {
            // Catching up never waits on anything: let the runtime's other tasks (the
            // `--metrics` endpoint a liveness probe asks) run between two budgets.
            tokio::task::yield_now().await;
        }
        tokio::select! {
            _ = std::future::ready(()), if behind => Some(Wake::Further),
            _ = self.ticker.tick() => Some(Wake::Tick),
            Some(()) = self.events.recv(), if self.resume.is_none() => Some(Wake::Events),
            _ = live::sleep_until(self.resume), if self.resume.is_some() => Some(Wake::Resume),
        }
    }

    fn take(&mut self, wake: Wake) -> Result<()> {
        let (tail, sink) = (&mut *self.tail, &mut *self.sink);
        match wake {
            Wake::Further => tail.look_further(sink)?,
            Wake::Tick => {
                if let Some(w) = &mut self.watches {
                    tail.rewatch(w, sink)?;
                }
                tail.look_all(sink)?;
            }
            Wake::Events => {
                if let Some(w) = &mut self.watches {
                    // What the events name is read now. Then, for COALESCE, a burst of
                    // writes wakes nothing: what it names is gathered and read at once
                    // when the pause ends.
                    if !w.is_paused() {
                        w.pause();
                        self.resume = Some(Instant::now() + COALESCE);
                    }
                    let seen = w.take();
                    tail.on_events(seen, w, sink)?;
                }
            }
            Wake::Resume => {
                self.resume = None;
                if let Some(w) = &mut self.watches {
                    w.resume();
                    let seen = w.take();
                    if !seen.is_empty() {
                        // Still busy: read what came, and pause again.
                        w.pause();
                        self.resume = Some(Instant::now() + COALESCE);
                        tail.on_events(seen, w, sink)?;
                    }
                    if w.need_refresh() {
                        tail.rewatch(w, sink)?;
                    }
                }
            }
        }
        self.status()
    }

    fn deadline(&self) -> Option<Instant> {
        self.tail.deadline()
    }

    fn fire(&mut self) -> Result<()> {
        // A run busy with other files may be late to look: what came meanwhile is read
        // first, and only what is still due is decided.
        let (tail, sink) = (&mut *self.tail, &mut *self.sink);
        match &mut self.watches {
            Some(w) => {
                let seen = w.take();
                tail.on_events(seen, w, sink)?;
            }
            None => tail.look_all(sink)?,
        }
        tail.decide_due(sink)?;
        self.status()
    }

    fn signal(&mut self, _sig: i32) -> Result<bool> {
        Ok(true)
    }
}
