//! Usage questions as the API takes them: a period checked once, for `usageReport`, `vmUsage`,
//! `hostUsage` and the CSV export alike.

use chrono::{DateTime, Duration, Utc};
use distribox_commands::ErrorCode;
use distribox_projections::usage::{self, series, GroupBy, UsageRow};

use crate::app::AppState;
use crate::error::ApiError;

/// The longest period one question may cover.
const MAX_PERIOD_DAYS: i64 = 366;

/// A checked period `[from, to)`, and the moment it is described "as of": the earliest of
/// `to`, the `asOf` asked for and now. Nothing after that moment counts, and whatever was
/// still going then counts up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
}

impl Period {
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        as_of: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Period, ApiError> {
        if to <= from {
            return Err(ApiError::new(ErrorCode::BadInput, "to must be after from").in_field("to"));
        }
        if to - from > Duration::days(MAX_PERIOD_DAYS) {
            return Err(ApiError::new(
                ErrorCode::BadInput,
                format!("a period can cover at most {MAX_PERIOD_DAYS} days"),
            )
            .in_field("to"));
        }
        if as_of.is_some_and(|as_of| as_of < from) {
            return Err(
                ApiError::new(ErrorCode::BadInput, "asOf must not be before from").in_field("asOf"),
            );
        }
        // A period that begins in the future is described as of its beginning: empty.
        let as_of = [Some(to), as_of, Some(now)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(to)
            .max(from);
        Ok(Period { from, to, as_of })
    }
}

/// A report's rows and their totals.
pub struct Report {
    pub period: Period,
    pub group: GroupBy,
    pub rows: Vec<UsageRow>,
    pub totals: UsageRow,
}

pub async fn report(state: &AppState, period: Period, group: GroupBy) -> Result<Report, ApiError> {
    let rows = usage::report(&state.pool, period.from, period.as_of, group).await?;
    let totals = UsageRow::total(&rows);
    Ok(Report {
        period,
        group,
        rows,
        totals,
    })
}

/// The bucket width for a chart of `period`, given how the sampler samples.
pub fn chart_step(state: &AppState, period: &Period) -> i64 {
    let every = Duration::from_std(state.usage.interval).unwrap_or(Duration::seconds(15));
    let raw_since =
        Utc::now() - Duration::from_std(state.usage.raw_retention).unwrap_or(Duration::days(2));
    series::step_for(period.from, period.to, every, raw_since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + hour * 3600, 0).unwrap()
    }

    fn field(err: ApiError) -> Option<String> {
        async_graphql::Error::from(err)
            .extensions
            .and_then(|e| e.get("field").cloned())
            .map(|v| v.to_string().trim_matches('"').to_owned())
    }

    #[test]
    fn as_of_is_the_earliest_of_to_as_of_and_now() {
        let now = at(10);
        assert_eq!(Period::new(at(0), at(5), None, now).unwrap().as_of, at(5));
        assert_eq!(Period::new(at(0), at(20), None, now).unwrap().as_of, at(10));
        assert_eq!(
            Period::new(at(0), at(20), Some(at(3)), now).unwrap().as_of,
            at(3)
        );
        assert_eq!(
            Period::new(at(0), at(5), Some(at(8)), now).unwrap().as_of,
            at(5)
        );
        // Entirely in the future: nothing has happened yet.
        assert_eq!(
            Period::new(at(12), at(15), None, now).unwrap().as_of,
            at(12)
        );
    }

    #[test]
    fn bad_periods_name_their_field() {
        let now = at(10);
        assert_eq!(
            field(Period::new(at(5), at(5), None, now).unwrap_err()).as_deref(),
            Some("to")
        );
        assert_eq!(
            field(Period::new(at(5), at(1), None, now).unwrap_err()).as_deref(),
            Some("to")
        );
        let long = Period::new(at(0), at(367 * 24), None, now).unwrap_err();
        assert_eq!(field(long).as_deref(), Some("to"));
        let early = Period::new(at(2), at(5), Some(at(1)), now).unwrap_err();
        assert_eq!(field(early).as_deref(), Some("asOf"));
    }
}
