//! Duplicate fields under `fieldValidation` over HTTPS, with the bodies and expected messages
//! of Kubernetes' own integration test (test/integration/apiserver/field_validation_test.go):
//! `Strict` is a 400 listing duplicates and unknown fields in document order, `Warn` (and
//! the default) answers with one `Warning` header each, `Ignore` passes silently.

use ::http::Method;
use bytes::Bytes;
use kube_api::http::{self, StaticTokens};
use kube_api::http_client::{HttpClient, RawResponse};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::rbac::{self, RbacAuthorizer};
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use serde_json::Value;
use std::sync::Arc;

const INVALID_JSON: &str = r#"
	{
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {
			"name": "dupename",
			"name": "%s",
			"labels": {"app": "nginx"},
			"unknownMeta": "metaVal"
		},
		"spec": {
			"unknown1": "val1",
			"unknownDupe": "valDupe",
			"unknownDupe": "valDupe2",
			"paused": true,
			"paused": false,
			"selector": {
				"matchLabels": {
					"app": "nginx"
				}
			},
			"template": {
				"metadata": {
					"labels": {
						"app": "nginx"
					}
				},
				"spec": {
					"containers": [{
						"name":  "nginx",
						"image": "nginx:latest",
						"unknownNested": "val1",
						"imagePullPolicy": "Always",
						"imagePullPolicy": "Never"
					}]
				}
			}
		}
	}
		"#;

const INVALID_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: dupename
  name: %s
  unknownMeta: metaVal
  labels:
    app: nginx
spec:
  unknown1: val1
  unknownDupe: valDupe
  unknownDupe: valDupe2
  paused: true
  paused: false
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        unknownNested: val1
        imagePullPolicy: Always
        imagePullPolicy: Never";

const VALID_JSON: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "%s", "labels": {"app": "nginx"}},
  "spec": {"selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:latest", "imagePullPolicy": "Always"}]}}}}"#;

const APPLY_INVALID: &str = r#"{
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {
			"name": "%s",
			"labels": {"app": "nginx"}
		},
		"spec": {
			"paused": false,
			"paused": true,
			"selector": {
				"matchLabels": {
					"app": "nginx"
				}
			},
			"template": {
				"metadata": {
					"labels": {
						"app": "nginx"
					}
				},
				"spec": {
					"containers": [{
						"name":  "nginx",
						"image": "nginx:latest",
						"imagePullPolicy": "Never",
						"imagePullPolicy": "Always"
					}]
				}
			}
		}
	}"#;

const MERGE_PATCH: &str = r#"
{
	"spec": {
		"unknown1": "val1",
		"unknownDupe": "valDupe",
		"unknownDupe": "valDupe2",
		"paused": true,
		"paused": false,
		"template": {
			"spec": {
				"containers": [{
					"name": "nginx",
					"image": "nginx:latest",
					"unknownNested": "val1",
					"imagePullPolicy": "Always",
					"imagePullPolicy": "Never"
				}]
			}
		}
	}
}
	"#;

const NONCONFLICTING_MERGE_PATCH: &str = r#"
{
	"spec": {
		"paused": true,
		"paused": false,
		"template": {
			"spec": {
				"containers": [{
					"name": "nginx",
					"image": "nginx:latest",
					"imagePullPolicy": "Always",
					"imagePullPolicy": "Never"
				}]
			}
		}
	}
}"#;

const JSON_PATCH: &str = r#"
			[
				{"op": "add", "path": "/spec/unknown1", "value": "val1", "foo":"bar"},
				{"op": "add", "path": "/spec/unknown2", "path": "/spec/unknown3", "value": "val1"},
				{"op": "add", "path": "/spec/paused", "value": true},
				{"op": "add", "path": "/spec/paused", "value": false}
			]
			"#;

/// Kubernetes' expected strict error for `INVALID_JSON` (POST and PUT).
const JSON_STRICT: &str = r#"strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#;

const JSON_WARNINGS: &[&str] = &[
    r#"duplicate field "metadata.name""#,
    r#"unknown field "metadata.unknownMeta""#,
    r#"unknown field "spec.unknown1""#,
    r#"unknown field "spec.unknownDupe""#,
    r#"duplicate field "spec.paused""#,
    r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
    r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
];

const YAML_STRICT: &str = "strict decoding error: yaml: unmarshal errors:
  line 5: key \"name\" already set in map
  line 12: key \"unknownDupe\" already set in map
  line 14: key \"paused\" already set in map
  line 28: key \"imagePullPolicy\" already set in map, unknown field \"metadata.unknownMeta\", unknown field \"spec.template.spec.containers[0].unknownNested\", unknown field \"spec.unknown1\", unknown field \"spec.unknownDupe\"";

const YAML_WARNINGS: &[&str] = &[
    r#"line 5: key "name" already set in map"#,
    r#"line 12: key "unknownDupe" already set in map"#,
    r#"line 14: key "paused" already set in map"#,
    r#"line 28: key "imagePullPolicy" already set in map"#,
    r#"unknown field "metadata.unknownMeta""#,
    r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
    r#"unknown field "spec.unknown1""#,
    r#"unknown field "spec.unknownDupe""#,
];

