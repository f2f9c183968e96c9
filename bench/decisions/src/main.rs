//! Decisions per second and latency per decision, in-process: Custos's `decide` against the
//! same decision in Rego under regorus (interpreter and RVM), same policy, same inputs, same
//! run. See BENCHMARKS.md, "Processing decisions (issue 7)".
//!
//! ```text
//! cargo run --release -- [--cycles N] [--regorus-cycles N] [--mix N] [--threads 1|2]
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use custos_bench_decisions::{Case, Interpreter, JBSYNC, Mix, Outcome, Vm, custos, load};
use custos_consent::decide;
use custos_policy::Policy;
use regorus::Value;

struct Args {
    /// Distinct inputs in the mix.
    mix: usize,
    /// Passes over the mix for Custos.
    cycles: usize,
    /// Passes over the mix for each regorus path (it is slower; the mix stays the same).
    regorus_cycles: usize,
    /// Threads for the throughput run (1, or 2 for a second run on two threads).
    threads: usize,
}

fn args() -> Args {
    let mut a = Args {
        mix: 4096,
        cycles: 200,
        regorus_cycles: 5,
        threads: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v: usize = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} needs a number"));
        match k.as_str() {
            "--mix" => a.mix = v,
            "--cycles" => a.cycles = v,
            "--regorus-cycles" => a.regorus_cycles = v,
            "--threads" => a.threads = v,
            _ => panic!("unknown option {k}; see the comment at the top of src/main.rs"),
        }
    }
    a
}

/// One engine's figures.
struct Figures {
    name: &'static str,
    per_sec: f64,
    per_sec_threads: Option<f64>,
    p50: Duration,
    p99: Duration,
    p999: Duration,
}

/// Something that decides a case: each engine behind one face, so every one is timed by the
/// same loop.
trait Decider {
    fn decide(&mut self, i: usize);
}

struct Custos<'a> {
    policy: &'a Policy,
    cases: &'a [Case],
}

impl Decider for Custos<'_> {
    fn decide(&mut self, i: usize) {
        black_box(decide(self.policy, &self.cases[i].input()));
    }
}

struct Rego<'a, E> {
    engine: E,
    inputs: &'a [Value],
    eval: fn(&mut E, Value) -> Value,
}

impl<E> Decider for Rego<'_, E> {
    fn decide(&mut self, i: usize) {
        black_box((self.eval)(&mut self.engine, self.inputs[i].clone()));
    }
}

/// Decisions per second over `cycles` passes of the mix, no clock read inside the loop.
fn throughput(d: &mut dyn Decider, mix: usize, cycles: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..cycles {
        for i in 0..mix {
            d.decide(i);
        }
    }
    (mix * cycles) as f64 / start.elapsed().as_secs_f64()
}

/// Each decision timed on its own; returns p50, p99, p99.9.
fn latency(d: &mut dyn Decider, mix: usize, cycles: usize) -> (Duration, Duration, Duration) {
    let mut ns: Vec<u64> = Vec::with_capacity(mix * cycles);
    for _ in 0..cycles {
        for i in 0..mix {
            let t = Instant::now();
            d.decide(i);
            ns.push(t.elapsed().as_nanos() as u64);
        }
    }
    ns.sort_unstable();
    let q = |f: f64| Duration::from_nanos(ns[((ns.len() - 1) as f64 * f) as usize]);
    (q(0.50), q(0.99), q(0.999))
}

/// Runs `make()` on `threads` threads at once, each over the whole mix; total decisions/s.
fn threaded<'a, F>(make: F, threads: usize, mix: usize, cycles: usize) -> f64
where
    F: Fn() -> Box<dyn Decider + Send + 'a> + Sync,
{
    let make = &make;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                let mut d = make();
                for _ in 0..cycles {
                    for i in 0..mix {
                        d.decide(i);
                    }
                }
            });
        }
    });
    (threads * mix * cycles) as f64 / start.elapsed().as_secs_f64()
}

fn measure<'a, F>(name: &'static str, make: F, a: &Args, cycles: usize) -> Figures
where
    F: Fn() -> Box<dyn Decider + Send + 'a> + Sync,
{
    let mut d = make();
    // Warm caches, the allocator and the branch predictors on one pass first.
    throughput(d.as_mut(), a.mix, 1);
    let per_sec = throughput(d.as_mut(), a.mix, cycles);
    let (p50, p99, p999) = latency(d.as_mut(), a.mix, cycles);
    let per_sec_threads = (a.threads > 1).then(|| threaded(&make, a.threads, a.mix, cycles));
    Figures {
        name,
        per_sec,
        per_sec_threads,
        p50,
        p99,
        p999,
    }
}

fn main() {
    let a = args();
    let policy = load("jbsync.toml", JBSYNC);
    let cases = Mix::new(7).cases(&policy, a.mix);
    let inputs: Vec<Value> = cases.iter().map(Case::rego_input).collect();
    let program = Vm::program(&policy);

    // No figure counts unless both sides give the same answer on every input of the run.
    let mut interp = Interpreter::new(&policy);
    let mut vm = Vm::new(&policy, program.clone());
    let mut allowed = 0;
    for (c, i) in cases.iter().zip(&inputs) {
        let ours = custos(&policy, c);
        assert_eq!(ours, Outcome::from(&interp.decide(i.clone())), "{c:?}");
        assert_eq!(ours, Outcome::from(&vm.decide(i.clone())), "{c:?}");
        allowed += usize::from(ours.allowed);
    }
    println!(
        "policy jbsync.toml, {} distinct inputs ({} allowed, {} denied), same answers and reasons on all three",
        a.mix,
        allowed,
        a.mix - allowed
    );

    let (p, cs, ins) = (&policy, &cases[..], &inputs[..]);
    let figures = [
        measure(
            "custos decide",
            || {
                Box::new(Custos {
                    policy: p,
                    cases: cs,
                })
            },
            &a,
            a.cycles,
        ),
        measure(
            "regorus interpreter",
            || {
                Box::new(Rego {
                    engine: Interpreter::new(p),
                    inputs: ins,
                    eval: Interpreter::decide,
                })
            },
            &a,
            a.regorus_cycles,
        ),
        measure(
            "regorus RVM",
            || {
                Box::new(Rego {
                    engine: Vm::new(p, program.clone()),
                    inputs: ins,
                    eval: Vm::decide,
                })
            },
            &a,
            a.regorus_cycles,
        ),
    ];

    println!(
        "{:<20} {:>14} {:>16} {:>10} {:>10} {:>10}",
        "engine",
        "decisions/s",
        format!("{} threads /s", a.threads),
        "p50",
        "p99",
        "p99.9"
    );
    for f in &figures {
        println!(
            "{:<20} {:>14.0} {:>16} {:>10.2?} {:>10.2?} {:>10.2?}",
            f.name,
            f.per_sec,
            f.per_sec_threads
                .map_or_else(|| "-".to_owned(), |t| format!("{t:.0}")),
            f.p50,
            f.p99,
            f.p999
        );
    }
    let ours = &figures[0];
    for f in &figures[1..] {
        let threads = match (ours.per_sec_threads, f.per_sec_threads) {
            (Some(o), Some(r)) => format!(", {:.1}x on {} threads", o / r, a.threads),
            _ => String::new(),
        };
        println!(
            "custos / {}: {:.1}x decisions/s{threads}, p99 {:.1}x lower",
            f.name,
            ours.per_sec / f.per_sec,
            f.p99.as_secs_f64() / ours.p99.as_secs_f64()
        );
    }
}
