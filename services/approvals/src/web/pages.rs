//! The web pages, server-rendered (maud escapes every value it writes). Plain HTML forms: the
//! pages work without JavaScript; every control is labelled and reachable by keyboard.

use crate::core::approval::{Approval, Status};
use crate::core::approver::{may_vote, Approver};
use maud::{html, Markup, DOCTYPE};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1b1b1b}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
code{background:#f3f3f3;padding:0 .2rem}.notice{padding:.6rem;border-left:4px solid #b35900;background:#fff4e5}\
.status{font-weight:bold}pre.preview{white-space:pre-wrap;background:#f6f6f6;padding:.6rem;max-height:20rem;overflow:auto}form.decide{margin-top:1rem;padding:.8rem;border:1px solid #ccc}\
label{display:block;margin:.4rem 0 .2rem}textarea{width:100%;min-height:3rem}button{margin:.4rem .4rem 0 0;padding:.4rem 1rem}\
:focus{outline:3px solid #1a5fb4}";

/// `2026-11-26 10:42:07Z`.
pub fn time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The page frame: title, who is signed in (with a logout form), content.
pub fn layout(title: &str, who: Option<(&Approver, &str)>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Warden approvals" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    p { a href="/ui" { "Warden approvals" } }
                    @if let Some((person, csrf)) = who {
                        form method="post" action="/ui/logout" {
                            span { "Signed in as " strong { (person.subject) } " " }
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

fn requester_line(approval: &Approval) -> Markup {
    let r = &approval.requester;
    html! {
        @for actor in &r.actors { (actor.subject) " acting for " }
        strong { (r.subject) }
    }
}

fn action_line(approval: &Approval) -> Markup {
    let a = &approval.action;
    html! {
        code { (a.method) " " (a.authority) (a.path) }
        @if let Some(tool) = &a.tool { " · tool " code { (tool) } }
    }
}

/// The inbox: what this person may decide now, and what they asked for.
pub fn inbox(person: &Approver, csrf: &str, to_decide: &[Approval], mine: &[Approval]) -> Markup {
    let table = |rows: &[Approval]| {
        html! {
            table {
                thead { tr { th { "Approval" } th { "Requester" } th { "Action" } th { "Rule" } th { "Decide by" } } }
                tbody {
                    @for a in rows {
                        tr {
                            td { a href={ "/ui/approvals/" (a.id) } { (a.id) } }
                            td { (requester_line(a)) }
                            td { (action_line(a)) }
                            td { (a.action.rules.join(", ")) }
                            td { (time(a.decide_by)) }
                        }
                    }
                }
            }
        }
    };
    layout(
        "Inbox",
        Some((person, csrf)),
        html! {
            h1 { "Waiting for you" }
            @if to_decide.is_empty() { p { "Nothing is waiting for your decision." } } @else { (table(to_decide)) }
            @if !mine.is_empty() {
                h2 { "Asked by you" }
                (table(mine))
            }
        },
    )
}

/// What this person may do on this approval's page.
pub enum Standing {
    /// They may approve or deny it now.
    MayDecide,
    /// They may decide, but must sign in again first (step-up: their login is older than
    /// `max_auth_age`).
    MustSignInAgain(u64),
    /// They may not decide it: why.
    MayNot(String),
}

/// What `person` may do on `approval` at `now`; `max_auth_age` is the step-up bound (None:
/// none) and `auth_time` their login's.
pub fn standing(
    person: &Approver,
    approval: &Approval,
    now: u64,
    auth_time: u64,
    max_auth_age: Option<u64>,
) -> Standing {
    if approval.status_at(now) != Status::Pending {
        return Standing::MayNot("This approval is no longer pending.".into());
    }
    if approval.votes.iter().any(|v| v.subject == person.subject) {
        return Standing::MayNot("You have already voted on this approval.".into());
    }
    match may_vote(person, approval) {
        Err(why) => Standing::MayNot(format!("You cannot decide this request: {why}.")),
        Ok(_) => match [max_auth_age, approval.requirement.max_auth_age_secs].into_iter().flatten().min() {
            Some(max) if now.saturating_sub(auth_time) > max => Standing::MustSignInAgain(max),
            _ => Standing::MayDecide,
        },
    }
}

/// One approval in full, with the decision form when the person may decide it.
pub fn approval_page(
    person: &Approver,
    csrf: &str,
    approval: &Approval,
    history: &[crate::core::event::Event],
    now: u64,
    standing: &Standing,
) -> Markup {
    let a = &approval.action;
    let r = &approval.requirement;
    let digest = approval.digest.get(..19).unwrap_or(&approval.digest);
    layout(
        &approval.id,
        Some((person, csrf)),
        html! {
            h1 { "Approval " code { (approval.id) } }
            p { "Status: " span.status { (format!("{:?}", approval.status_at(now)).to_lowercase()) } }
            table {
                tr { th scope="row" { "Requested by" } td { (requester_line(approval)) " (" (approval.requester.issuer) ")" } }
                tr { th scope="row" { "Action" } td { (action_line(approval)) } }
                @if !a.arguments.is_empty() {
                    tr { th scope="row" { "Tool arguments" } td { (a.arguments.join(", ")) } }
                }
                @if let Some(sql) = &a.sql {
                    tr { th scope="row" { "SQL" } td { (warden_kit::facts::SqlClass::join(&sql.classes, ", ")) " on " (sql.tables.join(", ")) } }
                }
                tr { th scope="row" { "Rule" } td { (a.rules.join(", ")) } }
                tr { th scope="row" { "Why it needs approval" } td { @for reason in &a.reasons { (reason) br; } } }
                tr { th scope="row" { "Approvers" } td {
                    @if !r.groups.is_empty() { "groups " (r.groups.join(", ")) " " }
                    @if !r.users.is_empty() { "users " (r.users.join(", ")) " " }
                    "· " (r.min_approvals) " needed"
                } }
                tr { th scope="row" { "Action digest" } td { code { (digest) "…" } } }
                tr { th scope="row" { "Policy" } td { code { (a.policy.get(..19).unwrap_or(&a.policy)) "…" } } }
                tr { th scope="row" { "Asked at" } td { (time(approval.created_at)) } }
                tr { th scope="row" { "Decide by" } td { (time(approval.decide_by)) } }
                @if let Some(at) = approval.decided_at { tr { th scope="row" { "Decided at" } td { (time(at)) } } }
                @if let Some(at) = approval.use_by { tr { th scope="row" { "Use by" } td { (time(at)) } } }
            }
            @if let Some(body) = &a.body {
                h2 { "Request body (masked)" }
                @if !a.body_masked.is_empty() {
                    p { "Hidden: " (a.body_masked.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")) }
                }
                pre.preview { (body) @if a.body_truncated { "\n…" } }
            }
            h2 { "Votes" }
            @if approval.votes.is_empty() { p { "No votes yet." } }
            ul {
                @for v in &approval.votes {
                    li {
                        strong { (v.subject) } " " (format!("{:?}", v.decision).to_lowercase()) "d at " (time(v.at))
                        @if v.forced { " (break-glass)" }
                        @if let Some(reason) = &v.reason { ": " (reason) }
                    }
                }
            }
            h2 { "History" }
            table {
                thead { tr { th { "When" } th { "What" } th { "Who" } th { "Channel" } } }
                tbody {
                    @for e in history {
                        tr {
                            td { (time(e.at)) }
                            td { (e.kind.as_str().replace('_', " ")) }
                            td { (e.actor) }
                            td { (e.detail.get("channel").and_then(|c| c.as_str()).unwrap_or("")) }
                        }
                    }
                }
            }
            @match standing {
                Standing::MayDecide => {
                    form.decide method="post" action={ "/ui/approvals/" (approval.id) } {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="reason" { "Reason (required to deny)" }
                        textarea id="reason" name="reason" {}
                        button type="submit" name="decision" value="approve" { "Approve" }
                        button type="submit" name="decision" value="deny" { "Deny" }
                    }
                }
                Standing::MustSignInAgain(max) => {
                    p.notice { "This rule asks for a recent sign-in (within " (max) " seconds) before deciding. " }
                    a href={ "/ui/login?fresh=1&next=/ui/approvals/" (approval.id) } { "Sign in again to decide" }
                }
                Standing::MayNot(why) => { p.notice role="status" { (why) } }
            }
        },
    )
}

/// A page that only says something (errors, signed out).
pub fn message(title: &str, text: &str) -> Markup {
    layout(title, None, html! { h1 { (title) } p { (text) } p { a href="/ui" { "Back to the inbox" } } })
}

/// After login: a same-site step to the inbox, so the `SameSite=Strict` session cookie is
/// sent (a redirect chain that began at the provider is cross-site).
pub fn continue_to(next: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content={ "0;url=" (next) };
                title { "Signed in · Warden approvals" }
            }
            body { p { "Signed in. " a href=(next) { "Continue" } } }
        }
    }
}
