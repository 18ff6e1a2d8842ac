//! Watch robustness: adds, modifications and deletes reach the groups; a 410 (in-stream or as
//! HTTP) relists without a publish that loses targets; bookmarks move the resume version; events
//! split across chunks still apply; lists come in pages.

use std::time::Duration;

use promlite::discovery::kubernetes::WatchOptions;
use serde_json::json;

use super::{apply_all, start_sd, test_options};
use crate::fake_kube::{Expiry, FakeKube, fixtures};
use crate::util::eventually;

#[test]
fn add_modify_delete_propagate() {
    let fake = FakeKube::start();
    fake.apply(fixtures::web_service());
    let sd = start_sd(&fake, "role: endpointslice", test_options());
    assert!(sd.synced().is_empty());

    fake.apply(fixtures::web_slice());
    sd.wait("slice added", |g| g.len() == 1 && g[0].targets.len() == 2);
    // The pods arrive after the slice: their labels and sidecar targets follow.
    fake.apply(fixtures::web_pod("web-0", "10.1.0.10", true));
    sd.wait("pod joined", |g| g.len() == 1 && g[0].targets.len() == 3);
    let mut slice = fixtures::web_slice();
    slice["endpoints"][0]["addresses"] = json!(["10.1.0.99"]);
    fake.apply(slice);
    sd.wait("slice modified", |g| g[0].targets.iter().any(|t| t["__address__"] == "10.1.0.99:8080"));
    let mut service = fixtures::web_service();
    service["metadata"]["labels"]["tier"] = json!("frontend");
    fake.apply(service);
    sd.wait("service label", |g| g[0].labels.contains_key("__meta_kubernetes_service_label_tier"));
    fake.delete("EndpointSlice", "default", "web-abc12");
    sd.wait("slice deleted", |g| g.is_empty());
    // A slice with `endpoints: null` (no ready backends) is still a group, with no targets.
    fake.apply(json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "web-empty", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "endpoints": null, "ports": null}));
    let groups = sd.wait("empty slice", |g| g.len() == 1);
    assert_eq!(groups[0].source, "endpointslice/default/web-empty");
    assert!(groups[0].targets.is_empty());
    assert_eq!(groups[0].labels["__meta_kubernetes_service_label_tier"], "frontend");
}

#[test]
fn watch_expiry_relists_without_a_gap() {
    for mode in [Expiry::InStream, Expiry::Http] {
        let fake = FakeKube::start();
        apply_all(&fake);
        let sd = start_sd(&fake, "role: endpointslice", test_options());
        let before: usize = sd.synced().iter().map(|g| g.targets.len()).sum();
        let lists = || fake.requests().iter().filter(|r| r.path.ends_with("/endpointslices") && !r.is_watch()).count();
        eventually(Duration::from_secs(60), || {
            let watching = fake.requests().iter().any(|r| r.is_watch() && r.path.ends_with("/endpointslices"));
            if watching { Ok(()) } else { Err("no watch yet".to_owned()) }
        });
        let lists_before = lists();
        fake.expire(mode);
        eventually(Duration::from_secs(60), || {
            if lists() > lists_before { Ok(()) } else { Err(format!("{mode:?}: no relist; {:#?}", fake.requests())) }
        });
        // The watch works again after the relist, and no publish ever lost the old targets.
        let mut slice = fixtures::web_slice();
        slice["metadata"]["labels"]["after"] = json!("expiry");
        fake.apply(slice);
        sd.wait("change after relist", |g| {
            g.iter().any(|g| g.labels.contains_key("__meta_kubernetes_endpointslice_label_after"))
        });
        let history = sd.history.lock().unwrap().clone();
        assert!(history.iter().all(|n| *n == before), "{mode:?}: a publish dropped targets: {history:?}");
        let errors = sd.state.snapshot();
        assert!(errors.informers.iter().all(|i| i.synced), "{errors:#?}");
    }
}

#[test]
fn bookmarks_chunking_and_pages() {
    let fake = FakeKube::start();
    apply_all(&fake);
    // Events split across HTTP chunks at every 7 bytes.
    fake.set_chunk_size(7);
    let options = WatchOptions { page_size: 2, ..test_options() };
    let sd = start_sd(&fake, "role: endpointslice", options);
    assert_eq!(sd.synced().len(), 5);
    // 5 slices in pages of 2: three list requests, the later ones with a continue token.
    let requests = fake.requests();
    let slice_lists: Vec<_> =
        requests.iter().filter(|r| r.path.ends_with("/endpointslices") && !r.is_watch()).collect();
    assert_eq!(slice_lists.len(), 3, "{slice_lists:#?}");
    assert!(slice_lists[1..].iter().all(|r| r.query.contains_key("continue")));
    assert!(slice_lists.iter().all(|r| r.query.get("limit").map(String::as_str) == Some("2")));

    // Events still apply when split mid-line and coalesced.
    fake.apply(fixtures::web_pod("web-2", "10.1.0.12", true));
    let mut slice = fixtures::web_slice();
    slice["endpoints"][0]["targetRef"]["name"] = json!("web-2");
    fake.apply(slice);
    sd.wait("split event applied", |g| {
        g.iter()
            .any(|g| g.targets.iter().any(|t| t.get("__meta_kubernetes_pod_name").map(String::as_str) == Some("web-2")))
    });

    // A bookmark moves the resource version: the next watch starts from it. The informer keeps
    // the bookmark's version before it records the bookmark as its last event.
    let last_event = || {
        let state = sd.state.snapshot();
        state.informers.iter().find(|i| i.resource == "endpointslices").and_then(|i| i.last_event)
    };
    let before = last_event();
    let bookmark = fake.bookmark().to_string();
    eventually(Duration::from_secs(60), || {
        if last_event() != before {
            Ok(())
        } else {
            Err(format!("bookmark {bookmark} not received: {:#?}", sd.state.snapshot()))
        }
    });
    fake.close_watches();
    eventually(Duration::from_secs(60), || {
        let requests = fake.requests();
        let rewatch = requests.iter().any(|r| {
            r.is_watch()
                && r.path.ends_with("/endpointslices")
                && r.query.get("resourceVersion") == Some(&bookmark)
                && r.query.get("allowWatchBookmarks").map(String::as_str) == Some("true")
        });
        if rewatch { Ok(()) } else { Err(format!("no watch from bookmark {bookmark}: {requests:#?}")) }
    });
    let watch = fake.requests().into_iter().find(|r| r.is_watch()).unwrap();
    let timeout: u64 = watch.query["timeoutSeconds"].parse().unwrap();
    assert!((300..=600).contains(&timeout), "timeoutSeconds={timeout}");
}
