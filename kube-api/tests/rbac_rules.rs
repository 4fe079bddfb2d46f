//! Pure RBAC evaluation: rule matching (cases from Kubernetes' `TestRuleMatches`,
//! `TestAuthorizer` and `evaluation_helpers`), subject matching, rule resolution over a
//! [`Policy`] with aggregation, and the bootstrap policy's shape.

use kube_api::auth::{Attributes, UserInfo};
use kube_api::rbac::bootstrap::{cluster_role_bindings, cluster_roles, node_rules};
use kube_api::rbac::rules::{
    allows_non_resource, rule_allows, service_account_username, subject_matches,
};
use kube_api::rbac::{Access, Policy};
use kubox_core::api::rbac_v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};
use serde_json::json;

fn rule(verbs: &str, groups: &str, resources: &str, names: &str) -> PolicyRule {
    let split = |s: &str| (!s.is_empty()).then(|| s.split(',').map(String::from).collect());
    PolicyRule {
        verbs: verbs.split(',').map(String::from).collect(),
        api_groups: split(groups),
        resources: split(resources),
        resource_names: split(names),
        non_resource_urls: None,
    }
}

fn url_rule(verbs: &str, urls: &str) -> PolicyRule {
    PolicyRule {
        verbs: verbs.split(',').map(String::from).collect(),
        non_resource_urls: Some(urls.split(',').map(String::from).collect()),
        ..Default::default()
    }
}

/// `verb group resource[/sub] [name]`.
fn allows(rule: &PolicyRule, request: &str) -> bool {
    let user = UserInfo::new("u", &[]);
    let parts: Vec<&str> = request.split(' ').collect();
    let group = if parts[1] == "core" { "" } else { parts[1] };
    let (resource, sub) = parts[2].split_once('/').unwrap_or((parts[2], ""));
    let attrs = Attributes {
        user: &user,
        verb: parts[0],
        namespace: "ns",
        api_group: group,
        api_version: "v1",
        resource,
        subresource: sub,
        name: parts.get(3).copied().unwrap_or(""),
    };
    rule_allows(rule, &attrs)
}

