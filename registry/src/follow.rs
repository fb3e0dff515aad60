//! The follower: one background thread per process that keeps a
//! [`Registry`] current with the changes other nodes make in a shared
//! PostgreSQL database.
//!
//! It holds its own connection, `LISTEN`s on [`CHANNEL`], and on each
//! notification calls [`Registry::catch_up`], which reads every change
//! after the registry's revision and applies them in order — the
//! notification is only a wake-up, so a lost or coalesced one loses
//! nothing, and a change is never applied twice. Notifications are not
//! replayed across a reconnect, so it also catches up after every
//! (re)connect and on a slow timer ([`FollowOptions::poll_interval`]).
//!
//! **When the database goes away** the node keeps serving its last index
//! (fail-static, the default), reconnects with a bounded backoff, and
//! reports its lag in [`Health`]. With
//! [`FollowOptions::max_staleness`] set (fail-closed), once that long has
//! passed without a successful catch-up the registry's lookups refuse
//! every credential until one succeeds again: a revoked key then stops
//! within `max_staleness` even on a node cut off from the database, at
//! the price of refusing every request while the database is down.
//!
//! **Starting while the database is down** is decided before a follower
//! exists: [`PgStore::connect_waiting`](crate::PgStore::connect_waiting)
//! waits, bounded, with one log line per attempt, then fails; and
//! [`Registry::open`] loads every change before it serves anything. A
//! node never serves an empty index that could read as "no restriction".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

use crate::postgres::{bound, describe, CHANNEL};
use crate::registry::Registry;
use crate::store::Store;

/// How long the thread waits for a notification before it looks at its
/// timer, its staleness and its stop flag: bounds how late a stop or a
/// fail-closed switch can be.
const SLICE: Duration = Duration::from_millis(100);

/// How a [`Follower`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowOptions {
    /// Catch up at least this often even without a notification (they can
    /// be lost). Default 5 s.
    pub poll_interval: Duration,
    /// `None` (the default): fail-static — serve the last index however
    /// old. `Some(d)`: fail-closed — refuse every lookup once `d` has
    /// passed without a successful catch-up. Must exceed `poll_interval`.
    pub max_staleness: Option<Duration>,
    /// The first pause before reconnecting; doubled after each failure.
    /// Default 100 ms.
    pub backoff_min: Duration,
    /// The longest pause between reconnect attempts. Default 5 s.
    pub backoff_max: Duration,
    /// How long dropping the [`Follower`] waits for its thread to end.
    /// Default 5 s.
    pub stop_timeout: Duration,
    /// Print one line to stderr when the connection is lost or comes
    /// back. Default `true`.
    pub log: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_secs(5),
            max_staleness: None,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(5),
            log: true,
        }
    }
}

impl FollowOptions {
    /// Fail-closed after `max_staleness` without a successful catch-up.
    pub fn fail_closed(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = Some(max_staleness);
        self
    }

    /// Catches up at least every `interval`.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// No log lines.
    pub fn quiet(mut self) -> Self {
        self.log = false;
        self
    }
}

/// Why a follower could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// An option is out of range.
    #[error("follow options: {field} = {value:?}: {reason}")]
    Options {
        /// The option.
        field: &'static str,
        /// Its value.
        value: Duration,
        /// What it must be.
        reason: &'static str,
    },
    /// The thread could not be started.
    #[error("cannot start the follower thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// The follower's connection to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not connected yet since the follower started.
    Never,
    /// Listening.
    Connected,
    /// The connection was lost (or the first attempts failed after a
    /// success); retrying with backoff.
    Reconnecting,
}

/// A snapshot of a follower's state, for a health endpoint (serializes
/// to JSON with these field names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// The registry's revision (the last change applied) as of the
    /// follower's last notification or catch-up.
    pub revision: u64,
    /// The highest revision announced by a notification (`0` before the
    /// first one); above `revision` while a catch-up is pending.
    pub notified_revision: u64,
    /// Milliseconds since the last successful catch-up (`None` before the
    /// first one).
    pub lag_ms: Option<u64>,
    /// The listening connection.
    pub connection: ConnectionState,
    /// Whether lookups currently refuse every credential (fail-closed and
    /// stale).
    pub refusing: bool,
    /// The fail-closed threshold, `None` when fail-static.
    pub max_staleness_ms: Option<u64>,
    /// How many times the connection was re-established.
    pub reconnects: u64,
    /// Why the last attempt to connect or listen failed, cleared once
    /// connected again.
    pub connection_error: Option<String>,
    /// Why the last catch-up failed, cleared by the next successful one.
    pub catch_up_error: Option<String>,
}

