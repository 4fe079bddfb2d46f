//! The generic registry: create, get, update, patch, delete and delete-collection for every
//! resource, plus the `status`, `scale` and `binding` subresources — kube-apiserver's
//! `registry/generic/registry/store.go` and `rest/{create,update,delete}.go`, driven by the
//! per-resource [`Strategy`].

use crate::admission::{self, Chain, Operation};
use crate::auth::UserInfo;
use crate::clock::Clock;
use crate::errors::{self, FieldError, Result, OPTIMISTIC_LOCK_ERROR};
use crate::object::{
    finalizers, generation, is_deleting, meta, meta_str, set_finalizers, set_meta, string_map,
};
use crate::storage::{encode, Filter, Storage};
use crate::strategy::{GcDefault, Generation, StatusOnCreate, Strategy};
use kube_store::Revision;
use kubox_core::client::{
    DeleteParams, FieldValidation, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use kubox_core::selector::Selector;
use kubox_core::Time;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How often a read-modify-write is retried when the store reports a concurrent write.
const MAX_RETRIES: usize = 64;

/// The registry: storage, admission and a clock.
#[derive(Clone)]
pub(crate) struct Rest {
    pub(crate) storage: Storage,
    pub(crate) admission: Chain,
    pub(crate) clock: Arc<dyn Clock>,
    /// Service ClusterIP and NodePort allocation.
    pub(crate) alloc: crate::alloc::Allocators,
}

/// Whether the resource is core/v1 Services (which allocate IPs and node ports).
fn is_service(s: &Strategy) -> bool {
    s.group().is_empty() && s.info.plural == "services"
}

/// One request's context.
pub(crate) struct Ctx<'a> {
    pub(crate) user: &'a UserInfo,
    pub(crate) s: Strategy,
    pub(crate) ns: Option<&'a str>,
}

/// What an update does when the object does not exist.
pub(crate) enum OnMissing {
    /// 404.
    NotFound,
    /// Create this object instead (AllowCreateOnUpdate kinds, server-side apply).
    Create(Value),
}

/// The outcome of a delete.
pub(crate) struct Deleted {
    /// The response body.
    pub(crate) body: Value,
    /// Whether the object is gone from the store (false: graceful deletion or finalizers).
    pub(crate) gone: bool,
}

/// Checks a request body's `apiVersion` and `kind` (filling them in when absent) and that it
/// decodes as the kind; 400 otherwise.
pub(crate) fn check_body(body: &Value, api_version: &str, kind: &str) -> Result<Value> {
    check_body_fields(body, api_version, kind).map(|(obj, _)| obj)
}

/// How a body's unknown fields are reported: as a create or update body (`Deployment in
/// version "v1" cannot be handled as a Deployment: strict decoding error: …`) or as a patch
/// (`strict decoding error: …`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// POST or PUT.
    Object,
    /// PATCH (the patched object).
    Patch,
}

/// `fieldValidation` on a decoded body: drops the `unknown` fields from `obj`; `Strict`
/// refuses them (400), `Warn` (the default) reports one warning per field.
pub(crate) fn enforce_field_validation(
    obj: &mut Value,
    unknown: &[Vec<crate::typed::Seg>],
    mode: Option<FieldValidation>,
    what: BodyKind,
    api_version: &str,
    kind: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field {:?}", crate::typed::render(p)))
        .collect();
    match mode.unwrap_or(FieldValidation::Warn) {
        FieldValidation::Strict => {
            let msg = format!("strict decoding error: {}", fields.join(", "));
            return Err(errors::bad_request(match what {
                BodyKind::Patch => msg,
                BodyKind::Object => {
                    let version = api_version.rsplit('/').next().unwrap_or(api_version);
                    format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {msg}")
                }
            }));
        }
        FieldValidation::Warn => {
            for f in fields {
                if !warnings.contains(&f) {
                    warnings.push(f);
                }
            }
        }
        FieldValidation::Ignore => {}
    }
    // Deepest first, so that removing a field never shifts another's path.
    for path in unknown.iter().rev() {
        crate::typed::remove(obj, path);
    }
    Ok(())
}

/// [`check_body`], also returning the fields the kind does not have.
pub(crate) fn check_body_fields(
    body: &Value,
    api_version: &str,
    kind: &str,
) -> Result<(Value, Vec<Vec<crate::typed::Seg>>)> {
    let Value::Object(m) = body else {
        return Err(errors::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): the request body must be a JSON object"
        )));
    };
    let mut m = m.clone();
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    match m.get("apiVersion") {
        Some(Value::String(v)) if !v.is_empty() && v != api_version => {
            return Err(errors::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
        Some(Value::String(v)) if !v.is_empty() => {}
        Some(v) if !v.is_null() && !v.is_string() => {
            return Err(errors::bad_request(format!(
                "couldn't get version/kind; json parse error: apiVersion must be a string, got {v}"
            )))
        }
        _ => {
            m.insert("apiVersion".into(), Value::String(api_version.into()));
        }
    }
    match m.get("kind") {
        Some(Value::String(k)) if !k.is_empty() && k != kind => {
            return Err(errors::bad_request(format!(
                "{k} in version \"{version}\" cannot be handled as a {kind}: the kind in the data ({k}) does not match the expected kind ({kind})"
            )))
        }
        Some(Value::String(k)) if !k.is_empty() => {}
        Some(v) if !v.is_null() && !v.is_string() => {
            return Err(errors::bad_request(format!(
                "couldn't get version/kind; json parse error: kind must be a string, got {v}"
            )))
        }
        _ => {
            m.insert("kind".into(), Value::String(kind.into()));
        }
    }
    match m.get("metadata") {
        None | Some(Value::Object(_)) => {}
        Some(Value::Null) => {
            m.shift_remove("metadata");
        }
        Some(_) => {
            return Err(errors::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: metadata must be a JSON object"
            )))
        }
    }
    let obj = Value::Object(m);
    let decoded = crate::typed::decode(api_version, kind, &obj);
    if let Some(err) = decoded.error {
        return Err(errors::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {err}"
        )));
    }
    Ok((obj, decoded.unknown))
}