#[test]
fn resource_rules_match_as_kubernetes() {
    // (rule: verbs groups resources names, request, expected)
    let cases: &[(PolicyRule, &str, bool)] = &[
        // star verb, exact match other
        (
            rule("*", "group1", "resource1", ""),
            "verb1 group1 resource1",
            true,
        ),
        (
            rule("*", "group1", "resource1", ""),
            "verb2 group1 resource1",
            true,
        ),
        (
            rule("*", "group1", "resource1", ""),
            "verb1 group2 resource1",
            false,
        ),
        (
            rule("*", "group1", "resource1", ""),
            "verb1 group1 resource2",
            false,
        ),
        // star group
        (
            rule("verb1", "*", "resource1", ""),
            "verb1 group2 resource1",
            true,
        ),
        (
            rule("verb1", "*", "resource1", ""),
            "verb2 group1 resource1",
            false,
        ),
        (
            rule("verb1", "*", "resource1", ""),
            "verb1 group1 resource2",
            false,
        ),
        // star resource, also covers subresources
        (
            rule("verb1", "group1", "*", ""),
            "verb1 group1 resource2",
            true,
        ),
        (
            rule("verb1", "group1", "*", ""),
            "verb1 group1 pods/log",
            true,
        ),
        (
            rule("verb1", "group1", "*", ""),
            "verb1 group2 resource2",
            false,
        ),
        // tuple expansion
        (
            rule("verb1,verb2", "group1,group2", "resource1,resource2", ""),
            "verb2 group2 resource2",
            true,
        ),
        (
            rule("verb1,verb2", "group1,group2", "resource1,resource2", ""),
            "verb3 group2 resource2",
            false,
        ),
        // subresources: exact, never implied by the resource
        (
            rule("*", "*", "resource1/subresource1", ""),
            "verb1 group1 resource1/subresource1",
            true,
        ),
        (
            rule("*", "*", "resource1/subresource1", ""),
            "verb1 group1 resource1/subresource2",
            false,
        ),
        (
            rule("*", "*", "resource1/subresource1", ""),
            "verb1 group1 resource2/subresource1",
            false,
        ),
        (
            rule("*", "*", "resource1/subresource1", ""),
            "verb1 group1 resource1",
            false,
        ),
        (rule("*", "*", "pods", ""), "get core pods/status", false),
        (rule("*", "*", "pods/status", ""), "get core pods", false),
        (rule("get", "", "pods/log", ""), "get core pods/log", false), // no apiGroups: nothing
        // */subresource
        (
            rule("*", "*", "*/scale", ""),
            "update apps deployments/scale",
            true,
        ),
        (
            rule("*", "*", "*/scale", ""),
            "update core replicationcontrollers/scale",
            true,
        ),
        (
            rule("*", "*", "*/scale", ""),
            "update apps deployments",
            false,
        ),
        (
            rule("*", "*", "*/scale", ""),
            "update apps deployments/status",
            false,
        ),
        (
            rule("*", "*", "*/scale", ""),
            "update apps deployments/scales",
            false,
        ),
        // resource/* is literal in Kubernetes: no wildcard over subresources
        (rule("*", "*", "pods/*", ""), "get core pods/log", false),
        (rule("*", "*", "pods/*", ""), "get core pods", false),
        // resourceNames: only named requests
        (
            rule("get,update,list,create", "*", "configmaps", "a,b"),
            "get core configmaps a",
            true,
        ),
        (
            rule("get,update,list,create", "*", "configmaps", "a,b"),
            "update core configmaps b",
            true,
        ),
        (
            rule("get,update,list,create", "*", "configmaps", "a,b"),
            "get core configmaps c",
            false,
        ),
        (
            rule("get,update,list,create", "*", "configmaps", "a,b"),
            "list core configmaps",
            false,
        ),
        (
            rule("get,update,list,create", "*", "configmaps", "a,b"),
            "create core configmaps",
            false,
        ),
        (
            rule("get", "*", "configmaps", ""),
            "get core configmaps anything",
            true,
        ),
        // case-sensitive verbs and resources
        (rule("get", "*", "pods", ""), "GET core pods", false),
        (rule("get", "*", "pods", ""), "get core Pods", false),
    ];
    for (i, (r, req, want)) in cases.iter().enumerate() {
        let r = if r.api_groups.as_deref() == Some(&["core".to_string()][..]) {
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                ..r.clone()
            }
        } else {
            r.clone()
        };
        assert_eq!(allows(&r, req), *want, "case {i}: {r:?} on {req:?}");
    }
    // An explicit core group ("") matches core requests.
    let core = PolicyRule {
        api_groups: Some(vec![String::new()]),
        ..rule("get", "x", "pods/log", "")
    };
    assert!(allows(&core, "get core pods/log"));
}

#[test]
fn non_resource_urls_match_as_kubernetes() {
    let cases: &[(PolicyRule, &str, &str, bool)] = &[
        (url_rule("verb1", "*"), "verb1", "/foo", true),
        (url_rule("verb1", "*"), "verb1", "/foo/bar/one", true),
        (url_rule("verb1", "*"), "verb2", "/foo", false),
        (url_rule("verb1", "/foo/*"), "verb1", "/foo", false),
        (url_rule("verb1", "/foo/*"), "verb1", "/foo/", true),
        (url_rule("verb1", "/foo/*"), "verb1", "/foo/bar", true),
        (url_rule("verb1", "/foo/*"), "verb1", "/foo/bar/one", true),
        (url_rule("verb1", "/foo/*"), "verb1", "/foobar", false),
        (url_rule("verb1", "/foo*"), "verb1", "/foobar", true),
        (url_rule("verb1", "/foo/bar"), "verb1", "/foo/bar", true),
        (url_rule("verb1", "/foo/bar"), "verb1", "/foo/bar/", false),
        (url_rule("get", "/apis"), "get", "/apis", true),
        (url_rule("get", "/apis"), "watch", "/apis", false),
        (url_rule("*", "/apis"), "post", "/apis", true),
        (url_rule("get", "/apis/*"), "get", "/apis/v1", true),
        (url_rule("get", "/apis/*"), "get", "/api/v1", false),
    ];
    for (i, (r, verb, path, want)) in cases.iter().enumerate() {
        assert_eq!(
            allows_non_resource(std::slice::from_ref(r), verb, path),
            *want,
            "case {i}: {r:?} {verb} {path}"
        );
    }
    // Resource rules never grant paths, and URL rules never grant resources.
    assert!(!allows_non_resource(
        &[rule("*", "*", "*", "")],
        "get",
        "/healthz"
    ));
    assert!(!allows(&url_rule("*", "*"), "get core pods"));
}

