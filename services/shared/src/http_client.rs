//! The blocking HTTP client every service and the CLI use (ureq, rustls): an answer of any
//! status is an answer to read, not an error, and a call has an overall deadline.

use std::time::Duration;

/// An agent whose calls give up after `timeout` (`None`: no overall deadline, for a person's
/// terminal), which follows up to `redirects` redirects and reads 4xx and 5xx answers as
/// answers.
pub fn agent_with(timeout: Option<Duration>, redirects: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(redirects)
        .timeout_global(timeout)
        .build()
        .into()
}

/// [`agent_with`] following redirects as ureq does by default (10).
pub fn agent(timeout: Option<Duration>) -> ureq::Agent {
    agent_with(timeout, 10)
}
