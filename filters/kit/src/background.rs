//! Background work of a chain in a VM's root context: timers and the callouts they make.

use crate::chain::Chain;
use crate::effect::{CalloutResponse, Effect, LogLevel};
use crate::host::Host;
use std::collections::HashMap;
use std::time::Duration;

/// Runs the stages' `on_tick` and routes callout answers back to the stage that asked.
/// One per root context.
pub struct Background {
    chain: Chain,
    pending: HashMap<u32, (usize, String)>,
}

impl Background {
    /// Background state for `chain`.
    pub fn new(chain: Chain) -> Self {
        Background { chain, pending: HashMap::new() }
    }

    /// The shortest tick period any stage asks for; `None` if no stage has background work.
    pub fn tick_period(&self) -> Option<Duration> {
        self.chain.stages().iter().filter_map(|s| s.tick_period()).min()
    }

    /// A timer tick: every stage's `on_tick`; its callouts are dispatched (a refused one is
    /// logged and answered at once with a synthetic 503).
    pub fn on_tick(&mut self, host: &mut dyn Host) {
        let now = host.now();
        for (index, stage) in self.chain.stages().iter().enumerate() {
            let mut effects = Vec::new();
            let callouts =
                self.chain.with_vm_state(index, |vm| stage.on_tick(now, vm, &mut effects)).unwrap_or_default();
            apply(host, effects);
            for callout in callouts {
                match host.dispatch(&callout) {
                    Ok(token) => {
                        self.pending.insert(token, (index, callout.tag));
                    }
                    Err(err) => {
                        host.log(LogLevel::Warn, &format!("warden: background {err}"));
                        let synthetic = CalloutResponse { status: 503, tag: callout.tag, ..CalloutResponse::default() };
                        let mut effects = Vec::new();
                        self.chain
                            .with_vm_state(index, |vm| stage.on_background_response(now, vm, &synthetic, &mut effects));
                        apply(host, effects);
                    }
                }
            }
        }
    }

    /// A background callout answered.
    pub fn on_response(&mut self, host: &mut dyn Host, token: u32, mut response: CalloutResponse) {
        let Some((index, tag)) = self.pending.remove(&token) else { return };
        let Some(stage) = self.chain.stages().get(index).cloned() else { return };
        response.tag = tag;
        let mut effects = Vec::new();
        let now = host.now();
        self.chain.with_vm_state(index, |vm| stage.on_background_response(now, vm, &response, &mut effects));
        apply(host, effects);
    }
}

fn apply(host: &mut dyn Host, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Log { level, message } => host.log(level, &message),
            Effect::Metric { name, kind, value } => host.metric(name, kind, value),
            other => host.log(LogLevel::Error, &format!("warden: background effect dropped: {other:?}")),
        }
    }
}
