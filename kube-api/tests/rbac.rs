//! RBAC end to end: an [`ApiServer`] over an in-memory store with the [`NodeAuthorizer`] in
//! front of the [`RbacAuthorizer`], the bootstrap policy, and users acting through
//! `LocalClient`. No sleeps: every policy write is followed by
//! [`RbacAuthorizer::wait_for_revision`] with the write's resourceVersion.

use kube_api::admission::Chain;
use kube_api::auth::{Attributes, Authorizer, Decision};
use kube_api::rbac::{self, NodeAuthorizer, RbacAuthorizer};
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use kubox_core::api::apps_v1::Deployment;
use kubox_core::api::coordination_v1::Lease;
use kubox_core::api::core_v1::{ConfigMap, Namespace, Node, Pod, Secret};
use kubox_core::api::rbac_v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kubox_core::client::{Api, Client, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubox_core::meta::{Resource, Status};
use serde_json::{json, Value};
use std::sync::Arc;

struct Cluster {
    server: ApiServer,
    rbac: RbacAuthorizer,
    authz: NodeAuthorizer,
    admin: Arc<dyn Client>,
}

impl Cluster {
    async fn new() -> Cluster {
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
        let rbac = RbacAuthorizer::new(store.clone());
        let authz = NodeAuthorizer::new(rbac.clone());
        let server = ApiServer::builder(store.clone())
            .authorizer(Arc::new(authz.clone()))
            .admission(
                Chain::default_for(store)
                    .with(rbac::NodeRestriction)
                    .with(rbac::RbacEscalation::new(rbac.clone())),
            )
            .build();
        server.ensure_system_namespaces().await.unwrap();
        let admin = LocalClient::admin(server.clone()).into_client();
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        for ns in ["a", "b"] {
            namespaces
                .create(&PostParams::default(), &Namespace::new(ns))
                .await
                .unwrap();
        }
        rbac::ensure_bootstrap_policy(&server).await.unwrap();
        let c = Cluster {
            server,
            rbac,
            authz,
            admin,
        };
        c.sync().await;
        c
    }

    /// Waits until the RBAC cache has seen every write so far.
    async fn sync(&self) {
        let rev = self.server.store().current_revision().await.unwrap();
        self.rbac.wait_for_revision(rev).await;
    }

    fn client(&self, user: &UserInfo) -> Arc<dyn Client> {
        LocalClient::new(self.server.clone(), user.clone()).into_client()
    }

    /// Creates an RBAC object as admin and waits until it is effective.
    async fn grant<K: Resource + serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        obj: Value,
    ) -> K {
        let obj: K = serde_json::from_value(obj).unwrap();
        let ns = obj.meta().namespace.clone();
        let api: Api<K> = match &ns {
            Some(ns) => Api::namespaced(self.admin.clone(), ns),
            None => Api::all(self.admin.clone()),
        };
        let created = api.create(&PostParams::default(), &obj).await.unwrap();
        self.rbac.wait_for_revision(rv(created.meta())).await;
        created
    }
}

fn rv(meta: &kubox_core::meta::ObjectMeta) -> i64 {
    meta.resource_version.as_deref().unwrap().parse().unwrap()
}

fn status(e: kubox_core::client::Error) -> Status {
    match e {
        kubox_core::client::Error::Api(s) => *s,
        other => panic!("not an API error: {other}"),
    }
}

#[track_caller]
fn forbidden(r: Result<impl std::fmt::Debug, kubox_core::client::Error>, message: &str) {
    let s = status(r.unwrap_err());
    assert_eq!(
        (s.code, s.reason.as_deref()),
        (Some(403), Some("Forbidden"))
    );
    assert_eq!(s.message.as_deref(), Some(message));
}

fn role_binding(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": subjects
    })
}

fn user(name: &str) -> Value {
    json!([{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}])
}

