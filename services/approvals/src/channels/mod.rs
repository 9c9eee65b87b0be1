//! Telling people where they already are: signed webhooks (Standard Webhooks) and Microsoft
//! Teams cards (a Workflows webhook) for approval events. Deliveries go through the store's
//! outbox ([`crate::store::deliveries`]): a channel that is down never blocks or decides an
//! approval; it is retried with backoff, and given up on with a `delivery_failed` event in the
//! approval's history. Each replica runs [`run_once`] on a timer; the outbox keeps them from
//! sending twice.

pub mod interactions;
pub mod notice;
pub mod sign;
pub mod slack;

use crate::config::{ChannelKind, ChannelsSection};
use crate::http::App;
use crate::store::deliveries::{Delivery, NewDelivery, Outcome};
use crate::store::StoreError;
use sign::WebhookSecret;
use std::time::Duration;
use warden_kit::ConfigError;

/// A channel ready to send: where, how, and which notices it takes.
pub struct Channel {
    /// Configured name.
    pub name: String,
    target: Target,
    events: Vec<String>,
}

enum Target {
    Webhook { url: String, secret: WebhookSecret },
    Teams { url: String },
    Slack(SlackTarget),
}

/// A Slack channel with its secrets.
#[derive(Clone)]
pub struct SlackTarget {
    /// Channel id.
    pub channel: String,
    /// Bot token.
    pub token: String,
    /// Signing secret.
    pub signing_secret: String,
    /// Web API base.
    pub api: String,
    /// Allowed `response_url` prefix.
    pub response_url_prefix: String,
}

/// The channels with their secrets read (at start), and the retry policy.
pub struct ChannelsApp {
    channels: Vec<Channel>,
    max_attempts: u32,
    timeout: Duration,
}

impl std::fmt::Debug for ChannelsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelsApp")
            .field("channels", &self.channels.iter().map(|c| &c.name).collect::<Vec<_>>())
            .finish()
    }
}

impl ChannelsApp {
    /// Reads each channel's secret file; errors name the field, never the secret.
    pub fn open(section: &ChannelsSection) -> Result<ChannelsApp, ConfigError> {
        let mut channels = Vec::new();
        for c in &section.channels {
            let target = match &c.kind {
                ChannelKind::Webhook { url, secret_file } => {
                    let field = format!("{}.secret_file", c.field);
                    let secret =
                        WebhookSecret::parse(&warden_service_shared::secrets::secret_file(secret_file, field.clone())?)
                            .ok_or_else(|| {
                                ConfigError::new(field, "`whsec_<base64>` or at least 16 bytes of secret")
                            })?;
                    Target::Webhook { url: url.clone(), secret }
                }
                ChannelKind::Teams { url_file } => {
                    let field = format!("{}.url_file", c.field);
                    let url = warden_service_shared::secrets::secret_file(url_file, field.clone())?;
                    if !url.starts_with("https://") && !url.starts_with("http://") {
                        return Err(ConfigError::new(field, "the file must hold the workflow's http(s) URL"));
                    }
                    Target::Teams { url }
                }
                ChannelKind::Slack { channel, bot_token_file, signing_secret_file, api_url, response_url_prefix } => {
                    Target::Slack(SlackTarget {
                        channel: channel.clone(),
                        token: warden_service_shared::secrets::secret_file(
                            bot_token_file,
                            format!("{}.bot_token_file", c.field),
                        )?,
                        signing_secret: warden_service_shared::secrets::secret_file(
                            signing_secret_file,
                            format!("{}.signing_secret_file", c.field),
                        )?,
                        api: api_url.clone(),
                        response_url_prefix: response_url_prefix.clone(),
                    })
                }
            };
            channels.push(Channel { name: c.name.clone(), target, events: c.events.clone() });
        }
        Ok(ChannelsApp { channels, max_attempts: section.max_attempts, timeout: section.timeout })
    }

    fn body(
        &self,
        channel: &Channel,
        kind: &str,
        approval: &crate::core::approval::Approval,
        url: &str,
        now: u64,
    ) -> String {
        match channel.target {
            Target::Webhook { .. } => notice::webhook_body(kind, approval, url, now),
            Target::Teams { .. } => notice::teams_card(kind, approval, url, now),
            Target::Slack(_) => slack::message(approval, url, now).to_string(),
        }
    }

    /// The Slack channels (for the interactivity endpoint).
    pub fn slack(&self) -> impl Iterator<Item = &SlackTarget> {
        self.channels.iter().filter_map(|c| match &c.target {
            Target::Slack(s) => Some(s),
            _ => None,
        })
    }

