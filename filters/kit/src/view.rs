//! Read-only access to the request (and response) a stage is looking at.

/// What a stage may read. Implemented by the proxy-wasm adapter (one header-map hostcall per
/// phase, properties fetched on first use) and by [`crate::testing::FakeHost`].
pub trait RequestView {
    /// Value of a request header (lowercase name; pseudo-headers like `:path` included).
    /// Only in the request headers phase; afterwards the proxy no longer has the map.
    fn header(&self, name: &str) -> Option<&str>;
    /// All request headers of the current phase, in order.
    fn headers(&self) -> &[(String, String)];
    /// Value of a response header, in the response headers phase.
    fn response_header(&self, name: &str) -> Option<&str>;
    /// Raw bytes of an Envoy attribute (`source.address`, `connection.uri_san_peer_certificate`,
    /// ...); `None` when absent.
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// The buffered body of the current body phase (whole, at end of stream).
    fn body(&self) -> Option<&[u8]>;
}