fn pod(name: &str, node: Option<&str>) -> Pod {
    let mut spec = json!({"containers": [{"name": "app", "image": "nginx:1.25"}]});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn authenticated(name: &str) -> UserInfo {
    UserInfo::new(name, &["system:authenticated"])
}

#[tokio::test]
async fn view_in_one_namespace() {
    let c = Cluster::new().await;
    let pp = PostParams::default();
    for ns in ["a", "b"] {
        let pods: Api<Pod> = Api::namespaced(c.admin.clone(), ns);
        pods.create(&pp, &pod("web", None)).await.unwrap();
    }
    c.grant::<RoleBinding>(role_binding(
        "a",
        "alice-view",
        "ClusterRole",
        "view",
        user("alice"),
    ))
    .await;

    let alice = c.client(&authenticated("alice"));
    let in_a: Api<Pod> = Api::namespaced(alice.clone(), "a");
    assert_eq!(
        in_a.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    assert_eq!(
        in_a.get("web").await.unwrap().metadata.name.as_deref(),
        Some("web")
    );
    forbidden(
        in_a.create(&pp, &pod("new", None)).await,
        r#"pods is forbidden: User "alice" cannot create resource "pods" in API group "" in the namespace "a""#,
    );
    forbidden(
        in_a.delete("web", &DeleteParams::default()).await,
        r#"pods "web" is forbidden: User "alice" cannot delete resource "pods" in API group "" in the namespace "a""#,
    );
    // view does not include secrets.
    let secrets: Api<Secret> = Api::namespaced(alice.clone(), "a");
    forbidden(
        secrets.list(&ListParams::default()).await,
        r#"secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "a""#,
    );
    let in_b: Api<Pod> = Api::namespaced(alice.clone(), "b");
    forbidden(
        in_b.list(&ListParams::default()).await,
        r#"pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "b""#,
    );
    forbidden(
        in_b.get("web").await,
        r#"pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "b""#,
    );
    let everywhere: Api<Pod> = Api::all(alice.clone());
    forbidden(
        everywhere.list(&ListParams::default()).await,
        r#"pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope"#,
    );
    // Watch is authorized too.
    assert!(in_a.watch(&Default::default()).await.is_ok());
    assert!(in_b.watch(&Default::default()).await.is_err());
}

#[tokio::test]
async fn bindings_take_effect_and_lapse_promptly() {
    let c = Cluster::new().await;
    let carol = c.client(&authenticated("carol"));
    let cms: Api<ConfigMap> = Api::namespaced(carol, "a");
    let denied = r#"configmaps is forbidden: User "carol" cannot create resource "configmaps" in API group "" in the namespace "a""#;
    forbidden(
        cms.create(&PostParams::default(), &ConfigMap::new("x"))
            .await,
        denied,
    );

    let rb: RoleBinding = c
        .grant(role_binding(
            "a",
            "carol-edit",
            "ClusterRole",
            "edit",
            user("carol"),
        ))
        .await;
    cms.create(&PostParams::default(), &ConfigMap::new("x"))
        .await
        .unwrap();

    let bindings: Api<RoleBinding> = Api::namespaced(c.admin.clone(), "a");
    bindings
        .delete(
            rb.metadata.name.as_deref().unwrap(),
            &DeleteParams::default(),
        )
        .await
        .unwrap();
    c.sync().await;
    forbidden(
        cms.create(&PostParams::default(), &ConfigMap::new("y"))
            .await,
        denied,
    );
}

#[tokio::test]
async fn cluster_role_bindings_groups_and_masters() {
    let c = Cluster::new().await;
    // A user in system:masters needs no binding at all.
    let root = c.client(&UserInfo::new("root", &["system:masters"]));
    let nodes: Api<Node> = Api::all(root);
    nodes
        .create(&PostParams::default(), &Node::new("n0"))
        .await
        .unwrap();

    // cluster-admin through a ClusterRoleBinding to a user.
    let dave = c.client(&authenticated("dave"));
    let dave_nodes: Api<Node> = Api::all(dave.clone());
    forbidden(
        dave_nodes.get("n0").await,
        r#"nodes "n0" is forbidden: User "dave" cannot get resource "nodes" in API group "" at the cluster scope"#,
    );
    c.grant::<ClusterRoleBinding>(json!({
        "metadata": {"name": "dave-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "dave", "apiGroup": "rbac.authorization.k8s.io"}]
    }))
    .await;
    dave_nodes.get("n0").await.unwrap();
    let ns: Api<Namespace> = Api::all(dave);
    ns.delete("b", &DeleteParams::default()).await.unwrap();

    // A group subject in a ClusterRoleBinding: every namespace.
    c.grant::<ClusterRoleBinding>(json!({
        "metadata": {"name": "devs-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]
    }))
    .await;
    let erin = c.client(&UserInfo::new("erin", &["devs", "system:authenticated"]));
    for ns in ["a", "default", "kube-system"] {
        let deploys: Api<Deployment> = Api::namespaced(erin.clone(), ns);
        deploys.list(&ListParams::default()).await.unwrap();
    }
    let frank = c.client(&UserInfo::new("frank", &["ops", "system:authenticated"]));
    let deploys: Api<Deployment> = Api::namespaced(frank, "a");
    assert!(deploys.list(&ListParams::default()).await.is_err());
}

#[tokio::test]
async fn service_account_subjects() {
    let c = Cluster::new().await;
    c.grant::<Role>(json!({
        "metadata": {"name": "cm-writer", "namespace": "a"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get"]}]
    }))
    .await;
    // No namespace on the subject: the binding's namespace.
    c.grant::<RoleBinding>(role_binding(
        "a",
        "builder",
        "Role",
        "cm-writer",
        json!([{"kind": "ServiceAccount", "name": "builder"}]),
    ))
    .await;
    let sa = |ns: &str| {
        UserInfo::new(
            rbac::rules::service_account_username(ns, "builder"),
            &[
                "system:serviceaccounts",
                &format!("system:serviceaccounts:{ns}"),
                "system:authenticated",
            ],
        )
    };
    let ok: Api<ConfigMap> = Api::namespaced(c.client(&sa("a")), "a");
    ok.create(&PostParams::default(), &ConfigMap::new("built"))
        .await
        .unwrap();
    let other: Api<ConfigMap> = Api::namespaced(c.client(&sa("b")), "a");
    forbidden(
        other.get("built").await,
        r#"configmaps "built" is forbidden: User "system:serviceaccount:b:builder" cannot get resource "configmaps" in API group "" in the namespace "a""#,
    );
    // A Role only counts in its own namespace.
    let elsewhere: Api<ConfigMap> = Api::namespaced(c.client(&sa("a")), "b");
    assert!(elsewhere
        .create(&PostParams::default(), &ConfigMap::new("x"))
        .await
        .is_err());
    // A ClusterRoleBinding with a namespaced service-account subject.
    c.grant::<ClusterRoleBinding>(json!({
        "metadata": {"name": "b-builder-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "b"}]
    }))
    .await;
    other.get("built").await.unwrap();
}

#[tokio::test]
async fn resource_names_and_subresources() {
    let c = Cluster::new().await;
    let admin_cms: Api<ConfigMap> = Api::namespaced(c.admin.clone(), "a");
    for name in ["allowed", "other"] {
        admin_cms
            .create(&PostParams::default(), &ConfigMap::new(name))
            .await
            .unwrap();
    }
    let admin_pods: Api<Pod> = Api::namespaced(c.admin.clone(), "a");
    admin_pods
        .create(&PostParams::default(), &pod("p", None))
        .await
        .unwrap();
    c.grant::<Role>(json!({
        "metadata": {"name": "narrow", "namespace": "a"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["allowed"], "verbs": ["get", "update", "list"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get", "update", "patch"]},
            {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["get"]}
        ]
    }))
    .await;
    c.grant::<RoleBinding>(role_binding(
        "a",
        "gina-narrow",
        "Role",
        "narrow",
        user("gina"),
    ))
    .await;
    let gina = c.client(&authenticated("gina"));

    let cms: Api<ConfigMap> = Api::namespaced(gina.clone(), "a");
    let mut got = cms.get("allowed").await.unwrap();
    got.data = Some([("k".to_string(), "v".to_string())].into());
    cms.replace("allowed", &PostParams::default(), &got)
        .await
        .unwrap();
    forbidden(
        cms.get("other").await,
        r#"configmaps "other" is forbidden: User "gina" cannot get resource "configmaps" in API group "" in the namespace "a""#,
    );
    // resourceNames never grant a collection request.
    forbidden(
        cms.list(&ListParams::default()).await,
        r#"configmaps is forbidden: User "gina" cannot list resource "configmaps" in API group "" in the namespace "a""#,
    );

    let pods: Api<Pod> = Api::namespaced(gina.clone(), "a");
    let patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
    let patched = pods
        .patch_status("p", &PatchParams::default(), patch.clone())
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().phase.as_deref(), Some("Running"));
    forbidden(
        pods.patch(
            "p",
            &PatchParams::default(),
            Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await,
        r#"pods "p" is forbidden: User "gina" cannot patch resource "pods" in API group "" in the namespace "a""#,
    );
    forbidden(
        pods.get("p").await,
        r#"pods "p" is forbidden: User "gina" cannot get resource "pods" in API group "" in the namespace "a""#,
    );

    // `*/scale` in apps: the scale subresource of any apps resource, not the resource.
    let attrs = |resource: &'static str, sub: &'static str, user: &'static UserInfo| Attributes {
        user,
        verb: "get",
        namespace: "a",
        api_group: "apps",
        api_version: "v1",
        resource,
        subresource: sub,
        name: "web",
    };
    let gina_user: &'static UserInfo = Box::leak(Box::new(authenticated("gina")));
    assert_eq!(
        c.authz
            .authorize(&attrs("deployments", "scale", gina_user))
            .await,
        Decision::Allow
    );
    assert_eq!(
        c.authz
            .authorize(&attrs("statefulsets", "scale", gina_user))
            .await,
        Decision::Allow
    );
    assert_ne!(
        c.authz
            .authorize(&attrs("deployments", "", gina_user))
            .await,
        Decision::Allow
    );
    assert_ne!(
        c.authz
            .authorize(&attrs("deployments", "status", gina_user))
            .await,
        Decision::Allow
    );
}

#[tokio::test]
async fn admin_edit_view_aggregate() {
    let c = Cluster::new().await;
    for (who, role) in [("viewer", "view"), ("editor", "edit"), ("owner", "admin")] {
        c.grant::<RoleBinding>(role_binding("a", who, "ClusterRole", role, user(who)))
            .await;
    }
    let api = |who: &str| c.client(&authenticated(who));
    // edit can write deployments, view cannot.
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}
    }))
    .unwrap();
    let as_viewer: Api<Deployment> = Api::namespaced(api("viewer"), "a");
    assert!(as_viewer.create(&PostParams::default(), &d).await.is_err());
    let as_editor: Api<Deployment> = Api::namespaced(api("editor"), "a");
    as_editor.create(&PostParams::default(), &d).await.unwrap();
    as_viewer.get("web").await.unwrap();
    // admin can grant roles in its namespace, edit cannot.
    let rb: RoleBinding =
        serde_json::from_value(role_binding("a", "x", "ClusterRole", "view", user("x"))).unwrap();
    let editor_rbs: Api<RoleBinding> = Api::namespaced(api("editor"), "a");
    forbidden(
        editor_rbs.create(&PostParams::default(), &rb).await,
        r#"rolebindings.rbac.authorization.k8s.io is forbidden: User "editor" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "a""#,
    );
    let owner_rbs: Api<RoleBinding> = Api::namespaced(api("owner"), "a");
    owner_rbs.create(&PostParams::default(), &rb).await.unwrap();

    // A new ClusterRole labeled aggregate-to-view extends view, edit and admin at once.
    for who in ["viewer", "editor", "owner"] {
        let secrets: Api<Secret> = Api::namespaced(api(who), "a");
        if who == "viewer" {
            assert!(secrets.list(&ListParams::default()).await.is_err());
        }
    }
    c.grant::<ClusterRole>(json!({
        "metadata": {"name": "secret-lister", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    }))
    .await;
    for who in ["viewer", "editor", "owner"] {
        let secrets: Api<Secret> = Api::namespaced(api(who), "a");
        secrets.list(&ListParams::default()).await.unwrap();
    }
    // The stored admin/edit/view carry their aggregation rules and the aggregated rules.
    let roles: Api<ClusterRole> = Api::all(c.admin.clone());
    let view = roles.get("view").await.unwrap();
    assert!(view.aggregation_rule.is_some());
    assert!(!view.rules.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn bootstrap_is_idempotent() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let server = ApiServer::new(store);
    let first = rbac::ensure_bootstrap_policy(&server).await.unwrap();
    assert!(first.created_roles.contains(&"cluster-admin".to_string()));
    use rbac::bootstrap::{
        cluster_role_bindings, cluster_roles, controller_role_bindings, controller_roles,
    };
    assert_eq!(
        first.created_roles.len(),
        cluster_roles().len() + controller_roles().len()
    );
    assert_eq!(
        first.created_bindings.len(),
        cluster_role_bindings().len() + controller_role_bindings().len()
    );
    assert!(first
        .created_bindings
        .contains(&"system:controller:replicaset-controller".to_string()));
    let again = rbac::ensure_bootstrap_policy(&server).await.unwrap();
    assert_eq!(again, rbac::BootstrapReport::default());

    // Reconciliation: what was removed comes back, unless the object opted out.
    let admin = LocalClient::admin(server.clone()).into_client();
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let crbs: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let pp = PostParams::default();
    let mut basic = roles.get("system:basic-user").await.unwrap();
    let full_rules = basic.rules.clone();
    basic.rules.as_mut().unwrap().truncate(1);
    roles
        .replace("system:basic-user", &pp, &basic)
        .await
        .unwrap();
    let mut dns = roles.get("system:kube-dns").await.unwrap();
    dns.metadata.annotations.as_mut().unwrap().insert(
        "rbac.authorization.kubernetes.io/autoupdate".into(),
        "false".into(),
    );
    dns.rules = Some(vec![]);
    roles.replace("system:kube-dns", &pp, &dns).await.unwrap();
    let mut public = crbs.get("system:public-info-viewer").await.unwrap();
    public.subjects.as_mut().unwrap().truncate(1);
    crbs.replace("system:public-info-viewer", &pp, &public)
        .await
        .unwrap();
    crbs.delete("system:kube-dns", &DeleteParams::default())
        .await
        .unwrap();
    let wrong: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "system:kube-dns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    }))
    .unwrap();
    crbs.create(&pp, &wrong).await.unwrap();

    let fixed = rbac::ensure_bootstrap_policy(&server).await.unwrap();
    assert_eq!(
        fixed.reconciled_roles,
        vec!["system:basic-user".to_string()]
    );
    assert_eq!(
        fixed.reconciled_bindings,
        vec![
            "system:public-info-viewer".to_string(),
            "system:kube-dns".to_string()
        ]
    );
    assert!(fixed.created_roles.is_empty() && fixed.created_bindings.is_empty());
    assert_eq!(
        roles.get("system:basic-user").await.unwrap().rules,
        full_rules
    );
    assert_eq!(
        roles.get("system:kube-dns").await.unwrap().rules,
        Some(vec![])
    );
    assert_eq!(
        crbs.get("system:public-info-viewer")
            .await
            .unwrap()
            .subjects
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        crbs.get("system:kube-dns").await.unwrap().role_ref.name,
        "system:kube-dns"
    );
    assert_eq!(
        rbac::ensure_bootstrap_policy(&server).await.unwrap(),
        rbac::BootstrapReport::default()
    );
    let admin = LocalClient::admin(server).into_client();
    let crbs: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let b = crbs.get("system:node").await.unwrap();
    assert_eq!(b.subjects, None);
    let meta = &crbs.get("cluster-admin").await.unwrap().metadata;
    assert_eq!(
        meta.labels.as_ref().unwrap()["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );
    assert_eq!(
        meta.annotations.as_ref().unwrap()["rbac.authorization.kubernetes.io/autoupdate"],
        "true"
    );
}

#[tokio::test]
async fn nodes_write_only_their_own_objects() {
    let c = Cluster::new().await;
    let pp = PostParams::default();
    let admin_nodes: Api<Node> = Api::all(c.admin.clone());
    for n in ["n1", "n2"] {
        admin_nodes.create(&pp, &Node::new(n)).await.unwrap();
    }
    let admin_pods: Api<Pod> = Api::namespaced(c.admin.clone(), "a");
    let mut mine = pod("mine", Some("n1"));
    mine.spec.as_mut().unwrap().volumes = Some(vec![serde_json::from_value(
        json!({"name": "creds", "secret": {"secretName": "s1"}}),
    )
    .unwrap()]);
    admin_pods.create(&pp, &mine).await.unwrap();
    admin_pods
        .create(&pp, &pod("theirs", Some("n2")))
        .await
        .unwrap();
    let admin_secrets: Api<Secret> = Api::namespaced(c.admin.clone(), "a");
    for s in ["s1", "s2"] {
        admin_secrets.create(&pp, &Secret::new(s)).await.unwrap();
    }

    let kubelet = c.client(&UserInfo::new(
        "system:node:n1",
        &["system:nodes", "system:authenticated"],
    ));
    let nodes: Api<Node> = Api::all(kubelet.clone());
    let labels = Patch::Merge(json!({"metadata": {"labels": {"ready": "yes"}}}));
    nodes
        .patch("n1", &PatchParams::default(), labels.clone())
        .await
        .unwrap();
    let status = Patch::Merge(json!({"status": {"phase": "Running"}}));
    nodes
        .patch_status("n1", &PatchParams::default(), status.clone())
        .await
        .unwrap();
    forbidden(
        nodes.patch("n2", &PatchParams::default(), labels).await,
        r#"nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes" in API group "" at the cluster scope: node "n1" is not allowed to modify node "n2""#,
    );
    forbidden(
        nodes
            .patch_status("n2", &PatchParams::default(), status)
            .await,
        r#"nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes/status" in API group "" at the cluster scope: node "n1" is not allowed to modify node "n2""#,
    );
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // Pod status: only for pods bound to it.
    let pods: Api<Pod> = Api::namespaced(kubelet.clone(), "a");
    let running = Patch::Merge(json!({"status": {"phase": "Running"}}));
    pods.patch_status("mine", &PatchParams::default(), running.clone())
        .await
        .unwrap();
    forbidden(
        pods.patch_status("theirs", &PatchParams::default(), running)
            .await,
        r#"pods "theirs" is forbidden: User "system:node:n1" cannot patch resource "pods/status" in API group "" in the namespace "a": node "n1" can only update pod status for pods with spec.nodeName set to itself"#,
    );
    forbidden(
        pods.delete("theirs", &DeleteParams::default()).await,
        r#"pods "theirs" is forbidden: User "system:node:n1" cannot delete resource "pods" in API group "" in the namespace "a": node "n1" can only delete pods with spec.nodeName set to itself"#,
    );
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );

    // Its own Lease in kube-node-lease, nobody else's.
    let leases: Api<Lease> = Api::namespaced(kubelet.clone(), "kube-node-lease");
    leases.create(&pp, &Lease::new("n1")).await.unwrap();
    leases.get("n1").await.unwrap();
    let admin_leases: Api<Lease> = Api::namespaced(c.admin.clone(), "kube-node-lease");
    admin_leases.create(&pp, &Lease::new("n2")).await.unwrap();
    let mut other = admin_leases.get("n2").await.unwrap();
    other.spec = Some(serde_json::from_value(json!({"holderIdentity": "n1"})).unwrap());
    forbidden(
        leases.replace("n2", &pp, &other).await,
        r#"leases.coordination.k8s.io "n2" is forbidden: User "system:node:n1" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "kube-node-lease": can only access node lease with the same name as the requesting node"#,
    );
    let elsewhere: Api<Lease> = Api::namespaced(kubelet.clone(), "default");
    assert!(elsewhere.create(&pp, &Lease::new("n1")).await.is_err());

    // Secrets: only those its pods use, one at a time.
    let secrets: Api<Secret> = Api::namespaced(kubelet.clone(), "a");
    secrets.get("s1").await.unwrap();
    forbidden(
        secrets.get("s2").await,
        r#"secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "a": no relationship found between node 'n1' and this object"#,
    );
    assert!(secrets.list(&ListParams::default()).await.is_err());

    // NodeRestriction admission: the objects it writes.
    forbidden(
        nodes.create(&pp, &Node::new("n3")).await,
        r#"nodes "n3" is forbidden: node "n1" is not allowed to modify node "n3""#,
    );
    let restricted = Patch::Merge(
        json!({"metadata": {"labels": {"node-restriction.kubernetes.io/pool": "gpu"}}}),
    );
    forbidden(
        nodes.patch("n1", &PatchParams::default(), restricted).await,
        r#"nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool"#,
    );
    let zone = Patch::Merge(json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "z1"}}}));
    nodes
        .patch("n1", &PatchParams::default(), zone)
        .await
        .unwrap();
    let taint = Patch::Merge(json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}));
    forbidden(
        nodes.patch("n1", &PatchParams::default(), taint).await,
        r#"nodes "n1" is forbidden: node "n1" is not allowed to modify taints"#,
    );
    forbidden(
        pods.create(&pp, &pod("plain", Some("n1"))).await,
        r#"pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods"#,
    );
    let mut mirror = pod("static-web-n1", Some("n1"));
    mirror.metadata.annotations = Some(
        [(
            "kubernetes.io/config.mirror".to_string(),
            "hash".to_string(),
        )]
        .into(),
    );
    pods.create(&pp, &mirror).await.unwrap();
    let mut elsewhere_mirror = mirror.clone();
    elsewhere_mirror.metadata.name = Some("static-web-n2".into());
    elsewhere_mirror.spec.as_mut().unwrap().node_name = Some("n2".into());
    forbidden(
        pods.create(&pp, &elsewhere_mirror).await,
        r#"pods "static-web-n2" is forbidden: node "n1" can only create pods with spec.nodeName set to itself"#,
    );
    forbidden(
        leases.create(&pp, &Lease::new("n9")).await,
        r#"leases.coordination.k8s.io "n9" is forbidden: can only access node lease with the same name as the requesting node"#,
    );

    // Nothing beyond the node rules.
    let deploys: Api<Deployment> = Api::namespaced(kubelet, "a");
    forbidden(
        deploys.list(&ListParams::default()).await,
        r#"deployments.apps is forbidden: User "system:node:n1" cannot list resource "deployments" in API group "apps" in the namespace "a""#,
    );
}

