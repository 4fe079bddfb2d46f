//! Hand-built protobuf bodies (a tiny encoder below) through [`decode`].

use super::*;
use serde_json::json;

/// A minimal protobuf encoder: enough to build Kubernetes bodies by tag.
#[derive(Clone, Default)]
struct Enc(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Enc {
    fn new() -> Self {
        Enc::default()
    }
    fn key(mut self, tag: u32, wt: u8) -> Self {
        put_varint(&mut self.0, (u64::from(tag) << 3) | u64::from(wt));
        self
    }
    fn uint(self, tag: u32, v: u64) -> Self {
        let mut s = self.key(tag, 0);
        put_varint(&mut s.0, v);
        s
    }
    fn int(self, tag: u32, v: i64) -> Self {
        self.uint(tag, v as u64)
    }
    fn bytes(self, tag: u32, b: &[u8]) -> Self {
        let mut s = self.key(tag, 2);
        put_varint(&mut s.0, b.len() as u64);
        s.0.extend_from_slice(b);
        s
    }
    fn str(self, tag: u32, v: &str) -> Self {
        self.bytes(tag, v.as_bytes())
    }
    fn msg(self, tag: u32, m: Enc) -> Self {
        self.bytes(tag, &m.0)
    }
    fn double(self, tag: u32, v: f64) -> Self {
        let mut s = self.key(tag, 1);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }
    /// A `map<string, string>` entry.
    fn entry(self, tag: u32, k: &str, v: &str) -> Self {
        self.msg(tag, Enc::new().str(1, k).str(2, v))
    }
    /// A `map<string, bytes>` entry.
    fn entry_bytes(self, tag: u32, k: &str, v: &[u8]) -> Self {
        self.msg(tag, Enc::new().str(1, k).bytes(2, v))
    }
    /// A `map<string, message>` entry.
    fn entry_msg(self, tag: u32, k: &str, v: Enc) -> Self {
        self.msg(tag, Enc::new().str(1, k).msg(2, v))
    }
}

/// `k8s\0` + runtime.Unknown{typeMeta, raw}, as kubectl 1.32+ sends it.
fn envelope(api_version: &str, kind: &str, raw: Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().str(1, api_version).str(2, kind))
        .msg(2, raw)
        .str(3, "")
        .str(4, "");
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&unknown.0);
    out
}

fn quantity(s: &str) -> Enc {
    Enc::new().str(1, s)
}

/// Go's generated marshaller writes the non-pointer ObjectMeta fields even when empty (the
/// zero `creationTimestamp` as an empty message), as kubectl 1.33 does.
fn go_meta(name: &str) -> Enc {
    Enc::new()
        .str(1, name)
        .str(2, "")
        .str(3, "")
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .int(7, 0)
        .msg(8, Enc::new())
}

fn dec(body: &[u8]) -> Value {
    decode(body).unwrap().object
}

#[test]
fn schema_is_sorted_and_consistent() {
    for w in schema::MESSAGES.windows(2) {
        assert!(w[0].name < w[1].name, "{} / {}", w[0].name, w[1].name);
    }
    for m in &schema::MESSAGES {
        for w in m.fields.windows(2) {
            assert!(w[0].tag < w[1].tag, "{}", m.name);
        }
        for f in m.fields {
            if let Kind::Message(i) = f.kind {
                assert!(usize::from(i) < schema::MESSAGES.len());
            }
        }
    }
    for (av, k) in [
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("policy/v1", "PodDisruptionBudget"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
    ] {
        assert!(message_name(av, k).is_some(), "{av} {k}");
    }
    assert_eq!(message_name("batch/v1", "Job"), None);
    // v1beta1 SelfSubjectReview shares v1's message.
    assert_eq!(
        message_name("authentication.k8s.io/v1beta1", "SelfSubjectReview"),
        Some("k8s.io.api.authentication.v1.SelfSubjectReview")
    );
    assert_eq!(
        message_name("authentication.k8s.io/v1beta1", "TokenReview"),
        None
    );
}

#[test]
fn json_names_follow_kubernetes() {
    let names = |msg: &str| -> Vec<&'static str> {
        let i = find(msg).unwrap();
        schema::MESSAGES[i].fields.iter().map(|f| f.json).collect()
    };
    let spec = names("k8s.io.api.core.v1.ServiceSpec");
    for n in [
        "clusterIP",
        "clusterIPs",
        "externalIPs",
        "loadBalancerIP",
        "type",
    ] {
        assert!(spec.contains(&n), "{n}");
    }
    assert!(names("k8s.io.api.core.v1.PodStatus").contains(&"podIP"));
    assert!(names("k8s.io.api.core.v1.PodSpec").contains(&"hostIPC"));
    assert!(names("k8s.io.api.rbac.v1.PolicyRule").contains(&"nonResourceURLs"));
    assert!(names("k8s.io.api.core.v1.VolumeSource").contains(&"downwardAPI"));
    assert!(names("k8s.io.api.core.v1.NodeSpec").contains(&"podCIDRs"));
}

