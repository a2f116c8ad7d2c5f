//! kubectl's `describe` layout, for `joblite describe` of any kind.
//!
//! A port of the parts of `staging/src/k8s.io/kubectl/pkg/describe/describe.go`
//! that joblite's kinds use (`describeJob`, `describePod`,
//! `DescribePodTemplate`, `describeContainers`, `DescribeEvents`, and the
//! generic describer), written through Go's tabwriter settings
//! (`tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)`) so the columns line up the
//! same way. Each kind's strategy picks its describer; the helpers here are
//! shared by all of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, Event, Pod, PodTemplateSpec, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, MicroTime, ObjectMeta, Time};

use crate::table::human_duration;

const MAX_ANNOTATION_LEN: usize = 140;
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// kubectl's PrefixWriter: two spaces per level, tab-separated cells.
#[derive(Default)]
pub struct Out {
    text: String,
}

impl Out {
    /// Writes `s` indented by `level`.
    pub fn w(&mut self, level: usize, s: &str) {
        for _ in 0..level {
            self.text.push_str("  ");
        }
        self.text.push_str(s);
    }

    /// The aligned text (Go's tabwriter with describe's settings).
    pub fn aligned(&self) -> String {
        tabbed(&self.text)
    }
}

/// `describe.tabbedString`: minwidth 0, padding 2, spaces. The `tabwriter`
/// crate ports Go's `text/tabwriter` column blocks (lines that share a
/// tab-terminated cell), so the text matches kubectl's byte for byte (its
/// minimum width excludes the padding where Go's includes it, which makes
/// no difference at 0).
pub fn tabbed(text: &str) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(0).padding(2);
    let _ = tw.write_all(text.as_bytes());
    let bytes = tw.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// `metav1.FormatLabelSelector`.
pub fn selector_string(selector: &LabelSelector) -> String {
    crate::selectors::format_label_selector_value(
        &serde_json::to_value(selector).unwrap_or_default(),
    )
}

/// `time.RFC1123Z` in local time, as kubectl prints timestamps.
fn rfc1123z(seconds: i64, nanos: u32) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(seconds, nanos) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
        }
        chrono::LocalResult::None => String::new(),
    }
}

fn time_str(t: &Time) -> String {
    rfc1123z(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
}

fn millis(t: &Time) -> i64 {
    t.0.as_millisecond()
}

fn human_duration_ms(ms: i64) -> String {
    human_duration(chrono::TimeDelta::milliseconds(ms))
}

fn since(t: Option<&Time>) -> String {
    match t {
        Some(t) => human_duration_ms(chrono::Utc::now().timestamp_millis() - millis(t)),
        None => "<unknown>".into(),
    }
}

fn micro_since(t: Option<&MicroTime>) -> Option<String> {
    t.map(|t| human_duration_ms(chrono::Utc::now().timestamp_millis() - t.0.as_millisecond()))
}

pub fn labels_multiline(out: &mut Out, title: &str, labels: Option<&BTreeMap<String, String>>) {
    out.w(0, &format!("{title}:\t"));
    let labels = labels.filter(|l| !l.is_empty());
    let Some(labels) = labels else {
        out.w(0, "<none>\n");
        return;
    };
    for (i, (k, v)) in labels.iter().enumerate() {
        if i != 0 {
            out.w(0, "\t");
        }
        out.w(0, &format!("{k}={v}\n"));
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}...", s.chars().take(max).collect::<String>())
    } else {
        s.to_string()
    }
}

pub fn annotations_multiline(
    out: &mut Out,
    title: &str,
    annotations: Option<&BTreeMap<String, String>>,
) {
    out.w(0, &format!("{title}:\t"));
    let keys: Vec<(&String, &String)> = annotations
        .map(|a| {
            a.iter()
                .filter(|(k, _)| k.as_str() != LAST_APPLIED)
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        out.w(0, "<none>\n");
        return;
    }
    for (i, (key, value)) in keys.into_iter().enumerate() {
        if i != 0 {
            out.w(0, "\t");
        }
        let value = value.strip_suffix('\n').unwrap_or(value);
        if value.len() + key.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
            out.w(0, &format!("{key}:\n"));
            for s in value.split('\n') {
                out.w(0, &format!("\t  {}\n", shorten(s, MAX_ANNOTATION_LEN - 2)));
            }
        } else {
            out.w(0, &format!("{key}: {value}\n"));
        }
    }
}