#[tokio::test]
async fn non_resource_paths() {
    let c = Cluster::new().await;
    let alice = authenticated("alice");
    let anonymous = UserInfo::new("system:anonymous", &["system:unauthenticated"]);
    let monitor = UserInfo::new("prometheus", &["system:monitoring", "system:authenticated"]);
    let cases = [
        (&alice, "get", "/version", true),
        (&alice, "get", "/apis", true),
        (&alice, "get", "/apis/apps/v1", true),
        (&alice, "get", "/api/v1", true),
        (&alice, "get", "/openapi/v2", true),
        (&alice, "get", "/healthz", true),
        (&alice, "post", "/version", false),
        (&alice, "get", "/metrics", false),
        (&monitor, "get", "/metrics", true),
        (&anonymous, "get", "/healthz", true),
        (&anonymous, "get", "/version", true),
        (&anonymous, "get", "/apis", false),
        (&UserInfo::admin(), "delete", "/anything", true),
    ];
    for (user, verb, path, want) in cases {
        let got = c.rbac.authorize_non_resource(user, verb, path).await;
        assert_eq!(
            got == Decision::Allow,
            want,
            "{} {verb} {path}: {got:?}",
            user.name
        );
    }
    assert!(rbac::allows_non_resource(
        rbac::bootstrap::cluster_roles()[1]
            .rules
            .as_deref()
            .unwrap(),
        "get",
        "/apis/apps"
    ));
}

