//! The log is forever: every event Distribox has ever written must keep loading, or a host's
//! history is lost on upgrade. `event_corpus.json` holds events as the code stored them — one
//! or more payloads of every type and version (most taken from the databases of a full test
//! run, the few no test writes written out by hand in the same shape) and one whole recorded
//! stream per aggregate — and every build must still read and fold them.
//!
//! When an event type is added, add an example of it. When an event's shape changes, its
//! entries here stay as they are: the new shape gets a new version and an upcaster.

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::{Aggregate, DomainEvent};
use distribox_domain::access::{AccessAttempt, AccessEvent};
use distribox_domain::account::{Account, AccountEvent};
use distribox_domain::image::{Image, ImageEvent};
use distribox_domain::vm::{Vm, VmEvent};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Example {
    aggregate_type: String,
    #[serde(flatten)]
    stored: Stored,
}

#[derive(Deserialize)]
struct Stored {
    event_type: String,
    event_version: String,
    payload: Value,
}

#[derive(Deserialize)]
struct Corpus {
    examples: Vec<Example>,
    streams: BTreeMap<String, Vec<Stored>>,
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("event_corpus.json")).expect("the corpus is JSON")
}

/// Reads `stored` as an `E`, which must say it is of the type and version it was stored as.
fn load<E: DomainEvent + DeserializeOwned>(stored: &Stored) -> E {
    let event: E = serde_json::from_value(stored.payload.clone()).unwrap_or_else(|err| {
        panic!(
            "{} v{} no longer loads ({err}): {}",
            stored.event_type, stored.event_version, stored.payload
        )
    });
    assert_eq!(event.event_type(), stored.event_type, "{}", stored.payload);
    assert_eq!(
        event.event_version(),
        stored.event_version,
        "{}",
        stored.payload
    );
    event
}

fn fold<A: Aggregate>(stream: &[Stored]) -> A
where
    A::Event: DeserializeOwned,
{
    let mut aggregate = A::default();
    for stored in stream {
        aggregate.apply(load::<A::Event>(stored));
    }
    aggregate
}

#[test]
fn every_stored_event_still_loads() {
    for example in corpus().examples {
        let stored = &example.stored;
        match example.aggregate_type.as_str() {
            "Vm" => drop(load::<VmEvent>(stored)),
            "Account" => drop(load::<AccountEvent>(stored)),
            "Image" => drop(load::<ImageEvent>(stored)),
            "AccessAttempt" => drop(load::<AccessEvent>(stored)),
            other => panic!("an aggregate type this code doesn't know: {other}"),
        }
    }
}

#[test]
fn recorded_streams_still_fold_into_what_they_were() {
    let streams = corpus().streams;
    let vm: Vm = fold(&streams["Vm"]);
    assert!(vm.spec.is_some(), "{vm:?}");
    let account: Account = fold(&streams["Account"]);
    assert!(account.username.is_some(), "{account:?}");
    let image: Image = fold(&streams["Image"]);
    assert_ne!(image, Image::default());
    let attempt: AccessAttempt = fold(&streams["AccessAttempt"]);
    assert_ne!(attempt, AccessAttempt::default());
}

#[test]
fn every_event_type_has_an_example() {
    let corpus = corpus();
    let covered = |aggregate: &str| -> BTreeSet<String> {
        corpus
            .examples
            .iter()
            .filter(|example| example.aggregate_type == aggregate)
            .map(|example| example.stored.event_type.clone())
            .collect()
    };
    for (aggregate, variants) in [
        ("Vm", variants_of::<VmEvent>()),
        ("Account", variants_of::<AccountEvent>()),
        ("Image", variants_of::<ImageEvent>()),
        ("AccessAttempt", variants_of::<AccessEvent>()),
    ] {
        assert!(variants.len() > 3, "{aggregate}: {variants:?}");
        let covered = covered(aggregate);
        let missing: Vec<_> = variants
            .iter()
            .filter(|variant| !covered.contains(**variant))
            .collect();
        assert!(
            missing.is_empty(),
            "{aggregate} events without an example: {missing:?}"
        );
    }
}

/// The variant names of enum `T`, as serde knows them: a new event type can't be forgotten.
fn variants_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = None;
    let _ = T::deserialize(VariantNames(&mut names));
    names.expect("an enum")
}

/// A deserializer that only notes the variants an enum asks for.
struct VariantNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for VariantNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(variants);
        Err(de::Error::custom("noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}
