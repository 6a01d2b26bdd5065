//! The process-wide limiter: counts of running work, two FIFO queues, and hand-over of a freed
//! slot to the first waiter that may take it (clicks before queued work).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use uuid::Uuid;

use super::types::{Limits, Priority, TooManyTests, WorkKind};

/// The instance's limiter; cheap to clone (one shared state).
#[derive(Clone)]
pub(crate) struct WorkLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: usize,
    running_by_class: [usize; 2],
    per_connection: HashMap<Uuid, usize>,
    /// Index 0: clicks, 1: queued work; each in arrival order.
    queues: [VecDeque<Waiter>; 2],
    next_id: u64,
}

struct Waiter {
    id: u64,
    connection: Uuid,
    granted: oneshot::Sender<()>,
}

fn class_index(priority: Priority) -> usize {
    match priority {
        Priority::Interactive => 0,
        Priority::Queued => 1,
    }
}

const CLASSES: [Priority; 2] = [Priority::Interactive, Priority::Queued];

/// A slot: the run may call out while this lives; dropping it hands the slot on.
pub(crate) struct WorkPermit {
    shared: Arc<Shared>,
    connection: Uuid,
    priority: Priority,
}

impl Drop for WorkPermit {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.release(self.connection, self.priority);
        state.dispatch(&self.shared.limits);
        state.report();
    }
}

impl Shared {
    /// The state, even if a thread panicked while holding it: the counts stay consistent
    /// because every change is made in one step under the lock.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn may_start(&self, limits: &Limits, connection: Uuid) -> bool {
        self.running < limits.max_running
            && self.per_connection.get(&connection).copied().unwrap_or(0)
                < limits.max_per_connection
    }

    fn take(&mut self, connection: Uuid, priority: Priority) {
        self.running += 1;
        self.running_by_class[class_index(priority)] += 1;
        *self.per_connection.entry(connection).or_default() += 1;
    }

    fn release(&mut self, connection: Uuid, priority: Priority) {
        self.running = self.running.saturating_sub(1);
        let class = &mut self.running_by_class[class_index(priority)];
        *class = class.saturating_sub(1);
        if let Some(count) = self.per_connection.get_mut(&connection) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_connection.remove(&connection);
            }
        }
    }

    /// Hands free slots to waiters: every waiting click that may start, in order, then queued
    /// work. A waiter held back only by its own connection's cap does not block the others.
    fn dispatch(&mut self, limits: &Limits) {
        for priority in CLASSES {
            let queue = class_index(priority);
            let mut index = 0;
            while index < self.queues[queue].len() && self.running < limits.max_running {
                let connection = self.queues[queue][index].connection;
                if !self.may_start(limits, connection) {
                    index += 1;
                    continue;
                }
                let Some(waiter) = self.queues[queue].remove(index) else {
                    break;
                };
                // The receiver lives as long as its waiter is queued (see `Waiting`), so this
                // succeeds; should it not, the slot is simply not taken.
                if waiter.granted.send(()).is_ok() {
                    self.take(connection, priority);
                }
            }
        }
    }

    /// Joins the end of `priority`'s queue and hands out what is free: a run that may start
    /// at once (nobody it must let go first) finds its slot already granted.
    fn join(
        &mut self,
        limits: &Limits,
        connection: Uuid,
        priority: Priority,
    ) -> (u64, oneshot::Receiver<()>) {
        let joined = self.enqueue(connection, priority);
        self.dispatch(limits);
        self.report();
        joined
    }

    fn enqueue(&mut self, connection: Uuid, priority: Priority) -> (u64, oneshot::Receiver<()>) {
        let (granted, receiver) = oneshot::channel();
        self.next_id += 1;
        let id = self.next_id;
        self.queues[class_index(priority)].push_back(Waiter {
            id,
            connection,
            granted,
        });
        (id, receiver)
    }

    /// Whether waiter `id` was still queued (and is now removed); false once it was granted.
    fn withdraw(&mut self, id: u64, priority: Priority) -> bool {
        let queue = &mut self.queues[class_index(priority)];
        match queue.iter().position(|w| w.id == id) {
            Some(index) => {
                queue.remove(index);
                true
            }
            None => false,
        }
    }

    fn report(&self) {
        for priority in CLASSES {
            let index = class_index(priority);
            ::metrics::gauge!("junction_work_running", "class" => priority.as_str())
                .set(self.running_by_class[index] as f64);
            ::metrics::gauge!("junction_work_queued", "class" => priority.as_str())
                .set(self.queues[index].len() as f64);
        }
    }
}

