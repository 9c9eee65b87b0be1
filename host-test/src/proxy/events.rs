//! The virtual-time event queue: timers, queue notifications, callout completions and
//! upstream responses, processed in due order (ties in scheduling order).

use super::{CallSite, ScriptedResponse, StreamId};
use crate::host::state::CalloutDelivery;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Something due at a virtual time.
pub(super) enum Event {
    Tick {
        filter: usize,
        vm: usize,
    },
    QueueReady {
        filter: usize,
        vm: usize,
        queue_id: u32,
    },
    HttpCallDone {
        site: CallSite,
        token: u32,
        delivery: CalloutDelivery,
    },
    GrpcDone {
        site: CallSite,
        token: u32,
        status: u32,
    },
    Upstream {
        stream: StreamId,
        response: ScriptedResponse,
    },
    /// The held-back last chunk of an upstream response, then the end of its body.
    UpstreamLastChunk {
        stream: StreamId,
        chunk: Vec<u8>,
        trailers: bool,
    },
}

#[derive(Default)]
pub(super) struct EventQueue {
    order: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Event>,
    seq: u64,
}

impl EventQueue {
    pub(super) fn push(&mut self, due_ns: u64, event: Event) {
        self.seq += 1;
        self.order.push(Reverse((due_ns, self.seq)));
        self.events.insert(self.seq, event);
    }

    /// The earliest event due at or before `deadline_ns`.
    pub(super) fn pop_due(&mut self, deadline_ns: u64) -> Option<(u64, Event)> {
        let Reverse((due, seq)) = *self.order.peek()?;
        if due > deadline_ns {
            return None;
        }
        self.order.pop();
        self.events.remove(&seq).map(|event| (due, event))
    }
}
