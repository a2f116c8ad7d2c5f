"""CronJobs through the official Python client (kubernetes on PyPI), after
upstream e2e "should support CronJob API operations" (test/e2e/apps/
cronjob.go): create, get, list (namespaced, all namespaces, label
selector), watch, merge patch, update, the status subresource (patch,
update, get; lastScheduleTime round-trips at RFC 3339 precision), delete
and deletecollection; and "should support timezone": bad-time-zone is
Invalid. Exits non-zero on any mismatch."""
import datetime
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
batch = client.BatchV1Api()
ns = "default"
label = "special-label=cj-api-ops"


def cronjob(name, schedule="@yearly", tz=None):
    return client.V1CronJob(
        metadata=client.V1ObjectMeta(name=name, labels={"special-label": "cj-api-ops"}),
        spec=client.V1CronJobSpec(
            schedule=schedule,
            time_zone=tz,
            suspend=True,
            job_template=client.V1JobTemplateSpec(
                spec=client.V1JobSpec(
                    template=client.V1PodTemplateSpec(
                        spec=client.V1PodSpec(
                            restart_policy="OnFailure",
                            containers=[client.V1Container(name="c", image="busybox", command=["sleep", "300"])],
                        )
                    )
                )
            ),
        ),
    )


try:
    batch.create_namespaced_cron_job(ns, cronjob("bad-tz", tz="bad-time-zone"))
    raise SystemExit("bad-time-zone was accepted")
except ApiException as e:
    assert e.status == 422, e
    assert "unknown time zone bad-time-zone" in e.body, e.body

created = [batch.create_namespaced_cron_job(ns, cronjob(n)) for n in ("e2e-a", "e2e-b", "e2e-c")]
cj = batch.read_namespaced_cron_job("e2e-a", ns)
assert cj.metadata.uid == created[0].metadata.uid
assert cj.spec.concurrency_policy == "Allow" and cj.spec.successful_jobs_history_limit == 3

listed = batch.list_namespaced_cron_job(ns, label_selector=label)
assert sorted(c.metadata.name for c in listed.items) == ["e2e-a", "e2e-b", "e2e-c"], listed
everywhere = batch.list_cron_job_for_all_namespaces(label_selector=label)
assert len(everywhere.items) == 3, everywhere
assert batch.list_namespaced_cron_job(ns, label_selector="special-label=other").items == []

# Watch from the list's resourceVersion, patch, and see the change.
w = watch.Watch()
stream = w.stream(
    batch.list_namespaced_cron_job, ns, label_selector=label,
    resource_version=listed.metadata.resource_version, timeout_seconds=10,
)
patched = batch.patch_namespaced_cron_job("e2e-a", ns, {"metadata": {"annotations": {"patched": "true"}}})
assert patched.metadata.annotations["patched"] == "true"
for ev in stream:
    if ev["type"] == "MODIFIED" and ev["object"].metadata.name == "e2e-a":
        assert ev["object"].metadata.annotations["patched"] == "true"
        w.stop()
        break
else:
    raise SystemExit("no MODIFIED event from the watch")

# Update.
cj = batch.read_namespaced_cron_job("e2e-a", ns)
cj.metadata.annotations["updated"] = "true"
updated = batch.replace_namespaced_cron_job("e2e-a", ns, cj)
assert updated.metadata.annotations["updated"] == "true"

# The status subresource.
when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
st = batch.patch_namespaced_cron_job_status("e2e-a", ns, {"status": {"lastScheduleTime": stamp}})
assert st.status.last_schedule_time == when, st.status
st = batch.read_namespaced_cron_job_status("e2e-a", ns)
assert st.status.last_schedule_time == when, st.status
st.status.last_successful_time = when
st = batch.replace_namespaced_cron_job_status("e2e-a", ns, st)
assert st.status.last_successful_time == when, st.status

# Delete, then deletecollection.
batch.delete_namespaced_cron_job("e2e-a", ns)
try:
    batch.read_namespaced_cron_job("e2e-a", ns)
    raise SystemExit("deleted CronJob still readable")
except ApiException as e:
    assert e.status == 404, e
assert len(batch.list_namespaced_cron_job(ns, label_selector=label).items) == 2
batch.delete_collection_namespaced_cron_job(ns, label_selector=label)
assert batch.list_namespaced_cron_job(ns, label_selector=label).items == []
print("ok")