/// A place in a queue. Dropped before its slot came (the click's request went away, or its
/// wait ran out), it leaves the queue; dropped after, it hands the slot on.
struct Waiting {
    shared: Arc<Shared>,
    id: u64,
    connection: Uuid,
    priority: Priority,
    done: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.shared.lock();
        if !state.withdraw(self.id, self.priority) {
            state.release(self.connection, self.priority);
            state.dispatch(&self.shared.limits);
        }
        state.report();
    }
}

impl WorkLimiter {
    pub(crate) fn new(limits: Limits) -> Self {
        let limiter = Self {
            shared: Arc::new(Shared {
                limits,
                state: Mutex::new(State::default()),
            }),
        };
        limiter.shared.lock().report();
        limiter
    }

    fn permit(&self, connection: Uuid, priority: Priority) -> WorkPermit {
        WorkPermit {
            shared: self.shared.clone(),
            connection,
            priority,
        }
    }

    /// A slot for a person's click on `connection`: at once when one is free, else after a
    /// bounded wait ahead of all queued work; refused when the wait queue is full or the wait
    /// runs out.
    pub(crate) async fn interactive(
        &self,
        kind: WorkKind,
        connection: Uuid,
    ) -> Result<WorkPermit, TooManyTests> {
        let limits = self.shared.limits;
        let (mut place, receiver) = {
            let mut state = self.shared.lock();
            let (id, receiver) = state.join(&limits, connection, Priority::Interactive);
            let still_waiting = state.queues[0].iter().any(|w| w.id == id);
            if still_waiting && state.queues[0].len() > limits.max_waiting {
                state.withdraw(id, Priority::Interactive);
                state.report();
                drop(state);
                return Err(refused(kind));
            }
            (
                self.waiting(id, connection, Priority::Interactive),
                receiver,
            )
        };
        let started = tokio::time::Instant::now();
        let granted = match tokio::time::timeout(limits.max_wait, receiver).await {
            Ok(result) => result.is_ok(),
            // The wait ran out: leave the queue, unless the slot came at that very moment.
            Err(_) => {
                let mut state = self.shared.lock();
                let withdrawn = state.withdraw(place.id, Priority::Interactive);
                state.report();
                !withdrawn
            }
        };
        place.done = true;
        if !granted {
            return Err(refused(kind));
        }
        record_wait(Priority::Interactive, started.elapsed());
        Ok(self.permit(connection, Priority::Interactive))
    }

    /// A slot for bulk or scheduled work on `connection`: waits behind every click and every
    /// earlier queued run, however long that takes; never refused.
    pub(crate) async fn queued(&self, connection: Uuid) -> WorkPermit {
        let limits = self.shared.limits;
        let (mut place, receiver) = {
            let mut state = self.shared.lock();
            let (id, receiver) = state.join(&limits, connection, Priority::Queued);
            (self.waiting(id, connection, Priority::Queued), receiver)
        };
        let started = tokio::time::Instant::now();
        // A waiter leaves its queue only through `dispatch`, which sends first, or through
        // `Waiting`, which is still alive here: the sender is never dropped unsent.
        let _ = receiver.await;
        place.done = true;
        record_wait(Priority::Queued, started.elapsed());
        self.permit(connection, Priority::Queued)
    }

    fn waiting(&self, id: u64, connection: Uuid, priority: Priority) -> Waiting {
        Waiting {
            shared: self.shared.clone(),
            id,
            connection,
            priority,
            done: false,
        }
    }
}

fn record_wait(priority: Priority, waited: std::time::Duration) {
    ::metrics::histogram!("junction_work_wait_seconds", "class" => priority.as_str())
        .record(waited.as_secs_f64());
}

