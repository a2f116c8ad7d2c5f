//! Request-body decoding as the fuzz targets (`fuzz/`) and their stable
//! replay drive it. Not API: one hidden entry point, so the body module
//! stays private to the crate.

use api::status::ApiError;

use crate::body::{self, FieldIssues, FieldValidation};

/// Decodes `body` as a request with `content_type` would be (JSON, YAML or
/// Kubernetes protobuf), then into the typed object of every kind in the
/// registry under `fieldValidation=Strict`, and as a JSON patch document.
/// Returns the error of the body decoder, if any.
#[doc(hidden)]
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let (value, issues) = body::decode(content_type, body)?;
    let _ = serde_json::from_value::<json_patch::Patch>(value.clone());
    if value.is_object() {
        for info in api::resources::ALL {
            let issues = FieldIssues {
                duplicates: issues.duplicates.clone(),
                unknown: Vec::new(),
            };
            if let Err(e) = body::decode_value(info, value.clone(), issues, FieldValidation::Strict)
            {
                // Every refusal is a client error.
                assert!((400..500).contains(&e.code()), "{e:?}");
            }
        }
    }
    Ok(())
}