/// A random v4 UUID.
pub(crate) fn new_uid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h: String = b
        .iter()
        .flat_map(|x| [HEX[usize::from(x >> 4)], HEX[usize::from(x & 0xf)]])
        .map(char::from)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `names.SimpleNameGenerator`: the base cut to 58 bytes, then 5 random characters from
/// `bcdfghjklmnpqrstvwxz2456789`.
pub(crate) fn generate_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut cut = base.len().min(58);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}{suffix}", &base[..cut])
}

/// The path-segment check every create runs (`rest.BeforeCreate`).
fn path_segment_errors(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            return Some(format!("may not contain '{bad}'"));
        }
    }
    None
}

/// Pod QoS class (`qos.GetPodQOS`), from cpu and memory requests and limits.
fn pod_qos(pod: &Value) -> &'static str {
    use kubox_core::Quantity;
    let mut any = false;
    let mut guaranteed = true;
    let spec = pod.get("spec");
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec.and_then(|s| s.get(f)).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let resources = c.get("resources");
        let req = resources.and_then(|r| r.get("requests"));
        let lim = resources.and_then(|r| r.get("limits"));
        for r in ["cpu", "memory"] {
            let q = |m: Option<&Value>| {
                m.and_then(|m| m.get(r))
                    .and_then(Value::as_str)
                    .and_then(|v| Quantity::parse(v).ok())
            };
            let (rq, lq) = (q(req), q(lim));
            if rq.as_ref().is_some_and(|q| !q.is_zero())
                || lq.as_ref().is_some_and(|q| !q.is_zero())
            {
                any = true;
            }
            match (&rq, &lq) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn top(obj: &Value, key: &str) -> Option<Value> {
    obj.get(key).cloned()
}

fn set_top(obj: &mut Value, key: &str, v: Option<Value>) {
    if let Value::Object(m) = obj {
        match v {
            Some(v) => {
                m.insert(key.to_string(), v);
            }
            None => {
                m.shift_remove(key);
            }
        }
    }
}

/// Whether two objects are equal apart from `metadata.resourceVersion`.
fn same_ignoring_rv(a: &Value, b: &Value) -> bool {
    // Objects with `metadata` objects (every stored object) are compared in place, skipping
    // `metadata.resourceVersion`; anything else as copies with it cleared.
    type Obj = Map<String, Value>;
    fn meta(v: &Value) -> Option<(&Obj, &Obj)> {
        let m = v.as_object()?;
        Some((m, m.get("metadata")?.as_object()?))
    }
    if let (Some((ma, meta_a)), Some((mb, meta_b))) = (meta(a), meta(b)) {
        const RV: &str = "resourceVersion";
        let len = |m: &Map<String, Value>| m.len() - usize::from(m.contains_key(RV));
        return ma.len() == mb.len()
            && len(meta_a) == len(meta_b)
            && meta_a
                .iter()
                .all(|(k, v)| k == RV || meta_b.get(k) == Some(v))
            && ma
                .iter()
                .all(|(k, v)| k == "metadata" || mb.get(k) == Some(v));
    }
    let (mut a, mut b) = (a.clone(), b.clone());
    set_meta(&mut a, "resourceVersion", Value::Null);
    set_meta(&mut b, "resourceVersion", Value::Null);
    a == b
}

fn stamp_rv(obj: &mut Value, rev: Revision) {
    set_meta(obj, "resourceVersion", Value::String(rev.to_string()));
}

impl Rest {
    fn now(&self) -> Time {
        Time(self.clock.now())
    }

    fn now_str(&self) -> String {
        self.now().to_string()
    }

    #[allow(clippy::too_many_arguments)]
    async fn admit(
        &self,
        c: &Ctx<'_>,
        op: Operation,
        sub: &str,
        name: &str,
        old: Option<&Value>,
        dry_run: bool,
        obj: &mut Value,
    ) -> Result<crate::alloc::Txn> {
        let req = admission::Request {
            operation: op,
            user: c.user,
            group: c.s.info.group,
            version: c.s.info.version,
            resource: c.s.info.plural,
            subresource: sub,
            kind: c.s.info.kind,
            namespace: c.ns.filter(|_| c.s.info.namespaced).unwrap_or(""),
            name,
            old_object: old,
            dry_run,
        };
        if !(is_service(&c.s) && sub.is_empty() && op != Operation::Delete) {
            self.admission.run(&req, obj).await?;
            return Ok(crate::alloc::Txn::default());
        }
        // Services allocate between the mutating and the validating phase, as kube-apiserver
        // allocates in BeginCreate/BeginUpdate before the strategy validates.
        self.admission.mutate(&req, obj).await?;
        let txn = match old {
            _ if should_delete_during_update(&c.s, obj) => crate::alloc::Txn::default(),
            None => self.alloc.on_create(obj, dry_run).await?,
            Some(old) => self.alloc.on_update(obj, old, dry_run).await?,
        };
        if let Err(e) = self.admission.validate(&req, obj).await {
            self.alloc.revert(txn).await;
            return Err(e);
        }
        Ok(txn)
    }

    fn not_found(&self, c: &Ctx<'_>, name: &str) -> errors::Error {
        errors::not_found(c.s.group(), c.s.resource(), name)
    }

    /// GET of one object.
    pub(crate) async fn get(&self, c: &Ctx<'_>, name: &str) -> Result<Value> {
        let key = c.s.key(c.ns, name);
        match self.storage.get(&c.s, &key).await? {
            Some((obj, _)) => Ok(obj),
            None => Err(self.not_found(c, name)),
        }
    }

    /// POST to the collection.
    pub(crate) async fn create(
        &self,
        c: &Ctx<'_>,
        body: &Value,
        params: &PostParams,
        warnings: &mut Vec<String>,
    ) -> Result<Value> {
        let api_version = c.s.info.api_version();
        let (mut obj, unknown) = check_body_fields(body, &api_version, c.s.info.kind)?;
        enforce_field_validation(
            &mut obj,
            &unknown,
            params.field_validation,
            BodyKind::Object,
            &api_version,
            c.s.info.kind,
            warnings,
        )?;
        let obj = self.record(&c.s, "", params.field_manager.as_deref(), None, obj);
        if meta_str(&obj, "resourceVersion").is_some() {
            return Err(errors::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        self.create_checked(c, obj, params.dry_run).await
    }

    /// Records a non-apply write by `manager` in `metadata.managedFields` (main resource only).
    fn record(
        &self,
        s: &Strategy,
        sub: &str,
        manager: Option<&str>,
        old: Option<&Value>,
        new: Value,
    ) -> Value {
        match manager.filter(|m| !m.is_empty()) {
            Some(m) if sub.is_empty() => {
                let api_version = s.info.api_version();
                kubox_core::patch::apply::record_update(
                    old,
                    &new,
                    m,
                    "Update",
                    &api_version,
                    kubox_core::patch::schema::for_kind(&api_version, s.info.kind),
                    self.now(),
                )
            }
            _ => new,
        }
    }

    async fn create_checked(&self, c: &Ctx<'_>, mut obj: Value, dry_run: bool) -> Result<Value> {
        let s = &c.s;
        if s.info.namespaced {
            let Some(ns) = c.ns else {
                return Err(errors::resource_not_found());
            };
            match meta_str(&obj, "namespace") {
                Some(o) if o != ns => {
                    return Err(errors::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => set_meta(&mut obj, "namespace", Value::String(ns.into())),
            }
        } else {
            set_meta(&mut obj, "namespace", Value::Null);
        }
        set_meta(&mut obj, "resourceVersion", Value::Null);
        let generate = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (None, Some(base)) => Some(base.to_string()),
            _ => None,
        };
        if let Some(base) = &generate {
            set_meta(&mut obj, "name", Value::String(generate_name(base)));
        }
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        if name.is_empty() {
            return Err(errors::invalid(
                s.group(),
                s.info.kind,
                "",
                &[FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ));
        }
        if let Some(msg) = path_segment_errors(&name) {
            return Err(errors::invalid(
                s.group(),
                s.info.kind,
                &name,
                &[FieldError::invalid(
                    "metadata.name",
                    &format!("{name:?}"),
                    &msg,
                )],
            ));
        }
        // FillObjectMetaSystemFields + PrepareForCreate.
        set_meta(&mut obj, "uid", Value::String(new_uid()));
        set_meta(&mut obj, "creationTimestamp", Value::String(self.now_str()));
        set_meta(&mut obj, "deletionTimestamp", Value::Null);
        set_meta(&mut obj, "deletionGracePeriodSeconds", Value::Null);
        if s.generation != Generation::None {
            set_meta(&mut obj, "generation", json!(1));
        }
        match s.status_on_create {
            StatusOnCreate::Keep => {}
            StatusOnCreate::Clear => set_top(&mut obj, "status", Some(json!({}))),
            StatusOnCreate::Pod => {
                let qos = pod_qos(&obj);
                set_top(
                    &mut obj,
                    "status",
                    Some(json!({"phase": "Pending", "qosClass": qos})),
                );
            }
            StatusOnCreate::Namespace => {
                // On create a namespace always carries the `kubernetes` finalizer.
                set_top(&mut obj, "status", Some(json!({"phase": "Active"})));
                let spec = obj
                    .as_object_mut()
                    .map(|m| m.entry("spec").or_insert_with(|| json!({})));
                if let Some(Value::Object(spec)) = spec {
                    let f = spec.entry("finalizers").or_insert_with(|| json!([]));
                    if !f.is_array() {
                        *f = json!([]);
                    }
                    if let Value::Array(f) = f {
                        if !f.iter().any(|x| x == "kubernetes") {
                            f.push(json!("kubernetes"));
                        }
                    }
                }
            }
        }
        let txn = self
            .admit(c, Operation::Create, "", &name, None, dry_run, &mut obj)
            .await?;
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        if let Some(msg) = path_segment_errors(&name).or_else(|| {
            name.is_empty()
                .then(|| "name or generateName is required".to_string())
        }) {
            // A mutating admission plugin left an unusable name.
            self.alloc.revert(txn).await;
            return Err(errors::invalid(
                s.group(),
                s.info.kind,
                &name,
                &[FieldError::invalid(
                    "metadata.name",
                    &format!("{name:?}"),
                    &msg,
                )],
            ));
        }
        if dry_run {
            self.alloc.revert(txn).await;
            let key = s.key(c.ns, &name);
            if self.storage.get(s, &key).await?.is_some() {
                return Err(errors::already_exists(s.group(), s.resource(), &name));
            }
            return Ok(obj);
        }
        let res = self.write_created(c, obj, name, generate.as_deref()).await;
        match &res {
            Ok(_) => self.alloc.commit(txn).await,
            Err(_) => self.alloc.revert(txn).await,
        }
        res
    }

    /// The store write of a create (a name made from `generateName` is retried on collision).
    async fn write_created(
        &self,
        c: &Ctx<'_>,
        mut obj: Value,
        mut name: String,
        generate: Option<&str>,
    ) -> Result<Value> {
        let s = &c.s;
        for _ in 0..8 {
            let key = s.key(c.ns, &name);
            match self.storage.store.create(&key, encode(&obj)).await {
                Ok(rev) => {
                    stamp_rv(&mut obj, rev);
                    return Ok(obj);
                }
                Err(kube_store::Error::AlreadyExists { .. }) => match generate {
                    Some(base) => {
                        name = generate_name(base);
                        set_meta(&mut obj, "name", Value::String(name.clone()));
                    }
                    None => return Err(errors::already_exists(s.group(), s.resource(), &name)),
                },
                Err(e) => return Err(errors::from_store(e, s.group(), s.resource(), &name)),
            }
        }
        Err(errors::generate_name_conflict(
            s.group(),
            s.resource(),
            &name,
        ))
    }

    /// PUT of the object or of its `status` / `finalize` subresource.
    pub(crate) async fn replace(
        &self,
        c: &Ctx<'_>,
        name: &str,
        sub: &str,
        body: &Value,
        params: &PostParams,
        warnings: &mut Vec<String>,
    ) -> Result<Value> {
        let s = c.s;
        let dry_run = params.dry_run;
        let manager = params.field_manager.as_deref();
        let api_version = s.info.api_version();
        let (mut body, unknown) = check_body_fields(body, &api_version, s.info.kind)?;
        enforce_field_validation(
            &mut body,
            &unknown,
            params.field_validation,
            BodyKind::Object,
            &api_version,
            s.info.kind,
            warnings,
        )?;
        match meta_str(&body, "name") {
            Some(n) if n == name => {}
            other => return Err(name_mismatch(other, name)),
        }
        let on_missing = if s.allow_create_on_update && sub.is_empty() {
            OnMissing::Create(body.clone())
        } else {
            OnMissing::NotFound
        };
        let mut f =
            |cur: &Value| -> Result<Value> {
                match meta_str(&body, "resourceVersion") {
                    None if !s.allow_unconditional_update => Err(errors::invalid(
                        s.group(),
                        s.info.kind,
                        name,
                        &[FieldError::invalid(
                            "metadata.resourceVersion",
                            "0x0",
                            "must be specified for an update",
                        )],
                    )),
                    Some(rv) if Some(rv) != meta_str(cur, "resourceVersion") => Err(
                        errors::conflict(s.group(), s.resource(), name, OPTIMISTIC_LOCK_ERROR),
                    ),
                    _ => Ok(self.record(&s, sub, manager, Some(cur), body.clone())),
                }
            };
        self.update_with(c, name, sub, dry_run, on_missing, &mut f)
            .await
    }

    /// PATCH of the object or of its `status` subresource.
    pub(crate) async fn patch(
        &self,
        c: &Ctx<'_>,
        name: &str,
        sub: &str,
        patch: &Patch,
        params: &PatchParams,
        warnings: &mut Vec<String>,
    ) -> Result<Value> {
        let s = c.s;
        let api_version = s.info.api_version();
        let mut on_missing = OnMissing::NotFound;
        let mut apply_config = None;
        if let Patch::Apply(body) = patch {
            let manager = params.field_manager.as_deref().unwrap_or("");
            if manager.is_empty() {
                return Err(errors::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    &[FieldError::required(
                        "fieldManager",
                        "is required for apply patch",
                    )],
                ));
            }
            let (mut config, unknown) = check_body_fields(body, &api_version, s.info.kind)?;
            enforce_field_validation(
                &mut config,
                &unknown,
                params.field_validation,
                BodyKind::Patch,
                &api_version,
                s.info.kind,
                warnings,
            )?;
            if meta(&config).is_some_and(|m| m.contains_key("managedFields")) {
                return Err(errors::bad_request("metadata.managedFields must be nil"));
            }
            // The main endpoint ignores status, the status endpoint everything but status.
            if let Value::Object(m) = &mut config {
                if sub.is_empty() {
                    if s.has_status {
                        m.shift_remove("status");
                    }
                } else {
                    m.retain(|k, _| {
                        matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                    });
                }
            }
            let schema = kubox_core::patch::schema::for_kind(&api_version, s.info.kind);
            if sub.is_empty() {
                let mut cfg = config.clone();
                if meta_str(&cfg, "name").is_none() {
                    set_meta(&mut cfg, "name", Value::String(name.into()));
                }
                let created = kubox_core::patch::apply::apply(
                    None,
                    &cfg,
                    manager,
                    params.force,
                    schema,
                    self.now(),
                )
                .map_err(apply_error)?;
                on_missing = OnMissing::Create(created);
            }
            apply_config = Some((config, manager.to_string(), schema));
        }
        let now = self.now();
        let mut patch_warnings = Vec::new();
        let mut f = |cur: &Value| -> Result<Value> {
            let patched = match &apply_config {
                Some((config, manager, schema)) => kubox_core::patch::apply::apply(
                    Some(cur),
                    config,
                    manager,
                    params.force,
                    *schema,
                    now,
                )
                .map_err(apply_error)?,
                None => self.record(
                    &s,
                    sub,
                    params.field_manager.as_deref(),
                    Some(cur),
                    apply_patch(cur, patch)?,
                ),
            };
            let (mut obj, unknown) = check_body_fields(&patched, &api_version, s.info.kind)?;
            let mut w = Vec::new();
            enforce_field_validation(
                &mut obj,
                &unknown,
                params.field_validation,
                BodyKind::Patch,
                &api_version,
                s.info.kind,
                &mut w,
            )?;
            patch_warnings = w;
            if let Some(rv) = meta_str(&obj, "resourceVersion") {
                if Some(rv) != meta_str(cur, "resourceVersion") {
                    return Err(errors::conflict(
                        s.group(),
                        s.resource(),
                        name,
                        OPTIMISTIC_LOCK_ERROR,
                    ));
                }
            }
            Ok(obj)
        };
        let out = self
            .update_with(c, name, sub, params.dry_run, on_missing, &mut f)
            .await;
        for w in patch_warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        out
    }

    /// The read-modify-write loop of every update (`GuaranteedUpdate`): `f` maps the current
    /// object to the desired one; store conflicts are retried.
    pub(crate) async fn update_with(
        &self,
        c: &Ctx<'_>,
        name: &str,
        sub: &str,
        dry_run: bool,
        on_missing: OnMissing,
        f: &mut (dyn FnMut(&Value) -> Result<Value> + Send),
    ) -> Result<Value> {
        let s = c.s;
        let key = s.key(c.ns, name);
        for _ in 0..MAX_RETRIES {
            let Some((cur, rev)) = self.storage.get(&s, &key).await? else {
                return match on_missing {
                    OnMissing::NotFound => Err(self.not_found(c, name)),
                    OnMissing::Create(mut obj) => {
                        match meta_str(&obj, "name") {
                            Some(n) if n == name => {}
                            other => return Err(name_mismatch(other, name)),
                        }
                        set_meta(&mut obj, "resourceVersion", Value::Null);
                        self.create_checked(c, obj, dry_run).await
                    }
                };
            };
            let mut new = f(&cur)?;
            match meta_str(&new, "name") {
                Some(n) if n == name => {}
                other => return Err(name_mismatch(other, name)),
            }
            if s.info.namespaced {
                let ns = c.ns.unwrap_or("");
                match meta_str(&new, "namespace") {
                    Some(n) if n != ns => {
                        return Err(errors::bad_request(format!(
                        "the namespace of the object ({n}) does not match the namespace on the URL ({ns})"
                    )))
                    }
                    _ => set_meta(&mut new, "namespace", Value::String(ns.into())),
                }
            } else {
                set_meta(&mut new, "namespace", Value::Null);
            }
            self.prepare_for_update(&s, sub, &mut new, &cur)?;
            // An unconditional update is validated (and written) as of the current version.
            stamp_rv(&mut new, rev);
            let txn = self
                .admit(
                    c,
                    Operation::Update,
                    sub,
                    name,
                    Some(&cur),
                    dry_run,
                    &mut new,
                )
                .await?;
            stamp_rv(&mut new, rev);
            if same_ignoring_rv(&new, &cur) {
                self.alloc.revert(txn).await;
                return Ok(cur);
            }
            if should_delete_during_update(&s, &new) {
                self.alloc.revert(txn).await;
                if dry_run {
                    return Ok(new);
                }
                match self.storage.store.delete(&key, Some(rev)).await {
                    Ok((drev, _)) => {
                        if is_service(&s) {
                            self.alloc.on_delete(&cur).await;
                        }
                        stamp_rv(&mut new, drev);
                        return Ok(new);
                    }
                    Err(
                        kube_store::Error::Conflict { .. } | kube_store::Error::NotFound { .. },
                    ) => continue,
                    Err(e) => return Err(errors::from_store(e, s.group(), s.resource(), name)),
                }
            }
            if dry_run {
                self.alloc.revert(txn).await;
                return Ok(new);
            }
            match self
                .storage
                .store
                .update(&key, encode(&new), Some(rev))
                .await
            {
                Ok(nrev) => {
                    self.alloc.commit(txn).await;
                    stamp_rv(&mut new, nrev);
                    return Ok(new);
                }
                Err(kube_store::Error::Conflict { .. } | kube_store::Error::NotFound { .. }) => {
                    self.alloc.revert(txn).await;
                    continue;
                }
                Err(e) => {
                    self.alloc.revert(txn).await;
                    return Err(errors::from_store(e, s.group(), s.resource(), name));
                }
            }
        }
        Err(errors::conflict(
            s.group(),
            s.resource(),
            name,
            OPTIMISTIC_LOCK_ERROR,
        ))
    }

    /// `rest.BeforeUpdate` + the strategy's `PrepareForUpdate`.
    fn prepare_for_update(
        &self,
        s: &Strategy,
        sub: &str,
        new: &mut Value,
        old: &Value,
    ) -> Result<()> {
        let old_meta = meta(old).cloned().unwrap_or_default();
        let copy = |new: &mut Value, k: &str| {
            set_meta(new, k, old_meta.get(k).cloned().unwrap_or(Value::Null));
        };
        match (meta_str(new, "uid"), meta_str(old, "uid")) {
            (Some(n), Some(o)) if n != o => {
                let name = meta_str(old, "name").unwrap_or("");
                return Err(errors::invalid(
                    s.group(),
                    s.info.kind,
                    name,
                    &[FieldError::invalid(
                        "metadata.uid",
                        &format!("{n:?}"),
                        "field is immutable",
                    )],
                ));
            }
            _ => copy(new, "uid"),
        }
        for k in [
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            copy(new, k);
        }
        if meta(new).is_none_or(|m| !m.contains_key("managedFields")) {
            copy(new, "managedFields");
        }
        if is_service(s) && sub.is_empty() {
            crate::alloc::prepare_update(new, old);
        }
        match sub {
            "" if s.has_status => set_top(new, "status", top(old, "status")),
            "status" => {
                let status = top(new, "status");
                let metadata = top(new, "metadata");
                *new = old.clone();
                set_top(new, "metadata", metadata);
                set_top(new, "status", status);
                if s.info.plural == "pods" {
                    copy(new, "ownerReferences");
                }
                if s.status_keeps_labels {
                    copy(new, "labels");
                }
            }
            "finalize" => {
                set_top(new, "status", top(old, "status"));
            }
            _ => {}
        }
        let changed = |k: &str| new.get(k) != old.get(k);
        let bump = match s.generation {
            _ if sub == "binding" => false,
            Generation::None => false,
            Generation::Spec => changed("spec"),
            Generation::SpecOrAnnotations => {
                changed("spec")
                    || meta(new).and_then(|m| m.get("annotations"))
                        != meta(old).and_then(|m| m.get("annotations"))
            }
        };
        if bump {
            set_meta(new, "generation", json!(generation(old).saturating_add(1)));
        }
        Ok(())
    }

    /// DELETE of one object.
    pub(crate) async fn delete(
        &self,
        c: &Ctx<'_>,
        name: &str,
        opts: &DeleteParams,
    ) -> Result<Deleted> {
        let s = c.s;
        let key = s.key(c.ns, name);
        for _ in 0..MAX_RETRIES {
            let Some((cur, rev)) = self.storage.get(&s, &key).await? else {
                return Err(self.not_found(c, name));
            };
            if let Some(p) = &opts.preconditions {
                let uid = meta_str(&cur, "uid").unwrap_or("");
                if let Some(want) = p.uid.as_deref().filter(|u| *u != uid) {
                    return Err(errors::conflict(
                        s.group(),
                        s.resource(),
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                        ),
                    ));
                }
                let have = rev.to_string();
                if let Some(want) = p.resource_version.as_deref().filter(|r| *r != have) {
                    return Err(errors::conflict(
                        s.group(),
                        s.resource(),
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {have}"
                        ),
                    ));
                }
            }
            let mut probe = cur.clone();
            let _nothing_allocated = self
                .admit(
                    c,
                    Operation::Delete,
                    "",
                    name,
                    Some(&cur),
                    opts.dry_run,
                    &mut probe,
                )
                .await?;

            let mut new = cur.clone();
            let mut keep = false;
            // Namespaces: terminate first (the namespace controller empties spec.finalizers).
            if s.info.plural == "namespaces" && s.group().is_empty() {
                let spec_finalizers = new
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if spec_finalizers {
                    if !is_deleting(&new) {
                        set_meta(&mut new, "deletionTimestamp", json!(self.now_str()));
                        set_meta(&mut new, "deletionGracePeriodSeconds", json!(0));
                    }
                    set_top(&mut new, "status", Some(json!({"phase": "Terminating"})));
                    keep = true;
                }
            }
            // Graceful deletion (pods).
            let mut grace_pending = false;
            if s.graceful {
                let requested = opts.grace_period_seconds.map(|g| if g < 0 { 1 } else { g });
                if is_deleting(&cur) {
                    let g0 = meta(&cur)
                        .and_then(|m| m.get("deletionGracePeriodSeconds"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    if g0 > 0 {
                        match requested {
                            Some(g) if g < g0 => {
                                let ts = meta_str(&cur, "deletionTimestamp")
                                    .and_then(|t| Time::parse(t).ok())
                                    .map(|t| t.unix_seconds())
                                    .unwrap_or_else(|| self.now().unix_seconds());
                                let new_ts = Time::from_unix_seconds(
                                    ts.saturating_sub(g0).saturating_add(g),
                                );
                                set_meta(&mut new, "deletionTimestamp", json!(new_ts.to_string()));
                                set_meta(&mut new, "deletionGracePeriodSeconds", json!(g));
                                grace_pending = g > 0;
                            }
                            _ => grace_pending = true,
                        }
                    }
                } else {
                    let mut period = requested.unwrap_or_else(|| {
                        cur.pointer("/spec/terminationGracePeriodSeconds")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    });
                    let phase = cur.pointer("/status/phase").and_then(Value::as_str);
                    if cur
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                        || matches!(phase, Some("Succeeded" | "Failed"))
                    {
                        period = 0;
                    }
                    if period > 0 {
                        let at = Time::from_unix_seconds(
                            self.now().unix_seconds().saturating_add(period),
                        );
                        set_meta(&mut new, "deletionTimestamp", json!(at.to_string()));
                        set_meta(&mut new, "deletionGracePeriodSeconds", json!(period));
                        if generation(&cur) > 0 {
                            set_meta(
                                &mut new,
                                "generation",
                                json!(generation(&cur).saturating_add(1)),
                            );
                        }
                        grace_pending = true;
                    }
                }
            }
            // Garbage-collection finalizers (not while a graceful deletion is pending).
            if !(grace_pending && is_deleting(&cur)) {
                let mut f = finalizers(&new);
                let has = |f: &Vec<String>, x: &str| f.iter().any(|y| y == x);
                let policy = opts.propagation_policy.or_else(|| {
                    if has(&f, "orphan") || has(&f, "foregroundDeletion") {
                        None
                    } else if s.gc_default == GcDefault::Orphan {
                        Some(PropagationPolicy::Orphan)
                    } else {
                        None
                    }
                });
                let (add, remove): (&[&str], &[&str]) = match policy {
                    Some(PropagationPolicy::Orphan) => (&["orphan"], &["foregroundDeletion"]),
                    Some(PropagationPolicy::Foreground) => (&["foregroundDeletion"], &["orphan"]),
                    Some(PropagationPolicy::Background) => (&[], &["orphan", "foregroundDeletion"]),
                    None => (&[], &[]),
                };
                f.retain(|x| !remove.contains(&x.as_str()));
                for a in add {
                    if !has(&f, a) {
                        f.push((*a).to_string());
                    }
                }
                set_finalizers(&mut new, &f);
            }
            if !finalizers(&new).is_empty() {
                keep = true;
                if !is_deleting(&new) {
                    set_meta(&mut new, "deletionTimestamp", json!(self.now_str()));
                    set_meta(&mut new, "deletionGracePeriodSeconds", json!(0));
                    if generation(&cur) > 0 {
                        set_meta(
                            &mut new,
                            "generation",
                            json!(generation(&cur).saturating_add(1)),
                        );
                    }
                }
            }
            if keep || grace_pending {
                if same_ignoring_rv(&new, &cur) || opts.dry_run {
                    return Ok(Deleted {
                        body: new,
                        gone: false,
                    });
                }
                match self
                    .storage
                    .store
                    .update(&key, encode(&new), Some(rev))
                    .await
                {
                    Ok(nrev) => {
                        stamp_rv(&mut new, nrev);
                        return Ok(Deleted {
                            body: new,
                            gone: false,
                        });
                    }
                    Err(
                        kube_store::Error::Conflict { .. } | kube_store::Error::NotFound { .. },
                    ) => continue,
                    Err(e) => return Err(errors::from_store(e, s.group(), s.resource(), name)),
                }
            }
            if opts.dry_run {
                return Ok(Deleted {
                    body: self.deleted_body(&s, cur),
                    gone: true,
                });
            }
            match self.storage.store.delete(&key, Some(rev)).await {
                Ok((drev, _)) => {
                    if is_service(&s) {
                        self.alloc.on_delete(&cur).await;
                    }
                    let mut last = cur;
                    stamp_rv(&mut last, drev);
                    return Ok(Deleted {
                        body: self.deleted_body(&s, last),
                        gone: true,
                    });
                }
                Err(kube_store::Error::Conflict { .. }) => continue,
                Err(kube_store::Error::NotFound { .. }) => return Err(self.not_found(c, name)),
                Err(e) => return Err(errors::from_store(e, s.group(), s.resource(), name)),
            }
        }
        Err(errors::conflict(
            s.group(),
            s.resource(),
            name,
            OPTIMISTIC_LOCK_ERROR,
        ))
    }

    /// The response of a delete that removed the object.
    fn deleted_body(&self, s: &Strategy, last: Value) -> Value {
        if s.return_deleted_object {
            return last;
        }
        let details = kubox_core::meta::StatusDetails {
            name: meta_str(&last, "name").map(str::to_string),
            group: Some(s.group().to_string()),
            kind: Some(s.resource().to_string()),
            uid: meta_str(&last, "uid").map(str::to_string),
            ..Default::default()
        };
        serde_json::to_value(errors::success(None, Some(details))).unwrap_or_default()
    }

    /// DELETE of a collection: every selected object is deleted (NotFound ignored); the answer
    /// is the list of what was deleted.
    pub(crate) async fn delete_collection(
        &self,
        c: &Ctx<'_>,
        opts: &DeleteParams,
        lp: &ListParams,
    ) -> Result<Value> {
        let s = c.s;
        let filter = Filter::parse(
            &s,
            lp.label_selector.as_deref(),
            lp.field_selector.as_deref(),
        )?;
        let res = self
            .storage
            .store
            .list(&s.prefix(c.ns), Default::default())
            .await
            .map_err(|e| errors::from_store(e, s.group(), s.resource(), ""))?;
        let mut items = Vec::new();
        for kv in &res.kvs {
            let obj = crate::storage::decode(&s, kv)?;
            if !filter.matches(&s, &obj) {
                continue;
            }
            let name = meta_str(&obj, "name").unwrap_or("").to_string();
            let ns = meta_str(&obj, "namespace").map(str::to_string);
            let ctx = Ctx {
                user: c.user,
                s,
                ns: ns.as_deref(),
            };
            match self.delete(&ctx, &name, opts).await {
                Ok(d) => items.push(if d.gone { obj } else { d.body }),
                Err(e) if e.code() == 404 => {}
                Err(e) => return Err(e),
            }
        }
        for item in &mut items {
            if let Value::Object(m) = item {
                m.shift_remove("apiVersion");
                m.shift_remove("kind");
            }
        }
        Ok(json!({
            "kind": s.info.list_kind(),
            "apiVersion": s.info.api_version(),
            "metadata": {"resourceVersion": res.revision.to_string()},
            "items": items,
        }))
    }

    // ---- scale ------------------------------------------------------------------------

    /// The `autoscaling/v1` `Scale` of a Deployment, ReplicaSet or ReplicationController.
    pub(crate) fn to_scale(&self, s: &Strategy, obj: &Value) -> Value {
        let selector = match obj.pointer("/spec/selector") {
            Some(sel) if s.info.plural == "replicationcontrollers" => {
                Selector::from_set(&string_map(Some(sel))).to_string()
            }
            Some(sel) => serde_json::from_value(sel.clone())
                .ok()
                .and_then(|ls: kubox_core::meta::LabelSelector| {
                    Selector::from_label_selector(Some(&ls)).ok()
                })
                .map(|s| s.to_string())
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut m = Map::new();
        for k in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "creationTimestamp",
        ] {
            if let Some(v) = meta(obj).and_then(|m| m.get(k)) {
                m.insert(k.into(), v.clone());
            }
        }
        let mut status = Map::new();
        status.insert(
            "replicas".into(),
            json!(obj
                .pointer("/status/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0)),
        );
        if !selector.is_empty() {
            status.insert("selector".into(), json!(selector));
        }
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": m,
            "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
            "status": status,
        })
    }

    /// GET of `scale`.
    pub(crate) async fn get_scale(&self, c: &Ctx<'_>, name: &str) -> Result<Value> {
        let obj = self.get(c, name).await?;
        Ok(self.to_scale(&c.s, &obj))
    }

    /// PUT (`Ok(body)`) or PATCH (`Err(patch)`) of `scale`: sets the parent's `spec.replicas`.
    pub(crate) async fn update_scale(
        &self,
        c: &Ctx<'_>,
        name: &str,
        change: std::result::Result<&Value, &Patch>,
        dry_run: bool,
    ) -> Result<Value> {
        let s = c.s;
        let this = self.clone();
        let mut f = |cur: &Value| -> Result<Value> {
            let scale_now = this.to_scale(&s, cur);
            let scale = match change {
                Ok(body) => check_body(body, "autoscaling/v1", "Scale")?,
                Err(p) => {
                    let patched = match p {
                        Patch::Strategic(b) | Patch::Apply(b) => {
                            kubox_core::patch::merge_patch(&scale_now, b)
                        }
                        other => apply_patch_raw(&scale_now, other),
                    }
                    .map_err(patch_error)?;
                    check_body(&patched, "autoscaling/v1", "Scale")?
                }
            };
            if let Some(rv) = meta_str(&scale, "resourceVersion") {
                if Some(rv) != meta_str(cur, "resourceVersion") {
                    return Err(errors::conflict(
                        s.group(),
                        s.resource(),
                        name,
                        OPTIMISTIC_LOCK_ERROR,
                    ));
                }
            }
            if let Some(n) = meta_str(&scale, "name").filter(|n| *n != name) {
                return Err(name_mismatch(Some(n), name));
            }
            let replicas = match scale.pointer("/spec/replicas") {
                None | Some(Value::Null) => 0,
                Some(v) => v.as_i64().filter(|r| i32::try_from(*r).is_ok()).ok_or_else(|| {
                    errors::bad_request(format!(
                        "Scale in version \"v1\" cannot be handled as a Scale: spec.replicas must be an int32, got {v}"
                    ))
                })?,
            };
            if replicas < 0 {
                return Err(errors::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    &[FieldError::invalid(
                        "spec.replicas",
                        &replicas.to_string(),
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            let mut new = cur.clone();
            if let Some(Value::Object(spec)) = new
                .as_object_mut()
                .map(|m| m.entry("spec").or_insert_with(|| Value::Object(Map::new())))
            {
                spec.insert("replicas".into(), json!(replicas));
            }
            Ok(new)
        };
        let obj = self
            .update_with(c, name, "scale", dry_run, OnMissing::NotFound, &mut f)
            .await?;
        Ok(self.to_scale(&s, &obj))
    }

    // ---- binding ----------------------------------------------------------------------

    /// POST of a `Binding` (`pods/{name}/binding` or the `bindings` collection): assigns the
    /// pod to `target.name`.
    pub(crate) async fn bind(
        &self,
        c: &Ctx<'_>,
        pods: Strategy,
        path_name: Option<&str>,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let binding = check_body(body, "v1", "Binding")?;
        let name = match (path_name, meta_str(&binding, "name")) {
            (Some(p), Some(b)) if p != b => {
                return Err(errors::bad_request(
                    "name in URL does not match name in Binding object",
                ))
            }
            (Some(p), _) => p.to_string(),
            (None, Some(b)) => b.to_string(),
            (None, None) => {
                return Err(errors::invalid(
                    "",
                    "Binding",
                    "",
                    &[FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ))
            }
        };
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let target_kind = binding
            .pointer("/target/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut errs = Vec::new();
        if node.is_empty() {
            errs.push(FieldError::required("target.name", ""));
        }
        if !target_kind.is_empty() && target_kind != "Node" {
            errs.push(FieldError::not_supported(
                "target.kind",
                target_kind,
                &["Node", "<empty>"],
            ));
        }
        if !errs.is_empty() {
            return Err(errors::invalid("", "Binding", &name, &errs));
        }
        let annotations = string_map(meta(&binding).and_then(|m| m.get("annotations")));
        let pc = Ctx {
            user: c.user,
            s: pods,
            ns: c.ns,
        };
        let now = self.now_str();
        let mut f = |cur: &Value| -> Result<Value> {
            if is_deleting(cur) {
                return Err(errors::conflict(
                    "",
                    "pods/binding",
                    &name,
                    &format!("pod {name} is being deleted, cannot be assigned to a host"),
                ));
            }
            let current = cur
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !current.is_empty() {
                return Err(errors::conflict(
                    "",
                    "pods/binding",
                    &name,
                    &format!("pod {name} is already assigned to node {current:?}"),
                ));
            }
            let mut new = cur.clone();
            if let Some(Value::Object(spec)) = new.pointer_mut("/spec") {
                spec.insert("nodeName".into(), json!(node));
            } else if let Value::Object(m) = &mut new {
                m.insert("spec".into(), json!({"nodeName": node}));
            }
            if !annotations.is_empty() {
                let m = crate::object::meta_mut(&mut new);
                let a = m
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(a) = a {
                    for (k, v) in &annotations {
                        a.insert(k.clone(), json!(v));
                    }
                }
            }
            set_pod_scheduled(&mut new, &now);
            Ok(new)
        };
        // The binding changes the pod's status: apply it through the status endpoint's rules
        // for status, and the spec change explicitly.
        self.update_with(&pc, &name, "binding", dry_run, OnMissing::NotFound, &mut f)
            .await?;
        Ok(serde_json::to_value(errors::success(Some(201), None)).unwrap_or_default())
    }
}

/// Sets the `PodScheduled=True` condition.
fn set_pod_scheduled(pod: &mut Value, now: &str) {
    let Value::Object(m) = pod else { return };
    let status = m
        .entry("status")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(status) = status else {
        return;
    };
    let conds = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(conds) = conds else { return };
    let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    match conds
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
    {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some("True") {
                *c = cond;
            }
        }
        None => conds.push(cond),
    }
}

fn name_mismatch(got: Option<&str>, url: &str) -> errors::Error {
    errors::bad_request(format!(
        "the name of the object ({}) does not match the name on the URL ({url})",
        got.unwrap_or("")
    ))
}

/// Whether an update that leaves a deleting object without finalizers removes it
/// (`ShouldDeleteDuringUpdate`): deletionTimestamp set, grace 0, no finalizers (namespaces:
/// also no `spec.finalizers`).
fn should_delete_during_update(s: &Strategy, obj: &Value) -> bool {
    if !is_deleting(obj) || !finalizers(obj).is_empty() {
        return false;
    }
    if s.info.plural == "namespaces" && s.group().is_empty() {
        return obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
    }
    meta(obj)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
        == 0
}

fn apply_error(e: kubox_core::patch::apply::ApplyError) -> errors::Error {
    let causes = e.causes();
    let mut err = errors::new(e.code(), e.reason(), e.to_string());
    if !causes.is_empty() {
        err.0.details = Some(kubox_core::meta::StatusDetails {
            causes: Some(causes),
            ..Default::default()
        });
    }
    err
}

fn patch_error(e: kubox_core::patch::Error) -> errors::Error {
    errors::new(e.code(), e.reason(), e.to_string())
}

fn apply_patch_raw(cur: &Value, patch: &Patch) -> kubox_core::patch::Result<Value> {
    use kubox_core::patch as p;
    match patch {
        Patch::Merge(b) => p::merge_patch(cur, b),
        Patch::Json(b) => p::json_patch(cur, b),
        Patch::Strategic(b) => p::strategic_merge_patch_for(cur, b),
        // Server-side apply goes through `patch::apply` in `Rest::patch`; on `scale` an apply
        // configuration merges like a merge patch.
        Patch::Apply(b) => p::merge_patch(cur, b),
    }
}

/// Applies a PATCH body to the current object.
fn apply_patch(cur: &Value, patch: &Patch) -> Result<Value> {
    apply_patch_raw(cur, patch).map_err(patch_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_ignoring_rv_compares_everything_but_the_rv() {
        let cases = [
            (
                json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"x": 1}}),
                json!({"spec": {"x": 1}, "metadata": {"resourceVersion": "2", "name": "a"}}),
                true,
            ),
            (
                json!({"metadata": {"name": "a"}, "spec": {"x": 1}}),
                json!({"metadata": {"name": "a", "resourceVersion": "2"}, "spec": {"x": 1}}),
                true,
            ),
            (
                json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"x": 1}}),
                json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"x": 2}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a", "uid": "u"}}),
                json!({"metadata": {"name": "a", "resourceVersion": "1"}}),
                false,
            ),
            (
                json!({"metadata": {"name": "a"}, "status": {}}),
                json!({"metadata": {"name": "a"}}),
                false,
            ),
            (json!({"spec": 1}), json!({"metadata": {}, "spec": 1}), true),
        ];
        for (a, b, want) in cases {
            assert_eq!(same_ignoring_rv(&a, &b), want, "{a} vs {b}");
            assert_eq!(same_ignoring_rv(&b, &a), want, "{b} vs {a}");
        }
    }

    #[test]
    fn uids_are_v4() {
        let u = new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]));
        assert_ne!(u, new_uid());
    }

    #[test]
    fn generated_names() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert_eq!(generate_name(&"a".repeat(100)).len(), 63);
    }

    #[test]
    fn qos_classes() {
        let pod = |resources: Value| json!({"spec": {"containers": [{"name": "c", "resources": resources}]}});
        assert_eq!(pod_qos(&pod(json!({}))), "BestEffort");
        assert_eq!(
            pod_qos(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            pod_qos(&pod(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            pod_qos(&pod(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
    }

    #[test]
    fn bodies_are_checked() {
        let ok = check_body(&json!({"metadata": {"name": "a"}}), "v1", "ConfigMap").unwrap();
        assert_eq!(
            (ok["apiVersion"].as_str(), ok["kind"].as_str()),
            (Some("v1"), Some("ConfigMap"))
        );
        let e = check_body(
            &json!({"apiVersion": "apps/v1", "kind": "ConfigMap"}),
            "v1",
            "ConfigMap",
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
        assert_eq!(
            check_body(&json!({"kind": 3}), "v1", "ConfigMap")
                .unwrap_err()
                .code(),
            400
        );
    }
}