struct Env {
    _running: http::Running,
    _dir: tempfile::TempDir,
    admin: HttpClient,
    alice: HttpClient,
    rbac: RbacAuthorizer,
    server: ApiServer,
}

async fn start() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let rbac = RbacAuthorizer::new(store.clone());
    let server = ApiServer::builder(store)
        .authorizer(Arc::new(rbac.clone()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    rbac::ensure_bootstrap_policy(&server).await.unwrap();
    let tokens = StaticTokens::new()
        .with(pki.admin_token.clone(), UserInfo::admin())
        .with("alice", UserInfo::new("alice", &[]));
    let cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server.clone(), cfg)
        .await
        .unwrap();
    let kc = Kubeconfig::admin(&running.url(), &pki.ca_pem, &pki.admin_token);
    let admin = HttpClient::from_kubeconfig(&kc).unwrap();
    let mut kc = kc.clone();
    kc.users[0].user.token = Some("alice".into());
    let alice = HttpClient::from_kubeconfig(&kc).unwrap();
    let rev = server.store().current_revision().await.unwrap();
    rbac.wait_for_revision(rev).await;
    Env {
        _running: running,
        _dir: dir,
        admin,
        alice,
        rbac,
        server,
    }
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

/// Sends `body` as `content_type` to `path`, with `fieldValidation=<mode>` added to its query
/// (none: the server's default), and asserts the answer's status; the answer.
async fn send(
    c: &HttpClient,
    method: Method,
    path: &str,
    mode: Option<&str>,
    content_type: &str,
    body: &str,
    status: u16,
) -> RawResponse {
    let path = match mode {
        Some(m) if path.contains('?') => format!("{path}&fieldValidation={m}"),
        Some(m) => format!("{path}?fieldValidation={m}"),
        None => path.to_string(),
    };
    let r = c
        .send_raw(
            method.clone(),
            &path,
            &[("content-type", content_type)],
            Some(Bytes::from(body.to_string())),
        )
        .await
        .unwrap();
    assert_eq!(
        r.status, status,
        "{method} {path} ({content_type}): {:?}",
        r.body
    );
    r
}

/// A `fieldValidation=Strict` request that must fail: 400 BadRequest; its message.
async fn rejected(
    c: &HttpClient,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> String {
    let r = send(c, method, path, Some("Strict"), content_type, body, 400).await;
    let v: Value = r.json().unwrap();
    assert_eq!(v["reason"], "BadRequest", "{v}");
    v["message"].as_str().unwrap().to_string()
}

/// The warning texts, unquoted from `299 - "<text>"`.
fn warnings(r: &RawResponse) -> Vec<String> {
    r.headers
        .get_all("warning")
        .iter()
        .map(|v| {
            let v = v.to_str().unwrap();
            let quoted = v.strip_prefix("299 - ").unwrap();
            serde_json::from_str::<String>(quoted).unwrap()
        })
        .collect()
}

/// The default and each explicit mode that lets the request through, with the warnings it
/// must answer with: `Warn` and the default one each, `Ignore` none.
fn passing<'a>(want: &'a [&'a str]) -> [(Option<&'static str>, &'a [&'a str]); 3] {
    [(Some("Warn"), want), (None, want), (Some("Ignore"), &[])]
}

