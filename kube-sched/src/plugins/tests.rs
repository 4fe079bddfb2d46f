//! Table-driven tests of the default plugins (cases after Kubernetes' plugin tests).

use std::sync::Arc;

use kubox_core::api::core_v1::{Node, Pod};
use rand::SeedableRng;
use serde_json::{json, Value};

use super::*;
use crate::nodeinfo::{NodeInfo, PodInfo, Snapshot, VolumeCatalog, VolumePlacement, Workloads};
use crate::profile::{FitError, ScheduleError};

/// (name, existing pods, pod, expected reasons).
type FitCase = (
    &'static str,
    Vec<Arc<PodInfo>>,
    Arc<PodInfo>,
    Vec<&'static str>,
);
/// (name, pod, expected (node, first reason) failures).
type PodCase = (
    &'static str,
    Arc<PodInfo>,
    Vec<(&'static str, &'static str)>,
);
/// (name, existing pods, pod, expected (node, first reason) failures).
type ExistingCase = (
    &'static str,
    Vec<Arc<PodInfo>>,
    Arc<PodInfo>,
    Vec<(&'static str, &'static str)>,
);

fn node(name: &str, extra: Value) -> Arc<Node> {
    let mut v = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
    merge(&mut v, extra);
    Arc::new(serde_json::from_value(v).unwrap())
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn pod(name: &str, extra: Value) -> Arc<PodInfo> {
    pod_prio(name, 0, extra)
}

fn pod_prio(name: &str, prio: i32, extra: Value) -> Arc<PodInfo> {
    let mut v = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "c", "image": "img"}]}});
    merge(&mut v, extra);
    let p: Pod = serde_json::from_value(v).unwrap();
    Arc::new(PodInfo::new(Arc::new(p), prio))
}

fn on(name: &str, node: &str, extra: Value) -> Arc<PodInfo> {
    let mut e = json!({"spec": {"nodeName": node}});
    merge(&mut e, extra);
    pod(name, e)
}

fn cpu(m: &str) -> Value {
    json!({"spec": {"containers": [{"name": "c", "image": "img", "resources": {"requests": {"cpu": m}}}]}})
}

/// A pod of priority `prio` requesting `m` cpu, bound to `node`.
fn bound(name: &str, node: &str, prio: i32, m: &str) -> Arc<PodInfo> {
    let mut e = cpu(m);
    merge(&mut e, json!({"spec": {"nodeName": node}}));
    pod_prio(name, prio, e)
}

/// The FitError of a cycle that must fail for `p`.
fn fit_error(
    prof: &Profile,
    st: &mut CycleState,
    p: &PodInfo,
    snap: &Snapshot,
    rng: &mut rand::rngs::StdRng,
) -> Box<FitError> {
    match prof.schedule(st, p, snap, &mut 0, rng, &|_| vec![]) {
        Err(ScheduleError::Fit(fe)) => fe,
        Err(e) => panic!("{}: not a fit error: {e}", p.name),
        Ok(r) => panic!("{}: scheduled to {}", p.name, r.node),
    }
}

/// Runs PreFilter + Filter of `profile` for `p` on every node; returns (node, reasons).
fn filter_all(profile: &Profile, snapshot: &Snapshot, p: &PodInfo) -> Vec<(String, Vec<String>)> {
    let mut st = CycleState::default();
    match profile.run_pre_filter(&mut st, p, snapshot) {
        Err(s) => snapshot
            .nodes
            .iter()
            .map(|n| (n.name.clone(), s.reasons.clone()))
            .collect(),
        Ok(allowed) => {
            let mut v: Vec<(String, Vec<String>)> = snapshot
                .nodes
                .iter()
                .map(|n| {
                    if allowed.as_ref().is_some_and(|a| !a.contains(&n.name)) {
                        return (n.name.clone(), vec!["<prefilter>".to_string()]);
                    }
                    (n.name.clone(), profile.run_filters(&st, p, n).reasons)
                })
                .collect();
            v.sort();
            v
        }
    }
}

fn single(p: Arc<dyn FilterPlugin>, pre: Option<Arc<dyn PreFilterPlugin>>) -> Profile {
    let mut pr = Profile::new("t").with_filter(p);
    if let Some(pre) = pre {
        pr = pr.with_pre_filter(pre);
    }
    pr
}

fn fails(r: &[(String, Vec<String>)]) -> Vec<(&str, &str)> {
    r.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n.as_str(), v[0].as_str()))
        .collect()
}