fn tolerations_multiline(out: &mut Out, title: &str, tolerations: &[Toleration]) {
    out.w(0, &format!("{title}:\t"));
    if tolerations.is_empty() {
        out.w(0, "<none>\n");
        return;
    }
    for (i, t) in tolerations.iter().enumerate() {
        if i != 0 {
            out.w(0, "\t");
        }
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        let effect = t.effect.clone().unwrap_or_default();
        let mut s = key.clone();
        if !value.is_empty() {
            let _ = write!(s, "={value}");
        }
        if !effect.is_empty() {
            let _ = write!(s, ":{effect}");
        }
        if t.operator.as_deref() == Some("Exists") && value.is_empty() {
            s.push_str(if !key.is_empty() || !effect.is_empty() {
                " op=Exists"
            } else {
                "op=Exists"
            });
        }
        if let Some(secs) = t.toleration_seconds {
            let _ = write!(s, " for {secs}s");
        }
        out.w(0, &format!("{s}\n"));
    }
}

fn describe_state(out: &mut Out, name: &str, state: Option<&ContainerState>) {
    let state = state.cloned().unwrap_or_default();
    if let Some(r) = &state.running {
        out.w(2, &format!("{name}:\tRunning\n"));
        let started = r.started_at.as_ref().map(time_str).unwrap_or_default();
        out.w(3, &format!("Started:\t{started}\n"));
    } else if let Some(w) = &state.waiting {
        out.w(2, &format!("{name}:\tWaiting\n"));
        if let Some(reason) = w.reason.as_ref().filter(|r| !r.is_empty()) {
            out.w(3, &format!("Reason:\t{reason}\n"));
        }
    } else if let Some(t) = &state.terminated {
        out.w(2, &format!("{name}:\tTerminated\n"));
        if let Some(reason) = t.reason.as_ref().filter(|r| !r.is_empty()) {
            out.w(3, &format!("Reason:\t{reason}\n"));
        }
        if let Some(message) = t.message.as_ref().filter(|m| !m.is_empty()) {
            out.w(3, &format!("Message:\t{message}\n"));
        }
        out.w(3, &format!("Exit Code:\t{}\n", t.exit_code));
        if let Some(signal) = t.signal.filter(|s| *s > 0) {
            out.w(3, &format!("Signal:\t{signal}\n"));
        }
        let started = t.started_at.as_ref().map(time_str).unwrap_or_default();
        let finished = t.finished_at.as_ref().map(time_str).unwrap_or_default();
        out.w(3, &format!("Started:\t{started}\n"));
        out.w(3, &format!("Finished:\t{finished}\n"));
    } else {
        out.w(2, &format!("{name}:\tWaiting\n"));
    }
}