#[tokio::test]
async fn create_and_update_with_duplicate_fields() {
    let env = start().await;
    let c = &env.admin;
    let json = |name: &str| INVALID_JSON.replace("%s", name);
    let yaml = |name: &str| INVALID_YAML.replace("%s", name);

    // POST, JSON and YAML.
    for (ct, body, strict, want) in [
        (
            "application/json",
            &json as &dyn Fn(&str) -> String,
            JSON_STRICT,
            JSON_WARNINGS,
        ),
        ("application/yaml", &yaml, YAML_STRICT, YAML_WARNINGS),
    ] {
        let m = rejected(c, Method::POST, DEPLOYMENTS, ct, &body("strict")).await;
        assert_eq!(
            m,
            format!(r#"Deployment in version "v1" cannot be handled as a Deployment: {strict}"#),
            "{ct}"
        );
        for (mode, want) in passing(want) {
            let name =
                format!("{}-{}", ct.replace('/', "-"), mode.unwrap_or("default")).to_lowercase();
            let r = send(c, Method::POST, DEPLOYMENTS, mode, ct, &body(&name), 201).await;
            assert_eq!(warnings(&r), want, "{ct} {mode:?}");
            // The last value wins, as kube-apiserver decodes it.
            let v: Value = r.json().unwrap();
            assert_eq!(v["metadata"]["name"], name);
            assert_eq!(v["spec"]["paused"], false);
            assert_eq!(
                v["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
                "Never"
            );
        }
    }

    // PUT over an existing object.
    let r = send(
        c,
        Method::POST,
        DEPLOYMENTS,
        None,
        "application/json",
        &VALID_JSON.replace("%s", "put"),
        201,
    )
    .await;
    assert!(warnings(&r).is_empty());
    let path = format!("{DEPLOYMENTS}/put");
    let m = rejected(c, Method::PUT, &path, "application/json", &json("put")).await;
    assert!(m.ends_with(JSON_STRICT), "{m}");
    let r = send(
        c,
        Method::PUT,
        &path,
        Some("Warn"),
        "application/json",
        &json("put"),
        200,
    )
    .await;
    assert_eq!(warnings(&r), JSON_WARNINGS);

    // Authorization comes first: a user who may not create gets 403, not the decoding error.
    send(
        &env.alice,
        Method::POST,
        DEPLOYMENTS,
        Some("Strict"),
        "application/json",
        &json("alice"),
        403,
    )
    .await;
    let _ = (&env.rbac, &env.server);
}

#[tokio::test]
async fn patches_with_duplicate_fields() {
    let env = start().await;
    let c = &env.admin;
    send(
        c,
        Method::POST,
        DEPLOYMENTS,
        None,
        "application/json",
        &VALID_JSON.replace("%s", "web"),
        201,
    )
    .await;
    let path = format!("{DEPLOYMENTS}/web");
    let merge = "application/merge-patch+json";
    let smp = "application/strategic-merge-patch+json";

    for ct in [merge, smp] {
        let m = rejected(c, Method::PATCH, &path, ct, NONCONFLICTING_MERGE_PATCH).await;
        assert_eq!(
            m,
            r#"strict decoding error: duplicate field "spec.paused", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
            "{ct}"
        );
        let r = send(
            c,
            Method::PATCH,
            &path,
            None,
            ct,
            NONCONFLICTING_MERGE_PATCH,
            200,
        )
        .await;
        assert_eq!(
            warnings(&r),
            [
                r#"duplicate field "spec.paused""#,
                r#"duplicate field "spec.template.spec.containers[0].imagePullPolicy""#
            ],
            "{ct}"
        );
        // Duplicates first, then the patched object's unknown fields.
        let m = rejected(c, Method::PATCH, &path, ct, MERGE_PATCH).await;
        assert!(
            m.starts_with(r#"strict decoding error: duplicate field "spec.unknownDupe", duplicate field "spec.paused", duplicate field "spec.template.spec.containers[0].imagePullPolicy", unknown field "#),
            "{ct}: {m}"
        );
        for u in [
            r#"unknown field "spec.template.spec.containers[0].unknownNested""#,
            r#"unknown field "spec.unknown1""#,
            r#"unknown field "spec.unknownDupe""#,
        ] {
            assert!(m.contains(u), "{ct}: {m}");
        }
        let r = send(
            c,
            Method::PATCH,
            &path,
            Some("Ignore"),
            ct,
            MERGE_PATCH,
            200,
        )
        .await;
        assert!(warnings(&r).is_empty(), "{ct}");
    }

    // JSON patch: the operations' own repeated and unknown keys.
    let jp = "application/json-patch+json";
    let m = rejected(c, Method::PATCH, &path, jp, JSON_PATCH).await;
    assert!(
        m.starts_with(r#"strict decoding error: json patch unknown field "[0].foo", json patch duplicate field "[1].path", unknown field "#),
        "{m}"
    );
    assert!(m.contains(r#"unknown field "spec.unknown3""#), "{m}");
    let r = send(c, Method::PATCH, &path, None, jp, JSON_PATCH, 200).await;
    let w = warnings(&r);
    assert_eq!(
        &w[..2],
        [
            r#"json patch unknown field "[0].foo""#,
            r#"json patch duplicate field "[1].path""#
        ]
    );
    assert!(
        w.contains(&r#"unknown field "spec.unknown3""#.to_string()),
        "{w:?}"
    );

    // A missing object: the patch's own error comes first.
    send(
        c,
        Method::PATCH,
        &format!("{DEPLOYMENTS}/ghost"),
        Some("Strict"),
        merge,
        NONCONFLICTING_MERGE_PATCH,
        404,
    )
    .await;
}

#[tokio::test]
async fn server_side_apply_with_duplicate_fields() {
    let env = start().await;
    let c = &env.admin;
    let apply = "application/apply-patch+yaml";
    let body = |name: &str| APPLY_INVALID.replace("%s", name);
    let path = |name: &str| format!("{DEPLOYMENTS}/{name}?fieldManager=mgr");
    let m = rejected(c, Method::PATCH, &path("strict"), apply, &body("strict")).await;
    assert!(m.ends_with(
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 10: key \"paused\" already set in map\n  line 27: key \"imagePullPolicy\" already set in map"
    ), "{m}");
    let want: &[&str] = &[
        r#"line 10: key "paused" already set in map"#,
        r#"line 27: key "imagePullPolicy" already set in map"#,
    ];
    for (mode, want) in passing(want) {
        let name = format!("apply-{}", mode.unwrap_or("default")).to_lowercase();
        let r = send(
            c,
            Method::PATCH,
            &path(&name),
            mode,
            apply,
            &body(&name),
            201,
        )
        .await;
        assert_eq!(warnings(&r), want, "{mode:?}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["spec"]["paused"], true);
    }
}
