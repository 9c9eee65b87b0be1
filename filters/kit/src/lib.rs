//! `warden-kit`: what every Warden filter stage is made of, with no host calls.
//!
//! A stage is a [`Stage`]: immutable compiled configuration whose callbacks read the request
//! through a [`RequestView`], read and write per-request [`Facts`], and return what should
//! happen as data ([`Flow`] plus [`Effect`]s). A [`Chain`] runs stages in order against a
//! [`Host`] port; `warden-kit-proxywasm` implements that port over proxy-wasm, tests
//! implement it in memory. Time comes in as an input; nothing here blocks or panics on input.
//!
//! ```
//! use warden_kit::{Chain, Cx, Flow, LocalReply, Stage, testing::FakeHost};
//! use std::rc::Rc;
//!
//! struct DenyDelete;
//! impl Stage for DenyDelete {
//!     fn name(&self) -> &'static str { "deny_delete" }
//!     fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
//!         if cx.request.header(":method") == Some("DELETE") {
//!             return Flow::Respond(LocalReply::new(403, "deletes are not allowed"));
//!         }
//!         Flow::Continue
//!     }
//! }
//!
//! let chain = Chain::new(vec![Rc::new(DenyDelete) as Rc<dyn Stage>]);
//! let mut host = FakeHost::with_request(&[(":method", "DELETE"), (":path", "/users/1")]);
//! let mut run = chain.start();
//! run.on_request_headers(&mut host, true);
//! assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(403));
//! ```
#![forbid(unsafe_code)]

pub mod approval_api;
pub mod audit;
mod background;
pub mod canonical;
mod chain;
pub mod config;
#[cfg(feature = "schema")]
pub use config::config_schema;
pub mod contract;
mod effect;
mod error;
mod factory;
pub mod facts;
mod failure;
pub mod hex;
mod host;
pub mod ledger;
pub mod limits;
pub mod mcp;
pub mod receipt;
mod scratch;
mod stage;
pub mod strict_json;
pub mod testing;
mod view;
mod vm_state;

pub use background::Background;
pub use chain::{Chain, ChainRun, Step};
pub use effect::{Callout, CalloutResponse, Effect, HeaderMap, LocalReply, LogLevel, MetricKind};
pub use error::{ConfigError, KitError};
pub use factory::{StageFactory, StageKind};
pub use facts::{EncodedFact, FactKey, FactRead, Facts};
pub use failure::FailureMode;
pub use host::Host;
pub use scratch::Scratch;
pub use stage::{BodyNeed, Cx, Flow, Needs, Stage};
pub use view::RequestView;
pub use vm_state::VmState;
