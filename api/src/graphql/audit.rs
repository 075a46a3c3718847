//! Every refused request is recorded (who, what, which policy): the response's `FORBIDDEN` and
//! `UNAUTHENTICATED` errors, and the `NOT_FOUND`s that hide a VM from a caller who may not see
//! it, become `AccessDenied` events with the caller's metadata, whichever resolver or guard
//! refused. The hidden ones' policy is taken out of the answer, so it still looks like any
//! other `NOT_FOUND`.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextSubscribe,
};
use async_graphql::{PathSegment, Response, Value};
use distribox_commands::RequestContext;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::app::AppState;

/// Fields that record their own refusals (failed logins, bad credential secrets).
const SELF_RECORDING: &[&str] = &["login", "openConsoleWithCredential"];

pub struct AuditRefusals;

impl ExtensionFactory for AuditRefusals {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditRefusals)
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(text)) => Some(text.clone()),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for AuditRefusals {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let (Some(state), Some(caller)) =
            (ctx.data_opt::<AppState>(), ctx.data_opt::<RequestContext>())
        {
            record(state, caller, operation_name, &mut response).await;
        }
        response
    }

    /// A refused subscription answers with one response carrying the refusal.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let stream = next.run(ctx, stream);
        let (Some(state), Some(caller)) = (
            ctx.data_opt::<AppState>().cloned(),
            ctx.data_opt::<RequestContext>().cloned(),
        ) else {
            return stream;
        };
        stream
            .then(move |mut response| {
                // Most responses are events: only one with errors needs the services.
                let services =
                    (!response.errors.is_empty()).then(|| (state.clone(), caller.clone()));
                async move {
                    if let Some((state, caller)) = services {
                        record(&state, &caller, None, &mut response).await;
                    }
                    response
                }
            })
            .boxed()
    }
}

/// Records the refusals among `response`'s errors.
async fn record(
    state: &AppState,
    caller: &RequestContext,
    operation_name: Option<&str>,
    response: &mut Response,
) {
    let mut recorded = HashSet::new();
    for error in &mut response.errors {
        let extensions = error.extensions.as_ref();
        let Some(code) = text(extensions.and_then(|e| e.get("code"))) else {
            continue;
        };
        let policy = text(extensions.and_then(|e| e.get("policy")));
        let refused = match code.as_str() {
            "FORBIDDEN" | "UNAUTHENTICATED" => true,
            "NOT_FOUND" if policy.is_some() => {
                if let Some(extensions) = error.extensions.as_mut() {
                    extensions.unset("policy");
                }
                true
            }
            _ => false,
        };
        if !refused {
            continue;
        }
        let operation = match error.path.first() {
            Some(PathSegment::Field(field)) => field.clone(),
            _ => operation_name.unwrap_or("(unnamed)").to_owned(),
        };
        // Those record their own refusals; and a request repeating one refusal (aliases)
        // is recorded once.
        if SELF_RECORDING.contains(&operation.as_str())
            || !recorded.insert((operation.clone(), code.clone(), policy.clone()))
        {
            continue;
        }
        if let Err(err) = state
            .bus
            .record_denied(caller, operation, policy, code)
            .await
        {
            tracing::warn!(error = %err, "cannot record a refused request");
        }
    }
}
