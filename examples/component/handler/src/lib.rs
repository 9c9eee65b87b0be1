//! A `wasi:http` handler component for `examples/component`: a customers API whose answers
//! carry personal data (for Warden's masking to hide) and say which identity headers reached
//! it (for Warden's identity stage to set).
#![cfg_attr(not(target_arch = "wasm32"), allow(unused))]

#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../filters/kit-component/wit",
        world: "wasi:http/proxy@0.2.0",
        generate_all,
    });
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod handler {
    use super::bindings::exports::wasi::http::incoming_handler::Guest;
    use super::bindings::wasi::http::types::{
        Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
    };

    struct Customers;

    /// The answer to a request: status, content type and body.
    fn answer(method: &Method, path: &str, headers: &[(String, Vec<u8>)]) -> (u16, &'static str, String) {
        let header =
            |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        match (method, path.split('?').next().unwrap_or_default()) {
            (Method::Get, path) if path.starts_with("/customers/") => {
                let id = path.trim_start_matches("/customers/");
                let body = serde_json::json!({
                    "id": id, "name": "Ada Lovelace", "email": "ada@example.com",
                    "ssn": "078-05-1120", "card": "4111 1111 1111 1111",
                    "served_for": header("x-warden-subject"),
                });
                (200, "application/json", body.to_string())
            }
            (_, "/health") => (200, "text/plain", "ok\n".into()),
            (_, path) => (404, "text/plain", format!("no route for {path}\n")),
        }
    }

    impl Guest for Customers {
        fn handle(request: IncomingRequest, out: ResponseOutparam) {
            let path = request.path_with_query().unwrap_or_else(|| "/".into());
            let (status, content_type, body) = answer(&request.method(), &path, &request.headers().entries());
            let headers = Fields::new();
            let _ = headers.append("content-type", content_type.as_bytes());
            let _ = headers.append("content-length", body.len().to_string().as_bytes());
            let response = OutgoingResponse::new(headers);
            let _ = response.set_status_code(status);
            let Ok(outgoing) = response.body() else { return };
            ResponseOutparam::set(out, Ok(response));
            if let Ok(stream) = outgoing.write() {
                for piece in body.as_bytes().chunks(4096) {
                    if stream.blocking_write_and_flush(piece).is_err() {
                        break;
                    }
                }
            }
            let _ = OutgoingBody::finish(outgoing, None);
        }
    }

    super::bindings::export!(Customers with_types_in super::bindings);
}
