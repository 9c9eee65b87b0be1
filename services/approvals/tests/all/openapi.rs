//! The OpenAPI document is generated from the API's types: `components.schemas` is exactly
//! what `warden_kit::approval_api`'s types derive, so the document, the service, the approval
//! stage and the CLI cannot drift apart. After changing a type, regenerate the document with
//! `WARDEN_BLESS=1 cargo test -p warden-approval-service --test all openapi` and review the diff.

use schemars::generate::SchemaSettings;
use schemars::transform::{transform_subschemas, Transform};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use warden_approval_service::http::OPENAPI;
use warden_kit::approval_api as api;

/// An enum of documented unit variants is derived as `oneOf` one-value schemas, each with its
/// description; the document shows it as one `enum` (the descriptions joined), which is what
/// OpenAPI tools and the contract test read.
#[derive(Clone)]
struct EnumsAsEnum;

impl Transform for EnumsAsEnum {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(variants) = schema.get("oneOf").and_then(Value::as_array) else { return };
        let mut values = Vec::new();
        let mut lines = Vec::new();
        for variant in variants {
            let single = variant.get("enum").and_then(Value::as_array).filter(|e| e.len() == 1);
            let Some(value) = single.and_then(|e| e[0].as_str()) else { return };
            values.push(json!(value));
            if let Some(description) = variant.get("description").and_then(Value::as_str) {
                lines.push(format!("`{value}`: {description}"));
            }
        }
        let mut description: Vec<String> =
            schema.get("description").and_then(Value::as_str).map(str::to_string).into_iter().collect();
        description.extend(lines);
        schema.remove("oneOf");
        schema.insert("type".into(), json!("string"));
        schema.insert("enum".into(), Value::Array(values));
        schema.insert("description".into(), json!(description.join("\n")));
    }
}

/// The document's schemas, from the types.
fn schemas() -> Map<String, Value> {
    let mut settings = SchemaSettings::openapi3();
    settings.transforms.push(Box::new(EnumsAsEnum));
    let mut generator = SchemaGenerator::new(settings);
    fn add<T: JsonSchema>(generator: &mut SchemaGenerator) {
        generator.subschema_for::<T>();
    }
    add::<api::CreateApproval>(&mut generator);
    add::<api::ApprovalView>(&mut generator);
    add::<api::ApprovalList>(&mut generator);
    add::<api::DecideBody>(&mut generator);
    add::<api::ForceBody>(&mut generator);
    add::<api::ConsumeRequest>(&mut generator);
    add::<api::Consumed>(&mut generator);
    add::<api::ErrorBody>(&mut generator);
    add::<api::EventList>(&mut generator);
    generator.take_definitions(true)
}

#[test]
fn the_document_is_generated_from_the_api_types() {
    let mut document: Value = serde_json::from_str(OPENAPI).unwrap();
    let committed = document.clone();
    document["components"]["schemas"] = Value::Object(schemas());
    // Every schema a path names exists.
    let text = serde_json::to_string(&document["paths"]).unwrap();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(document["components"]["schemas"].get(name).is_some(), "the paths name {name}, which no type derives");
    }
    if std::env::var_os("WARDEN_BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/openapi.json");
        std::fs::write(path, serde_json::to_string_pretty(&document).unwrap() + "\n").unwrap();
        return;
    }
    assert!(
        committed == document,
        "src/http/openapi.json is not what the API's types derive: run \
         `WARDEN_BLESS=1 cargo test -p warden-approval-service --test all openapi` and review the diff"
    );
}