#[tokio::test]
async fn self_subject_access_reviews() {
    let c = Cluster::new().await;
    c.grant::<RoleBinding>(role_binding(
        "a",
        "alice-view",
        "ClusterRole",
        "view",
        user("alice"),
    ))
    .await;
    let alice = authenticated("alice");
    let review = |attrs: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": attrs});
    let r = rbac::self_subject_access_review(
        &c.authz,
        &alice,
        &review(
            json!({"resourceAttributes": {"namespace": "a", "verb": "list", "resource": "pods"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        r["status"],
        json!({"allowed": true, "reason": r#"RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "view" to User "alice""#})
    );
    assert_eq!(r["kind"], "SelfSubjectAccessReview");
    assert_eq!(r["spec"]["resourceAttributes"]["verb"], "list");
    let r = rbac::self_subject_access_review(
        &c.authz,
        &alice,
        &review(
            json!({"resourceAttributes": {"namespace": "b", "verb": "list", "resource": "pods"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r["status"], json!({"allowed": false}));
    let r = rbac::self_subject_access_review(
        &c.authz,
        &alice,
        &review(json!({"nonResourceAttributes": {"path": "/version", "verb": "get"}})),
    )
    .await
    .unwrap();
    assert_eq!(r["status"]["allowed"], true);
    // A node denied by the node restriction: denied, with the reason.
    let node = UserInfo::new("system:node:n1", &["system:nodes"]);
    let r = rbac::self_subject_access_review(
        &c.authz,
        &node,
        &review(
            json!({"resourceAttributes": {"verb": "update", "resource": "nodes", "name": "n2"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        r["status"],
        json!({"allowed": false, "denied": true, "reason": r#"node "n1" is not allowed to modify node "n2""#})
    );
    let err = rbac::self_subject_access_review(&c.authz, &alice, &review(json!({})))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.reason()), (422, "Invalid"));
}

#[tokio::test]
async fn cache_follows_the_store_across_servers() {
    // A binding written through one server is effective on another over the same store.
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let one = ApiServer::new(store.clone());
    one.ensure_system_namespaces().await.unwrap();
    rbac::ensure_bootstrap_policy(&one).await.unwrap();
    let rbac2 = RbacAuthorizer::new(store.clone());
    rbac2.wait_synced().await;
    assert!(rbac2.revision() >= 0);
    let hal = authenticated("hal");
    let attrs = Attributes {
        user: &hal,
        verb: "list",
        namespace: "default",
        api_group: "",
        api_version: "v1",
        resource: "configmaps",
        subresource: "",
        name: "",
    };
    assert_eq!(
        rbac2.authorize(&attrs).await,
        Decision::NoOpinion(String::new())
    );
    let rbs: Api<RoleBinding> =
        Api::namespaced(LocalClient::admin(one.clone()).into_client(), "default");
    let rb: RoleBinding = serde_json::from_value(role_binding(
        "default",
        "hal",
        "ClusterRole",
        "view",
        user("hal"),
    ))
    .unwrap();
    let created = rbs.create(&PostParams::default(), &rb).await.unwrap();
    rbac2.wait_for_revision(rv(&created.metadata)).await;
    assert_eq!(rbac2.authorize(&attrs).await, Decision::Allow);
    // A binding to a role that does not exist reports it.
    let dangling: RoleBinding = serde_json::from_value(role_binding(
        "default",
        "ghost",
        "Role",
        "ghost",
        user("ivy"),
    ))
    .unwrap();
    let created = rbs.create(&PostParams::default(), &dangling).await.unwrap();
    rbac2.wait_for_revision(rv(&created.metadata)).await;
    let ivy = authenticated("ivy");
    assert_eq!(
        rbac2
            .authorize(&Attributes {
                user: &ivy,
                ..attrs.clone()
            })
            .await,
        Decision::NoOpinion(r#"RBAC: role.rbac.authorization.k8s.io "ghost" not found"#.into())
    );
    // Compaction does not disturb the cache.
    let now = store.current_revision().await.unwrap();
    store.compact(now).await.unwrap();
    rbs.delete("hal", &DeleteParams::default()).await.unwrap();
    rbac2
        .wait_for_revision(store.current_revision().await.unwrap())
        .await;
    assert_eq!(
        rbac2.authorize(&attrs).await,
        Decision::NoOpinion(String::new())
    );
    assert_eq!(rbac2.with_policy(|p| p.counts()).1, 1);
}

/// A store whose first watch ends at once with `Compacted`, as a watch that fell behind a
/// compaction does.
struct CompactingStore {
    inner: EmbeddedStore,
    watches: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Store for CompactingStore {
    async fn current_revision(&self) -> kube_store::Result<i64> {
        self.inner.current_revision().await
    }
    async fn compacted_revision(&self) -> kube_store::Result<i64> {
        self.inner.compacted_revision().await
    }
    async fn get(&self, key: &str) -> kube_store::Result<Option<kube_store::KeyValue>> {
        self.inner.get(key).await
    }
    async fn get_at(
        &self,
        key: &str,
        rev: i64,
    ) -> kube_store::Result<Option<kube_store::KeyValue>> {
        self.inner.get_at(key, rev).await
    }
    async fn list(
        &self,
        prefix: &str,
        opts: kube_store::ListOptions,
    ) -> kube_store::Result<kube_store::ListResult> {
        self.inner.list(prefix, opts).await
    }
    async fn create(&self, key: &str, value: bytes::Bytes) -> kube_store::Result<i64> {
        self.inner.create(key, value).await
    }
    async fn update(
        &self,
        key: &str,
        value: bytes::Bytes,
        expected: Option<i64>,
    ) -> kube_store::Result<i64> {
        self.inner.update(key, value, expected).await
    }
    async fn put(&self, key: &str, value: bytes::Bytes) -> kube_store::Result<i64> {
        self.inner.put(key, value).await
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<i64>,
    ) -> kube_store::Result<(i64, kube_store::KeyValue)> {
        self.inner.delete(key, expected).await
    }
    async fn watch(&self, prefix: &str, after: i64) -> kube_store::Result<kube_store::WatchStream> {
        if self
            .watches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            let err = kube_store::Error::Compacted {
                requested: after,
                compacted: after + 1,
            };
            return Ok(Box::pin(futures::stream::iter([Err(err)])));
        }
        self.inner.watch(prefix, after).await
    }
    async fn compact(&self, revision: i64) -> kube_store::Result<()> {
        self.inner.compact(revision).await
    }
}

#[tokio::test]
async fn cache_relists_when_its_watch_is_compacted() {
    let store = Arc::new(CompactingStore {
        inner: EmbeddedStore::in_memory(),
        watches: Default::default(),
    });
    let rbac = RbacAuthorizer::new(store.clone());
    let server = ApiServer::builder(store.clone())
        .authorizer(Arc::new(rbac.clone()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    rbac::ensure_bootstrap_policy(&server).await.unwrap();
    let rbs: Api<RoleBinding> =
        Api::namespaced(LocalClient::admin(server.clone()).into_client(), "default");
    let rb: RoleBinding = serde_json::from_value(role_binding(
        "default",
        "jo",
        "ClusterRole",
        "view",
        user("jo"),
    ))
    .unwrap();
    let created = rbs.create(&PostParams::default(), &rb).await.unwrap();
    rbac.wait_for_revision(rv(&created.metadata)).await;
    let cms: Api<ConfigMap> = Api::namespaced(c_client(&server, "jo"), "default");
    cms.list(&ListParams::default()).await.unwrap();
    assert!(
        store.watches.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "re-listed and watched again"
    );
}

fn c_client(server: &ApiServer, name: &str) -> Arc<dyn Client> {
    LocalClient::new(server.clone(), authenticated(name)).into_client()
}

#[tokio::test]
async fn controller_service_accounts_and_components() {
    let c = Cluster::new().await;
    let sa = |name: &str| {
        UserInfo::new(
            format!("system:serviceaccount:kube-system:{name}"),
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated",
            ],
        )
    };
    let rs = c.client(&sa("replicaset-controller"));
    let pods: Api<Pod> = Api::namespaced(rs.clone(), "a");
    pods.create(&PostParams::default(), &pod("rs-pod", None))
        .await
        .unwrap();
    forbidden(
        pods.get("rs-pod").await,
        r#"pods "rs-pod" is forbidden: User "system:serviceaccount:kube-system:replicaset-controller" cannot get resource "pods" in API group "" in the namespace "a""#,
    );
    // The scheduler binds pods; it may not create them.
    let sched = c.client(&UserInfo::new(
        "system:kube-scheduler",
        &["system:authenticated"],
    ));
    let pods: Api<Pod> = Api::namespaced(sched, "a");
    pods.list(&ListParams::default()).await.unwrap();
    assert!(pods
        .create(&PostParams::default(), &pod("x", None))
        .await
        .is_err());
    let attrs = Attributes {
        user: &UserInfo::new("system:kube-scheduler", &[]),
        verb: "create",
        namespace: "a",
        api_group: "",
        api_version: "v1",
        resource: "pods",
        subresource: "binding",
        name: "rs-pod",
    };
    assert_eq!(c.authz.authorize(&attrs).await, Decision::Allow);
    // kube-proxy reads services and endpointslices everywhere.
    let proxy = UserInfo::new("system:kube-proxy", &["system:authenticated"]);
    let slices = Attributes {
        user: &proxy,
        verb: "watch",
        namespace: "",
        api_group: "discovery.k8s.io",
        api_version: "v1",
        resource: "endpointslices",
        subresource: "",
        name: "",
    };
    assert_eq!(c.authz.authorize(&slices).await, Decision::Allow);
}

#[tokio::test]
async fn no_escalation_through_the_rbac_api() {
    let c = Cluster::new().await;
    c.grant::<RoleBinding>(role_binding(
        "a",
        "owner",
        "ClusterRole",
        "admin",
        user("owner"),
    ))
    .await;
    let owner = c.client(&authenticated("owner"));
    let rbs: Api<RoleBinding> = Api::namespaced(owner.clone(), "a");
    let pp = PostParams::default();
    let bind = |name: &str, kind: &str, role: &str| -> RoleBinding {
        serde_json::from_value(role_binding("a", name, kind, role, user("mallory"))).unwrap()
    };
    // What the owner holds, it may grant.
    rbs.create(&pp, &bind("view", "ClusterRole", "edit"))
        .await
        .unwrap();
    // cluster-admin it does not hold.
    forbidden(
        rbs.create(&pp, &bind("root", "ClusterRole", "cluster-admin")).await,
        "rolebindings.rbac.authorization.k8s.io \"root\" is forbidden: user \"owner\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}",
    );
    let err = status(
        rbs.create(&pp, &bind("ghost", "ClusterRole", "nope"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, Some(404));
    assert_eq!(
        err.message.as_deref(),
        Some(r#"clusterrole.rbac.authorization.k8s.io "nope" not found"#)
    );

    // Roles: only rules it holds.
    let roles: Api<Role> = Api::namespaced(owner.clone(), "a");
    let role = |name: &str, resource: &str| -> Role {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "rules": [{"apiGroups": [""], "resources": [resource], "verbs": ["get", "list"]}]
        }))
        .unwrap()
    };
    roles
        .create(&pp, &role("secrets", "secrets"))
        .await
        .unwrap();
    forbidden(
        roles.create(&pp, &role("nodes", "nodes")).await,
        r#"roles.rbac.authorization.k8s.io "nodes" is forbidden: user "owner" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}"#,
    );

    // The bind verb on one role lifts the check for that role only.
    c.grant::<Role>(json!({
        "metadata": {"name": "binder", "namespace": "a"},
        "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                   "verbs": ["bind"], "resourceNames": ["cluster-admin"]}]
    }))
    .await;
    c.grant::<RoleBinding>(role_binding(
        "a",
        "owner-binder",
        "Role",
        "binder",
        user("owner"),
    ))
    .await;
    rbs.create(&pp, &bind("root", "ClusterRole", "cluster-admin"))
        .await
        .unwrap();
    assert!(rbs
        .create(&pp, &bind("other", "ClusterRole", "system:node"))
        .await
        .is_err());
}