fn describe_containers(
    out: &mut Out,
    label: &str,
    containers: &[Container],
    statuses: &[ContainerStatus],
    space: &str,
) {
    let none = if containers.is_empty() { " <none>" } else { "" };
    out.w(0, &format!("{space}{label}:{none}\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for c in containers {
        let status = statuses.iter().find(|s| s.name == c.name);
        out.w(1, &format!("{name_indent}{}:\n", c.name));
        if let Some(s) = status {
            let id = s.container_id.clone().unwrap_or_default();
            out.w(2, &format!("Container ID:\t{id}\n"));
        }
        out.w(
            2,
            &format!("Image:\t{}\n", c.image.clone().unwrap_or_default()),
        );
        if let Some(s) = status {
            out.w(2, &format!("Image ID:\t{}\n", s.image_id));
        }
        let ports: Vec<String> = c
            .ports
            .iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.container_port,
                    p.protocol.clone().unwrap_or("TCP".into())
                )
            })
            .collect();
        let host_ports: Vec<String> = c
            .ports
            .iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.host_port.unwrap_or(0),
                    p.protocol.clone().unwrap_or("TCP".into())
                )
            })
            .collect();
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "<none>".to_string()
            } else {
                v.join(", ")
            }
        };
        if ports.len() > 1 {
            out.w(2, &format!("Ports:\t{}\n", ports.join(", ")));
        } else {
            out.w(2, &format!("Port:\t{}\n", or_none(&ports)));
        }
        if host_ports.len() > 1 {
            out.w(2, &format!("Host Ports:\t{}\n", host_ports.join(", ")));
        } else {
            out.w(2, &format!("Host Port:\t{}\n", or_none(&host_ports)));
        }
        for (title, words) in [("Command", &c.command), ("Args", &c.args)] {
            if let Some(words) = words.as_ref().filter(|w| !w.is_empty()) {
                out.w(2, &format!("{title}:\n"));
                for word in words {
                    for line in word.split('\n') {
                        out.w(3, &format!("{line}\n"));
                    }
                }
            }
        }
        if let Some(s) = status {
            describe_state(out, "State", s.state.as_ref());
            if s.last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some())
            {
                describe_state(out, "Last State", s.last_state.as_ref());
            }
            out.w(
                2,
                &format!("Ready:\t{}\n", if s.ready { "True" } else { "False" }),
            );
            out.w(2, &format!("Restart Count:\t{}\n", s.restart_count));
        }
        if let Some(res) = &c.resources {
            for (title, map) in [("Limits", &res.limits), ("Requests", &res.requests)] {
                if let Some(map) = map.as_ref().filter(|m| !m.is_empty()) {
                    out.w(2, &format!("{title}:\n"));
                    for (k, v) in map {
                        out.w(3, &format!("{k}:\t{}\n", v.0));
                    }
                }
            }
        }
        // `describeContainerEnvFrom`, only when there is an envFrom.
        if let Some(from) = c.env_from.as_ref().filter(|f| !f.is_empty()) {
            out.w(2, "Environment Variables from:\n");
            for e in from {
                let (name, kind, optional) = match (&e.config_map_ref, &e.secret_ref) {
                    (Some(r), _) => (r.name.as_str(), "ConfigMap", r.optional),
                    (None, Some(r)) => (r.name.as_str(), "Secret", r.optional),
                    (None, None) => ("", "", None),
                };
                let optional = optional.unwrap_or(false);
                match e.prefix.as_deref().filter(|p| !p.is_empty()) {
                    None => out.w(3, &format!("{name}\t{kind}\tOptional: {optional}\n")),
                    Some(p) => out.w(
                        3,
                        &format!("{name}\t{kind} with prefix '{p}'\tOptional: {optional}\n"),
                    ),
                }
            }
        }
        let env = c.env.clone().unwrap_or_default();
        out.w(
            2,
            &format!(
                "Environment:{}\n",
                if env.is_empty() { "\t<none>" } else { "" }
            ),
        );
        for e in &env {
            match &e.value_from {
                None => {
                    let value = e.value.clone().unwrap_or_default();
                    for (i, line) in value.split('\n').enumerate() {
                        if i == 0 {
                            out.w(3, &format!("{}:\t{line}\n", e.name));
                        } else {
                            out.w(3, &format!("\t{line}\n"));
                        }
                    }
                }
                Some(from) => {
                    if let Some(f) = &from.field_ref {
                        let api_version = f.api_version.clone().unwrap_or_default();
                        out.w(
                            3,
                            &format!("{}:\t ({api_version}:{})\n", e.name, f.field_path),
                        );
                    } else if let Some(s) = &from.secret_key_ref {
                        out.w(
                            3,
                            &format!(
                                "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {}\n",
                                e.name,
                                s.key,
                                s.name,
                                s.optional.unwrap_or(false)
                            ),
                        );
                    } else if let Some(s) = &from.config_map_key_ref {
                        out.w(
                            3,
                            &format!(
                                "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {}\n",
                                e.name,
                                s.key,
                                s.name,
                                s.optional.unwrap_or(false)
                            ),
                        );
                    } else {
                        out.w(
                            3,
                            &format!("{}:\t<set from a source joblite cannot show>\n", e.name),
                        );
                    }
                }
            }
        }
        let mut mounts = c.volume_mounts.clone().unwrap_or_default();
        out.w(
            2,
            &format!(
                "Mounts:{}\n",
                if mounts.is_empty() { "\t<none>" } else { "" }
            ),
        );
        mounts.sort_by(|a, b| a.mount_path.cmp(&b.mount_path));
        for m in mounts {
            let mut flags = vec![if m.read_only.unwrap_or(false) {
                "ro".to_string()
            } else {
                "rw".to_string()
            }];
            if let Some(sub) = m.sub_path.filter(|s| !s.is_empty()) {
                flags.push(format!("path={sub:?}"));
            }
            out.w(
                3,
                &format!("{} from {} ({})\n", m.mount_path, m.name, flags.join(",")),
            );
        }
    }
}