#[test]
fn node_resources_fit_filter_table() {
    let fit = Arc::new(NodeResourcesFit::default());
    let prof = single(fit.clone(), Some(fit));
    let n = node(
        "n",
        json!({"status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "2", "example.com/gpu": "1"}}}),
    );
    let cases: Vec<FitCase> = vec![
        ("fits", vec![], pod("p", cpu("1")), vec![]),
        (
            "insufficient cpu",
            vec![on("a", "n", cpu("1500m"))],
            pod("p", cpu("1")),
            vec!["Insufficient cpu"],
        ),
        (
            "init container max rule",
            vec![on("a", "n", cpu("1"))],
            pod(
                "p",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "500m"}}}],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1500m"}}}]}}),
            ),
            vec!["Insufficient cpu"],
        ),
        (
            "overhead counts",
            vec![on("a", "n", cpu("1"))],
            pod(
                "p",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}], "overhead": {"cpu": "1m"}}}),
            ),
            vec!["Insufficient cpu"],
        ),
        (
            "too many pods",
            vec![on("a", "n", json!({})), on("b", "n", json!({}))],
            pod("p", json!({})),
            vec!["Too many pods"],
        ),
        (
            "cpu and memory",
            vec![],
            pod(
                "p",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "3", "memory": "2Gi"}}}]}}),
            ),
            vec!["Insufficient cpu", "Insufficient memory"],
        ),
        (
            "extended resource",
            vec![],
            pod(
                "p",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "2"}}}]}}),
            ),
            vec!["Insufficient example.com/gpu"],
        ),
        (
            "unknown extended resource",
            vec![],
            pod(
                "p",
                json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/fpga": "1"}}}]}}),
            ),
            vec!["Insufficient example.com/fpga"],
        ),
    ];
    for (name, existing, p, want) in cases {
        let snap = Snapshot::from_objects(vec![n.clone()], existing);
        let r = filter_all(&prof, &snap, &p);
        assert_eq!(r[0].1, want, "{name}");
    }
}

#[test]
fn fit_scoring_strategies_table() {
    // Kubernetes' least_allocated_test: node 4000m / 10000 memory, pod 3000m/5000 on a node
    // with nothing → cpu (4000-3000)*100/4000 = 25, mem (10000-5000)*100/10000 = 50 → 37.
    let n = node(
        "n",
        json!({"status": {"allocatable": {"cpu": "4", "memory": "10000", "pods": "110"}}}),
    );
    let p = pod(
        "p",
        json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "3", "memory": "5000"}}}]}}),
    );
    let ni = NodeInfo::new(n.clone());
    let res = vec![
        resources::ResourceSpec::new("cpu", 1),
        resources::ResourceSpec::new("memory", 1),
    ];
    assert_eq!(
        resources::fit_score(&ScoringStrategy::LeastAllocated, &res, &p, &ni),
        37
    );
    assert_eq!(
        resources::fit_score(&ScoringStrategy::MostAllocated, &res, &p, &ni),
        62
    );
    let shape = vec![
        resources::UtilizationShapePoint {
            utilization: 0,
            score: 0,
        },
        resources::UtilizationShapePoint {
            utilization: 100,
            score: 10,
        },
    ];
    // utilization cpu 75 → 75, memory 50 → 50 → round(62.5) = 63.
    assert_eq!(
        resources::fit_score(
            &ScoringStrategy::RequestedToCapacityRatio(shape),
            &res,
            &p,
            &ni
        ),
        63
    );
    // A pod without requests counts as 100m / 200Mi.
    let empty = pod("e", json!({}));
    let big = NodeInfo::new(node(
        "b",
        json!({"status": {"allocatable": {"cpu": "1", "memory": "2000Mi", "pods": "110"}}}),
    ));
    assert_eq!(
        resources::fit_score(&ScoringStrategy::LeastAllocated, &res, &empty, &big),
        (90 + 90) / 2
    );
    // Balanced: cpu 3/4 = .75, memory .5 → std .125 → 87.
    assert_eq!(resources::balanced_score(&res, &p, &ni), 87);
}

#[test]
fn node_name_unschedulable_taints_table() {
    let prof = Profile::new("t")
        .with_filter(Arc::new(NodeUnschedulable))
        .with_filter(Arc::new(NodeName))
        .with_filter(Arc::new(TaintToleration));
    let nodes = vec![
        node("plain", json!({})),
        node("cordoned", json!({"spec": {"unschedulable": true}})),
        node(
            "tainted",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
        ),
        node(
            "soft",
            json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}}),
        ),
        node(
            "exec",
            json!({"spec": {"taints": [{"key": "x", "effect": "NoExecute"}]}}),
        ),
    ];
    let snap = Snapshot::from_objects(nodes, vec![]);
    let cases: Vec<PodCase> = vec![
        (
            "plain pod",
            pod("p", json!({})),
            vec![
                ("cordoned", "node(s) were unschedulable"),
                ("exec", "node(s) had untolerated taint {x: }"),
                ("tainted", "node(s) had untolerated taint {dedicated: gpu}"),
            ],
        ),
        (
            "tolerates everything",
            pod(
                "p",
                json!({"spec": {"tolerations": [{"operator": "Exists"}]}}),
            ),
            vec![],
        ),
        (
            "tolerates gpu by value",
            pod(
                "p",
                json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
            ),
            vec![
                ("cordoned", "node(s) were unschedulable"),
                ("exec", "node(s) had untolerated taint {x: }"),
            ],
        ),
        (
            "wrong value",
            pod(
                "p",
                json!({"spec": {"tolerations": [{"key": "dedicated", "value": "cpu"}]}}),
            ),
            vec![
                ("cordoned", "node(s) were unschedulable"),
                ("exec", "node(s) had untolerated taint {x: }"),
                ("tainted", "node(s) had untolerated taint {dedicated: gpu}"),
            ],
        ),
        (
            "node name",
            pod("p", json!({"spec": {"nodeName": "soft"}})),
            vec![
                ("cordoned", "node(s) were unschedulable"),
                ("exec", "node(s) didn't match the requested node name"),
                ("plain", "node(s) didn't match the requested node name"),
                ("tainted", "node(s) didn't match the requested node name"),
            ],
        ),
    ];
    for (name, p, want) in cases {
        let r = filter_all(&prof, &snap, &p);
        assert_eq!(fails(&r), want, "{name}");
    }
}

