//! The audit stage: compiled configuration and its callbacks.

use crate::config::{AuditConfig, OutcomeDetail, StrictConfig};
use crate::ledger::{Delivery, Ledger, Shipper, TAG};
use crate::record::{build, Observed};
use crate::stream::Stream;
use crate::writer::write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_kit::audit::{RecordKind, AUDIT};
use warden_kit::facts;
use warden_kit::{
    Callout, CalloutResponse, ConfigError, Cx, Effect, Flow, LogLevel, MetricKind, Needs, RequestView, Stage,
    StageKind, VmState,
};

/// Facts the record is made of (read from filter state when the stage runs on its own).
static READS_FACTS: [&str; 4] =
    [facts::IDENTITY.name(), facts::DECISION.name(), facts::APPROVAL.name(), facts::MASKING.name()];

/// The compiled audit stage.
#[derive(Debug, Clone)]
pub struct Audit {
    keep_query: bool,
    filter_state: bool,
    outcome: OutcomeDetail,
    strict: Option<StrictConfig>,
    ledger: Option<Ledger>,
}

/// Callout tag of a strict route's intent record.
const INTENT_TAG: &str = "audit:intent";

/// The stage's per-VM state: the record stream (created with the VM's first record) and the
/// records on their way to the ledger.
#[derive(Debug, Default)]
pub struct AuditVm {
    stream: Option<Stream>,
    intents: Option<Stream>,
    shipper: Shipper,
}

impl AuditVm {
    /// Reports dropped records with a gap record once there is room for it.
    fn report_drops(&mut self, ledger: &Ledger, now: SystemTime, effects: &mut Vec<Effect>) {
        if self.shipper.dropped == 0 || !self.shipper.has_room(ledger) {
            return;
        }
        let Some(stream) = self.stream.as_mut() else { return };
        match stream.gap(self.shipper.dropped, millis(now)) {
            Ok(gap) => {
                let message = format!(
                    "warden_audit: {} records dropped (ledger buffer full or refused): gap record sent",
                    self.shipper.dropped
                );
                effects.push(Effect::Log { level: LogLevel::Warn, message });
                self.shipper.dropped = 0;
                self.shipper.push(ledger, gap);
            }
            Err(err) => effects
                .push(Effect::Log { level: LogLevel::Error, message: format!("warden_audit: no gap record: {err}") }),
        }
    }
}

impl StageKind for Audit {
    const NAME: &'static str = "audit";
    type Config = AuditConfig;

    fn compile(config: AuditConfig) -> Result<Self, ConfigError> {
        let ledger = config.ledger.map(Ledger::compile).transpose().map_err(|e| e.within("ledger"))?;
        if let Some(strict) = &config.strict {
            if ledger.is_none() {
                return Err(ConfigError::new("strict", "strict routes wait for the ledger: configure `ledger`"));
            }
            if strict.path_prefixes.is_empty() && strict.methods.is_empty() {
                return Err(ConfigError::new("strict", "name the routes: path_prefixes and/or methods"));
            }
        }
        Ok(Audit {
            keep_query: config.keep_query,
            filter_state: config.filter_state.unwrap_or(true),
            outcome: config.outcome.unwrap_or_default(),
            strict: config.strict,
            ledger,
        })
    }
}

/// An integer property (Envoy encodes them as 8-byte little-endian i64).
fn int(view: &dyn RequestView, path: &[&str]) -> u64 {
    view.property(path)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .map(|b| u64::try_from(i64::from_le_bytes(b)).unwrap_or(0))
        .unwrap_or(0)
}

