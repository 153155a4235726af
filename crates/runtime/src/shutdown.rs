//! Graceful shutdown: one trigger, many waiters. SIGTERM or Ctrl-C fire it in the binary; tests
//! fire it by hand.

use std::time::Duration;

use tokio::sync::watch;

/// How a process leaves once shutdown begins.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// How long it keeps accepting work while answering "not ready", so load balancers, kube-proxy
    /// and the gateway stop sending before the listener closes (`NOT_READY_GRACE_MS`).
    pub not_ready_grace: Duration,
    /// Then how long requests and streams in flight may take to finish (`DRAIN_TIMEOUT_SECONDS`).
    pub timeout: Duration,
}

impl Drain {
    pub fn from_env(env: &crate::Env) -> Result<Self, crate::ConfigError> {
        Ok(Self {
            not_ready_grace: Duration::from_millis(env.parse("NOT_READY_GRACE_MS", 500)?),
            timeout: Duration::from_secs(env.parse("DRAIN_TIMEOUT_SECONDS", 20)?),
        })
    }
}

/// Resolves [`Shutdown::wait`] everywhere when triggered (or dropped).
pub struct ShutdownTrigger(watch::Sender<bool>);

#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Resolves once shutdown has begun.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    /// Resolves when the not-ready grace that follows the trigger is over: time to stop
    /// accepting work.
    pub async fn closing(self, drain: Drain) {
        self.wait().await;
        tokio::time::sleep(drain.not_ready_grace).await;
    }

    /// Resolves when draining is over: the drain timeout after the not-ready grace. What is
    /// still in flight then (a long request, a watch stream) is cut off.
    pub async fn drained(self, drain: Drain) {
        self.closing(drain).await;
        tokio::time::sleep(drain.timeout).await;
    }

    /// A shutdown of its own that fires when this one's draining is over: what long-lived work
    /// (watch streams) follows, so it keeps going through the drain and stops before the cut.
    pub fn after_drain(&self, drain: Drain) -> Shutdown {
        let (trigger, drained) = Shutdown::new();
        let this = self.clone();
        tokio::spawn(async move {
            this.drained(drain).await;
            trigger.trigger();
        });
        drained
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