#[test]
fn taint_toleration_score_prefers_fewer_soft_taints() {
    let t = TaintToleration;
    let nodes = [
        NodeInfo::new(node("a", json!({}))),
        NodeInfo::new(node(
            "b",
            json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}}),
        )),
        NodeInfo::new(node(
            "c",
            json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}, {"key": "k2", "effect": "PreferNoSchedule"}]}}),
        )),
    ];
    let p = pod("p", json!({}));
    let mut st = CycleState::default();
    t.pre_score(&mut st, &p, &[], &Snapshot::default());
    let mut scores: Vec<NodeScore> = nodes
        .iter()
        .map(|n| NodeScore {
            name: n.shared_name.clone(),
            score: t.score(&st, &p, n).unwrap(),
        })
        .collect();
    t.normalize_score(&st, &p, &mut scores);
    assert_eq!(
        scores.iter().map(|s| s.score).collect::<Vec<_>>(),
        [100, 50, 0]
    );
}

#[test]
fn node_affinity_table() {
    let aff = Arc::new(NodeAffinity);
    let prof = single(aff.clone(), Some(aff.clone()));
    let nodes = vec![
        node(
            "a",
            json!({"metadata": {"labels": {"zone": "a", "gpu": "true", "cores": "8"}}}),
        ),
        node(
            "b",
            json!({"metadata": {"labels": {"zone": "b", "cores": "2"}}}),
        ),
    ];
    let snap = Snapshot::from_objects(nodes, vec![]);
    let req = |terms: Value| json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}});
    let e = "node(s) didn't match Pod's node affinity/selector";
    let cases: Vec<PodCase> = vec![
        ("no constraints", pod("p", json!({})), vec![]),
        (
            "nodeSelector",
            pod("p", json!({"spec": {"nodeSelector": {"zone": "a"}}})),
            vec![("b", e)],
        ),
        (
            "In",
            pod(
                "p",
                req(
                    json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]),
                ),
            ),
            vec![("a", e)],
        ),
        (
            "NotIn",
            pod(
                "p",
                req(
                    json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]}]),
                ),
            ),
            vec![("b", e)],
        ),
        (
            "Exists",
            pod(
                "p",
                req(json!([{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}])),
            ),
            vec![("b", e)],
        ),
        (
            "DoesNotExist",
            pod(
                "p",
                req(json!([{"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}])),
            ),
            vec![("a", e)],
        ),
        (
            "Gt",
            pod(
                "p",
                req(
                    json!([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]),
                ),
            ),
            vec![("b", e)],
        ),
        (
            "Lt",
            pod(
                "p",
                req(
                    json!([{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}]),
                ),
            ),
            vec![("a", e)],
        ),
        (
            "terms ORed",
            pod(
                "p",
                req(
                    json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}, {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]),
                ),
            ),
            vec![],
        ),
        (
            "empty term matches nothing",
            pod("p", req(json!([{}]))),
            vec![("a", e), ("b", e)],
        ),
        (
            "matchFields metadata.name",
            pod(
                "p",
                req(
                    json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]),
                ),
            ),
            vec![("a", "<prefilter>")],
        ),
    ];
    for (name, p, want) in cases {
        let r = filter_all(&prof, &snap, &p);
        assert_eq!(fails(&r), want, "{name}");
    }
    // Preferred terms: weights summed, normalized to the max.
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 5, "preference": {"matchExpressions": [{"key": "cores", "operator": "Exists"}]}}]}}}}),
    );
    let mut st = CycleState::default();
    assert!(aff.pre_score(&mut st, &p, &[], &snap).is_success());
    let mut scores: Vec<NodeScore> = snap
        .nodes
        .iter()
        .map(|n| NodeScore {
            name: n.shared_name.clone(),
            score: aff.score(&st, &p, n).unwrap(),
        })
        .collect();
    aff.normalize_score(&st, &p, &mut scores);
    let got: Vec<(String, i64)> = scores
        .into_iter()
        .map(|s| (s.name.to_string(), s.score))
        .collect();
    assert_eq!(got, [("a".to_string(), 100), ("b".to_string(), 33)]);
}