#[test]
fn namespace() {
    let body = envelope(
        "v1",
        "Namespace",
        Enc::new()
            .msg(1, go_meta("ns1").entry(11, "team", "a"))
            .msg(2, Enc::new())
            .msg(3, Enc::new().str(1, "")),
    );
    assert_eq!(
        dec(&body),
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ns1", "generation": 0, "creationTimestamp": null,
                         "labels": {"team": "a"}},
            "spec": {},
            "status": {},
        })
    );
}

#[test]
fn configmap() {
    let body = envelope(
        "v1",
        "ConfigMap",
        Enc::new()
            .msg(1, Enc::new().str(1, "cm").str(3, "default"))
            .entry(2, "a", "b")
            .entry(2, "c", "")
            .entry_bytes(3, "bin", &[0, 1, 2, 255])
            .uint(4, 1),
    );
    assert_eq!(
        dec(&body),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default"},
            "data": {"a": "b", "c": ""},
            "binaryData": {"bin": "AAEC/w=="},
            "immutable": true,
        })
    );
}

#[test]
fn secret_bytes_are_base64() {
    let body = envelope(
        "v1",
        "Secret",
        Enc::new()
            .msg(1, go_meta("s"))
            .entry_bytes(2, "k", b"v")
            .entry_bytes(2, "empty", b"")
            .str(3, "Opaque"),
    );
    let v = dec(&body);
    assert_eq!(v["data"], json!({"k": "dg==", "empty": ""}));
    assert_eq!(v["type"], "Opaque");
    assert!(v.get("stringData").is_none() && v.get("immutable").is_none());
}

#[test]
fn service_int_or_string() {
    let port = |name: &str, p: i64, target: Enc| {
        Enc::new()
            .str(1, name)
            .str(2, "TCP")
            .int(3, p)
            .msg(4, target)
            .int(5, 0)
    };
    let body = envelope(
        "v1",
        "Service",
        Enc::new().msg(1, go_meta("svc")).msg(
            2,
            Enc::new()
                .msg(1, port("80-8080", 80, Enc::new().int(1, 0).int(2, 8080)))
                .msg(1, port("web", 443, Enc::new().int(1, 1).str(3, "https")))
                .msg(1, port("unset", 8443, Enc::new().int(1, 0).int(2, 0)))
                .entry(2, "app", "svc")
                .str(3, "10.0.0.10")
                .str(4, "ClusterIP")
                .str(5, "1.2.3.4")
                .str(5, "5.6.7.8"),
        ),
    );
    let v = dec(&body);
    assert_eq!(v["kind"], "Service");
    let spec = &v["spec"];
    assert_eq!(spec["clusterIP"], "10.0.0.10");
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["externalIPs"], json!(["1.2.3.4", "5.6.7.8"]));
    assert_eq!(spec["selector"], json!({"app": "svc"}));
    assert_eq!(
        spec["ports"],
        json!([
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0},
            {"name": "web", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 0},
            {"name": "unset", "protocol": "TCP", "port": 8443, "nodePort": 0},
        ])
    );
}