fn describe_volumes(out: &mut Out, volumes: &[Volume], space: &str) {
    if volumes.is_empty() {
        out.w(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    out.w(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in volumes {
        out.w(1, &format!("{name_indent}{}:\n", v.name));
        if let Some(e) = &v.empty_dir {
            let limit = e
                .size_limit
                .as_ref()
                .map(|q| q.0.clone())
                .unwrap_or("<unset>".into());
            out.w(2, &format!("Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{limit}\n", e.medium.clone().unwrap_or_default()));
        } else if let Some(h) = &v.host_path {
            out.w(2, &format!("Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n", h.path, h.type_.clone().unwrap_or_default()));
        } else if let Some(c) = &v.config_map {
            out.w(2, &format!("Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n", c.name, c.optional.unwrap_or(false)));
        } else if let Some(sec) = &v.secret {
            out.w(2, &format!("Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n", sec.secret_name.as_deref().unwrap_or_default(), sec.optional.unwrap_or(false)));
        } else if let Some(d) = &v.downward_api {
            out.w(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n");
            for f in d.items.iter().flatten() {
                if let Some(r) = &f.field_ref {
                    out.w(3, &format!("{} -> {}\n", r.field_path, f.path));
                }
                if let Some(r) = &f.resource_field_ref {
                    out.w(3, &format!("{} -> {}\n", r.resource, f.path));
                }
            }
        } else if let Some(p) = &v.projected {
            out.w(
                2,
                "Type:\tProjected (a volume that contains injected data from multiple sources)\n",
            );
            for src in p.sources.iter().flatten() {
                if let Some(sec) = &src.secret {
                    out.w(
                        2,
                        &format!(
                            "SecretName:\t{}\n    Optional:\t{}\n",
                            sec.name,
                            sec.optional.unwrap_or(false)
                        ),
                    );
                } else if src.downward_api.is_some() {
                    out.w(2, "DownwardAPI:\ttrue\n");
                } else if let Some(c) = &src.config_map {
                    out.w(
                        2,
                        &format!(
                            "ConfigMapName:\t{}\n    Optional:\t{}\n",
                            c.name,
                            c.optional.unwrap_or(false)
                        ),
                    );
                } else if let Some(t) = &src.service_account_token {
                    out.w(
                        2,
                        &format!(
                            "TokenExpirationSeconds:\t{}\n",
                            t.expiration_seconds.unwrap_or(3600)
                        ),
                    );
                }
            }
        } else {
            out.w(2, "<unknown>\n");
        }
    }
}

fn describe_template(out: &mut Out, template: &PodTemplateSpec) {
    out.w(0, "Pod Template:\n");
    let meta = template.metadata.clone().unwrap_or_default();
    labels_multiline(out, "  Labels", meta.labels.as_ref());
    if meta.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
        annotations_multiline(out, "  Annotations", meta.annotations.as_ref());
    }
    let spec = template.spec.clone().unwrap_or_default();
    if let Some(sa) = spec.service_account_name.as_ref().filter(|s| !s.is_empty()) {
        out.w(1, &format!("Service Account:\t{sa}\n"));
    }
    if let Some(init) = spec.init_containers.as_ref().filter(|c| !c.is_empty()) {
        describe_containers(out, "Init Containers", init, &[], "  ");
    }
    describe_containers(out, "Containers", &spec.containers, &[], "  ");
    describe_volumes(out, spec.volumes.as_deref().unwrap_or_default(), "  ");
    if let Some(pc) = spec.priority_class_name.as_ref().filter(|s| !s.is_empty()) {
        out.w(1, &format!("Priority Class Name:\t{pc}\n"));
    }
    labels_multiline(out, "  Node-Selectors", spec.node_selector.as_ref());
    tolerations_multiline(
        out,
        "  Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
}

/// kubectl's events table; returns text to append after a tabwriter flush
/// (or the `Events:\t<none>` line that joins the main block).
pub fn describe_events(out: &mut Out, events: &[Event]) -> String {
    let mut events = events.to_vec();
    if events.is_empty() {
        out.w(0, "Events:\t<none>\n");
        return String::new();
    }
    // event.SortableEvents: by lastTimestamp.
    events.sort_by_key(|e| e.last_timestamp.as_ref().map(millis).unwrap_or(0));
    let mut table = Out::default();
    table.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    table.w(1, "----\t------\t----\t----\t-------\n");
    for e in events {
        let first =
            micro_since(e.event_time.as_ref()).unwrap_or_else(|| since(e.first_timestamp.as_ref()));
        let count = e.count.unwrap_or(0);
        let interval = if let Some(series) = &e.series {
            format!(
                "{} (x{} over {first})",
                micro_since(series.last_observed_time.as_ref()).unwrap_or_default(),
                series.count.unwrap_or(0)
            )
        } else if count > 1 {
            format!(
                "{} (x{count} over {first})",
                since(e.last_timestamp.as_ref())
            )
        } else {
            first
        };
        let source = e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .filter(|c| !c.is_empty())
            .or(e.reporting_component.clone())
            .unwrap_or_default();
        table.w(
            1,
            &format!(
                "{}\t{}\t{interval}\t{source}\t{}\n",
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default().trim()
            ),
        );
    }
    table.aligned()
}

/// kubectl's `capIndexesListOrNone`.
fn cap_indexes(indexes: Option<&str>, max: usize) -> String {
    let Some(s) = indexes.filter(|s| !s.is_empty()) else {
        return "<none>".into();
    };
    if s.len() <= max {
        return s.to_string();
    }
    match s[..max].rfind(',') {
        Some(i) => format!("{}, ...", &s[..i]),
        None => format!("{}...", &s[..max]),
    }
}

/// The `Name:` and `Namespace:` lines every describer starts with.
pub fn name_and_namespace(out: &mut Out, meta: &ObjectMeta) {
    out.w(
        0,
        &format!("Name:\t{}\n", meta.name.clone().unwrap_or_default()),
    );
    out.w(
        0,
        &format!(
            "Namespace:\t{}\n",
            meta.namespace.clone().unwrap_or_default()
        ),
    );
}

/// The text of `kubectl describe job`.
pub fn job_text(job: &Job, events: &[Event]) -> String {
    let mut out = Out::default();
    let meta = &job.metadata;
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    name_and_namespace(&mut out, meta);
    let selector = spec
        .selector
        .as_ref()
        .map(selector_string)
        .unwrap_or_default();
    out.w(0, &format!("Selector:\t{selector}\n"));
    labels_multiline(&mut out, "Labels", meta.labels.as_ref());
    annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
    if let Some(p) = spec.parallelism {
        out.w(0, &format!("Parallelism:\t{p}\n"));
    }
    match spec.completions {
        Some(c) => out.w(0, &format!("Completions:\t{c}\n")),
        None => out.w(0, "Completions:\t<unset>\n"),
    }
    if let Some(mode) = &spec.completion_mode {
        out.w(0, &format!("Completion Mode:\t{mode}\n"));
    }
    if let Some(s) = spec.suspend {
        out.w(0, &format!("Suspend:\t{s}\n"));
    }
    if let Some(b) = spec.backoff_limit {
        out.w(0, &format!("Backoff Limit:\t{b}\n"));
    }
    if let Some(ttl) = spec.ttl_seconds_after_finished {
        out.w(0, &format!("TTL Seconds After Finished:\t{ttl}\n"));
    }
    if let Some(t) = &status.start_time {
        out.w(0, &format!("Start Time:\t{}\n", time_str(t)));
    }
    if let Some(t) = &status.completion_time {
        out.w(0, &format!("Completed At:\t{}\n", time_str(t)));
    }
    if let (Some(s), Some(c)) = (&status.start_time, &status.completion_time) {
        out.w(
            0,
            &format!("Duration:\t{}\n", human_duration_ms(millis(c) - millis(s))),
        );
    }
    if let Some(d) = spec.active_deadline_seconds {
        out.w(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    let (active, succeeded, failed) = (
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0),
        status.failed.unwrap_or(0),
    );
    match status.ready {
        None => out.w(0, &format!("Pods Statuses:\t{active} Active / {succeeded} Succeeded / {failed} Failed\n")),
        Some(ready) => out.w(0, &format!("Pods Statuses:\t{active} Active ({ready} Ready) / {succeeded} Succeeded / {failed} Failed\n")),
    }
    if spec.completion_mode.as_deref() == Some("Indexed") {
        out.w(
            0,
            &format!(
                "Completed Indexes:\t{}\n",
                cap_indexes(status.completed_indexes.as_deref(), 50)
            ),
        );
    }
    describe_template(&mut out, &spec.template);
    let events_table = describe_events(&mut out, events);
    out.aligned() + &events_table
}

/// kubectl's `printBoolPtr`.
fn bool_ptr(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// The text of `kubectl describe cronjob` (kubectl's `describeCronJob`,
/// `describeJobTemplate` and `printActiveJobs`).
pub fn cronjob_text(cj: &CronJob, events: &[Event]) -> String {
    let mut out = Out::default();
    let meta = &cj.metadata;
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    name_and_namespace(&mut out, meta);
    labels_multiline(&mut out, "Labels", meta.labels.as_ref());
    annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
    out.w(0, &format!("Schedule:\t{}\n", spec.schedule));
    out.w(
        0,
        &format!(
            "Concurrency Policy:\t{}\n",
            spec.concurrency_policy.unwrap_or_default()
        ),
    );
    out.w(0, &format!("Suspend:\t{}\n", bool_ptr(spec.suspend)));
    let or_unset = |v: Option<i64>, unit: &str| match v {
        Some(v) => format!("{v}{unit}"),
        None => "<unset>".into(),
    };
    out.w(
        0,
        &format!(
            "Successful Job History Limit:\t{}\n",
            or_unset(spec.successful_jobs_history_limit.map(i64::from), "")
        ),
    );
    out.w(
        0,
        &format!(
            "Failed Job History Limit:\t{}\n",
            or_unset(spec.failed_jobs_history_limit.map(i64::from), "")
        ),
    );
    out.w(
        0,
        &format!(
            "Starting Deadline Seconds:\t{}\n",
            or_unset(spec.starting_deadline_seconds, "s")
        ),
    );
    // describeJobTemplate
    let job = spec.job_template.spec.clone().unwrap_or_default();
    let selector = job
        .selector
        .as_ref()
        .map(selector_string)
        .unwrap_or_else(|| "<unset>".into());
    out.w(0, &format!("Selector:\t{selector}\n"));
    out.w(
        0,
        &format!(
            "Parallelism:\t{}\n",
            or_unset(job.parallelism.map(i64::from), "")
        ),
    );
    out.w(
        0,
        &format!(
            "Completions:\t{}\n",
            or_unset(job.completions.map(i64::from), "")
        ),
    );
    if let Some(d) = job.active_deadline_seconds {
        out.w(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    describe_template(&mut out, &job.template);
    match &status.last_schedule_time {
        Some(t) => out.w(0, &format!("Last Schedule Time:\t{}\n", time_str(t))),
        None => out.w(0, "Last Schedule Time:\t<unset>\n"),
    }
    let active: Vec<String> = status
        .active
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name.unwrap_or_default())
        .collect();
    if active.is_empty() {
        out.w(0, "Active Jobs:\t<none>\n");
    } else {
        out.w(0, &format!("Active Jobs:\t{}\n", active.join(", ")));
    }
    let events_table = describe_events(&mut out, events);
    out.aligned() + &events_table
}

/// kubectl's QoS class: BestEffort without requests or limits, Guaranteed
/// when every container's cpu and memory limits equal its requests.
fn qos_class(pod: &Pod) -> String {
    if let Some(q) = pod.status.as_ref().and_then(|s| s.qos_class.clone()) {
        return q;
    }
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let r = c.resources.clone().unwrap_or_default();
        let limits = r.limits.unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        any |= !limits.is_empty() || !requests.is_empty();
        for res in ["cpu", "memory"] {
            let limit = limits.get(res);
            let request = requests.get(res).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort".into()
    } else if guaranteed {
        "Guaranteed".into()
    } else {
        "Burstable".into()
    }
}

/// The text of `kubectl describe pod`.
pub fn pod_text(pod: &Pod, events: &[Event]) -> String {
    let mut out = Out::default();
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    name_and_namespace(&mut out, meta);
    if let Some(p) = spec.priority {
        out.w(0, &format!("Priority:\t{p}\n"));
    }
    if let Some(pc) = spec.priority_class_name.as_ref().filter(|s| !s.is_empty()) {
        out.w(0, &format!("Priority Class Name:\t{pc}\n"));
    }
    if let Some(sa) = spec.service_account_name.as_ref().filter(|s| !s.is_empty()) {
        out.w(0, &format!("Service Account:\t{sa}\n"));
    }
    match spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        None => out.w(0, "Node:\t<none>\n"),
        Some(node) => out.w(
            0,
            &format!(
                "Node:\t{node}/{}\n",
                status.host_ip.clone().unwrap_or_default()
            ),
        ),
    }
    if let Some(t) = &status.start_time {
        out.w(0, &format!("Start Time:\t{}\n", time_str(t)));
    }
    labels_multiline(&mut out, "Labels", meta.labels.as_ref());
    annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
    let phase = status.phase.clone().unwrap_or_default();
    match &meta.deletion_timestamp {
        Some(t) if phase != "Failed" && phase != "Succeeded" => {
            out.w(
                0,
                &format!("Status:\tTerminating (lasts {})\n", since(Some(t))),
            );
            out.w(
                0,
                &format!(
                    "Termination Grace Period:\t{}s\n",
                    meta.deletion_grace_period_seconds.unwrap_or(0)
                ),
            );
        }
        _ => out.w(0, &format!("Status:\t{phase}\n")),
    }
    if let Some(r) = status.reason.as_ref().filter(|s| !s.is_empty()) {
        out.w(0, &format!("Reason:\t{r}\n"));
    }
    if let Some(m) = status.message.as_ref().filter(|s| !s.is_empty()) {
        out.w(0, &format!("Message:\t{m}\n"));
    }
    out.w(
        0,
        &format!("IP:\t{}\n", status.pod_ip.clone().unwrap_or_default()),
    );
    let ips = status.pod_ips.clone().unwrap_or_default();
    if ips.is_empty() {
        out.w(0, "IPs:\t<none>\n");
    } else {
        out.w(0, "IPs:\n");
        for ip in ips {
            out.w(1, &format!("IP:\t{}\n", ip.ip));
        }
    }
    if let Some(owner) = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        out.w(
            0,
            &format!("Controlled By:\t{}/{}\n", owner.kind, owner.name),
        );
    }
    if let Some(init) = spec.init_containers.as_ref().filter(|c| !c.is_empty()) {
        let statuses = status.init_container_statuses.clone().unwrap_or_default();
        describe_containers(&mut out, "Init Containers", init, &statuses, "");
    }
    let statuses = status.container_statuses.clone().unwrap_or_default();
    describe_containers(&mut out, "Containers", &spec.containers, &statuses, "");
    let conditions = status.conditions.clone().unwrap_or_default();
    if !conditions.is_empty() {
        out.w(0, "Conditions:\n  Type\tStatus\n");
        for c in conditions {
            out.w(1, &format!("{} \t{} \n", c.type_, c.status));
        }
    }
    describe_volumes(&mut out, spec.volumes.as_deref().unwrap_or_default(), "");
    out.w(0, &format!("QoS Class:\t{}\n", qos_class(pod)));
    labels_multiline(&mut out, "Node-Selectors", spec.node_selector.as_ref());
    tolerations_multiline(
        &mut out,
        "Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
    let events_table = describe_events(&mut out, events);
    out.aligned() + &events_table
}

/// kubectl's describer for kinds without their own: name, namespace,
/// labels, annotations and events.
pub fn generic(meta: &ObjectMeta, events: &[Event]) -> String {
    let mut out = Out::default();
    name_and_namespace(&mut out, meta);
    labels_multiline(&mut out, "Labels", meta.labels.as_ref());
    annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
    let events_table = describe_events(&mut out, events);
    out.aligned() + &events_table
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> Job {
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default",
                "labels": {"batch.kubernetes.io/job-name": "pi", "team": "a"},
                "annotations": {LAST_APPLIED: "{}\n"}},
            "spec": {
                "parallelism": 2, "completions": 3, "completionMode": "Indexed",
                "suspend": false, "backoffLimit": 6,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                "template": {
                    "metadata": {"labels": {"batch.kubernetes.io/job-name": "pi"}},
                    "spec": {"restartPolicy": "Never", "containers": [{
                        "name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"],
                        "env": [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
                    }]}
                }
            },
            "status": {"active": 1, "ready": 0, "succeeded": 2, "failed": 1, "completedIndexes": "0,2"}
        }))
        .unwrap()
    }

    #[test]
    fn job_layout() {
        let want = "\
Name:               pi
Namespace:          default
Selector:           batch.kubernetes.io/controller-uid=u1
Labels:             batch.kubernetes.io/job-name=pi
                    team=a
Annotations:        <none>
Parallelism:        2
Completions:        3
Completion Mode:    Indexed
Suspend:            false
Backoff Limit:      6
Pods Statuses:      1 Active (0 Ready) / 2 Succeeded / 1 Failed
Completed Indexes:  0,2
Pod Template:
  Labels:  batch.kubernetes.io/job-name=pi
  Containers:
   pi:
    Image:      perl
    Port:       <none>
    Host Port:  <none>
    Command:
      perl
      -e
      print 1
    Environment:
      JOB_COMPLETION_INDEX:   (v1:metadata.annotations['batch.kubernetes.io/job-completion-index'])
    Mounts:                  <none>
  Volumes:                   <none>
  Node-Selectors:            <none>
  Tolerations:               <none>
Events:                      <none>
";
        assert_eq!(job_text(&job(), &[]), want);
    }

    /// kubectl 1.33's `describe cronjob` text for the same object.
    #[test]
    fn cronjob_layout() {
        let cj: CronJob = serde_json::from_value(json!({
            "metadata": {"name": "report", "namespace": "default", "labels": {"team": "a"}},
            "spec": {
                "schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid", "suspend": false,
                "successfulJobsHistoryLimit": 3, "startingDeadlineSeconds": 30,
                "jobTemplate": {"spec": {"parallelism": 2, "template": {"spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "report", "image": "busybox", "command": ["/bin/true"]}]
                }}}}
            },
            "status": {"active": [{"name": "report-1"}, {"name": "report-2"}]}
        }))
        .unwrap();
        let want = "\
Name:                          report
Namespace:                     default
Labels:                        team=a
Annotations:                   <none>
Schedule:                      */5 * * * *
Concurrency Policy:            Forbid
Suspend:                       False
Successful Job History Limit:  3
Failed Job History Limit:      <unset>
Starting Deadline Seconds:     30s
Selector:                      <unset>
Parallelism:                   2
Completions:                   <unset>
Pod Template:
  Labels:  <none>
  Containers:
   report:
    Image:      busybox
    Port:       <none>
    Host Port:  <none>
    Command:
      /bin/true
    Environment:     <none>
    Mounts:          <none>
  Volumes:           <none>
  Node-Selectors:    <none>
  Tolerations:       <none>
Last Schedule Time:  <unset>
Active Jobs:         report-1, report-2
Events:              <none>
";
        assert_eq!(cronjob_text(&cj, &[]), want);
    }

    #[test]
    fn events_table() {
        let now = chrono::Utc::now();
        let ts = |secs_ago: i64| {
            (now - chrono::Duration::seconds(secs_ago))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let events: Vec<Event> = serde_json::from_value(json!([
            {"metadata": {"name": "e2"}, "involvedObject": {}, "type": "Normal", "reason": "Completed",
             "message": "Job completed", "source": {"component": "job-controller"},
             "firstTimestamp": ts(26), "lastTimestamp": ts(26), "count": 1},
            {"metadata": {"name": "e1"}, "involvedObject": {}, "type": "Normal", "reason": "SuccessfulCreate",
             "message": "Created pod: pi-abcde", "source": {"component": "job-controller"},
             "firstTimestamp": ts(36), "lastTimestamp": ts(36), "count": 1}
        ]))
        .unwrap();
        let text = job_text(&job(), &events);
        let tail = &text[text.find("Events:\n").unwrap()..];
        assert_eq!(
            tail,
            "\
Events:
  Type    Reason            Age   From            Message
  ----    ------            ----  ----            -------
  Normal  SuccessfulCreate  36s   job-controller  Created pod: pi-abcde
  Normal  Completed         26s   job-controller  Job completed
"
        );
    }

    #[test]
    fn indexes_are_capped() {
        assert_eq!(cap_indexes(None, 50), "<none>");
        assert_eq!(cap_indexes(Some("1-3"), 50), "1-3");
        let long = (0..40)
            .map(|i| (i * 2).to_string())
            .collect::<Vec<_>>()
            .join(",");
        let capped = cap_indexes(Some(&long), 50);
        assert!(capped.ends_with(", ...") && capped.len() <= 55, "{capped}");
    }

    #[test]
    fn pod_layout_has_state_and_owner() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "pi-abcde", "namespace": "default",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "u1", "controller": true}]},
            "spec": {"nodeName": "node1", "containers": [{"name": "pi", "image": "perl"}]},
            "status": {"phase": "Succeeded", "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                "containerStatuses": [{"name": "pi", "image": "perl", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
        }))
        .unwrap();
        let text = pod_text(&pod, &[]);
        for want in [
            "Node:           node1/127.0.0.1\n",
            "Status:         Succeeded\n",
            "Controlled By:  Job/pi\n",
            "    State:          Terminated\n",
            "      Reason:       Completed\n",
            "      Exit Code:    0\n",
            "QoS Class:          BestEffort\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    /// kubectl 1.33's `describeContainerEnvFrom` and the ConfigMap,
    /// Secret, downward-API and projected volume printers (checked
    /// against `kubectl.1.33 describe pod` on the same object).
    #[test]
    fn pod_layout_shows_config_sources() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}}],
                "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "app"}},
                            {"secretRef": {"name": "creds", "optional": true}}]}],
                "volumes": [
                    {"name": "cfg", "configMap": {"name": "app"}},
                    {"name": "creds", "secret": {"secretName": "creds"}},
                    {"name": "dapi", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                    {"name": "all", "projected": {"sources": [
                        {"configMap": {"name": "app", "optional": true}},
                        {"secret": {"name": "creds"}},
                        {"downwardAPI": {"items": []}}]}}]}
        }))
        .unwrap();
        let text = pod_text(&pod, &[]);
        for want in [
            "    Environment Variables from:\n      app    ConfigMap with prefix 'CFG_'  Optional: false\n      creds  Secret                        Optional: true\n",
            "      PASSWORD:  <set to the key 'PASSWORD' in secret 'creds'>  Optional: false\n",
            "  cfg:\n    Type:      ConfigMap (a volume populated by a ConfigMap)\n    Name:      app\n    Optional:  false\n",
            "  creds:\n    Type:        Secret (a volume populated by a Secret)\n    SecretName:  creds\n    Optional:    false\n",
            "  dapi:\n    Type:  DownwardAPI (a volume populated by information about the pod)\n    Items:\n      metadata.name -> name\n",
            "  all:\n    Type:           Projected (a volume that contains injected data from multiple sources)\n    ConfigMapName:  app\n    Optional:       true\n    SecretName:     creds\n    Optional:       false\n    DownwardAPI:    true\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