#[test]
fn node_ports_table() {
    let np = Arc::new(NodePorts);
    let prof = single(np.clone(), Some(np));
    let port = |p: i32, proto: &str, ip: &str| json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": p, "protocol": proto, "hostIP": ip}]}]}});
    let e = "node(s) didn't have free ports for the requested pod ports";
    let cases = vec![
        (
            "same port",
            port(8080, "TCP", ""),
            port(8080, "TCP", ""),
            Some(e),
        ),
        (
            "other protocol",
            port(8080, "TCP", ""),
            port(8080, "UDP", ""),
            None,
        ),
        (
            "other port",
            port(8080, "TCP", ""),
            port(8081, "TCP", ""),
            None,
        ),
        (
            "specific vs wildcard ip",
            port(8080, "TCP", "10.0.0.1"),
            port(8080, "TCP", ""),
            Some(e),
        ),
        (
            "two specific ips",
            port(8080, "TCP", "10.0.0.1"),
            port(8080, "TCP", "10.0.0.2"),
            None,
        ),
    ];
    for (name, existing, incoming, want) in cases {
        let snap = Snapshot::from_objects(vec![node("n", json!({}))], vec![on("a", "n", existing)]);
        let r = filter_all(&prof, &snap, &pod("p", incoming));
        assert_eq!(r[0].1.first().map(String::as_str), want, "{name}");
    }
}

fn zoned(name: &str, zone: &str) -> Arc<Node> {
    node(
        name,
        json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}}),
    )
}

#[test]
fn inter_pod_affinity_filter_table() {
    let ipa = Arc::new(InterPodAffinity::default());
    let prof = single(ipa.clone(), Some(ipa));
    let nodes = vec![zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
    let term =
        |sel: Value, key: &str| json!({"labelSelector": {"matchLabels": sel}, "topologyKey": key});
    let affinity = |t: Value| json!({"spec": {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}}}, "metadata": {"labels": {"app": "web"}}});
    let anti = |t: Value| json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}}}, "metadata": {"labels": {"app": "web"}}});
    let db = on("db", "a1", json!({"metadata": {"labels": {"app": "db"}}}));
    let zone = "topology.kubernetes.io/zone";
    let host = "kubernetes.io/hostname";
    let cases: Vec<ExistingCase> = vec![
        (
            "affinity to db's zone",
            vec![db.clone()],
            pod("p", affinity(term(json!({"app": "db"}), zone))),
            vec![("b1", interpod::ERR_AFFINITY)],
        ),
        (
            "affinity to db's host",
            vec![db.clone()],
            pod("p", affinity(term(json!({"app": "db"}), host))),
            vec![
                ("a2", interpod::ERR_AFFINITY),
                ("b1", interpod::ERR_AFFINITY),
            ],
        ),
        (
            "affinity, no match anywhere, not self-matching",
            vec![],
            pod("p", affinity(term(json!({"app": "db"}), zone))),
            vec![
                ("a1", interpod::ERR_AFFINITY),
                ("a2", interpod::ERR_AFFINITY),
                ("b1", interpod::ERR_AFFINITY),
            ],
        ),
        (
            "first pod of a self-affine group",
            vec![],
            pod("p", affinity(term(json!({"app": "web"}), zone))),
            vec![],
        ),
        (
            "anti-affinity to db's zone",
            vec![db.clone()],
            pod("p", anti(term(json!({"app": "db"}), zone))),
            vec![
                ("a1", interpod::ERR_ANTI_AFFINITY),
                ("a2", interpod::ERR_ANTI_AFFINITY),
            ],
        ),
        (
            "anti-affinity in another namespace does not count",
            vec![on(
                "db2",
                "a1",
                json!({"metadata": {"namespace": "other", "labels": {"app": "db"}}}),
            )],
            pod("p", anti(term(json!({"app": "db"}), zone))),
            vec![],
        ),
        (
            "anti-affinity with namespaces listed",
            vec![on(
                "db2",
                "a1",
                json!({"metadata": {"namespace": "other", "labels": {"app": "db"}}}),
            )],
            pod(
                "p",
                anti(
                    json!({"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": zone, "namespaces": ["other"]}),
                ),
            ),
            vec![
                ("a1", interpod::ERR_ANTI_AFFINITY),
                ("a2", interpod::ERR_ANTI_AFFINITY),
            ],
        ),
        (
            "anti-affinity with an empty namespaceSelector (all namespaces)",
            vec![on(
                "db2",
                "b1",
                json!({"metadata": {"namespace": "other", "labels": {"app": "db"}}}),
            )],
            pod(
                "p",
                anti(
                    json!({"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": host, "namespaceSelector": {}}),
                ),
            ),
            vec![("b1", interpod::ERR_ANTI_AFFINITY)],
        ),
        (
            "existing pod's anti-affinity is symmetric",
            vec![on("e", "b1", anti(term(json!({"app": "web"}), zone)))],
            pod("p", json!({"metadata": {"labels": {"app": "web"}}})),
            vec![("b1", interpod::ERR_EXISTING_ANTI_AFFINITY)],
        ),
    ];
    for (name, existing, p, want) in cases {
        let snap = Snapshot::from_objects(nodes.clone(), existing);
        let r = filter_all(&prof, &snap, &p);
        assert_eq!(fails(&r), want, "{name}");
    }
}

