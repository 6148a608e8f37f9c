//! The password-check pool: threads for CPU-heavy work (bcrypt, QR codes), apart from the async request workers.

use crate::password;
use gateway_wire::RpcError;
use std::time::{Duration, Instant};

use metrics::{Gauge, Histogram, gauge, histogram};

type Task = Box<dyn FnOnce() + Send>;
/// A password check and where its answer goes.
type Pending = (password::Check, tokio::sync::oneshot::Sender<bool>);

enum Job {
    Task(Task),
    Check(Pending),
}

struct Queue {
    jobs: std::sync::Mutex<Jobs>,
    ready: std::sync::Condvar,
    depth: Gauge,
    wait: Histogram,
}

/// Jobs waiting for a thread (password checks and hashes, QR codes).
pub const PASSWORD_QUEUE_DEPTH: &str = "auth_gateway_password_queue_depth";
/// How long jobs waited for a thread.
pub const PASSWORD_WAIT: &str = "auth_gateway_password_wait_seconds";

#[derive(Default)]
struct Jobs {
    /// Each with the time it was queued.
    waiting: std::collections::VecDeque<(Instant, Job)>,
    /// Threads running password checks.
    checking: usize,
    closed: bool,
}

/// How long a check waits for others to share its run while other checks are running:
/// short beside one bcrypt (about 65 ms), and a batch of two to four makes up for it.
const GATHER: Duration = Duration::from_millis(3);

/// What a thread takes from the queue: a task, or password checks of one cost to run side by side.
enum Work {
    Task(Task),
    Checks(Vec<Pending>),
}

impl Jobs {
    /// Moves waiting checks of the batch's cost into it, up to one per lane.
    fn take_checks_like(&mut self, batch: &mut Vec<Pending>, wait: &Histogram) {
        let cost = batch[0].0.cost();
        while batch.len() < password::LANES {
            let same_cost = |(_, job): &(Instant, Job)| matches!(job, Job::Check((c, _)) if c.cost() == cost);
            let Some((queued, Job::Check(pending))) =
                self.waiting.iter().position(same_cost).and_then(|i| self.waiting.remove(i))
            else {
                break;
            };
            wait.record(queued.elapsed());
            batch.push(pending);
        }
    }
}

impl Queue {
    fn new() -> Self {
        Queue {
            jobs: Default::default(),
            ready: Default::default(),
            depth: gauge!(PASSWORD_QUEUE_DEPTH),
            wait: histogram!(PASSWORD_WAIT),
        }
    }

    fn push(&self, job: Job) {
        let mut jobs = self.jobs.lock().expect("CPU queue lock");
        jobs.waiting.push_back((Instant::now(), job));
        self.depth.set(jobs.waiting.len() as f64);
        drop(jobs);
        // All: a thread gathering checks of one cost must not be the only one told of a task.
        self.ready.notify_all();
    }

    /// The next work, waiting for it; `None` once the pool is dropped and the queue empty.
    fn next(&self) -> Option<Work> {
        let mut jobs = self.jobs.lock().expect("CPU queue lock");
        loop {
            let next = jobs.waiting.pop_front();
            if let Some((queued, _)) = &next {
                self.wait.record(queued.elapsed());
            }
            match next.map(|(_, job)| job) {
                Some(Job::Task(task)) => {
                    self.depth.set(jobs.waiting.len() as f64);
                    return Some(Work::Task(task));
                }
                Some(Job::Check(pending)) => {
                    let mut batch = vec![pending];
                    // While other threads check passwords, logins keep arriving: a short wait
                    // fills more lanes. With no other check running, this one starts at once.
                    let deadline = (jobs.checking > 0).then(|| Instant::now() + GATHER);
                    loop {
                        jobs.take_checks_like(&mut batch, &self.wait);
                        let left = deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(Instant::now()));
                        if batch.len() == password::LANES || left.is_zero() {
                            break;
                        }
                        jobs = self.ready.wait_timeout(jobs, left).expect("CPU queue lock").0;
                    }
                    jobs.checking += 1;
                    self.depth.set(jobs.waiting.len() as f64);
                    return Some(Work::Checks(batch));
                }
                None if jobs.closed => return None,
                None => jobs = self.ready.wait(jobs).expect("CPU queue lock"),
            }
        }
    }

    fn checks_done(&self) {
        self.jobs.lock().expect("CPU queue lock").checking -= 1;
    }

    fn close(&self) {
        self.jobs.lock().expect("CPU queue lock").closed = true;
        self.ready.notify_all();
    }
}