/// What the thread reports.
#[derive(Debug)]
struct State {
    revision: u64,
    notified_revision: u64,
    last_success: Option<Instant>,
    connection: ConnectionState,
    refusing: bool,
    reconnects: u64,
    connection_error: Option<String>,
    catch_up_error: Option<String>,
}

/// A running follower. Dropping it (or [`stop`](Self::stop)) ends its
/// thread, waiting at most [`FollowOptions::stop_timeout`].
#[derive(Debug)]
pub struct Follower {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
    max_staleness: Option<Duration>,
    stop_timeout: Duration,
}

impl Follower {
    /// Starts following `database` (the settings the registry's
    /// [`PgStore`](crate::PgStore) uses: [`PgStore::config`](crate::PgStore::config))
    /// for `registry`, on a thread named `keypolicy-follow`.
    pub fn start<S: Store + 'static>(
        registry: Arc<Registry<S>>,
        database: Config,
        options: FollowOptions,
    ) -> Result<Follower, FollowError> {
        if let Some(max) = options.max_staleness {
            if max <= options.poll_interval {
                return Err(FollowError::Options {
                    field: "max_staleness",
                    value: max,
                    reason: "must exceed poll_interval, or an idle healthy node would refuse",
                });
            }
        }
        if options.backoff_min.is_zero() || options.backoff_min > options.backoff_max {
            return Err(FollowError::Options {
                field: "backoff_min",
                value: options.backoff_min,
                reason: "must be above zero and at most backoff_max",
            });
        }
        let mut database = database;
        bound(&mut database);
        let state = Arc::new(Mutex::new(State {
            revision: registry.revision(),
            notified_revision: 0,
            last_success: None,
            connection: ConnectionState::Never,
            refusing: false,
            reconnects: 0,
            connection_error: None,
            catch_up_error: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done) = mpsc::sync_channel(1);
        let max_staleness = options.max_staleness;
        let stop_timeout = options.stop_timeout;
        let mut worker = Worker {
            registry,
            database,
            options,
            state: Arc::clone(&state),
            stop: Arc::clone(&stop),
            started: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("keypolicy-follow".into())
            .spawn(move || {
                worker.run();
                let _ = done_tx.send(());
            })?;
        Ok(Follower {
            state,
            stop,
            done,
            thread: Some(thread),
            max_staleness,
            stop_timeout,
        })
    }

    /// The follower's state now.
    pub fn health(&self) -> Health {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Health {
            revision: state.revision,
            notified_revision: state.notified_revision,
            lag_ms: state.last_success.map(|at| millis(at.elapsed())),
            connection: state.connection,
            refusing: state.refusing,
            max_staleness_ms: self.max_staleness.map(millis),
            reconnects: state.reconnects,
            connection_error: state.connection_error.clone(),
            catch_up_error: state.catch_up_error.clone(),
        }
    }

    /// Stops the thread, waiting at most the options' `stop_timeout`;
    /// returns whether it ended in time (if not, it ends on its own at its
    /// next check, and is detached).
    pub fn stop(mut self) -> bool {
        self.shutdown()
    }

    fn shutdown(&mut self) -> bool {
        self.stop.store(true, Ordering::Release);
        let Some(thread) = self.thread.take() else {
            return true;
        };
        match self.done.recv_timeout(self.stop_timeout) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The thread's side.
struct Worker<S> {
    registry: Arc<Registry<S>>,
    database: Config,
    options: FollowOptions,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    started: Instant,
}

impl<S: Store> Worker<S> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        if self.options.log {
            eprintln!("keypolicy-registry follower ({}): {line}", describe(&self.database));
        }
    }

    fn run(&mut self) {
        let mut listener: Option<Client> = None;
        let mut connect_backoff = self.options.backoff_min;
        let mut next_connect = Instant::now();
        let mut catch_up_backoff = self.options.backoff_min;
        // Catch up at once: changes may have landed since `open`.
        let mut catch_up_due = Some(Instant::now());
        let mut last_attempt = Instant::now();
        while !self.stopping() {
            // 1. Keep a listening connection.
            if listener.is_none() && Instant::now() >= next_connect {
                match listen(&self.database) {
                    Ok(client) => {
                        listener = Some(client);
                        connect_backoff = self.options.backoff_min;
                        let mut state = self.state();
                        let again = state.connection == ConnectionState::Reconnecting;
                        state.connection = ConnectionState::Connected;
                        state.connection_error = None;
                        if again {
                            state.reconnects += 1;
                            drop(state);
                            self.log(format_args!("connected again; catching up"));
                        }
                        // Notifications sent while we were away are gone:
                        // read the log.
                        catch_up_due = Some(Instant::now());
                    }
                    Err(e) => {
                        self.lost(&e);
                        next_connect = Instant::now() + connect_backoff;
                        connect_backoff = (connect_backoff * 2).min(self.options.backoff_max);
                    }
                }
            }

            // 2. Wait (at most one slice) for notifications.
            match listener.as_mut() {
                Some(client) => match wait(client) {
                    Ok(Some(revision)) => {
                        let applied = self.registry.revision();
                        let mut state = self.state();
                        state.revision = applied;
                        if revision != UNKNOWN {
                            state.notified_revision = state.notified_revision.max(revision);
                        }
                        // The node's own writes notify it too: nothing to
                        // read for those.
                        if revision > applied {
                            catch_up_due = Some(Instant::now());
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        listener = None;
                        self.lost(&e);
                        next_connect = Instant::now();
                        catch_up_due = Some(Instant::now());
                    }
                },
                None => std::thread::sleep(SLICE.min(next_connect.saturating_duration_since(Instant::now()))),
            }

            // 3. Catch up when told, after a (re)connect, or on the timer.
            let now = Instant::now();
            if catch_up_due.is_none() && now.duration_since(last_attempt) >= self.options.poll_interval {
                catch_up_due = Some(now);
                // An idle connection can die silently (no reset reaches
                // us): check it on the timer too.
                if let Some(client) = listener.as_mut() {
                    if let Err(e) = client.is_valid(Duration::from_secs(2)) {
                        listener = None;
                        self.lost(&e);
                        next_connect = now;
                    }
                }
            }
            if catch_up_due.is_some_and(|due| now >= due) {
                last_attempt = now;
                match self.registry.catch_up() {
                    Ok(_) => {
                        catch_up_due = None;
                        catch_up_backoff = self.options.backoff_min;
                        let revision = self.registry.revision();
                        let mut state = self.state();
                        state.revision = revision;
                        state.last_success = Some(Instant::now());
                        state.catch_up_error = None;
                    }
                    Err(e) => {
                        self.state().catch_up_error = Some(e.to_string());
                        catch_up_due = Some(now + catch_up_backoff);
                        catch_up_backoff = (catch_up_backoff * 2).min(self.options.backoff_max);
                    }
                }
            }

            // 4. Fail closed when too stale.
            if let Some(max) = self.options.max_staleness {
                let since = self.state().last_success.unwrap_or(self.started);
                let refusing = since.elapsed() > max;
                self.registry.set_refusing(refusing);
                let mut state = self.state();
                if state.refusing != refusing {
                    state.refusing = refusing;
                    drop(state);
                    if refusing {
                        self.log(format_args!(
                            "no successful catch-up for over {} ms: refusing every credential (fail-closed)",
                            millis(max)
                        ));
                    } else {
                        self.log(format_args!("caught up: serving again"));
                    }
                }
            }
        }
    }

    /// Records a lost or failed connection.
    fn lost(&self, error: &postgres::Error) {
        let mut state = self.state();
        let was = state.connection;
        if was != ConnectionState::Never {
            state.connection = ConnectionState::Reconnecting;
        }
        state.connection_error = Some(error.to_string());
        drop(state);
        if was == ConnectionState::Connected {
            self.log(format_args!(
                "connection lost ({error}); serving the last index and reconnecting"
            ));
        }
    }
}

/// Opens the listening connection.
fn listen(database: &Config) -> Result<Client, postgres::Error> {
    let mut client = database.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// A notification whose payload cannot be read: catch up anyway.
const UNKNOWN: u64 = u64::MAX;

/// Waits up to one slice for notifications; returns the highest revision
/// announced ([`UNKNOWN`] for a payload it cannot read),
/// `None` when none came. An error, or a connection found closed, means
/// reconnect.
fn wait(client: &mut Client) -> Result<Option<u64>, postgres::Error> {
    let started = Instant::now();
    let first = client.notifications().timeout_iter(SLICE).next()?;
    let Some(first) = first else {
        // `timeout_iter` also ends early when the connection has closed:
        // check it then, rather than wait for the timer.
        if started.elapsed() < SLICE / 2 {
            client.is_valid(Duration::from_secs(1))?;
        }
        return Ok(None);
    };
    // Then take what is already there without waiting: a burst of
    // changes is one catch-up.
    let mut highest = revision_of(first.payload());
    let mut notifications = client.notifications();
    let mut pending = notifications.iter();
    // Bounded: at most what arrived meanwhile, and at most 10,000.
    for _ in 0..10_000 {
        match pending.next()? {
            Some(n) => highest = highest.max(revision_of(n.payload())),
            None => break,
        }
    }
    Ok(Some(highest))
}

/// The revision in a notification's payload; [`UNKNOWN`] when it cannot
/// be read.
fn revision_of(payload: &str) -> u64 {
    #[derive(serde::Deserialize)]
    struct Payload {
        revision: u64,
    }
    serde_json::from_str::<Payload>(payload).map_or(UNKNOWN, |p| p.revision)
}
