//! The approval service's pure core: the approval record, who may decide it, how votes add up,
//! what consuming it requires, and the signed receipt. Time is an input (seconds since the
//! epoch); nothing here touches a clock, a database or the network.

pub mod approval;
pub mod approver;
pub mod consume;
pub mod decide;
pub mod event;
pub mod receipt;
pub mod tally;

pub use approval::{Action, Approval, Requester, Requirement, Status};
pub use approver::{Approver, Ineligible};
pub use consume::{ConsumeRefusal, ConsumeRequest};
pub use decide::{DecideError, Transition, VoteRequest};
pub use event::{Event, EventActor, EventKind};
pub use receipt::{Receipt, SignedReceipt, Signer};
pub use tally::{Vote, VoteDecision};