fn subj(kind: &str, name: &str, ns: Option<&str>) -> Subject {
    Subject {
        api_group: None,
        kind: kind.into(),
        name: name.into(),
        namespace: ns.map(String::from),
    }
}

#[test]
fn subjects_match_users_groups_and_service_accounts() {
    let alice = UserInfo::new("alice", &["devs", "system:authenticated"]);
    let sa = UserInfo::new(
        service_account_username("ci", "builder"),
        &["system:serviceaccounts"],
    );
    assert_eq!(sa.name, "system:serviceaccount:ci:builder");
    let cases = [
        (subj("User", "alice", None), &alice, "", true),
        (subj("User", "Alice", None), &alice, "", false),
        (subj("Group", "devs", None), &alice, "", true),
        (subj("Group", "alice", None), &alice, "", false),
        (subj("User", "devs", None), &alice, "", false),
        // A ServiceAccount subject with its namespace.
        (subj("ServiceAccount", "builder", Some("ci")), &sa, "", true),
        (
            subj("ServiceAccount", "builder", Some("ci")),
            &sa,
            "other",
            true,
        ),
        (
            subj("ServiceAccount", "builder", Some("prod")),
            &sa,
            "ci",
            false,
        ),
        // Without a namespace: the RoleBinding's namespace; never in a ClusterRoleBinding.
        (subj("ServiceAccount", "builder", None), &sa, "ci", true),
        (subj("ServiceAccount", "builder", None), &sa, "prod", false),
        (subj("ServiceAccount", "builder", None), &sa, "", false),
        (subj("ServiceAccount", "build", Some("ci")), &sa, "", false),
        (
            subj(
                "ServiceAccount",
                "ci:builder",
                Some("system:serviceaccount"),
            ),
            &sa,
            "",
            false,
        ),
        (subj("Robot", "alice", None), &alice, "", false),
    ];
    for (i, (s, user, ns, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            subject_matches(&s, user, ns),
            want,
            "case {i}: {s:?} {}",
            user.name
        );
    }
}

fn cluster_role(v: serde_json::Value) -> ClusterRole {
    serde_json::from_value(v).unwrap()
}