#[test]
fn deployment() {
    let container = Enc::new().str(1, "nginx").str(2, "nginx:1.25").msg(
        8,
        Enc::new()
            .entry_msg(1, "cpu", quantity("500m"))
            .entry_msg(2, "memory", quantity("128Mi"))
            .entry_msg(2, "cpu", Enc::new()),
    );
    let labels = |e: Enc| e.entry(11, "app", "web");
    let body = envelope(
        "apps/v1",
        "Deployment",
        Enc::new().msg(1, labels(go_meta("web"))).msg(
            2,
            Enc::new()
                .int(1, 2)
                .msg(2, Enc::new().entry(1, "app", "web"))
                .msg(
                    3,
                    Enc::new()
                        .msg(1, labels(go_meta("")))
                        .msg(2, Enc::new().msg(2, container).str(3, "")),
                )
                .msg(4, Enc::new())
                .int(5, 0),
        ),
    );
    let v = dec(&body);
    assert_eq!(
        (&v["apiVersion"], &v["kind"]),
        (&json!("apps/v1"), &json!("Deployment"))
    );
    assert_eq!(v["spec"]["replicas"], 2);
    assert_eq!(v["spec"]["minReadySeconds"], 0);
    assert_eq!(
        v["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(v["spec"]["strategy"], json!({}));
    let tpl = &v["spec"]["template"];
    assert_eq!(tpl["metadata"]["labels"], json!({"app": "web"}));
    assert!(tpl["metadata"].get("name").is_none());
    assert_eq!(
        tpl["spec"]["containers"],
        json!([{
            "name": "nginx",
            "image": "nginx:1.25",
            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "128Mi", "cpu": "0"}},
        }])
    );
    // replicas: 0 is a set pointer, not "unset".
    let zero = envelope(
        "apps/v1",
        "Deployment",
        Enc::new().msg(2, Enc::new().int(1, 0)),
    );
    assert_eq!(dec(&zero)["spec"]["replicas"], 0);
}

