//! What the export and purge benches share: the example policy, the tenant, and the memory
//! measurement (RSS sampled while an operation runs). Each bench includes it as `mod support;`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use custos_vault::TenantId;

/// The tenant every bench writes to.
pub const TENANT: &str = "acme";

/// The jbsync example policy.
pub fn policy() -> custos_policy::Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/jbsync.toml");
    custos_policy::load(&path)
        .expect("the example policy loads")
        .policy
}

pub fn tenant() -> TenantId {
    TenantId::new(TENANT).expect("valid")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples this process's RSS every 5 ms while alive, after resetting the kernel's high-water
/// mark (`/proc/self/clear_refs`, 5) so VmHWM covers only the measured operation.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
    before: u64,
}

impl RssSampler {
    pub fn start() -> Self {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(before));
        let handle = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(status_kib("VmRSS:"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Self {
            stop,
            peak,
            handle: Some(handle),
            before,
        }
    }

    /// (RSS before, peak RSS during) in KiB.
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let peak = self.peak.load(Ordering::Relaxed).max(status_kib("VmHWM:"));
        (self.before, peak)
    }
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
