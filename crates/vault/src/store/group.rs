//! Group commit: writes that arrive while another is being committed wait, and are then committed
//! together, in one transaction, by one of the waiting callers (the leader) on its own
//! connection. One transaction, one lock of the audit chain's head and one flush of the log
//! serve the whole group, instead of one each: under load the group grows by itself (everything
//! that queued during the last commit), and a lone write is committed at once, as before.
//!
//! Every write still gets its own answer: the committing code returns one outcome per write, and
//! a write is answered only after the transaction holding it committed (or failed). A caller
//! answered `Ok` is durable and audited, exactly as with a transaction of its own.
//!
//! Leadership passes from caller to caller: when the leader's own write is answered it hands
//! the queue to the oldest waiting caller, so no thread works for others longer than one group.
//! If the committing code panics, the group it held is answered with an error (its transaction
//! rolled back with the unwinding) and leadership passes on, so no caller waits forever.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Result, VaultError};

static TRANSACTIONS: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

/// How grouped this process's writes were since it started: group transactions run, and the
/// writes they held (their ratio is the mean group size). Exported as metrics by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCommitTotals {
    /// Group transactions run (each one commit, one flush of the log).
    pub transactions: u64,
    /// Writes those transactions held.
    pub writes: u64,
}

/// The totals so far.
pub fn group_commit_totals() -> GroupCommitTotals {
    GroupCommitTotals {
        transactions: TRANSACTIONS.load(Ordering::Relaxed),
        writes: WRITES.load(Ordering::Relaxed),
    }
}

/// A queue of writes committed in groups.
pub(crate) struct Group<W> {
    state: Mutex<State<W>>,
    /// The most writes one transaction takes.
    max: usize,
}

struct State<W> {
    /// Writes waiting for a leader, oldest first, each with its caller.
    queue: VecDeque<(Arc<Waiter>, W)>,
    /// Whether a caller leads (commits groups) right now.
    leading: bool,
}

/// One waiting caller: woken once, with its answer or with the lead.
#[derive(Default)]
struct Waiter {
    signal: Mutex<Option<Signal>>,
    woken: Condvar,
}

enum Signal {
    Answer(Result<()>),
    Lead,
}

impl Waiter {
    fn give(&self, signal: Signal) {
        *self.signal.lock().unwrap_or_else(|p| p.into_inner()) = Some(signal);
        self.woken.notify_one();
    }

