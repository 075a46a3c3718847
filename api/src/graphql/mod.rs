//! The GraphQL schema (names fixed by DESIGN.md §5). Every field states the access it needs in a
//! guard next to its definition.

mod access;
mod audit;
mod mutation;
mod query;
mod recording;
mod subscription;
mod types;

use async_graphql::Schema;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

pub type DistriboxSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits that keep one request from costing the server much.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 1_000;

/// Builds the schema; `data` is shared with every request (the app's services).
pub fn schema(state: crate::app::AppState) -> DistriboxSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(audit::AuditRefusals)
        .finish()
}