/// A string property.
fn text(view: &dyn RequestView, path: &[&str]) -> String {
    view.property(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// Bytes unique to this VM for naming one of its streams (`kind`: `records`, `intents`).
fn stream_seed(cx: &Cx<'_>, kind: &str) -> Vec<u8> {
    let node = text(cx.request, &["xds", "node", "id"]);
    let connection = int(cx.request, &["connection", "id"]);
    let nanos = cx.now.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut seed = format!("{node}\n{connection}\n{nanos}\n{kind}\n").into_bytes();
    seed.extend_from_slice(&cx.vm_seed);
    seed
}

fn millis(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// What the proxy says about the request itself. Request headers when the chain has them,
/// else Envoy's request attributes (a filter after one that answered locally never saw the
/// headers).
fn observe_request(cx: &Cx<'_>) -> Observed {
    let view = cx.request;
    let header = |name: &str| view.header(name).map(str::to_string);
    let has_headers = !view.headers().is_empty();
    let (method, authority, path) = if has_headers {
        (
            header(":method").unwrap_or_default(),
            header(":authority").unwrap_or_default(),
            header(":path").unwrap_or_default(),
        )
    } else {
        (text(view, &["request", "method"]), text(view, &["request", "host"]), text(view, &["request", "path"]))
    };
    Observed {
        time_ms: millis(cx.now),
        method,
        authority,
        path,
        traceparent: header("traceparent").unwrap_or_default(),
        source: text(view, &["source", "address"]),
        ..Observed::default()
    }
}

/// What the proxy observed about the finished request: [`observe_request`] and its outcome.
/// The duration is timed by the chain from the request headers (a clock read costs a fraction
/// of a property read), or read from the proxy when the chain never saw them (an earlier
/// filter answered).
fn observe(cx: &Cx<'_>, detail: OutcomeDetail) -> Observed {
    let view = cx.request;
    let request = observe_request(cx);
    let status = u32::try_from(int(view, &["response", "code"])).unwrap_or(0);
    let timed = cx.started.map(|at| {
        let micros = cx.now.duration_since(at).map(|d| d.as_micros()).unwrap_or(0);
        u64::try_from(micros).unwrap_or(u64::MAX)
    });
    let duration_us = || timed.unwrap_or_else(|| int(view, &["request", "duration"]) / 1000);
    match detail {
        OutcomeDetail::Status => Observed { status, duration_us: timed.unwrap_or(0), ..request },
        OutcomeDetail::Full => Observed {
            status,
            details: text(view, &["response", "code_details"]),
            flags: int(view, &["response", "flags"]),
            request_bytes: int(view, &["request", "total_size"]),
            response_bytes: int(view, &["response", "total_size"]),
            duration_us: duration_us(),
            ..request
        },
    }
}

impl Stage for Audit {
    fn name(&self) -> &'static str {
        <Self as StageKind>::NAME
    }

    fn needs(&self) -> Needs {
        Needs { log: true, reads_facts: &READS_FACTS, ..Needs::default() }
    }

    /// The record stream of one VM.
    fn vm_state(&self) -> VmState {
        VmState::new(AuditVm::default())
    }

    /// Batches go to the ledger on this period.
    fn tick_period(&self) -> Option<Duration> {
        self.ledger.as_ref().map(|l| l.flush)
    }

    fn on_tick(&self, now: SystemTime, vm: &mut VmState, effects: &mut Vec<Effect>) -> Vec<Callout> {
        let (Some(ledger), Some(vm)) = (&self.ledger, vm.get_mut::<AuditVm>()) else { return Vec::new() };
        vm.report_drops(ledger, now, effects);
        let queued = i64::try_from(vm.shipper.len()).unwrap_or(i64::MAX);
        effects.push(Effect::Metric { name: "warden_audit_ledger_buffered", kind: MetricKind::Gauge, value: queued });
        vm.shipper.next_batch(ledger, now).into_iter().collect()
    }

    /// Ships what is buffered at once, backoff or not (a short-lived instance ends after this;
    /// its host asks again, with pauses, while the ledger fails).
    fn on_drain(&self, now: SystemTime, vm: &mut VmState, effects: &mut Vec<Effect>) -> Vec<Callout> {
        if let Some(audit) = vm.get_mut::<AuditVm>() {
            audit.shipper.skip_backoff();
        }
        self.on_tick(now, vm, effects)
    }

    fn on_background_response(
        &self,
        now: SystemTime,
        vm: &mut VmState,
        response: &CalloutResponse,
        effects: &mut Vec<Effect>,
    ) {
        let (Some(ledger), Some(vm)) = (&self.ledger, vm.get_mut::<AuditVm>()) else { return };
        if response.tag != TAG {
            return;
        }
        let metric = |name: &'static str, value: usize| Effect::Metric {
            name,
            kind: MetricKind::Counter,
            value: i64::try_from(value).unwrap_or(i64::MAX),
        };
        match vm.shipper.answered(ledger, response, now) {
            Delivery::Delivered(count) => effects.push(metric("warden_audit_ledger_delivered_total", count)),
            Delivery::Refused(status, count) => {
                let message = format!(
                    "warden_audit: the ledger refused a batch of {count} records ({status}): they count as dropped"
                );
                effects.push(Effect::Log { level: LogLevel::Error, message });
                effects.push(metric("warden_audit_ledger_refused_total", count));
            }
            Delivery::Retrying(status) => {
                let message = format!("warden_audit: the ledger answered {status}: the batch is kept and retried");
                effects.push(Effect::Log { level: LogLevel::Warn, message });
                effects.push(metric("warden_audit_ledger_retries_total", 1));
            }
        }
    }

    /// A strict route's request waits here until the ledger acknowledges its intent record.
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let (Some(strict), Some(ledger)) = (&self.strict, &self.ledger) else { return Flow::Continue };
        let method = cx.request.header(":method").unwrap_or_default();
        let path = cx.request.header(":path").unwrap_or_default();
        if !strict.matches(method, path.split('?').next().unwrap_or_default()) {
            return Flow::Continue;
        }
        let observed = observe_request(cx);
        let seed =
            (cx.vm.get_mut::<AuditVm>().is_some_and(|vm| vm.intents.is_none())).then(|| stream_seed(cx, "intents"));
        let Some(vm) = cx.vm.get_mut::<AuditVm>() else { return refuse_unrecorded(cx) };
        let stream = vm.intents.get_or_insert_with(|| Stream::new(&seed.unwrap_or_default()));
        let sealed = stream.seal_written(
            |at| write(cx.facts, &observed, self.keep_query, RecordKind::Intent, false, at),
            || {
                let mut record = build(cx.facts, &observed, self.keep_query);
                record.kind = RecordKind::Intent;
                record.outcome = None;
                record
            },
        );
        match sealed {
            Ok(mut bytes) => {
                bytes.push(b'\n');
                Flow::Callout(ledger.callout(bytes, INTENT_TAG))
            }
            Err(_) => refuse_unrecorded(cx),
        }
    }

    fn on_callout_response(&self, cx: &mut Cx<'_>, response: &CalloutResponse) -> Flow {
        if response.tag != INTENT_TAG {
            return Flow::Continue;
        }
        if response.is_success() {
            cx.effects.push(Effect::Metric {
                name: "warden_audit_intents_recorded_total",
                kind: MetricKind::Counter,
                value: 1,
            });
            return Flow::Continue;
        }
        let message = format!(
            "warden_audit: the ledger did not record a strict route's intent ({}): request refused",
            response.status
        );
        cx.effects.push(Effect::Log { level: LogLevel::Error, message });
        refuse_unrecorded(cx)
    }

    fn on_log(&self, cx: &mut Cx<'_>) {
        let observed = observe(cx, self.outcome);
        let seed =
            (cx.vm.get_mut::<AuditVm>().is_some_and(|vm| vm.stream.is_none())).then(|| stream_seed(cx, "records"));
        let Some(vm) = cx.vm.get_mut::<AuditVm>() else { return };
        let stream = vm.stream.get_or_insert_with(|| Stream::new(&seed.unwrap_or_default()));
        let sealed = stream.seal_written(
            |at| write(cx.facts, &observed, self.keep_query, RecordKind::Request, true, at),
            || build(cx.facts, &observed, self.keep_query),
        );
        match sealed {
            Ok(bytes) => {
                let bytes: Arc<[u8]> = Arc::from(bytes);
                if let Some(ledger) = &self.ledger {
                    if !vm.shipper.push(ledger, bytes.clone()) {
                        cx.effects.push(Effect::Metric {
                            name: "warden_audit_ledger_dropped_total",
                            kind: MetricKind::Counter,
                            value: 1,
                        });
                    }
                    vm.report_drops(ledger, cx.now, cx.effects);
                }
                if self.filter_state {
                    cx.facts.write_json(AUDIT, bytes);
                }
                cx.effects.push(Effect::Metric {
                    name: "warden_audit_records_total",
                    kind: MetricKind::Counter,
                    value: 1,
                });
            }
            Err(err) => {
                // Never silent: the stream's sequence is unchanged, so nothing looks lost.
                cx.effects
                    .push(Effect::Log { level: LogLevel::Error, message: format!("warden_audit: no record: {err}") });
                cx.effects.push(Effect::Metric {
                    name: "warden_audit_failures_total",
                    kind: MetricKind::Counter,
                    value: 1,
                });
            }
        }
    }
}

/// 503 for a strict route whose intent could not be recorded: no evidence, no action.
fn refuse_unrecorded(cx: &mut Cx<'_>) -> Flow {
    cx.effects.push(Effect::Metric { name: "warden_audit_intents_refused_total", kind: MetricKind::Counter, value: 1 });
    let request_id = cx.facts.request_id().unwrap_or_default().to_string();
    let body = serde_json::json!({"error": "evidence_unavailable", "request_id": request_id});
    Flow::Respond(
        warden_kit::LocalReply::new(503, body.to_string())
            .with_header("content-type", "application/json")
            .with_details("warden_audit_intent_not_recorded"),
    )
}