#[test]
fn inter_pod_affinity_score_prefers_matching_zone() {
    let ipa = InterPodAffinity::default();
    let nodes = vec![zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")];
    let snap = Snapshot::from_objects(
        nodes,
        vec![
            on("x", "a1", json!({"metadata": {"labels": {"app": "cache"}}})),
            on("y", "b1", json!({"metadata": {"labels": {"app": "noisy"}}})),
        ],
    );
    let p = pod(
        "p",
        json!({"spec": {"affinity": {
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "noisy"}}, "topologyKey": "topology.kubernetes.io/zone"}}]}}}}),
    );
    let mut st = CycleState::default();
    assert!(ipa.pre_score(&mut st, &p, &snap.nodes, &snap).is_success());
    let mut scores: Vec<NodeScore> = snap
        .nodes
        .iter()
        .map(|n| NodeScore {
            name: n.shared_name.clone(),
            score: ipa.score(&st, &p, n).unwrap(),
        })
        .collect();
    ipa.normalize_score(&st, &p, &mut scores);
    let mut got: Vec<(String, i64)> = scores
        .into_iter()
        .map(|s| (s.name.to_string(), s.score))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a1".to_string(), 100),
            ("b1".to_string(), 0),
            ("c1".to_string(), 50)
        ]
    );
}

#[test]
fn pod_topology_spread_filter_table() {
    let pts = Arc::new(PodTopologySpread::default());
    let prof = single(pts.clone(), Some(pts));
    let c = |skew: i32, key: &str, extra: Value| {
        let mut v = json!({"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}});
        merge(&mut v, extra);
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [v]}})
    };
    let web = |n: &str, node: &str| on(n, node, json!({"metadata": {"labels": {"app": "web"}}}));
    let zone = "topology.kubernetes.io/zone";
    let e = spread::ERR_SPREAD;
    let nodes = vec![
        zoned("a1", "a"),
        zoned("a2", "a"),
        zoned("b1", "b"),
        node("nolabel", json!({})),
    ];
    let cases: Vec<ExistingCase> = vec![
        (
            "zone a has 2, b has 0: only b",
            vec![web("x", "a1"), web("y", "a2")],
            pod("p", c(1, zone, json!({}))),
            vec![
                ("a1", e),
                ("a2", e),
                ("nolabel", spread::ERR_SPREAD_MISSING_LABEL),
            ],
        ),
        (
            "maxSkew 2 lets a in",
            vec![web("x", "a1"), web("y", "b1")],
            pod("p", c(1, zone, json!({}))),
            vec![("nolabel", spread::ERR_SPREAD_MISSING_LABEL)],
        ),
        (
            "minDomains 3 with 2 domains: global min is 0",
            vec![web("x", "a1"), web("y", "b1")],
            pod("p", c(1, zone, json!({"minDomains": 3}))),
            vec![
                ("a1", e),
                ("a2", e),
                ("b1", e),
                ("nolabel", spread::ERR_SPREAD_MISSING_LABEL),
            ],
        ),
        (
            "nodeAffinityPolicy Honor ignores domains the pod cannot use",
            vec![web("x", "a1")],
            {
                let mut v = c(1, zone, json!({}));
                merge(
                    &mut v,
                    json!({"spec": {"nodeSelector": {"topology.kubernetes.io/zone": "a"}}}),
                );
                pod("p", v)
            },
            vec![("nolabel", spread::ERR_SPREAD_MISSING_LABEL)],
        ),
        (
            "nodeAffinityPolicy Ignore counts b (0) as the minimum",
            vec![web("x", "a1")],
            {
                let mut v = c(1, zone, json!({"nodeAffinityPolicy": "Ignore"}));
                merge(
                    &mut v,
                    json!({"spec": {"nodeSelector": {"topology.kubernetes.io/zone": "a"}}}),
                );
                pod("p", v)
            },
            vec![
                ("a1", e),
                ("a2", e),
                ("nolabel", spread::ERR_SPREAD_MISSING_LABEL),
            ],
        ),
    ];
    for (name, existing, p, want) in cases {
        let snap = Snapshot::from_objects(nodes.clone(), existing);
        let r = filter_all(&prof, &snap, &p);
        assert_eq!(fails(&r), want, "{name}");
    }
}

