//! What a browser does on the approval pages, as plain HTTP for the tour: follow redirects by
//! hand, keep cookies, read a form's hidden fields and post it. Cookie attributes are not
//! enforced (every URL here is on 127.0.0.1).

use anyhow::Context;
use std::collections::BTreeMap;
use std::time::Duration;

/// One person's browser: their cookies.
#[derive(Default)]
pub struct Browser {
    cookies: BTreeMap<String, String>,
}

/// A page as fetched: status, `location` (for redirects) and body.
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Where a redirect points (absolute, resolved against the request's origin).
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

fn origin(url: &str) -> &str {
    let rest = url.split_once("://").map_or(0, |(scheme, _)| scheme.len() + 3);
    url[rest..].find('/').map_or(url, |slash| &url[..rest + slash])
}

impl Browser {
    fn agent() -> ureq::Agent {
        warden_service_shared::http_client::agent_with(Some(Duration::from_secs(10)), 0)
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn read(&mut self, url: &str, response: ureq::http::Response<ureq::Body>) -> anyhow::Result<Page> {
        for value in response.headers().get_all("set-cookie") {
            let Some((name, rest)) = value.to_str().ok().and_then(|v| v.split_once('=')) else { continue };
            let value = rest.split(';').next().unwrap_or("");
            let expired = rest.to_ascii_lowercase().contains("max-age=0");
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), value.to_string());
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(|l| {
            if l.starts_with('/') {
                format!("{}{l}", origin(url))
            } else {
                l.to_string()
            }
        });
        let body = response.into_body().read_to_string().unwrap_or_default();
        Ok(Page { status, location, body })
    }

    /// `GET url`, without following a redirect.
    pub fn get(&mut self, url: &str) -> anyhow::Result<Page> {
        let response = Self::agent()
            .get(url)
            .header("cookie", &self.cookie_header())
            .call()
            .with_context(|| format!("GET {url}"))?;
        self.read(url, response)
    }

    /// `GET url`, following up to 8 redirects.
    pub fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        let mut page = self.get(url)?;
        for _ in 0..8 {
            match (page.status, page.location.clone()) {
                (300..=399, Some(next)) => page = self.get(&next)?,
                _ => break,
            }
        }
        Ok(page)
    }

    /// Posts a form (`application/x-www-form-urlencoded`), without following a redirect.
    pub fn post(&mut self, url: &str, fields: &[(String, String)]) -> anyhow::Result<Page> {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let response = Self::agent()
            .post(url)
            .header("cookie", &self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        self.read(url, response)
    }
}

/// Percent-encodes a form or query value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// The `name`/`value` pairs of a page's hidden inputs, in order.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, attribute(tag, "value").unwrap_or_default())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_are_read_in_order_and_unescaped() {
        let html = r#"<form><input type="hidden" name="state" value="a&amp;b"><input name="reason">
            <input type="hidden" name="csrf" value="x-1"></form>"#;
        assert_eq!(hidden_fields(html), vec![("state".into(), "a&b".into()), ("csrf".into(), "x-1".into())]);
    }

    #[test]
    fn a_relative_redirect_resolves_against_the_origin() {
        assert_eq!(origin("http://127.0.0.1:8731/ui/login?next=/ui"), "http://127.0.0.1:8731");
        assert_eq!(origin("http://127.0.0.1:8731"), "http://127.0.0.1:8731");
    }
}