fn refused(kind: WorkKind) -> TooManyTests {
    ::metrics::counter!("junction_work_refused_total", "kind" => kind.as_str()).increment(1);
    tracing::info!(work = kind.as_str(), "click refused: every slot is taken");
    TooManyTests
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(max_running: usize, max_per_connection: usize, max_waiting: usize) -> WorkLimiter {
        WorkLimiter::new(Limits {
            max_running,
            max_per_connection,
            max_waiting,
            max_wait: Duration::from_secs(3600),
        })
    }

    fn counts(limiter: &WorkLimiter) -> (usize, usize, usize) {
        let state = limiter.shared.lock();
        (state.running, state.queues[0].len(), state.queues[1].len())
    }

    /// Lets spawned tasks run until they block again.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    const KIND: WorkKind = WorkKind::TestConnection;

    #[tokio::test]
    async fn a_click_beyond_the_global_cap_and_a_full_queue_is_refused() {
        let limiter = limiter(2, 2, 0);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let _first = limiter.interactive(KIND, a).await.unwrap();
        let _second = limiter.interactive(KIND, b).await.unwrap();
        assert_eq!(
            limiter.interactive(KIND, Uuid::new_v4()).await.err(),
            Some(TooManyTests),
            "a third connection finds both slots taken"
        );
    }

    #[tokio::test]
    async fn one_connection_cannot_take_every_slot() {
        let limiter = limiter(4, 1, 0);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = limiter.interactive(KIND, a).await.unwrap();
        assert!(limiter.interactive(KIND, a).await.is_err(), "second on a");
        let _other = limiter
            .interactive(KIND, b)
            .await
            .expect("another connection still runs");
        drop(first);
        assert!(limiter.interactive(KIND, a).await.is_ok(), "a's slot freed");
    }

    #[tokio::test]
    async fn a_waiting_click_gets_the_freed_slot_before_queued_work() {
        let limiter = limiter(1, 1, 4);
        let connection = Uuid::new_v4();
        let running = limiter.interactive(KIND, connection).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let bulk = {
            let (limiter, order) = (limiter.clone(), order.clone());
            tokio::spawn(async move {
                let permit = limiter.queued(connection).await;
                order.lock().unwrap().push("queued");
                drop(permit);
            })
        };
        settle().await;
        let click = {
            let (limiter, order) = (limiter.clone(), order.clone());
            tokio::spawn(async move {
                let permit = limiter.interactive(KIND, connection).await.unwrap();
                order.lock().unwrap().push("click");
                settle().await;
                drop(permit);
            })
        };
        settle().await;
        assert_eq!(
            counts(&limiter),
            (1, 1, 1),
            "one running, one of each waiting"
        );
        drop(running);
        click.await.unwrap();
        bulk.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["click", "queued"]);
        assert_eq!(counts(&limiter), (0, 0, 0));
    }

    #[tokio::test]
    async fn queued_work_is_never_refused_however_much_waits() {
        let limiter = limiter(2, 2, 0);
        let connection = Uuid::new_v4();
        let done = Arc::new(Mutex::new(0));
        let jobs: Vec<_> = (0..50)
            .map(|_| {
                let (limiter, done) = (limiter.clone(), done.clone());
                tokio::spawn(async move {
                    let permit = limiter.queued(connection).await;
                    settle().await;
                    *done.lock().unwrap() += 1;
                    drop(permit);
                })
            })
            .collect();
        settle().await;
        let (running, _, queued) = counts(&limiter);
        assert!(running <= 2, "{running} running");
        assert!(queued > 0, "the rest wait");
        for job in jobs {
            job.await.unwrap();
        }
        assert_eq!(*done.lock().unwrap(), 50);
        assert_eq!(counts(&limiter), (0, 0, 0));
    }

    #[tokio::test]
    async fn a_waiting_connection_at_its_own_cap_does_not_hold_up_others() {
        let limiter = limiter(3, 1, 4);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let _on_a = limiter.interactive(KIND, a).await.unwrap();
        let blocked = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.interactive(KIND, a).await.map(|_| ()) })
        };
        settle().await;
        assert_eq!(counts(&limiter), (1, 1, 0));
        // b is behind a's waiting click in the queue, but a's own cap holds that one back.
        let on_b = limiter.queued(b).await;
        assert_eq!(counts(&limiter), (2, 1, 0));
        drop(on_b);
        blocked.abort();
    }

    #[tokio::test]
    async fn a_click_that_waits_too_long_is_refused_and_leaves_the_queue() {
        let limiter = WorkLimiter::new(Limits {
            max_running: 1,
            max_per_connection: 1,
            max_waiting: 4,
            // Runs out at the first wait: the test needs no clock.
            max_wait: Duration::ZERO,
        });
        let connection = Uuid::new_v4();
        let _running = limiter.interactive(KIND, connection).await.unwrap();
        let waited = limiter.interactive(KIND, connection).await;
        assert_eq!(waited.err(), Some(TooManyTests));
        assert_eq!(counts(&limiter), (1, 0, 0));
    }

    #[tokio::test]
    async fn a_click_abandoned_while_waiting_gives_its_place_up() {
        let limiter = limiter(1, 1, 4);
        let connection = Uuid::new_v4();
        let running = limiter.interactive(KIND, connection).await.unwrap();
        let abandoned = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.interactive(KIND, connection).await.map(|_| ()) })
        };
        settle().await;
        assert_eq!(counts(&limiter), (1, 1, 0));
        abandoned.abort();
        let _ = abandoned.await;
        assert_eq!(counts(&limiter), (1, 0, 0), "the queue is empty again");
        drop(running);
        assert_eq!(
            counts(&limiter),
            (0, 0, 0),
            "and the freed slot went to nobody"
        );
        assert!(limiter.interactive(KIND, connection).await.is_ok());
    }
}