fn policy() -> Policy {
    let mut p = Policy::new();
    p.add_cluster_role(cluster_role(json!({
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    })));
    p.add_role(
        serde_json::from_value::<Role>(json!({
            "metadata": {"name": "cm-writer", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
        }))
        .unwrap(),
    );
    p.add_role_binding(
        serde_json::from_value::<RoleBinding>(json!({
            "metadata": {"name": "read-pods", "namespace": "a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-reader"},
            "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]
        }))
        .unwrap(),
    );
    p.add_role_binding(
        serde_json::from_value::<RoleBinding>(json!({
            "metadata": {"name": "write-cms", "namespace": "a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-writer"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder"}]
        }))
        .unwrap(),
    );
    p.add_role_binding(
        serde_json::from_value::<RoleBinding>(json!({
            "metadata": {"name": "dangling", "namespace": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "missing"},
            "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]
        }))
        .unwrap(),
    );
    p
}

fn check(p: &Policy, user: &UserInfo, verb: &str, ns: &str, resource: &str) -> Access {
    p.authorize(&Attributes {
        user,
        verb,
        namespace: ns,
        api_group: "",
        api_version: "v1",
        resource,
        subresource: "",
        name: "",
    })
}

#[test]
fn resolution_walks_bindings_with_kubernetes_reasons() {
    let p = policy();
    let dev = UserInfo::new("bob", &["devs"]);
    let a = check(&p, &dev, "list", "a", "pods");
    assert!(a.allowed);
    assert_eq!(
        a.reason,
        r#"RBAC: allowed by RoleBinding "read-pods/a" of ClusterRole "pod-reader" to Group "devs""#
    );
    // A RoleBinding grants nothing outside its namespace, nor cluster-wide.
    assert_eq!(
        check(&p, &dev, "list", "c", "pods"),
        Access::no_opinion(String::new())
    );
    assert!(!check(&p, &dev, "list", "", "pods").allowed);
    assert!(!check(&p, &dev, "delete", "a", "pods").allowed);
    // A binding to a missing role: the error is the reason.
    assert_eq!(
        check(&p, &dev, "list", "b", "pods"),
        Access::no_opinion(r#"RBAC: role.rbac.authorization.k8s.io "missing" not found"#.into())
    );
    // Service account subject without namespace = the binding's namespace.
    let sa = UserInfo::new("system:serviceaccount:a:builder", &[]);
    let a = check(&p, &sa, "create", "a", "configmaps");
    assert!(a.allowed);
    assert_eq!(
        a.reason,
        r#"RBAC: allowed by RoleBinding "write-cms/a" of Role "cm-writer" to ServiceAccount "builder/a""#
    );
    let other_sa = UserInfo::new("system:serviceaccount:b:builder", &[]);
    assert!(!check(&p, &other_sa, "create", "a", "configmaps").allowed);
}

#[test]
fn aggregation_follows_labels_transitively() {
    let mut p = Policy::new();
    for r in cluster_roles() {
        p.add_cluster_role(r);
    }
    let rules = |name: &str| p.cluster_role_rules(name).unwrap();
    let view = rules("view");
    let edit = rules("edit");
    let admin = rules("admin");
    // view ⊂ edit ⊂ admin, through the aggregate-to-* labels (edit is labeled to admin, view to edit).
    assert!(view.iter().all(|r| edit.contains(r)));
    assert!(edit.iter().all(|r| admin.contains(r)));
    assert!(edit.len() > view.len() && admin.len() > edit.len());
    // A new role labeled aggregate-to-view shows up in all three.
    let crd_rule = rule("get,list,watch", "example.com", "widgets", "");
    p.add_cluster_role(cluster_role(json!({
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [crd_rule]
    })));
    for name in ["view", "edit", "admin"] {
        assert!(
            p.cluster_role_rules(name).unwrap().contains(&crd_rule),
            "{name}"
        );
    }
    // An aggregated role ignores its own stored rules; cycles are harmless.
    p.add_cluster_role(cluster_role(json!({
        "metadata": {"name": "loop-a", "labels": {"loop": "b"}},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"loop": "a"}}]},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    })));
    p.add_cluster_role(cluster_role(json!({
        "metadata": {"name": "loop-b", "labels": {"loop": "a"}},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"loop": "b"}}]}
    })));
    assert_eq!(p.cluster_role_rules("loop-a").unwrap(), vec![]);
}

