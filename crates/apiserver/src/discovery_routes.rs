//! Discovery endpoints: aggregated (v2, v2beta1) when the Accept header asks
//! for it, with the exact Content-Type clients check, legacy otherwise.

use api::status::ApiError;
use http::StatusCode;

use crate::discovery::{self, DiscoveryFormat};
use crate::respond::{self, Resp};

fn aggregated(accept: &str, core: bool) -> Option<Resp> {
    let format = discovery::negotiate_discovery(accept);
    let (ct, version) = match format {
        DiscoveryFormat::V2 => (discovery::CONTENT_TYPE_V2, "v2"),
        DiscoveryFormat::V2Beta1 => (discovery::CONTENT_TYPE_V2BETA1, "v2beta1"),
        DiscoveryFormat::Legacy => return None,
    };
    let doc = if core {
        discovery::aggregated_core(version)
    } else {
        discovery::aggregated_groups(version)
    };
    Some(respond::bytes(
        StatusCode::OK,
        ct,
        serde_json::to_vec(&doc).unwrap_or_default(),
    ))
}

pub(crate) fn core(accept: &str, server_address: &str) -> Resp {
    aggregated(accept, true)
        .unwrap_or_else(|| respond::json(StatusCode::OK, &discovery::api_versions(server_address)))
}

pub(crate) fn groups(accept: &str) -> Resp {
    aggregated(accept, false)
        .unwrap_or_else(|| respond::json(StatusCode::OK, &discovery::api_group_list()))
}

pub(crate) fn group(group: &str) -> Result<Resp, ApiError> {
    discovery::api_group(group)
        .map(|g| respond::json(StatusCode::OK, &g))
        .ok_or_else(crate::respond::not_found_generic)
}

pub(crate) fn group_version(group: &str, version: &str) -> Result<Resp, ApiError> {
    discovery::api_resource_list(group, version)
        .map(|g| respond::json(StatusCode::OK, &g))
        .ok_or_else(crate::respond::not_found_generic)
}