#[test]
fn times_durations_raw() {
    let ts = |s: i64, n: i64| Enc::new().int(1, s).int(2, n);
    // Event: firstTimestamp (Time), eventTime (MicroTime), involvedObject, count, series.
    let body = envelope(
        "v1",
        "Event",
        Enc::new()
            .msg(1, Enc::new().str(1, "e").msg(9, ts(1_704_067_200, 0)))
            .msg(6, ts(1_704_067_200, 500_000_000))
            .int(8, 3)
            .msg(10, ts(1_704_067_201, 123_456_789)),
    );
    let v = dec(&body);
    assert_eq!(v["metadata"]["deletionTimestamp"], "2024-01-01T00:00:00Z");
    assert_eq!(v["firstTimestamp"], "2024-01-01T00:00:00Z");
    assert_eq!(v["count"], 3);
    assert_eq!(v["eventTime"], "2024-01-01T00:00:01.123456Z");
    // managedFields[].fieldsV1 is embedded JSON.
    let body = envelope(
        "v1",
        "ConfigMap",
        Enc::new().msg(
            1,
            Enc::new().str(1, "c").msg(
                17,
                Enc::new()
                    .str(1, "kubectl")
                    .msg(7, Enc::new().bytes(1, br#"{"f:data":{}}"#)),
            ),
        ),
    );
    let v = dec(&body);
    assert_eq!(
        v["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {}})
    );
    for (ns, s) in [
        (0, "0s"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (90_000_000_000, "1m30s"),
        (3_723_500_000_000, "1h2m3.5s"),
        (-1_000_000_000, "-1s"),
    ] {
        assert_eq!(go_duration(ns), s);
    }
    assert_eq!(time_json(GO_ZERO_TIME, 0, false), Value::Null);
}

#[test]
fn inline_structs_and_packed() {
    // Pod: volumes[].{name, VolumeSource inline{emptyDir{sizeLimit}}},
    // securityContext.supplementalGroups (repeated int64) packed and not.
    let vol = Enc::new()
        .str(1, "scratch")
        .msg(2, Enc::new().msg(2, Enc::new().msg(2, quantity("1Gi"))));
    let mut packed = Vec::new();
    for g in [1u64, 2] {
        put_varint(&mut packed, g);
    }
    let body = envelope(
        "v1",
        "Pod",
        Enc::new().msg(
            2,
            Enc::new()
                .msg(1, vol)
                .msg(14, Enc::new().bytes(4, &packed).uint(4, 3).double(99, 1.0)),
        ),
    );
    let d = decode(&body).unwrap();
    let spec = &d.object["spec"];
    assert_eq!(
        spec["volumes"],
        json!([{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}])
    );
    assert_eq!(
        spec["securityContext"]["supplementalGroups"],
        json!([1, 2, 3])
    );
    assert_eq!(d.unknown_fields, 1);
}

#[test]
fn malformed_and_unsupported() {
    let err = |b: &[u8]| decode(b).unwrap_err();
    assert_eq!(err(b"{}"), DecodeError::BadMagic);
    assert_eq!(err(b"k8s\0"), DecodeError::MissingTypeMeta);
    assert!(matches!(
        err(&envelope("batch/v1", "Job", Enc::new())),
        DecodeError::UnsupportedKind { .. }
    ));
    assert!(matches!(
        err(&envelope("v1", "Nope", Enc::new())),
        DecodeError::UnsupportedKind { .. }
    ));
    // Truncated varint.
    let mut b = envelope("v1", "ConfigMap", Enc::new().uint(4, 300));
    b.pop();
    assert!(
        matches!(err(&b), DecodeError::Malformed { .. }),
        "{:?}",
        err(&b)
    );
    // Length past the end, inside raw.
    let mut raw = Enc::new().key(1, 2);
    put_varint(&mut raw.0, 50);
    raw.0.extend_from_slice(b"short");
    assert!(matches!(
        err(&envelope("v1", "ConfigMap", raw)),
        DecodeError::Malformed { .. }
    ));
    // Wrong wire type for a string field.
    assert!(matches!(
        err(&envelope(
            "v1",
            "ConfigMap",
            Enc::new().msg(1, Enc::new().uint(1, 5))
        )),
        DecodeError::Malformed { .. }
    ));
    // Invalid UTF-8.
    assert!(matches!(
        err(&envelope(
            "v1",
            "ConfigMap",
            Enc::new().msg(1, Enc::new().bytes(1, &[0xff]))
        )),
        DecodeError::Malformed { .. }
    ));
    // Encoded content.
    let mut gz = MAGIC.to_vec();
    gz.extend(
        Enc::new()
            .msg(1, Enc::new().str(1, "v1").str(2, "ConfigMap"))
            .str(3, "gzip")
            .0,
    );
    assert!(matches!(err(&gz), DecodeError::UnsupportedEncoding(_)));
    // Deeply nested unknown fields are skipped, never recursed into.
    let mut deep = Enc::new();
    for _ in 0..1000 {
        deep = Enc::new().msg(99, deep);
    }
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", deep))
            .unwrap()
            .unknown_fields,
        1
    );
    // The depth limit (the served schema itself nests far less than MAX_DEPTH).
    let cm = find("k8s.io.api.core.v1.ConfigMap").unwrap();
    let mut d = Decoder { unknown: 0 };
    assert_eq!(
        d.message_into(cm, &[], MAX_DEPTH, &mut Map::new()),
        Err(DecodeError::TooDeep)
    );
}

/// Bodies captured from kubectl 1.33.1 (`create deployment web-33 --image=nginx:1.25
/// --replicas=2 -n typed-33`, `create service clusterip svc-33 --tcp=80:8080`, `create
/// secret generic s-33 --from-literal=k=v`).
const KUBECTL_133_DEPLOYMENT: &[&str] = &[
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c5010a2d0a067765622d3333",
    "12001a0874797065642d333322002a003200380042005a0d0a0361707012067765622d3333128501",
    "0802120f0a0d0a0361707012067765622d33331a680a1f0a0012001a0022002a003200380042005a",
    "0d0a0361707012067765622d3333124512270a056e67696e78120a6e67696e783a312e32352a0042",
    "006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a",
    "0100c2010022020a00280038001a0c0800100018002000280038001a002200",
];
const KUBECTL_133_SERVICE: &[&str] = &[
    "6b3873000a0d0a027631120753657276696365127a0a2d0a067376632d333312001a087479706564",
    "2d333322002a003200380042005a0d0a0361707012067376632d333312450a1b0a0738302d383038",
    "30120354435018502207080010903f1a002800120d0a0361707012067376632d33331a002209436c",
    "757374657249503a00420052005a00600068001a020a001a002200",
];
const KUBECTL_133_SECRET: &[&str] = &[
    "6b3873000a0c0a027631120653656372657412280a1c0a04732d333312001a0874797065642d3333",
    "22002a0032003800420012060a016b1201761a001a002200",
];

fn unhex(parts: &[&str]) -> Vec<u8> {
    let h: String = parts.concat();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn captured_kubectl_1_33_bodies() {
    let d = decode(&unhex(KUBECTL_133_DEPLOYMENT)).unwrap();
    assert_eq!(d.unknown_fields, 0);
    let v = d.object;
    assert_eq!(v["metadata"]["name"], "web-33");
    assert_eq!(v["metadata"]["namespace"], "typed-33");
    assert_eq!(v["metadata"]["creationTimestamp"], Value::Null);
    assert_eq!(v["spec"]["replicas"], 2);
    assert_eq!(
        v["spec"]["selector"],
        json!({"matchLabels": {"app": "web-33"}})
    );
    let c = &v["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (&c["name"], &c["image"]),
        (&json!("nginx"), &json!("nginx:1.25"))
    );
    assert_eq!(c["resources"], json!({}));
    let s = decode(&unhex(KUBECTL_133_SERVICE)).unwrap().object;
    assert_eq!(
        s["spec"]["ports"],
        json!([{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0}])
    );
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert!(s["spec"].get("clusterIP").is_none());
    let sec = decode(&unhex(KUBECTL_133_SECRET)).unwrap().object;
    assert_eq!(sec["data"], json!({"k": "dg=="}));
    // Every truncation of a real body is an error or a value, never a panic.
    let body = unhex(KUBECTL_133_DEPLOYMENT);
    for n in 0..body.len() {
        let _ = decode(&body[..n]);
    }
}

#[test]
fn review_and_token_request() {
    // The bodies of `kubectl auth can-i` and `kubectl create token` (1.32+).
    let ssar = envelope(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        Enc::new().msg(1, go_meta("")).msg(
            2,
            Enc::new().msg(
                1,
                Enc::new().str(1, "default").str(2, "create").str(5, "pods"),
            ),
        ),
    );
    assert_eq!(
        dec(&ssar)["spec"],
        json!({"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}})
    );
    let tr = envelope(
        "authentication.k8s.io/v1",
        "TokenRequest",
        Enc::new()
            .msg(1, go_meta("bot"))
            .msg(2, Enc::new().str(1, "api").str(1, "vault").int(4, 3600)),
    );
    assert_eq!(
        dec(&tr)["spec"],
        json!({"audiences": ["api", "vault"], "expirationSeconds": 3600})
    );
}

/// A tiny xorshift generator: random bytes without a dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_bytes_never_panic() {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let seed = envelope(
        "apps/v1",
        "Deployment",
        Enc::new().msg(1, go_meta("web")).msg(
            2,
            Enc::new().int(1, 2).msg(
                3,
                Enc::new().msg(2, Enc::new().msg(2, Enc::new().str(1, "c").str(2, "i"))),
            ),
        ),
    );
    for i in 0..20_000 {
        let mut b = if i % 2 == 0 {
            // Mutations of a valid body: flip, truncate, splice random bytes.
            let mut b = seed.clone();
            for _ in 0..(xorshift(&mut s) % 4 + 1) {
                let pos = 4 + (xorshift(&mut s) as usize) % (b.len() - 4);
                b[pos] = xorshift(&mut s) as u8;
            }
            let cut = (xorshift(&mut s) as usize) % (b.len() + 1);
            b.truncate(cut.max(4));
            b
        } else {
            let len = (xorshift(&mut s) % 64) as usize;
            let mut b = MAGIC.to_vec();
            b.extend((0..len).map(|_| xorshift(&mut s) as u8));
            b
        };
        let _ = decode(&b);
        b.reverse();
        let _ = decode(&b);
    }
}
