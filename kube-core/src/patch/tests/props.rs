//! Properties: without merging lists or directives a strategic merge patch is a JSON merge
//! patch, and applying a configuration twice changes nothing the second time.

use crate::patch::apply::apply;
use crate::patch::schema::METADATA_ONLY;
use crate::patch::{merge_patch, strategic_merge_patch};
use crate::Time;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-d]", value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #[test]
    fn strategic_without_merging_lists_is_json_merge_patch(original in object(), patch in object()) {
        let smp = strategic_merge_patch(&original, &patch, &METADATA_ONLY).unwrap();
        let merge = merge_patch(&original, &patch).unwrap();
        prop_assert_eq!(smp, merge);
    }

    #[test]
    fn applying_twice_is_a_no_op(spec in object()) {
        let mut config = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        config["data"] = spec;
        let t = Time::from_unix_seconds(1_700_000_000);
        let once = apply(None, &config, "m", false, Some(&METADATA_ONLY), t).unwrap();
        let twice = apply(Some(&once), &config, "m", false, Some(&METADATA_ONLY), Time::from_unix_seconds(1_700_000_100)).unwrap();
        prop_assert_eq!(once, twice);
    }
}