/// Threads for CPU-heavy work (bcrypt), one per core, at a lower scheduling priority:
/// under a flood of logins the request path still gets the CPU whenever it needs it.
/// Password checks waiting together run side by side (see [`password::LANES`]).
pub struct PasswordPool {
    queue: std::sync::Arc<Queue>,
}

impl PasswordPool {
    pub fn new(threads: usize) -> Self {
        let queue = std::sync::Arc::new(Queue::new());
        for i in 0..threads.max(1) {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Some(work) = queue.next() {
                        let checks = matches!(work, Work::Checks(_));
                        // A panic fails this work's callers (their replies drop), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(work)));
                        if checks {
                            queue.checks_done();
                        }
                    }
                })
                .expect("spawning a worker thread");
        }
        PasswordPool { queue }
    }

    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, RpcError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue.push(Job::Task(Box::new(move || {
            let _ = tx.send(f());
        })));
        rx.await.map_err(|_| RpcError::internal("a CPU task failed"))
    }

    /// Whether `password` matches the stored hash, and whether that hash should be replaced:
    /// made in an older form (a long password pre-hashed the way the gateway once did, or an
    /// imported hash of a bcrypt that truncated at 72 bytes), checked side by side in one
    /// batch where lanes are free, or at a cost below `cost`.
    pub async fn verify(&self, password: &str, stored: &str, cost: u32) -> Result<Matched, RpcError> {
        let (stored, truncating) = password::unmark(stored);
        let Some(check) = password::Check::new(password, stored) else { return Ok(Matched::No) };
        let outdated = truncating || check.cost() < cost;
        let current = self.check(check);
        let truncated = truncating.then(|| password::Check::truncated(password, stored)).flatten();
        let older: Vec<_> = [password::Check::legacy(password, stored), truncated]
            .into_iter()
            .flatten()
            .map(|c| self.check(c))
            .collect();
        let failed = |_| RpcError::internal("a password check failed");
        if current.await.map_err(failed)? {
            return Ok(if outdated { Matched::Outdated } else { Matched::Yes });
        }
        for older in older {
            if older.await.map_err(failed)? {
                return Ok(Matched::Outdated);
            }
        }
        Ok(Matched::No)
    }

    fn check(&self, check: password::Check) -> tokio::sync::oneshot::Receiver<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue.push(Job::Check((check, tx)));
        rx
    }
}

/// How a password matched its stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    No,
    Yes,
    /// Through a hash of an older form or a lower cost: store a new hash.
    Outdated,
}

impl Matched {
    pub fn yes(self) -> bool {
        self != Matched::No
    }
}

impl Drop for PasswordPool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

fn run(work: Work) {
    match work {
        Work::Task(task) => task(),
        Work::Checks(batch) => {
            let (checks, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            for (reply, matched) in replies.into_iter().zip(password::check_all(&checks)) {
                let _ = reply.send(matched);
            }
        }
    }
}

/// Nice 10 for the calling thread (Linux schedules threads separately).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the calling thread's nice value. (No safe wrapper
    // in a maintained crate sets a thread's, not the process's, priority.)
    #[allow(unsafe_code)]
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_waiting_together_each_get_their_own_answer() {
        let pool = PasswordPool::new(2);
        // Two costs, so that batches must be sorted by cost; a task in between.
        let stored: Vec<String> =
            (0..8).map(|i| password::hash(&format!("password-{i}"), 4 + i as u32 % 2).unwrap()).collect();
        let checks = (0..24).map(|i| {
            let (pool, stored) = (&pool, &stored);
            async move {
                let guess = format!("password-{}", (if i < 8 { i } else { i + 1 }) % 8);
                (i, pool.verify(&guess, &stored[i % 8], 4).await.unwrap().yes())
            }
        });
        let (answers, task) = tokio::join!(futures_util::future::join_all(checks), pool.run(|| 6 * 7));
        assert_eq!(task.unwrap(), 42);
        for (i, matched) in answers {
            assert_eq!(matched, i < 8, "check {i}");
        }
    }
}
