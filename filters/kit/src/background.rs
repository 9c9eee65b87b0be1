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
        self.run(host, |stage, now, vm, effects| stage.on_tick(now, vm, effects));
    }

    /// The VM or instance is ending: every stage's `on_drain`; returns how many callouts were
    /// dispatched (their answers come to [`Background::on_response`]). A host with short-lived
    /// instances calls it after each request and waits for those answers.
    pub fn drain(&mut self, host: &mut dyn Host) -> usize {
        let before = self.pending.len();
        self.run(host, |stage, now, vm, effects| stage.on_drain(now, vm, effects));
        self.pending.len().saturating_sub(before)
    }

    /// Whether background callouts are still unanswered.
    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    fn run(
        &mut self,
        host: &mut dyn Host,
        work: impl Fn(
            &dyn crate::Stage,
            std::time::SystemTime,
            &mut crate::VmState,
            &mut Vec<Effect>,
        ) -> Vec<crate::Callout>,
    ) {
        let now = host.now();
        for (index, stage) in self.chain.stages().iter().enumerate() {
            let mut effects = Vec::new();
            let callouts =
                self.chain.with_vm_state(index, |vm| work(stage.as_ref(), now, vm, &mut effects)).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::Background;
    use crate::testing::FakeHost;
    use crate::{Callout, CalloutResponse, Chain, Effect, LogLevel, Stage, VmState};
    use std::rc::Rc;
    use std::time::{Duration, SystemTime};

    /// Holds one record per VM until asked to drain; counts deliveries in its VM state.
    struct Holder;
    impl Stage for Holder {
        fn name(&self) -> &'static str {
            "holder"
        }
        fn vm_state(&self) -> VmState {
            VmState::new(0u32)
        }
        fn on_drain(&self, _now: SystemTime, _vm: &mut VmState, _effects: &mut Vec<Effect>) -> Vec<Callout> {
            vec![Callout {
                cluster: "ledger".into(),
                method: "POST".into(),
                path: "/records".into(),
                authority: "ledger".into(),
                headers: Vec::new(),
                body: b"record".to_vec(),
                timeout: Duration::from_secs(1),
                tag: "records".into(),
            }]
        }
        fn on_background_response(
            &self,
            _now: SystemTime,
            vm: &mut VmState,
            response: &CalloutResponse,
            effects: &mut Vec<Effect>,
        ) {
            if let Some(delivered) = vm.get_mut::<u32>() {
                *delivered += 1;
            }
            effects
                .push(Effect::Log { level: LogLevel::Info, message: format!("{} {}", response.tag, response.status) });
        }
    }

    #[test]
    fn a_drain_dispatches_what_stages_hold_and_routes_the_answers_back() {
        let mut background = Background::new(Chain::new(vec![Rc::new(Holder) as Rc<dyn Stage>]));
        let mut host = FakeHost::default();
        host.clusters.push("ledger".into());
        assert_eq!(background.tick_period(), None, "no timer: only the drain ships");
        assert_eq!(background.drain(&mut host), 1);
        assert!(background.is_waiting());
        assert_eq!(host.callouts[0].body, b"record");
        background.on_response(&mut host, 1, CalloutResponse { status: 201, ..CalloutResponse::default() });
        assert!(!background.is_waiting());
        assert_eq!(host.logs.last().map(|(_, m)| m.as_str()), Some("records 201"), "the stage got its tag back");
    }
}
