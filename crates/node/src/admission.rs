//! Admission: joblite is its own scheduler for its one node.
//!
//! A pod fits when the requests of the pods already admitted (and not yet
//! terminal) plus its own stay within allocatable CPU and memory, as the
//! scheduler's `NodeResourcesFit` filter decides
//! (`pkg/scheduler/framework/plugins/noderesources/fit.go`). A pod's request
//! is the larger of its app containers' sum and its largest init container
//! (`pkg/api/v1/resource/helpers.go` `PodRequests`).

use k8s_openapi::api::core::v1::{Container, PodSpec};

use api::quantity::{parse_quantity, quantity_to_bytes, quantity_to_millis};

/// CPU (millicores) and memory (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
}

impl Resources {
    pub fn add(&mut self, o: Resources) {
        self.cpu_millis += o.cpu_millis;
        self.memory_bytes += o.memory_bytes;
    }
    pub fn sub(&mut self, o: Resources) {
        self.cpu_millis -= o.cpu_millis;
        self.memory_bytes -= o.memory_bytes;
    }
}

fn container_requests(c: &Container) -> Resources {
    let res = c.resources.as_ref();
    let get = |name: &str| -> Option<&str> {
        // Requests default to limits (API defaulting does the same).
        res.and_then(|r| r.requests.as_ref())
            .and_then(|m| m.get(name))
            .or_else(|| {
                res.and_then(|r| r.limits.as_ref())
                    .and_then(|m| m.get(name))
            })
            .map(|q| q.0.as_str())
    };
    Resources {
        cpu_millis: get("cpu")
            .and_then(|s| parse_quantity(s).ok()?.millis())
            .unwrap_or(0),
        memory_bytes: get("memory")
            .and_then(|s| parse_quantity(s).ok()?.value())
            .unwrap_or(0),
    }
}

/// The pod's effective request.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let mut sum = Resources::default();
    for c in &spec.containers {
        sum.add(container_requests(c));
    }
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        sum.cpu_millis = sum.cpu_millis.max(r.cpu_millis);
        sum.memory_bytes = sum.memory_bytes.max(r.memory_bytes);
    }
    if let Some(overhead) = &spec.overhead {
        if let Some(q) = overhead.get("cpu").and_then(quantity_to_millis) {
            sum.cpu_millis += q;
        }
        if let Some(q) = overhead.get("memory").and_then(quantity_to_bytes) {
            sum.memory_bytes += q;
        }
    }
    sum
}

/// Why a pod does not fit, in the scheduler's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    pub insufficient: Vec<&'static str>,
}

impl Unfit {
    /// The `PodScheduled=False` message and the FailedScheduling event text:
    /// `0/1 nodes are available: 1 Insufficient cpu.`
    pub fn message(&self) -> String {
        let parts: Vec<String> = self
            .insufficient
            .iter()
            .map(|r| format!("1 Insufficient {r}"))
            .collect();
        format!("0/1 nodes are available: {}.", parts.join(", "))
    }
}

/// Checks a pod's request against what is left.
pub fn fits(allocatable: Resources, allocated: Resources, request: Resources) -> Result<(), Unfit> {
    let mut insufficient = Vec::new();
    if request.cpu_millis > 0 && allocated.cpu_millis + request.cpu_millis > allocatable.cpu_millis
    {
        insufficient.push("cpu");
    }
    if request.memory_bytes > 0
        && allocated.memory_bytes + request.memory_bytes > allocatable.memory_bytes
    {
        insufficient.push("memory");
    }
    if insufficient.is_empty() {
        Ok(())
    } else {
        Err(Unfit { insufficient })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn requests_sum_apps_and_take_the_largest_init() {
        let s = spec(serde_json::json!({
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3", "memory": "1Mi"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
            ]
        }));
        assert_eq!(
            pod_requests(&s),
            Resources {
                cpu_millis: 3000,
                memory_bytes: 2 << 30
            }
        );
    }

    #[test]
    fn fit_reports_each_insufficient_resource() {
        let alloc = Resources {
            cpu_millis: 2000,
            memory_bytes: 1000,
        };
        let cases = [
            (
                Resources {
                    cpu_millis: 0,
                    memory_bytes: 0,
                },
                Resources {
                    cpu_millis: 2000,
                    memory_bytes: 1000,
                },
                Ok(()),
            ),
            (
                Resources {
                    cpu_millis: 1500,
                    memory_bytes: 0,
                },
                Resources {
                    cpu_millis: 600,
                    memory_bytes: 0,
                },
                Err(vec!["cpu"]),
            ),
            (
                Resources {
                    cpu_millis: 0,
                    memory_bytes: 0,
                },
                Resources {
                    cpu_millis: 3000,
                    memory_bytes: 2000,
                },
                Err(vec!["cpu", "memory"]),
            ),
            // Pods without requests always fit, as upstream.
            (
                Resources {
                    cpu_millis: 5000,
                    memory_bytes: 5000,
                },
                Resources::default(),
                Ok(()),
            ),
        ];
        for (used, req, want) in cases {
            let got = fits(alloc, used, req).map_err(|u| u.insufficient);
            assert_eq!(got, want, "{used:?} {req:?}");
        }
        let u = Unfit {
            insufficient: vec!["cpu", "memory"],
        };
        assert_eq!(
            u.message(),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
        );
    }
}