#[test]
fn default_spreading_spreads_a_services_pods() {
    let pts = PodTopologySpread::default();
    let nodes = vec![zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")];
    let mut snap = Snapshot::from_objects(
        nodes,
        vec![
            on("x", "a1", json!({"metadata": {"labels": {"app": "web"}}})),
            on("y", "a2", json!({"metadata": {"labels": {"app": "web"}}})),
        ],
    );
    let p = pod("p", json!({"metadata": {"labels": {"app": "web"}}}));
    let mut st = CycleState::default();
    // No Service selects the pod: Skip.
    assert!(pts.pre_score(&mut st, &p, &snap.nodes, &snap).is_skip());
    let mut w = Workloads::default();
    w.selectors.insert(
        "default".into(),
        vec![kubox_core::selector::Selector::parse("app=web").unwrap()],
    );
    snap.workloads = Arc::new(w);
    assert!(pts.pre_score(&mut st, &p, &snap.nodes, &snap).is_success());
    let mut scores: Vec<NodeScore> = snap
        .nodes
        .iter()
        .map(|n| NodeScore {
            name: n.shared_name.clone(),
            score: pts.score(&st, &p, n).unwrap(),
        })
        .collect();
    pts.normalize_score(&st, &p, &mut scores);
    let best = scores.iter().max_by_key(|s| s.score).unwrap();
    assert_eq!(&*best.name, "b1");
}

#[test]
fn image_locality_table() {
    // Kubernetes' numbers: 2 nodes, image 250 MiB on both → spread 1.0.
    let mb = 1024 * 1024;
    assert_eq!(resources::image_score(&[], 2, 1), 0);
    assert_eq!(
        resources::image_score(&[(250 * mb, 2)], 2, 1),
        100 * (250 - 23) / (1000 - 23)
    );
    assert_eq!(
        resources::image_score(&[(250 * mb, 1)], 2, 1),
        100 * (125 - 23) / (1000 - 23)
    );
    assert_eq!(resources::image_score(&[(10 * mb, 2)], 2, 1), 0);
    assert_eq!(resources::image_score(&[(3000 * mb, 2)], 2, 1), 100);
    // End to end through the snapshot's image counts.
    let il = ImageLocality;
    let nodes = vec![
        node(
            "has",
            json!({"status": {"images": [{"names": ["registry/app:v1"], "sizeBytes": 500 * mb}]}}),
        ),
        node("hasnt", json!({})),
    ];
    let snap = Snapshot::from_objects(nodes, vec![]);
    let p = pod(
        "p",
        json!({"spec": {"containers": [{"name": "c", "image": "registry/app:v1"}]}}),
    );
    let mut st = CycleState::default();
    il.pre_score(&mut st, &p, &snap.nodes, &snap);
    let s: Vec<i64> = snap
        .nodes
        .iter()
        .map(|n| il.score(&st, &p, n).unwrap())
        .collect();
    assert_eq!(s, [100 * (250 - 23) / (1000 - 23), 0]);
    assert_eq!(crate::nodeinfo::normalize_image("nginx"), "nginx:latest");
    assert_eq!(
        crate::nodeinfo::normalize_image("host:5000/nginx"),
        "host:5000/nginx:latest"
    );
}

#[test]
fn volume_locality_table() {
    let vl = Arc::new(VolumeLocality);
    let prof = single(vl.clone(), Some(vl));
    let nodes = vec![zoned("a1", "a"), zoned("b1", "b")];
    let mut snap = Snapshot::from_objects(nodes, vec![]);
    let mut cat = VolumeCatalog::default();
    cat.claims.insert(
        "default/local".into(),
        VolumePlacement {
            node_affinity: Some(
                serde_json::from_value(json!({"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["b1"]}]}]}))
                .unwrap(),
            ),
            ..Default::default()
        },
    );
    cat.claims.insert(
        "default/zonal".into(),
        VolumePlacement {
            node_affinity: None,
            labels: [("topology.kubernetes.io/zone".to_string(), "a".to_string())].into(),
        },
    );
    snap.volumes = Arc::new(cat);
    let with = |claim: &str| {
        pod(
            "p",
            json!({"spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}}),
        )
    };
    assert_eq!(
        fails(&filter_all(&prof, &snap, &with("local"))),
        [("a1", node::ERR_VOLUME_NODE_AFFINITY)]
    );
    assert_eq!(
        fails(&filter_all(&prof, &snap, &with("zonal"))),
        [("b1", node::ERR_VOLUME_ZONE)]
    );
    assert!(fails(&filter_all(&prof, &snap, &with("unknown"))).is_empty());
}

#[test]
fn default_profile_failed_scheduling_message() {
    let prof = default_profile("default-scheduler").without("DefaultPreemption");
    let nodes = vec![
        node(
            "n1",
            json!({"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}, "metadata": {"labels": {"disk": "ssd"}}}),
        ),
        node(
            "n2",
            json!({"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}, "metadata": {"labels": {"disk": "ssd"}}}),
        ),
        node("n3", json!({})),
        node("n4", json!({})),
        node("n5", json!({})),
    ];
    let snap = Snapshot::from_objects(nodes, vec![]);
    let p = pod(
        "p",
        json!({"spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "resources": {"requests": {"cpu": "2"}}}]}}),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let err = prof
        .schedule(
            &mut CycleState::default(),
            &p,
            &snap,
            &mut 0,
            &mut rng,
            &|_| vec![],
        )
        .unwrap_err();
    let ScheduleError::Fit(fe) = err else {
        panic!("{err}")
    };
    assert_eq!(
        fe.to_string(),
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector."
    );
    assert!(fe.unschedulable_plugins.contains("NodeResourcesFit"));
}

#[test]
fn default_profile_prefers_least_allocated() {
    let prof = default_profile("default-scheduler");
    let snap = Snapshot::from_objects(
        vec![node("busy", json!({})), node("idle", json!({}))],
        vec![on("x", "busy", cpu("3"))],
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let r = prof
        .schedule(
            &mut CycleState::default(),
            &pod("p", cpu("500m")),
            &snap,
            &mut 0,
            &mut rng,
            &|_| vec![],
        )
        .unwrap();
    assert_eq!(r.node, "idle");
}

#[test]
fn preemption_picks_node_and_minimal_victims() {
    let prof = default_profile("default-scheduler");
    let nodes = vec![
        node(
            "n1",
            json!({"status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}}),
        ),
        node(
            "n2",
            json!({"status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}}),
        ),
        node(
            "n3",
            json!({"status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}}),
        ),
    ];
    let existing = vec![
        // n1: two low pods of 1 cpu each (priority 10 and 20).
        bound("a", "n1", 10, "1"),
        bound("b", "n1", 20, "1"),
        // n2: one pod of priority 50 holding 2 cpu.
        bound("c", "n2", 50, "2"),
        // n3: a higher-priority pod than the preemptor.
        bound("d", "n3", 1000, "2"),
    ];
    let snap = Snapshot::from_objects(nodes, existing);
    let p = pod_prio("p", 100, cpu("1"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut st = CycleState::default();
    let fe = fit_error(&prof, &mut st, &p, &snap, &mut rng);
    let pre = crate::preemption::DefaultPreemption::default();
    let r = pre.preempt(&st, &p, &snap, &fe.statuses, &prof, 0);
    assert!(r.status.is_success(), "{}", r.status);
    // n1 loses only its lowest-priority pod (highest victim priority 10 < n2's 50).
    assert_eq!(r.nominated_node.as_deref(), Some("n1"));
    assert_eq!(
        r.victims
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );

    // A preemptor with preemptionPolicy Never.
    let never = pod_prio(
        "q",
        100,
        json!({"spec": {"preemptionPolicy": "Never", "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}),
    );
    let r = pre.preempt(&st, &never, &snap, &fe.statuses, &prof, 0);
    assert_eq!(
        r.status.message(),
        "preemption: not eligible due to preemptionPolicy=Never."
    );

    // Nobody of lower priority: the message Kubernetes prints.
    let low = pod_prio("r", 1, cpu("1"));
    let mut st = CycleState::default();
    let fe = fit_error(&prof, &mut st, &low, &snap, &mut rng);
    let r = pre.preempt(&st, &low, &snap, &fe.statuses, &prof, 0);
    let mut full = FitError {
        post_filter_msg: Some(r.status.message()),
        ..*fe
    };
    full.num_all_nodes = 3;
    assert_eq!(
        full.to_string(),
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
}

/// Preemption's dry runs remove victims from the cycle state's affinity and spreading
/// counts (`remove_pod`), which are indexed by topology domain.
#[test]
fn preemption_removes_victims_from_affinity_and_spread_counts() {
    let prof = default_profile("default-scheduler");
    let nodes = vec![node("n1", json!({})), node("n2", json!({}))];
    let x = |name: &str, node: &str| {
        pod_prio(
            name,
            1,
            json!({"metadata": {"labels": {"app": "x"}}, "spec": {"nodeName": node}}),
        )
    };
    let mut hog = cpu("4");
    merge(&mut hog, json!({"spec": {"nodeName": "n2"}}));
    // n1: two low-priority app=x pods; n2: full with a pod the preemptor may not evict.
    let existing = vec![x("low1", "n1"), x("low2", "n1"), pod_prio("hog", 1000, hog)];
    let snap = Snapshot::from_objects(nodes, existing);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let pre = crate::preemption::DefaultPreemption::default();
    let selector = json!({"matchLabels": {"app": "x"}});
    let cases = [
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}]}}}),
        // n1's skew is 2 + 1 - 0: both app=x pods must go for 0 + 1 - 0 <= 1.
        json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector}]}),
    ];
    for (i, spec) in cases.into_iter().enumerate() {
        let mut extra = cpu("1");
        merge(
            &mut extra,
            json!({"metadata": {"labels": {"app": "x"}}, "spec": spec}),
        );
        let p = pod_prio("p", 100, extra);
        let mut st = CycleState::default();
        let fe = fit_error(&prof, &mut st, &p, &snap, &mut rng);
        let r = pre.preempt(&st, &p, &snap, &fe.statuses, &prof, 0);
        assert!(r.status.is_success(), "case {i}: {}", r.status);
        assert_eq!(r.nominated_node.as_deref(), Some("n1"), "case {i}");
        let mut victims: Vec<_> = r.victims.iter().map(|v| v.name.as_str()).collect();
        victims.sort();
        assert_eq!(victims, ["low1", "low2"], "case {i}");
    }
}

#[test]
fn preemption_leaves_room_of_pods_nominated_to_a_node() {
    let prof = default_profile("default-scheduler");
    let alloc = json!({"status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}});
    let nodes = vec![node("n1", alloc.clone()), node("n2", alloc)];
    // n1's low pods are cheaper victims than n2's.
    let existing = vec![
        bound("a", "n1", 10, "1"),
        bound("b", "n1", 10, "1"),
        bound("c", "n2", 20, "1"),
        bound("d", "n2", 20, "1"),
    ];
    let mut snap = Snapshot::from_objects(nodes, existing);
    let p = pod_prio("p", 100, cpu("2"));
    let pre = crate::preemption::DefaultPreemption::default();
    let run = |snap: &Snapshot, pod: &PodInfo| {
        let mut st = CycleState::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let fe = fit_error(&prof, &mut st, pod, snap, &mut rng);
        pre.preempt(&st, pod, snap, &fe.statuses, &prof, 0)
    };
    assert_eq!(run(&snap, &p).nominated_node.as_deref(), Some("n1"));
    // With an equal-priority pod already nominated to n1, the next one goes to n2.
    snap.nominated = Arc::new([("n1".to_string(), vec![p])].into_iter().collect());
    let q = pod_prio("q", 100, cpu("2"));
    assert_eq!(run(&snap, &q).nominated_node.as_deref(), Some("n2"));

    // A pod nominated to a node whose victims are still terminating waits.
    let mut e = cpu("2");
    merge(&mut e, json!({"status": {"nominatedNodeName": "n1"}}));
    let waiting = pod_prio("w", 100, e);
    let victim = bound("a", "n1", 10, "1");
    let mut vp = (*victim.pod).clone();
    vp.metadata.deletion_timestamp = Some(kubox_core::time::Time(jiff::Timestamp::UNIX_EPOCH));
    let victim = Arc::new(PodInfo::new(Arc::new(vp), 10));
    let alloc = json!({"status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}});
    let snap = Snapshot::from_objects(
        vec![node("n1", alloc)],
        vec![victim, bound("b", "n1", 10, "1")],
    );
    assert_eq!(
        run(&snap, &waiting).status.message(),
        "preemption: not eligible due to a terminating pod on the nominated node."
    );
}

#[test]
fn preemption_respects_pdbs() {
    let prof = default_profile("default-scheduler");
    let nodes = vec![
        node(
            "n1",
            json!({"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}}),
        ),
        node(
            "n2",
            json!({"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}}),
        ),
    ];
    let lp = |name: &str, node: &str, app: &str| {
        pod_prio(
            name,
            0,
            json!({"metadata": {"labels": {"app": app}}, "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}),
        )
    };
    let mut snap =
        Snapshot::from_objects(nodes, vec![lp("a", "n1", "guarded"), lp("b", "n2", "free")]);
    let pdb: kubox_core::api::policy_v1::PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "g", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "guarded"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}})).unwrap();
    snap.pdbs = Arc::new(vec![Arc::new(pdb)]);
    let p = pod_prio("p", 100, cpu("1"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    for offset in 0..2 {
        let mut st = CycleState::default();
        let fe = fit_error(&prof, &mut st, &p, &snap, &mut rng);
        let r = crate::preemption::DefaultPreemption::default().preempt(
            &st,
            &p,
            &snap,
            &fe.statuses,
            &prof,
            offset,
        );
        assert_eq!(r.nominated_node.as_deref(), Some("n2"), "offset {offset}");
    }
}

#[test]
fn nominated_pods_hold_their_room() {
    let prof = default_profile("default-scheduler");
    let snap = Snapshot::from_objects(
        vec![node(
            "n1",
            json!({"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}}),
        )],
        vec![],
    );
    let nominated = pod_prio("big", 100, cpu("1"));
    let p = pod_prio("small", 10, cpu("500m"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let nom = |n: &str| {
        if n == "n1" {
            vec![nominated.clone()]
        } else {
            vec![]
        }
    };
    assert!(prof
        .schedule(
            &mut CycleState::default(),
            &p,
            &snap,
            &mut 0,
            &mut rng,
            &nom
        )
        .is_err());
    // A pod of higher priority than the nominated one ignores the nomination.
    let p = pod_prio("urgent", 200, cpu("500m"));
    assert!(prof
        .schedule(
            &mut CycleState::default(),
            &p,
            &snap,
            &mut 0,
            &mut rng,
            &nom
        )
        .is_ok());
}