    /// Timeout of each call out.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Seconds before the next attempt after `attempts` failures: 2, 4, 8, ... up to an hour.
pub fn backoff_secs(attempts: u32) -> u64 {
    2u64.saturating_pow(attempts.clamp(1, 12)).min(3600)
}

/// One round: turn new approval events into deliveries, then send those due. Returns how
/// many were sent successfully.
pub async fn run_once(app: &App, channels: &ChannelsApp, now: u64) -> Result<usize, StoreError> {
    let (cursor, events) = app.store.undelivered_events(200).await?;
    if let Some(last) = events.last() {
        let mut new = Vec::new();
        for event in &events {
            let Some(kind) = notice::notice_type(event) else { continue };
            let wanted: Vec<&Channel> =
                channels.channels.iter().filter(|c| c.events.iter().any(|e| e == kind)).collect();
            if wanted.is_empty() {
                continue;
            }
            let Some(approval) = app.store.get(&event.approval_id).await? else { continue };
            let url = format!("{}/ui/approvals/{}", app.service.public_url, approval.id);
            for channel in wanted {
                let body = channels.body(channel, kind, &approval, &url, now);
                let delivery = NewDelivery { channel: channel.name.clone(), kind: kind.to_string(), body };
                new.push((event.seq, event.approval_id.clone(), delivery));
            }
        }
        app.store.enqueue(cursor, last.seq, &new, now).await?;
    }
    let mut sent = 0;
    for delivery in app.store.claim_due(now, 20).await? {
        let Some(channel) = channels.channels.iter().find(|c| c.name == delivery.channel) else {
            let outcome = Outcome::Failed { error: "channel no longer configured".into(), retry_at: None };
            app.store.finish(&delivery, &outcome, now).await?;
            continue;
        };
        let outcome = match &channel.target {
            Target::Slack(target) => send_slack(app, &channel.name, target, &delivery, channels.timeout).await,
            _ => send(channel, &delivery, channels.timeout, now).await,
        };
        let outcome = match outcome {
            Ok(()) => {
                sent += 1;
                Outcome::Delivered
            }
            Err(error) => {
                eprintln!("warden approvals: delivery to {} failed: {error}", channel.name);
                let retry_at =
                    (delivery.attempts + 1 < channels.max_attempts).then(|| now + backoff_secs(delivery.attempts + 1));
                Outcome::Failed { error, retry_at }
            }
        };
        app.store.finish(&delivery, &outcome, crate::unix_now()).await?;
    }
    Ok(sent)
}

/// Posts an approval's Slack message (`approval.created`, or any notice when none was posted
/// yet) and remembers where it is, or updates it in place.
async fn send_slack(
    app: &App,
    channel_name: &str,
    target: &SlackTarget,
    delivery: &Delivery,
    timeout: Duration,
) -> Result<(), String> {
    let posted = app.store.slack_message(&delivery.approval_id, channel_name).await.map_err(|e| e.to_string())?;
    let mut body: serde_json::Value = serde_json::from_str(&delivery.body).map_err(|_| "bad message".to_string())?;
    let (method, channel) = match &posted {
        Some((channel, ts)) => {
            body["ts"] = serde_json::Value::String(ts.clone());
            ("chat.update", channel.clone())
        }
        None => ("chat.postMessage", target.channel.clone()),
    };
    body["channel"] = serde_json::Value::String(channel);
    let (api, token) = (target.api.clone(), target.token.clone());
    let answer = tokio::task::spawn_blocking(move || slack::call(&api, &token, method, &body, timeout))
        .await
        .unwrap_or_else(|_| Err(slack::SlackError::Transport("the send did not finish".into())))?;
    if posted.is_none() {
        let (Some(channel), Some(ts)) = (answer["channel"].as_str(), answer["ts"].as_str()) else {
            return Err("chat.postMessage answered without channel and ts".into());
        };
        app.store
            .remember_slack_message(&delivery.approval_id, channel_name, channel, ts)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A transport error described without its URL (a Teams workflow URL is a credential).
pub(crate) fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(e) => format!("i/o error: {}", e.kind()),
        _ => "transport error".into(),
    }
}

async fn send(channel: &Channel, delivery: &Delivery, timeout: Duration, now: u64) -> Result<(), String> {
    let (url, headers) = match &channel.target {
        Target::Webhook { url, secret } => {
            (url.clone(), secret.headers(&format!("wdl_{}", delivery.id), now, &delivery.body).to_vec())
        }
        Target::Teams { url } => (url.clone(), Vec::new()),
        Target::Slack(_) => return Err("Slack messages are sent by send_slack".into()),
    };
    let body = delivery.body.clone();
    let result = tokio::task::spawn_blocking(move || {
        let agent = warden_service_shared::http_client::agent(Some(timeout));
        let mut request = agent.post(&url).header("content-type", "application/json");
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        match request.send(body.as_bytes()) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("answered {}", response.status().as_u16())),
            Err(e) => Err(describe(&e)),
        }
    })
    .await;
    result.unwrap_or_else(|_| Err("the send did not finish".into()))
}
