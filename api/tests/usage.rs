//! Usage of a real TCG guest, end to end: the sampler's numbers in `vmUsage` and `hostUsage`,
//! running time and console sessions in `usageReport` and its CSV export, `/metrics`, and the
//! refusals of each.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::{spawn_app_with, Console, Libvirt, TestApp};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
const SCRAPE_TOKEN: &str = "scrape-secret-for-tests";

/// Polls `query` until `done` holds for its data, failing after `within`.
async fn eventually(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let data = app.data(token, query, variables.clone()).await;
        if done(&data) {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "never happened; last answer: {data}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn period(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() })
}

async fn metrics(app: &TestApp, bearer: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the first sample line of `metric` whose labels include all of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn a_running_guest_is_sampled_reported_exported_and_measured() {
    let app = spawn_app_with(Libvirt::System, |config| {
        config.usage_interval = 1;
        config.metrics_token = Some(SCRAPE_TOKEN.to_owned());
    })
    .await;
    let token = app.login().await;
    let started = Utc::now();
    let vm = app.running_vm(&token, "metered").await;
    let url = app.open_console(&token, &vm).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;

    // The sampler sees the guest: CPU and resident memory in its chart.
    let window = period(
        started - chrono::Duration::minutes(5),
        Utc::now() + chrono::Duration::minutes(5),
    );
    let series = eventually(
        &app,
        &token,
        "query($vm: ID!, $from: DateTime!, $to: DateTime!) {
           vmUsage(vmId: $vm, from: $from, to: $to) {
             stepSeconds points { at cpuPercent memoryAvgMib memoryPeakMib diskReadBytesPerSecond }
           } }",
        json!({ "vm": vm, "from": window["from"], "to": window["to"] }),
        Duration::from_secs(60),
        |data| {
            data["vmUsage"]["points"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| {
                    p["cpuPercent"].as_f64().is_some_and(|c| c > 0.0)
                        && p["memoryAvgMib"].as_f64().is_some_and(|m| m > 1.0)
                })
        },
    )
    .await;
    let step = series["vmUsage"]["stepSeconds"].as_i64().unwrap();
    assert_eq!(step, 5, "ten minutes of 1 s samples: 5 s buckets");
    let points = series["vmUsage"]["points"].as_array().unwrap();
    let starts: Vec<DateTime<Utc>> = points
        .iter()
        .map(|p| p["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| (w[1] - w[0]).num_seconds() == 5));
    assert!((120..=140).contains(&points.len()), "{}", points.len());
    assert!(
        points.iter().any(|p| p["cpuPercent"].is_null()),
        "before the start: gaps"
    );

    let host = app
        .data(
            &token,
            "query($from: DateTime!, $to: DateTime!) {
               hostUsage(from: $from, to: $to) { points { cpuPercent memoryUsedMib memoryTotalMib diskTotalGib } } }",
            window.clone(),
        )
        .await;
    let sampled: Vec<&Value> = host["hostUsage"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["memoryTotalMib"].is_null())
        .collect();
    assert!(!sampled.is_empty(), "{host}");
    for point in sampled {
        assert!(
            point["memoryUsedMib"].as_f64().unwrap() <= point["memoryTotalMib"].as_f64().unwrap()
        );
        assert!((0.0..=100.0).contains(&point["cpuPercent"].as_f64().unwrap()));
        assert!(point["diskTotalGib"].as_f64().unwrap() > 0.0);
    }

    // /metrics while the console is open: the scrape token, or a login holding usage:get.
    let (status, text) = metrics(&app, Some(SCRAPE_TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(
            &text,
            "distribox_console_sessions_open",
            &["kind=\"serial\""]
        ),
        Some(1.0),
        "{text}"
    );
    let vm_label = format!("vm=\"{vm}\"");
    assert!(
        sample(
            &text,
            "distribox_vm_cpu_seconds_total",
            &[&vm_label, "name=\"metered\""]
        )
        .unwrap()
            > 0.0,
        "{text}"
    );
    assert!(sample(&text, "distribox_vm_memory_resident_bytes", &[&vm_label]).unwrap() > 1e6);
    assert_eq!(
        sample(
            &text,
            "distribox_vm_state",
            &[&vm_label, "state=\"running\""]
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "distribox_vm_vcpus", &[&vm_label]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "distribox_commands_total",
            &["aggregate=\"Vm\"", "command=\"Create\"", "outcome=\"ok\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "distribox_command_duration_seconds_count",
            &["command=\"Create\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &text,
            "distribox_http_requests_total",
            &["route=\"/graphql\"", "status=\"200\""]
        )
        .unwrap()
            > 1.0
    );
    for projection in ["accounts", "audit_log", "hypervisor", "usage", "vms"] {
        let label = format!("projection=\"{projection}\"");
        assert!(
            sample(&text, "distribox_projection_lag_seconds", &[&label]).is_some(),
            "{projection}: {text}"
        );
        assert!(sample(&text, "distribox_projection_position", &[&label]).unwrap() > 0.0);
    }
    assert!(sample_line(&text, "distribox_host_memory_total_bytes") > 0.0);
    let sampled = sample_line(&text, "distribox_usage_last_sample_timestamp_seconds");
    assert!(
        (Utc::now().timestamp() as f64 - sampled).abs() < 10.0,
        "{sampled}"
    );
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(metrics(&app, Some(&token)).await.0, 200);
    assert_eq!(metrics(&app, None).await.0, 401);
    assert_eq!(metrics(&app, Some("wrong")).await.0, 401);
    let (_, viewer) = app.account(&token, "viewer", &["vms:get"]).await;
    let (status, text) = metrics(&app, Some(&viewer)).await;
    assert_eq!(status, 403);
    assert!(text.contains("usage:get"), "{text}");

    console.close().await;
    let closed = Utc::now();

    // The report counts the run (still going) and the closed session.
    let report_query = "query($from: DateTime!, $to: DateTime!, $group: UsageGroup!) {
        usageReport(from: $from, to: $to, groupBy: $group) {
          asOf groupBy
          rows { key label runningHours vcpuHours memoryGibHours cpuSeconds memoryAvgMib memoryPeakMib
                 consoleSessions consoleMinutes }
          totals { key runningHours consoleSessions memoryAvgMib } } }";
    let hour = period(
        started - chrono::Duration::hours(1),
        Utc::now() + chrono::Duration::hours(1),
    );
    let report = eventually(
        &app,
        &token,
        report_query,
        json!({ "from": hour["from"], "to": hour["to"], "group": "VM" }),
        Duration::from_secs(30),
        |data| {
            data["usageReport"]["rows"][0]["consoleMinutes"]
                .as_f64()
                .is_some_and(|m| m > 0.0)
        },
    )
    .await;
    let report = &report["usageReport"];
    let as_of: DateTime<Utc> = report["asOf"].as_str().unwrap().parse().unwrap();
    assert!(as_of >= closed && as_of <= Utc::now(), "as of now: {as_of}");
    let row = &report["rows"][0];
    assert_eq!(row["key"], vm.as_str());
    assert_eq!(row["label"], "metered");
    let hours = row["runningHours"].as_f64().unwrap();
    let since_start = (Utc::now() - started).num_milliseconds() as f64 / 3.6e6;
    assert!(hours > 0.0 && hours <= since_start, "{row}");
    assert_eq!(row["vcpuHours"].as_f64().unwrap(), hours, "1 vCPU");
    assert!(
        (row["memoryGibHours"].as_f64().unwrap() - hours / 4.0).abs() < 1e-9,
        "256 MiB"
    );
    assert!(row["cpuSeconds"].as_f64().unwrap() > 0.0);
    assert!(row["memoryPeakMib"].as_f64().unwrap() >= row["memoryAvgMib"].as_f64().unwrap());
    assert_eq!(row["consoleSessions"], 1);
    assert_eq!(report["totals"]["key"], "total");
    assert_eq!(report["totals"]["consoleSessions"], 1);
    assert!(report["totals"]["memoryAvgMib"].is_null());

    let by_account = app
        .data(
            &token,
            report_query,
            json!({ "from": hour["from"], "to": hour["to"], "group": "ACCOUNT" }),
        )
        .await;
    let admin = &by_account["usageReport"]["rows"][0];
    assert_eq!(admin["label"], "admin");
    assert_eq!(admin["consoleSessions"], 1);
    assert_eq!(by_account["usageReport"]["groupBy"], "ACCOUNT");

    // The export is the same report.
    let export = |query: String, bearer: Option<String>| {
        let mut request = app.http.get(app.url(&format!("/usage/export?{query}")));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let times = format!(
        "from={}&to={}",
        urlencode(hour["from"].as_str().unwrap()),
        urlencode(hour["to"].as_str().unwrap())
    );
    let response = export(format!("{times}&groupBy=vm"), Some(token.clone()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"distribox-usage-vm-"),
        "{disposition}"
    );
    let body = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["key", "label", "running_hours"]);
    assert_eq!(header.len(), 14);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2, "{body}");
    assert_eq!(&records[0][0], vm.as_str());
    assert_eq!(&records[0][1], "metered");
    assert_eq!(&records[0][12], "1");
    assert_eq!(&records[1][0], "total");

    let refused = export(format!("{times}&groupBy=vm"), None).await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let refused = export(format!("{times}&groupBy=vm"), Some(viewer.clone()))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'AccessDenied'
            AND payload->'AccessDenied'->>'operation' IN ('usageExport', 'metrics')",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        recorded, 5,
        "three refused scrapes and two refused exports are in the log"
    );
    let refused = app
        .gql(
            Some(&viewer),
            report_query,
            json!({ "from": hour["from"], "to": hour["to"], "group": "VM" }),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let refused = export(format!("{times}&groupBy=planet"), Some(token.clone()))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let reversed = format!(
        "from={}&to={}&groupBy=vm",
        urlencode(hour["to"].as_str().unwrap()),
        urlencode(hour["from"].as_str().unwrap())
    );
    let refused = export(reversed, Some(token.clone())).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("BAD_INPUT: to must be after from"));

    // Refusals in GraphQL name their field.
    let reversed = app
        .gql(
            Some(&token),
            report_query,
            json!({ "from": hour["to"], "to": hour["from"], "group": "VM" }),
        )
        .await;
    assert_eq!(reversed["errors"][0]["extensions"]["code"], "BAD_INPUT");
    assert_eq!(reversed["errors"][0]["extensions"]["field"], "to");
    let early = app
        .gql(
            Some(&token),
            "query($from: DateTime!, $to: DateTime!, $asOf: DateTime) {
               usageReport(from: $from, to: $to, asOf: $asOf) { asOf } }",
            json!({ "from": hour["from"], "to": hour["to"], "asOf": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(early["errors"][0]["extensions"]["field"], "asOf");
    let not_an_id = app
        .gql(
            Some(&token),
            "query($from: DateTime!, $to: DateTime!) { vmUsage(vmId: \"x\", from: $from, to: $to) { stepSeconds } }",
            hour.clone(),
        )
        .await;
    assert_eq!(not_an_id["errors"][0]["extensions"]["field"], "vmId");
}

/// The value of the unlabelled sample `metric`.
fn sample_line(text: &str, metric: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{metric} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {metric} in {text}"))
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
