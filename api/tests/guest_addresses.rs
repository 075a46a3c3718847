//! `Vm.addresses`: a running guest's IP addresses from libvirt (its test driver leases one per
//! interface), none while it is stopped.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{spawn_app, Libvirt};

#[tokio::test]
async fn a_running_guest_shows_its_addresses_and_a_stopped_one_none() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let id = app.running_vm(&token, "addressed").await;
    let addresses = |vm: serde_json::Value| -> Vec<String> {
        vm["vm"]["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let query = "query($id: ID!) { vm(id: $id) { state addresses } }";
    let running = addresses(app.data(&token, query, json!({ "id": id })).await);
    assert!(!running.is_empty(), "a running guest has an address");
    for address in &running {
        address
            .parse::<std::net::IpAddr>()
            .unwrap_or_else(|_| panic!("{address} is an IP address"));
    }
    app.vm_ok(&token, "forceStopVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    let stopped = addresses(app.data(&token, query, json!({ "id": id })).await);
    assert!(stopped.is_empty(), "{stopped:?}");
    let _ = std::fs::remove_dir_all(&app.data_dir);
}
