//! The GraphQL schema. Its names are a public interface clients depend on: add, never rename.
//! Every field states the access it needs in a guard next to its definition.

mod access;
mod audit;
mod audit_log;
mod images;
mod mutation;
mod policies;
mod query;
mod recording;
mod subscription;
mod types;
mod usage;

use std::ops::RangeInclusive;

use async_graphql::Schema;
use distribox_commands::ErrorCode;

use crate::error::ApiError;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

pub type DistriboxSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits that keep one request from costing the server much.
/// The standard introspection query (GraphiQL's, graphql-codegen's) nests 13–15 levels through
/// `ofType`; API tools must be able to run it.
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 1_000;

/// A page size `first` checked against `range`, refused as `BAD_INPUT` on `first` otherwise.
fn page_size(first: i32, range: RangeInclusive<i32>) -> Result<i64, ApiError> {
    if range.contains(&first) {
        Ok(first.into())
    } else {
        Err(ApiError::new(
            ErrorCode::BadInput,
            format!(
                "first must be between {} and {}",
                range.start(),
                range.end()
            ),
        )
        .in_field("first"))
    }
}

/// Builds the schema; `data` is shared with every request (the app's services).
pub fn schema(state: crate::app::AppState) -> DistriboxSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(audit::AuditRefusals)
        .finish()
}

/// The schema in SDL, as `distribox schema` prints it. The web app's operations are typed from
/// the checked-in copy, `web/schema.graphql`; a test keeps the two equal.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .finish()
        .sdl()
}

#[cfg(test)]
mod tests {
    /// Fails when the schema changed and the web app's copy did not: its operations would be
    /// typed against a schema the server no longer serves.
    #[test]
    fn the_web_app_has_the_current_schema() {
        let checked_in = include_str!("../../../web/schema.graphql");
        assert!(
            checked_in == super::sdl(),
            "web/schema.graphql is out of date: run \
             `cargo run -p distribox-api -- schema > web/schema.graphql`, then `npm run build` in web/"
        );
    }
}
