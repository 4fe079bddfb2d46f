//! The HTTPS front end to end: a server on 127.0.0.1:0 with generated TLS material, driven
//! through [`HttpClient`] (hyper) and through raw HTTP/1.1 over rustls.

use ::http::Method;
use bytes::Bytes;
use futures::StreamExt;
use kube_api::http::{self, StaticTokens};
use kube_api::http_client::{HttpClient, RawResponse};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::tls::TlsAssets;
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::ConfigMap;
use kubox_core::client::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams,
};
use kubox_core::meta::WatchEventType;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

struct Harness {
    running: http::Running,
    pki: TlsAssets,
    client: HttpClient,
    _dir: tempfile::TempDir,
}

async fn start_with(configure: impl FnOnce(&mut http::Config)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
    let mut cfg = http::Config::new(pki.server_config().unwrap(), Arc::new(tokens));
    configure(&mut cfg);
    let running = http::bind("127.0.0.1:0".parse().unwrap(), server, cfg)
        .await
        .unwrap();
    let kc = Kubeconfig::admin(&running.url(), &pki.ca_pem, &pki.admin_token);
    let client = HttpClient::from_kubeconfig(&kc).unwrap();
    Harness {
        running,
        pki,
        client,
        _dir: dir,
    }
}

async fn start() -> Harness {
    start_with(|_| {}).await
}

impl Harness {
    async fn get(&self, path: &str, accept: Option<&str>) -> RawResponse {
        let headers: Vec<(&str, &str)> = accept.map(|a| vec![("accept", a)]).unwrap_or_default();
        self.client
            .send_raw(Method::GET, path, &headers, None)
            .await
            .unwrap()
    }

    fn client_with_token(&self, token: Option<&str>) -> HttpClient {
        let mut kc = Kubeconfig::admin(&self.running.url(), &self.pki.ca_pem, "x");
        kc.users[0].user.token = token.map(str::to_string);
        HttpClient::from_kubeconfig(&kc).unwrap()
    }

    fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone().into_client(), "default")
    }

    /// Raw HTTP/1.1 over TLS (ALPN http/1.1 only): the whole response bytes.
    async fn raw_http1(&self, request_head: &str) -> Vec<u8> {
        let mut roots = rustls::RootCertStore::empty();
        for c in kube_api::tls::parse_certs(&self.pki.ca_pem).unwrap() {
            roots.add(c).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(kube_api::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.running.local_addr())
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap();
        let head = format!(
            "{request_head}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.pki.admin_token
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        out
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn version_health_and_configurable_version() {
    let h = start().await;
    let v = h.get("/version?timeout=5s", None).await;
    assert_eq!(v.status, 200);
    let v = v.json().unwrap();
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("33"))
    );
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.33."));
    // No credentials needed for version and health.
    let anon = h.client_with_token(None);
    for p in ["/version", "/healthz", "/livez", "/readyz"] {
        let r = anon.send_raw(Method::GET, p, &[], None).await.unwrap();
        assert_eq!(r.status, 200, "{p}");
    }
    let r = anon
        .send_raw(Method::GET, "/healthz", &[], None)
        .await
        .unwrap();
    assert_eq!(&r.body[..], b"ok");

    let h = start_with(|c| c.version = kube_api::discovery::VersionInfo::new(1, 31, 4)).await;
    let v = h.get("/version", None).await.json().unwrap();
    assert_eq!(
        (v["minor"].as_str(), v["gitVersion"].as_str()),
        (Some("31"), Some("v1.31.4"))
    );
}

#[tokio::test]
async fn discovery_documents() {
    let h = start().await;
    let api = h.get("/api", Some("application/json")).await;
    assert_eq!(api.content_type(), Some("application/json"));
    let api = api.json().unwrap();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let apis = h.get("/apis", None).await.json().unwrap();
    assert_eq!(apis["kind"], "APIGroupList");
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"apps") && groups.contains(&"rbac.authorization.k8s.io"),
        "{groups:?}"
    );
    assert_eq!(
        apis["groups"][0]["preferredVersion"]["groupVersion"],
        "apps/v1"
    );

    let core = h.get("/api/v1", None).await.json().unwrap();
    assert_eq!(
        (core["kind"].as_str(), core["groupVersion"].as_str()),
        (Some("APIResourceList"), Some("v1"))
    );
    let n = names(&core, "resources");
    assert!(
        n.contains(&"pods".into())
            && n.contains(&"pods/log".into())
            && n.contains(&"namespaces/status".into())
    );
    let pods = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods")
        .unwrap();
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["namespaced"], true);
    let apps = h.get("/apis/apps/v1", None).await.json().unwrap();
    let scale = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments/scale")
        .unwrap();
    assert_eq!(
        (
            scale["group"].as_str(),
            scale["version"].as_str(),
            scale["kind"].as_str()
        ),
        (Some("autoscaling"), Some("v1"), Some("Scale"))
    );
    let group = h.get("/apis/apps", None).await.json().unwrap();
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(h.get("/apis/nope/v1", None).await.status, 404);

    // Aggregated discovery, v2 (kubectl 1.30+) and v2beta1 (1.27–1.29).
    let v2_accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let r = h.get("/api", Some(v2_accept)).await;
    assert_eq!(
        r.content_type(),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let doc = r.json().unwrap();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    assert_eq!(doc["items"][0]["metadata"]["name"], "");
    let res = doc["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap();
    let pods = res.iter().find(|r| r["resource"] == "pods").unwrap();
    assert_eq!(pods["scope"], "Namespaced");
    assert_eq!(pods["responseKind"]["kind"], "Pod");
    assert!(pods["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["subresource"] == "log"));
    let r = h
        .get("/apis", Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"))
        .await;
    assert_eq!(
        r.content_type(),
        Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
    );
    let doc = r.json().unwrap();
    let apps = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "apps")
        .unwrap();
    let deploy = apps["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "deployments")
        .unwrap();
    let scale = deploy["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subresource"] == "scale")
        .unwrap();
    assert_eq!(
        scale["responseKind"],
        json!({"group":"autoscaling","version":"v1","kind":"Scale"})
    );
}

#[tokio::test]
async fn openapi_documents() {
    let h = start().await;
    let v2 = h.get("/openapi/v2", None).await;
    assert_eq!(v2.status, 200);
    assert_eq!(
        v2.content_type(),
        Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    );
    assert!(v2.body.is_empty());
    let root = h.get("/openapi/v3", None).await.json().unwrap();
    let url = root["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = h.get(&url, None).await.json().unwrap();
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group":"","version":"v1","kind":"ConfigMap"})
    );
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation"));
    assert_eq!(h.get("/openapi/v3/apis/nope/v1", None).await.status, 404);
}

fn status_of(r: &RawResponse) -> (u16, String, String) {
    let v = r
        .json()
        .unwrap_or_else(|_| panic!("not JSON: {:?}", r.body));
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["apiVersion"], "v1", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"].as_u64(), Some(u64::from(r.status)), "{v}");
    (
        r.status,
        v["reason"].as_str().unwrap_or("").to_string(),
        v["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn status_codes() {
    let h = start().await;
    let send = |m: Method, p: &'static str, ct: Option<&'static str>, body: Option<Bytes>| {
        let c = h.client.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                ct.map(|c| vec![("content-type", c)]).unwrap_or_default();
            c.send_raw(m, p, &headers, body).await.unwrap()
        }
    };
    // 404: unknown path, unknown resource, missing object.
    assert_eq!(
        status_of(&send(Method::GET, "/nope", None, None).await).1,
        "NotFound"
    );
    assert_eq!(
        status_of(&send(Method::GET, "/api/v1/widgets", None, None).await).0,
        404
    );
    let (code, reason, msg) = status_of(
        &send(
            Method::GET,
            "/api/v1/namespaces/default/configmaps/missing",
            None,
            None,
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(msg, r#"configmaps "missing" not found"#);
    // 405: wrong method.
    let (code, reason, _) = status_of(
        &send(
            Method::PUT,
            "/api/v1/namespaces/default/configmaps",
            Some("application/json"),
            Some(Bytes::from_static(b"{}")),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (405, "MethodNotAllowed"));
    assert_eq!(
        status_of(&send(Method::POST, "/version", None, None).await).0,
        405
    );
    // 413: body over 3 MiB.
    let big = Bytes::from(vec![b' '; 3 * 1024 * 1024 + 10]);
    let (code, reason, _) = status_of(
        &send(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            Some("application/json"),
            Some(big),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (413, "RequestEntityTooLarge"));
    // 415: unknown Content-Type (protobuf is decoded: see `protobuf_bodies`).
    let cm =
        Bytes::from_static(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#);
    let (code, reason, _) = status_of(
        &send(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            Some("text/plain"),
            Some(cm.clone()),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
    let (code, _, msg) = status_of(
        &send(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            Some("application/vnd.kubernetes.protobuf"),
            Some(Bytes::from_static(b"k8s\0")),
        )
        .await,
    );
    assert_eq!(code, 400);
    assert!(msg.contains("protobuf"), "{msg}");
    let (code, _, _) = status_of(
        &send(
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/c",
            Some("application/json"),
            Some(Bytes::from_static(b"{}")),
        )
        .await,
    );
    assert_eq!(code, 415);
    // 400: malformed JSON and bad query values.
    let (code, reason, _) = status_of(
        &send(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            Some("application/json"),
            Some(Bytes::from_static(b"{nope")),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        status_of(&send(Method::GET, "/api/v1/configmaps?limit=ten", None, None).await).0,
        400
    );
    // YAML bodies are accepted; kube-rs style `?&` queries too.
    let yaml = Bytes::from_static(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n",
    );
    let r = send(
        Method::POST,
        "/api/v1/namespaces/default/configmaps?&fieldManager=t",
        Some("application/yaml"),
        Some(yaml),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.json().unwrap()["data"]["k"], "v");
    let r = send(Method::GET, "/api/v1/configmaps?&limit=500", None, None).await;
    assert_eq!(r.status, 200);
    // 401: a bad token, a missing token (anonymous off), a non-bearer scheme.
    for c in [
        h.client_with_token(Some("wrong")),
        h.client_with_token(None),
    ] {
        let r = c
            .send_raw(Method::GET, "/api/v1/namespaces", &[], None)
            .await
            .unwrap();
        let (code, reason, _) = status_of(&r);
        assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
        assert_eq!(
            c.send_raw(Method::GET, "/api", &[], None)
                .await
                .unwrap()
                .status,
            401
        );
    }
    let r = h
        .client_with_token(None)
        .send_raw(
            Method::GET,
            "/api",
            &[("authorization", "Basic Zm9vOmJhcg==")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    // A bad token is 401 even on public paths.
    let r = h
        .client_with_token(Some("wrong"))
        .send_raw(Method::GET, "/version", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 401);
}

/// kubectl 1.32+ `create` bodies: `k8s\0` + runtime.Unknown{typeMeta, raw}.
#[tokio::test]
async fn protobuf_bodies() {
    let h = start().await;
    fn ld(tag: u8, b: &[u8]) -> Vec<u8> {
        assert!(b.len() < 128);
        [vec![tag << 3 | 2, b.len() as u8], b.to_vec()].concat()
    }
    let envelope = |api_version: &str, kind: &str, raw: &[u8]| {
        let tm = [ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())].concat();
        Bytes::from([b"k8s\0".to_vec(), ld(1, &tm), ld(2, raw)].concat())
    };
    let send = |p: &'static str, body: Bytes| {
        let c = h.client.clone();
        async move {
            let headers = [("content-type", "application/vnd.kubernetes.protobuf")];
            c.send_raw(Method::POST, p, &headers, Some(body))
                .await
                .unwrap()
        }
    };
    // ConfigMap{metadata{name}, data{a: b}}.
    let raw = [
        ld(1, &ld(1, b"pb")),
        ld(2, &[ld(1, b"a"), ld(2, b"b")].concat()),
    ]
    .concat();
    let r = send(
        "/api/v1/namespaces/default/configmaps",
        envelope("v1", "ConfigMap", &raw),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let v = r.json().unwrap();
    assert_eq!(v["data"], serde_json::json!({"a": "b"}));
    assert!(v["metadata"]["uid"].is_string());
    // A kind without a protobuf schema: 415; a broken body: 400.
    let r = send(
        "/api/v1/namespaces/default/configmaps",
        envelope("batch/v1", "Job", &[]),
    )
    .await;
    assert_eq!(status_of(&r).0, 415);
    let mut broken = envelope("v1", "ConfigMap", &raw).to_vec();
    broken.truncate(broken.len() - 3);
    let (code, reason, _) =
        status_of(&send("/api/v1/namespaces/default/configmaps", Bytes::from(broken)).await);
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
}

#[tokio::test]
async fn anonymous_only_when_switched_on() {
    let h = start_with(|c| c.anonymous = true).await;
    let anon = h.client_with_token(None);
    let r = anon
        .send_raw(Method::GET, "/api/v1/namespaces", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = h
        .client_with_token(Some("wrong"))
        .send_raw(Method::GET, "/api/v1/namespaces", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn typed_api_over_https() {
    let h = start().await;
    let cms = h.configmaps();
    let mut cm = ConfigMap::new("settings");
    cm.data = Some([("a".to_string(), "1".to_string())].into());
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());
    let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
    assert_eq!(
        (err.code(), err.reason()),
        (Some(409), Some("AlreadyExists"))
    );
    assert!(cms.get("nope").await.unwrap_err().is_not_found());
    let got = cms.get("settings").await.unwrap();
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );
    let patched = cms
        .patch(
            "settings",
            &PatchParams::default(),
            Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data.as_ref().unwrap().get("b").map(String::as_str),
        Some("2")
    );
    // Stale resourceVersion on replace → 409 Conflict.
    let mut stale = got.clone();
    stale.data = Some([("c".to_string(), "3".to_string())].into());
    let err = cms
        .replace("settings", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let applied = cms
        .patch(
            "applied",
            &PatchParams { field_manager: Some("test".into()), ..Default::default() },
            Patch::Apply(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"x":"y"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.name.as_deref(), Some("applied"));
    let list = cms
        .list(&ListParams {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    cms.delete("settings", &DeleteParams::default())
        .await
        .unwrap();
    assert!(cms.get_opt("settings").await.unwrap().is_none());
}

#[tokio::test]
async fn watch_over_the_http_client() {
    let h = start().await;
    let cms = h.configmaps();
    let mut stream = cms
        .watch(&WatchParams {
            timeout_seconds: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    cms.create(&PostParams::default(), &ConfigMap::new("w1"))
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.type_, WatchEventType::Added);
    assert_eq!(ev.object.metadata.name.as_deref(), Some("w1"));
    cms.delete("w1", &DeleteParams::default()).await.unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ev.type_, WatchEventType::Deleted);
}

/// Decodes an HTTP/1.1 chunked body; returns (headers text, chunks).
fn dechunk(raw: &[u8]) -> (String, Vec<Vec<u8>>) {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut rest = &raw[split + 4..];
    let mut chunks = Vec::new();
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16).unwrap();
        rest = &rest[nl + 2..];
        if size == 0 {
            break;
        }
        chunks.push(rest[..size].to_vec());
        rest = &rest[size + 2..];
    }
    (head, chunks)
}

#[tokio::test]
async fn watch_stream_framing_over_http1() {
    let h = start().await;
    let cms = h.configmaps();
    cms.create(&PostParams::default(), &ConfigMap::new("a"))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &ConfigMap::new("b"))
        .await
        .unwrap();
    let raw = h
        .raw_http1("GET /api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1 HTTP/1.1")
        .await;
    let (head, chunks) = dechunk(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("transfer-encoding: chunked"), "{head}");
    assert!(lower.contains("content-type: application/json"), "{head}");
    let body: Vec<u8> = chunks.concat();
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&body));
    // One event per line, each its own chunk (flushed per event).
    assert!(chunks.len() >= 2);
    for (line, name) in lines.iter().zip(["a", "b"]) {
        let ev: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(ev["type"], "ADDED");
        assert_eq!(ev["object"]["metadata"]["name"], name);
        assert_eq!(ev["object"]["kind"], "ConfigMap");
    }
    // Errors before streaming are plain Status answers.
    let raw = h.raw_http1("GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersionMatch=Exact HTTP/1.1").await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(text.contains("\"kind\":\"Status\""), "{text}");
}

#[tokio::test]
async fn tables() {
    let h = start().await;
    let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"default"},
        "spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}});
    let r = h
        .client
        .send_raw(
            Method::POST,
            "/api/v1/namespaces/default/pods",
            &[("content-type", "application/json")],
            Some(Bytes::from(pod.to_string())),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    let t = h
        .get("/api/v1/pods?limit=500", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert_eq!(
        (t["kind"].as_str(), t["apiVersion"].as_str()),
        (Some("Table"), Some("meta.k8s.io/v1"))
    );
    assert_eq!(
        names(&t, "columnDefinitions"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    let prio: Vec<i64> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(prio, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    let row = &t["rows"][0];
    assert_eq!(
        row["cells"].as_array().unwrap()[0..4],
        [json!("p1"), json!("0/1"), json!("Pending"), json!("0")]
    );
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["namespace"], "default");
    assert!(t["metadata"]["resourceVersion"].is_string());
    // includeObject, a single object, other kinds, plain JSON without the Table Accept.
    let t = h
        .get(
            "/api/v1/namespaces/default/pods/p1?includeObject=Object",
            Some(TABLE),
        )
        .await
        .json()
        .unwrap();
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    let t = h
        .get("/api/v1/pods?includeObject=None", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert!(t["rows"][0].get("object").is_none());
    let t = h
        .get("/api/v1/namespaces", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert_eq!(names(&t, "columnDefinitions"), ["Name", "Status", "Age"]);
    assert_eq!(t["rows"].as_array().unwrap().len(), 4);
    let t = h
        .get("/apis/apps/v1/deployments", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert_eq!(
        names(&t, "columnDefinitions")[..5],
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    );
    let t = h
        .get("/apis/coordination.k8s.io/v1/leases", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert_eq!(names(&t, "columnDefinitions"), ["Name", "Holder", "Age"]);
    let t = h
        .get("/apis/policy/v1/poddisruptionbudgets", Some(TABLE))
        .await
        .json()
        .unwrap();
    assert_eq!(names(&t, "columnDefinitions")[0], "Name");
    let plain = h.get("/api/v1/pods", None).await.json().unwrap();
    assert_eq!(plain["kind"], "PodList");
    assert_eq!(
        h.get("/api/v1/pods?includeObject=All", Some(TABLE))
            .await
            .status,
        400
    );
    // client-go's metadata client: PartialObjectMetadataList / PartialObjectMetadata.
    let meta = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let l = h
        .get("/api/v1/namespaces/default/pods", Some(meta))
        .await
        .json()
        .unwrap();
    assert_eq!(l["kind"], "PartialObjectMetadataList");
    assert_eq!(l["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(l["items"][0]["metadata"]["name"], "p1");
    assert!(l["items"][0].get("spec").is_none());
    let o = h
        .get(
            "/api/v1/namespaces/default/pods/p1",
            Some("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
        )
        .await
        .json()
        .unwrap();
    assert_eq!(o["kind"], "PartialObjectMetadata");
    // Watch events as one-row Tables.
    let raw = h
        .client
        .send_raw(
            Method::GET,
            "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1",
            &[("accept", TABLE)],
            None,
        )
        .await
        .unwrap();
    let line = raw.body.split(|b| *b == b'\n').next().unwrap();
    let ev: Value = serde_json::from_slice(line).unwrap();
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["kind"], "Table");
    assert_eq!(ev["object"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(ev["object"]["rows"][0]["cells"][0], "p1");
}

#[tokio::test]
async fn metrics_exposition() {
    let h = start().await;
    h.get("/api/v1/namespaces/default/configmaps/missing", None)
        .await;
    h.get("/api/v1/namespaces", None).await;
    let r = h.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(r
        .content_type()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(
        text.contains(r#"apiserver_request_total{verb="GET",resource="configmaps",code="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"apiserver_request_total{verb="LIST",resource="namespaces",code="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("# TYPE apiserver_request_duration_seconds histogram"));
    assert!(text.contains("# TYPE apiserver_longrunning_requests gauge"));
}

#[tokio::test]
async fn plain_http_with_anonymous_access() {
    let h = start_with(|c| {
        c.tls = None;
        c.anonymous = true;
    })
    .await;
    assert!(h.running.url().starts_with("http://"));
    let client = HttpClient::from_resolved(&kube_api::kubeconfig::Resolved {
        server: h.running.url(),
        ..Default::default()
    })
    .unwrap();
    let r = client
        .send_raw(Method::GET, "/api/v1/namespaces", &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json().unwrap()["kind"], "NamespaceList");
}
