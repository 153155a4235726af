//! Telephony providers place calls and report their progress. The simulated provider drives
//! calls without a carrier; real carriers (Twilio, Vonage) plug in behind the same trait.

mod simulated;

pub use simulated::{Outcome, SimulatedTelephony, SimulationConfig};

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::{CallStatus, PhoneNumber};

/// What the provider is asked to dial.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub org_id: String,
    pub call_id: Uuid,
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
}

/// Progress the provider reports for a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Ringing,
    Answered,
    /// Never connected: `outcome` is failed, no_answer or busy.
    Failed {
        outcome: CallStatus,
        reason: String,
    },
    /// The far end hung up an answered call.
    HungUp,
}

#[derive(Debug, Clone)]
pub struct ProgressReport {
    pub org_id: String,
    pub call_id: Uuid,
    pub progress: Progress,
}

/// Where providers send progress; the calls service turns each report into a command.
pub type ProgressSink = mpsc::UnboundedSender<ProgressReport>;

pub trait Telephony: Send + Sync + 'static {
    /// Starts dialing. Returns at once; progress arrives on the sink given at construction.
    fn dial(&self, request: DialRequest);
}