    fn wait(&self) -> Signal {
        let mut s = self.signal.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(signal) = s.take() {
                return signal;
            }
            s = self.woken.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<W> Group<W> {
    /// A queue committing at most `max` writes per transaction (at least 1).
    pub(crate) fn new(max: usize) -> Self {
        Group {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                leading: false,
            }),
            max: max.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits `write` with whatever else is waiting, and answers for `write` alone. When this
    /// caller leads, `commit` runs here with a group (this caller's write first), and must return
    /// one outcome per write of the group, in order; a shorter answer leaves the missing writes
    /// failed.
    pub(crate) fn submit(
        &self,
        write: W,
        commit: &mut dyn FnMut(Vec<W>) -> Vec<Result<()>>,
    ) -> Result<()> {
        let me = Arc::new(Waiter::default());
        let mut st = self.lock();
        st.queue.push_back((me.clone(), write));
        if st.leading {
            drop(st);
            match me.wait() {
                Signal::Answer(answer) => return answer,
                Signal::Lead => st = self.lock(),
            }
        } else {
            st.leading = true;
        }
        // Leading: this caller's write is the oldest waiting, so the group taken holds it.
        let take = st.queue.len().min(self.max);
        let (waiters, writes): (Vec<Arc<Waiter>>, Vec<W>) = st.queue.drain(..take).unzip();
        drop(st);
        TRANSACTIONS.fetch_add(1, Ordering::Relaxed);
        WRITES.fetch_add(waiters.len() as u64, Ordering::Relaxed);
        let mut guard = Unanswered {
            group: self,
            waiters: &waiters,
            me: &me,
            done: false,
        };
        let mut outcomes = commit(writes).into_iter();
        guard.done = true;
        let mut mine = Err(not_committed());
        for w in &waiters {
            let outcome = outcomes.next().unwrap_or_else(|| Err(not_committed()));
            if Arc::ptr_eq(w, &me) {
                mine = outcome;
            } else {
                w.give(Signal::Answer(outcome));
            }
        }
        self.hand_over();
        mine
    }

    /// Passes the lead to the oldest waiting caller, or ends it when none waits.
    fn hand_over(&self) {
        let mut st = self.lock();
        match st.queue.front() {
            Some((next, _)) => next.give(Signal::Lead),
            None => st.leading = false,
        }
    }
}

/// What a group is answered with when its commit did not return (a panic): nothing of it was
/// committed, since its transaction rolled back with the unwinding.
fn not_committed() -> VaultError {
    VaultError::Storage {
        operation: "writing records",
        target: "the database".into(),
        reason: "the transaction holding this write failed before it committed; nothing of it was written".into(),
    }
}

/// Answers a group with an error and passes the lead on if its commit unwinds.
struct Unanswered<'a, W> {
    group: &'a Group<W>,
    waiters: &'a [Arc<Waiter>],
    /// The leader, which unwinds and collects no answer.
    me: &'a Arc<Waiter>,
    done: bool,
}

impl<W> Drop for Unanswered<'_, W> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for w in self.waiters.iter().filter(|w| !Arc::ptr_eq(w, self.me)) {
            w.give(Signal::Answer(Err(not_committed())));
        }
        self.group.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_lone_write_is_committed_at_once_in_a_group_of_one() {
        let g: Group<u32> = Group::new(8);
        let mut sizes = Vec::new();
        let r = g.submit(7, &mut |w| {
            sizes.push(w.clone());
            vec![Ok(())]
        });
        assert!(r.is_ok());
        assert_eq!(sizes, vec![vec![7]]);
    }

    #[test]
    fn writes_that_queue_during_a_commit_are_committed_together_and_each_answered() {
        let g = Arc::new(Group::<u32>::new(64));
        let transactions = Arc::new(AtomicUsize::new(0));
        let committed = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..40u32)
            .map(|i| {
                let (g, transactions, committed) =
                    (g.clone(), transactions.clone(), committed.clone());
                std::thread::spawn(move || {
                    g.submit(i, &mut |writes| {
                        transactions.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        let out = writes
                            .iter()
                            .map(|w| {
                                if w % 10 == 3 {
                                    Err(VaultError::RetentionChanged)
                                } else {
                                    Ok(())
                                }
                            })
                            .collect();
                        committed.lock().unwrap().extend(writes);
                        out
                    })
                    .map(|()| i)
                    .map_err(|_| i)
                })
            })
            .collect();
        let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for a in &answers {
            match a {
                Ok(i) => assert_ne!(i % 10, 3, "write {i} should have been refused"),
                Err(i) => assert_eq!(i % 10, 3, "write {i} should have been committed"),
            }
        }
        let mut all = committed.lock().unwrap().clone();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..40).collect::<Vec<_>>(),
            "each write committed once"
        );
        let n = transactions.load(Ordering::SeqCst);
        assert!(
            n < 40,
            "40 writes took {n} transactions: nothing was grouped"
        );
    }

    #[test]
    fn a_panicking_commit_fails_its_group_and_the_next_caller_leads() {
        let g = Arc::new(Group::<u32>::new(64));
        let first = {
            let g = g.clone();
            std::thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    g.submit(1, &mut |_| panic!("the connection broke"))
                }))
            })
        };
        assert!(first.join().unwrap().is_err(), "the leader's panic unwinds");
        // Nothing is stuck: the next write leads and commits.
        assert!(
            g.submit(2, &mut |w| w.iter().map(|_| Ok(())).collect())
                .is_ok()
        );
    }

    #[test]
    fn a_short_answer_fails_the_writes_it_left_out() {
        let g: Group<u32> = Group::new(8);
        let r = g.submit(1, &mut |_| Vec::new());
        assert!(matches!(r, Err(VaultError::Storage { .. })));
    }
}