#[test]
fn bootstrap_policy_has_kubernetes_shape() {
    let roles = cluster_roles();
    let names: Vec<&str> = roles
        .iter()
        .map(|r| r.metadata.name.as_deref().unwrap())
        .collect();
    for want in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:node",
        "system:node-proxier",
        "system:volume-scheduler",
    ] {
        assert!(names.contains(&want), "{want} missing");
    }
    for r in &roles {
        let m = &r.metadata;
        assert_eq!(
            m.labels.as_ref().unwrap()["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(
            m.annotations.as_ref().unwrap()["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
    }
    let bindings = cluster_role_bindings();
    let by_name = |n: &str| -> &ClusterRoleBinding {
        bindings
            .iter()
            .find(|b| b.metadata.name.as_deref() == Some(n))
            .unwrap()
    };
    let subjects = |n: &str| -> Vec<(String, String)> {
        by_name(n)
            .subjects
            .iter()
            .flatten()
            .map(|s| (s.kind.clone(), s.name.clone()))
            .collect()
    };
    let s = |k: &str, n: &str| (k.to_string(), n.to_string());
    assert_eq!(
        subjects("cluster-admin"),
        vec![s("Group", "system:masters")]
    );
    assert_eq!(
        subjects("system:discovery"),
        vec![s("Group", "system:authenticated")]
    );
    assert_eq!(
        subjects("system:basic-user"),
        vec![s("Group", "system:authenticated")]
    );
    assert_eq!(
        subjects("system:public-info-viewer"),
        vec![
            s("Group", "system:authenticated"),
            s("Group", "system:unauthenticated")
        ]
    );
    assert_eq!(
        subjects("system:kube-scheduler"),
        vec![s("User", "system:kube-scheduler")]
    );
    assert_eq!(
        subjects("system:volume-scheduler"),
        vec![s("User", "system:kube-scheduler")]
    );
    assert_eq!(
        subjects("system:kube-controller-manager"),
        vec![s("User", "system:kube-controller-manager")]
    );
    assert_eq!(
        subjects("system:node-proxier"),
        vec![s("User", "system:kube-proxy")]
    );
    assert_eq!(subjects("system:node"), vec![]);
    // Every binding's role exists, and every object passes kubox-core's wire round trip.
    for b in &bindings {
        assert!(names.contains(&b.role_ref.name.as_str()));
        let v = serde_json::to_value(b).unwrap();
        assert_eq!(serde_json::from_value::<ClusterRoleBinding>(v).unwrap(), *b);
    }
    // cluster-admin: everything, and every path.
    let admin = &roles[0];
    assert_eq!(
        serde_json::to_value(&admin.rules).unwrap(),
        json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}
        ])
    );
    // Verb lists are sorted, as Kubernetes' rule builder writes them.
    let controllers = kube_api::rbac::bootstrap::controller_roles();
    for r in roles
        .iter()
        .chain(&controllers)
        .flat_map(|r| r.rules.iter().flatten())
    {
        let mut sorted = r.verbs.clone();
        sorted.sort();
        assert_eq!(r.verbs, sorted);
    }
    // The kubelet's rules cover its heartbeat and its pods' status.
    let lease = Attributes {
        user: &UserInfo::default(),
        verb: "update",
        namespace: "kube-node-lease",
        api_group: "coordination.k8s.io",
        api_version: "v1",
        resource: "leases",
        subresource: "",
        name: "n1",
    };
    assert!(node_rules().iter().any(|r| rule_allows(r, &lease)));
}

#[test]
fn covers_as_kubernetes() {
    use kube_api::rbac::escalation::{compact_string, covers};
    let cases: &[(Vec<PolicyRule>, Vec<PolicyRule>, bool)] = &[
        (
            vec![rule("*", "*", "*", "")],
            vec![rule("get,delete", "apps", "deployments/scale", "x")],
            true,
        ),
        (
            vec![rule("get", "g", "pods", "")],
            vec![rule("get,list", "g", "pods", "")],
            false,
        ),
        (
            vec![rule("get,list", "g", "pods", "")],
            vec![rule("get", "g", "pods", "")],
            true,
        ),
        (
            vec![rule("get", "*", "*/scale", "")],
            vec![rule("get", "apps", "deployments/scale", "")],
            true,
        ),
        (
            vec![rule("get", "*", "*/scale", "")],
            vec![rule("get", "apps", "deployments", "")],
            false,
        ),
        // Names: an owner without names covers any; with names only those, never "all".
        (
            vec![rule("get", "g", "secrets", "a,b")],
            vec![rule("get", "g", "secrets", "a")],
            true,
        ),
        (
            vec![rule("get", "g", "secrets", "a")],
            vec![rule("get", "g", "secrets", "")],
            false,
        ),
        (
            vec![rule("get", "g", "secrets", "")],
            vec![rule("get", "g", "secrets", "z")],
            true,
        ),
        (
            vec![url_rule("get", "/apis/*")],
            vec![url_rule("get", "/apis/v1,/apis/apps")],
            true,
        ),
        (
            vec![url_rule("get", "/apis/*")],
            vec![url_rule("get", "/api")],
            false,
        ),
        (
            vec![url_rule("*", "*")],
            vec![url_rule("post", "/anything")],
            true,
        ),
        // Rules add up across owner rules.
        (
            vec![rule("get", "g", "pods", ""), rule("list", "g", "pods", "")],
            vec![rule("get,list", "g", "pods", "")],
            true,
        ),
    ];
    for (i, (owner, requested, want)) in cases.iter().enumerate() {
        assert_eq!(covers(owner, requested).0, *want, "case {i}");
    }
    let (_, missing) = covers(&[], &[rule("get", "apps", "deployments", "web")]);
    assert_eq!(
        missing.iter().map(compact_string).collect::<Vec<_>>(),
        vec![
            r#"{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], Verbs:["get"]}"#
        ]
    );
}
