//! Pod, PodSpec and PodTemplateSpec validation (`pkg/apis/core/validation/validation.go`).
//!
//! Validation runs on defaulted objects, as in the API server: fields the defaulting fills in
//! (`restartPolicy`, `dnsPolicy`, `terminationGracePeriodSeconds`, `imagePullPolicy`,
//! `terminationMessagePolicy`, port `protocol`…) are `Required` when missing.

use super::field::{BadValue, Error, ErrorList, Path};
use super::meta::{
    validate_annotations, validate_label_name, validate_label_selector, validate_labels,
    validate_nonnegative, validate_object_meta, validate_object_meta_update, MetaRules,
    IS_NEGATIVE,
};
use super::names::{
    inclusive_range_error, is_config_map_key, is_dns1123_label, is_dns1123_subdomain,
    is_env_var_name, is_http_header_name, is_qualified_name, is_valid_label_value,
    is_valid_port_name, is_valid_port_num, name_is_dns_label, name_is_dns_subdomain,
    parse_ip_sloppy, INVALID_IP_MSG,
};
use crate::api::core_v1::{
    Affinity, Container, EnvFromSource, EnvVar, HTTPGetAction, Lifecycle, LifecycleHandler,
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SecurityContext, Toleration,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use crate::meta::ObjectMeta;
use crate::{IntOrString, Quantity};
use std::collections::{BTreeMap, BTreeSet};

/// `must be greater than zero`.
pub(crate) const IS_NOT_POSITIVE: &str = "must be greater than zero";
const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("")
}

fn label_name(path: &Path, v: &str) -> ErrorList {
    validate_label_name(v, path)
}

fn dns_label(value: &str, path: &Path) -> ErrorList {
    is_dns1123_label(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

fn dns_subdomain(value: &str, path: &Path) -> ErrorList {
    is_dns1123_subdomain(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

fn qualified_name(value: &str, path: &Path) -> ErrorList {
    is_qualified_name(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

/// `IsValidIP` as a field check.
pub(crate) fn valid_ip(path: &Path, value: &str) -> ErrorList {
    if parse_ip_sloppy(value).is_none() {
        Error::invalid(path, value, INVALID_IP_MSG).into()
    } else {
        ErrorList::new()
    }
}

/// Options that change what is checked (`PodValidationOptions`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PodOpts {
    /// The spec is a Pod's own (not a template's): hostPort must equal containerPort with
    /// hostNetwork.
    pub(crate) resource_is_pod: bool,
}

type Volumes<'a> = BTreeMap<String, &'a Volume>;

// ---------------------------------------------------------------------------------------------
// Volumes.

fn file_mode(mode: Option<i32>, path: &Path) -> ErrorList {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => Error::invalid(path, m, FILE_MODE_MSG).into(),
        _ => ErrorList::new(),
    }
}

fn path_no_backsteps(target: &str, path: &Path) -> ErrorList {
    if target.split('/').any(|p| p == "..") {
        Error::invalid(path, target, "must not contain '..'").into()
    } else {
        ErrorList::new()
    }
}

fn local_descending_path(target: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if target.starts_with('/') {
        errs.push(Error::invalid(path, target, "must be a relative path"));
    }
    errs.extend(path_no_backsteps(target, path));
    errs
}

fn local_non_reserved_path(target: &str, path: &Path) -> ErrorList {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(Error::invalid(path, target, "must not start with '..'"));
    }
    errs
}

fn key_to_path(key: &str, target: &str, mode: Option<i32>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if key.is_empty() {
        errs.push(Error::required(&path.child("key"), ""));
    }
    if target.is_empty() {
        errs.push(Error::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(target, &path.child("path")));
    errs.extend(file_mode(mode, &path.child("mode")));
    errs
}

/// The set sources of a volume, in Kubernetes' order: (field name for "more than 1" errors,
/// field name for the source's own errors, errors).
fn volume_sources(v: &Volume, path: &Path) -> Vec<(&'static str, ErrorList)> {
    let mut out: Vec<(&'static str, ErrorList)> = Vec::new();
    let req = |p: &Path, name: &str, value: &str| -> ErrorList {
        if value.is_empty() {
            Error::required(&p.child(name), "").into()
        } else {
            ErrorList::new()
        }
    };
    if let Some(e) = &v.empty_dir {
        let mut errs = ErrorList::new();
        if e.size_limit.as_ref().is_some_and(|q| q.signum() < 0) {
            errs.push(Error::forbidden(
                &path.child("emptyDir").child("sizeLimit"),
                "SizeLimit field must be a valid resource quantity",
            ));
        }
        out.push(("emptyDir", errs));
    }
    if let Some(h) = &v.host_path {
        let p = path.child("hostPath");
        let mut errs = req(&p, "path", &h.path);
        if errs.is_empty() {
            errs.extend(path_no_backsteps(&h.path, &p.child("path")));
            const TYPES: [&str; 8] = [
                "",
                "BlockDevice",
                "CharDevice",
                "Directory",
                "DirectoryOrCreate",
                "File",
                "FileOrCreate",
                "Socket",
            ];
            if let Some(t) = &h.type_ {
                if !TYPES.contains(&t.as_str()) {
                    errs.push(Error::not_supported(&p.child("type"), t, &TYPES));
                }
            }
        }
        out.push(("hostPath", errs));
    }
    if let Some(g) = &v.git_repo {
        let p = path.child("gitRepo");
        let mut errs = req(&p, "repository", &g.repository);
        errs.extend(local_descending_path(
            s(&g.directory),
            &p.child("directory"),
        ));
        out.push(("gitRepo", errs));
    }
    if let Some(g) = &v.gce_persistent_disk {
        let p = path.child("persistentDisk");
        let mut errs = req(&p, "pdName", &g.pd_name);
        let part = g.partition.unwrap_or(0);
        if !(0..=255).contains(&part) {
            errs.push(Error::invalid(
                &p.child("partition"),
                part,
                &inclusive_range_error(1, 255),
            ));
        }
        out.push(("gcePersistentDisk", errs));
    }
    if let Some(a) = &v.aws_elastic_block_store {
        let p = path.child("awsElasticBlockStore");
        let mut errs = req(&p, "volumeID", &a.volume_id);
        let part = a.partition.unwrap_or(0);
        if !(0..=255).contains(&part) {
            errs.push(Error::invalid(
                &p.child("partition"),
                part,
                &inclusive_range_error(1, 255),
            ));
        }
        out.push(("awsElasticBlockStore", errs));
    }
    if let Some(sec) = &v.secret {
        let p = path.child("secret");
        let mut errs = req(&p, "secretName", s(&sec.secret_name));
        errs.extend(file_mode(sec.default_mode, &p.child("defaultMode")));
        for (i, kp) in sec.items.iter().flatten().enumerate() {
            errs.extend(key_to_path(
                &kp.key,
                &kp.path,
                kp.mode,
                &p.child("items").index(i),
            ));
        }
        out.push(("secret", errs));
    }
    if let Some(n) = &v.nfs {
        let p = path.child("nfs");
        let mut errs = req(&p, "server", &n.server);
        errs.extend(req(&p, "path", &n.path));
        if !n.path.starts_with('/') {
            errs.push(Error::invalid(
                &p.child("path"),
                &n.path,
                "must be an absolute path",
            ));
        }
        out.push(("nfs", errs));
    }
    if let Some(i) = &v.iscsi {
        let p = path.child("iscsi");
        let mut errs = req(&p, "targetPortal", &i.target_portal);
        errs.extend(req(&p, "iqn", &i.iqn));
        if !(0..=255).contains(&i.lun) {
            errs.push(Error::invalid(
                &p.child("lun"),
                i.lun,
                &inclusive_range_error(0, 255),
            ));
        }
        out.push(("iscsi", errs));
    }
    if let Some(g) = &v.glusterfs {
        let p = path.child("glusterfs");
        let mut errs = req(&p, "endpoints", &g.endpoints);
        errs.extend(req(&p, "path", &g.path));
        out.push(("glusterfs", errs));
    }
    if v.flocker.is_some() {
        out.push(("flocker", ErrorList::new()));
    }
    if let Some(c) = &v.persistent_volume_claim {
        let p = path.child("persistentVolumeClaim");
        out.push(("persistentVolumeClaim", req(&p, "claimName", &c.claim_name)));
    }
    if v.rbd.is_some() {
        out.push(("rbd", ErrorList::new()));
    }
    if let Some(c) = &v.cinder {
        out.push((
            "cinder",
            req(&path.child("cinder"), "volumeID", &c.volume_id),
        ));
    }
    if v.cephfs.is_some() {
        out.push(("cephFS", ErrorList::new()));
    }
    if v.quobyte.is_some() {
        out.push(("quobyte", ErrorList::new()));
    }
    if let Some(d) = &v.downward_api {
        let p = path.child("downwardAPI");
        let mut errs = file_mode(d.default_mode, &p.child("defaultMode"));
        for f in d.items.iter().flatten() {
            if f.path.is_empty() {
                errs.push(Error::required(&p.child("path"), ""));
            }
            errs.extend(local_non_reserved_path(&f.path, &p.child("path")));
            if f.field_ref.is_none() && f.resource_field_ref.is_none() {
                errs.push(Error::required(
                    &p,
                    "one of fieldRef and resourceFieldRef is required",
                ));
            }
            errs.extend(file_mode(f.mode, &p.child("mode")));
        }
        out.push(("downwarAPI", errs));
    }
    if v.fc.is_some() {
        out.push(("fc", ErrorList::new()));
    }
    if let Some(f) = &v.flex_volume {
        out.push((
            "flexVolume",
            req(&path.child("flexVolume"), "driver", &f.driver),
        ));
    }
    if let Some(c) = &v.config_map {
        let p = path.child("configMap");
        let mut errs = req(&p, "name", &c.name);
        errs.extend(file_mode(c.default_mode, &p.child("defaultMode")));
        for (i, kp) in c.items.iter().flatten().enumerate() {
            errs.extend(key_to_path(
                &kp.key,
                &kp.path,
                kp.mode,
                &p.child("items").index(i),
            ));
        }
        out.push(("configMap", errs));
    }
    if v.azure_file.is_some() {
        out.push(("azureFile", ErrorList::new()));
    }
    if v.vsphere_volume.is_some() {
        out.push(("vsphereVolume", ErrorList::new()));
    }
    if v.photon_persistent_disk.is_some() {
        out.push(("photonPersistentDisk", ErrorList::new()));
    }
    if v.portworx_volume.is_some() {
        out.push(("portworxVolume", ErrorList::new()));
    }
    if v.azure_disk.is_some() {
        out.push(("azureDisk", ErrorList::new()));
    }
    if v.storageos.is_some() {
        out.push(("storageos", ErrorList::new()));
    }
    if let Some(pr) = &v.projected {
        let p = path.child("projected");
        let mut errs = file_mode(pr.default_mode, &p.child("defaultMode"));
        let mut all_paths: BTreeSet<String> = BTreeSet::new();
        for (i, src) in pr.sources.iter().flatten().enumerate() {
            let sp = p.child("sources").index(i);
            let mut n = 0;
            let mut items = |name: &str,
                             list: &[crate::api::core_v1::KeyToPath],
                             pp: &Path,
                             errs: &mut ErrorList| {
                for (j, kp) in list.iter().enumerate() {
                    errs.extend(key_to_path(
                        &kp.key,
                        &kp.path,
                        kp.mode,
                        &pp.child("items").index(j),
                    ));
                    if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                        errs.push(Error::invalid(&p, name, "conflicting duplicate paths"));
                    }
                }
            };
            if let Some(sec) = &src.secret {
                n += 1;
                let pp = sp.child("secret");
                errs.extend(req(&pp, "name", &sec.name));
                items(
                    &sec.name,
                    sec.items.as_deref().unwrap_or(&[]),
                    &pp,
                    &mut errs,
                );
            }
            if let Some(cm) = &src.config_map {
                n += 1;
                let pp = sp.child("configMap");
                errs.extend(req(&pp, "name", &cm.name));
                items(&cm.name, cm.items.as_deref().unwrap_or(&[]), &pp, &mut errs);
            }
            if src.downward_api.is_some() {
                n += 1;
            }
            if let Some(t) = &src.service_account_token {
                n += 1;
                let pp = sp.child("serviceAccountToken");
                if let Some(exp) = t.expiration_seconds {
                    if exp < 10 * 60 {
                        errs.push(Error::invalid(
                            &pp.child("expirationSeconds"),
                            exp,
                            "may not specify a duration less than 10 minutes",
                        ));
                    }
                    if exp > 1 << 32 {
                        errs.push(Error::invalid(
                            &pp.child("expirationSeconds"),
                            exp,
                            "may not specify a duration larger than 2^32 seconds",
                        ));
                    }
                }
                if t.path.is_empty() {
                    errs.push(Error::required(&pp.child("path"), ""));
                }
            }
            if src.cluster_trust_bundle.is_some() {
                n += 1;
            }
            if n > 1 {
                errs.push(Error::forbidden(
                    &sp,
                    "may not specify more than 1 volume type per source",
                ));
            }
        }
        out.push(("projected", errs));
    }
    if v.scale_io.is_some() {
        out.push(("scaleIO", ErrorList::new()));
    }
    if let Some(c) = &v.csi {
        out.push(("csi", req(&path.child("csi"), "driver", &c.driver)));
    }
    if v.ephemeral.is_some() {
        out.push(("ephemeral", ErrorList::new()));
    }
    if v.image.is_some() {
        out.push(("image", ErrorList::new()));
    }
    out
}

fn validate_volume_source(v: &Volume, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let sources = volume_sources(v, path);
    if sources.is_empty() {
        errs.push(Error::required(path, "must specify a volume type"));
    }
    for (i, (name, source_errs)) in sources.into_iter().enumerate() {
        if i == 0 {
            errs.extend(source_errs);
        } else {
            errs.push(Error::forbidden(
                &path.child(name),
                "may not specify more than 1 volume type",
            ));
        }
    }
    errs
}

fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path) -> (Volumes<'a>, ErrorList) {
    let mut errs = ErrorList::new();
    let mut vols = Volumes::new();
    for (i, v) in volumes.iter().enumerate() {
        let idx = path.index(i);
        let name_path = idx.child("name");
        let mut el = validate_volume_source(v, &idx);
        if v.name.is_empty() {
            el.push(Error::required(&name_path, ""));
        } else {
            el.extend(dns_label(&v.name, &name_path));
        }
        if vols.contains_key(&v.name) {
            el.push(Error::duplicate(&name_path, &v.name));
        }
        if el.is_empty() {
            vols.insert(v.name.clone(), v);
        } else {
            errs.extend(el);
        }
    }
    (vols, errs)
}

// ---------------------------------------------------------------------------------------------
// Containers.

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

fn validate_container_ports(c: &Container, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let idx = path.index(i);
        let name = s(&port.name);
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(Error::invalid(&idx.child("name"), name, &m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(Error::duplicate(&idx.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(Error::required(&idx.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(Error::invalid(
                    &idx.child("containerPort"),
                    port.container_port,
                    &m,
                ));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for m in is_valid_port_num(i64::from(host_port)) {
                errs.push(Error::invalid(&idx.child("hostPort"), host_port, &m));
            }
        }
        let protocol = s(&port.protocol);
        if protocol.is_empty() {
            errs.push(Error::required(&idx.child("protocol"), ""));
        } else if !PROTOCOLS.contains(&protocol) {
            errs.push(Error::not_supported(
                &idx.child("protocol"),
                protocol,
                &PROTOCOLS,
            ));
        }
    }
    errs
}

const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn key_selector(name: &str, key: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for m in name_is_dns_subdomain(name, false) {
        errs.push(Error::invalid(&path.child("name"), name, &m));
    }
    if key.is_empty() {
        errs.push(Error::required(&path.child("key"), ""));
    } else {
        for m in is_config_map_key(key) {
            errs.push(Error::invalid(&path.child("key"), key, &m));
        }
    }
    errs
}

fn validate_env(env: &[EnvVar], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in env.iter().enumerate() {
        let idx = path.index(i);
        if ev.name.is_empty() {
            errs.push(Error::required(&idx.child("name"), ""));
        } else {
            for m in is_env_var_name(&ev.name) {
                errs.push(Error::invalid(&idx.child("name"), &ev.name, &m));
            }
        }
        let Some(from) = &ev.value_from else { continue };
        let fp = idx.child("valueFrom");
        let mut n = 0;
        if let Some(f) = &from.field_ref {
            n += 1;
            let p = fp.child("fieldRef");
            if s(&f.api_version).is_empty() {
                errs.push(Error::required(&p.child("apiVersion"), ""));
            } else if f.field_path.is_empty() {
                errs.push(Error::required(&p.child("fieldPath"), ""));
            } else if let Some((base, sub)) = f
                .field_path
                .strip_suffix("']")
                .and_then(|x| x.split_once("['"))
            {
                match base {
                    "metadata.annotations" => errs.extend(qualified_name(&sub.to_lowercase(), &p)),
                    "metadata.labels" => errs.extend(qualified_name(sub, &p)),
                    other => errs.push(Error::invalid(&p, other, "does not support subscript")),
                }
            } else if !ENV_FIELD_PATHS.contains(&f.field_path.as_str()) {
                errs.push(Error::not_supported(
                    &p.child("fieldPath"),
                    &f.field_path,
                    &ENV_FIELD_PATHS,
                ));
            }
        }
        if let Some(r) = &from.resource_field_ref {
            n += 1;
            let p = fp.child("resourceFieldRef");
            if r.resource.is_empty() {
                errs.push(Error::required(&p.child("resource"), ""));
            } else if !RESOURCE_FIELD_PATHS.contains(&r.resource.as_str())
                && !r.resource.starts_with("requests.hugepages-")
                && !r.resource.starts_with("limits.hugepages-")
            {
                errs.push(Error::not_supported(
                    &p.child("resource"),
                    &r.resource,
                    &RESOURCE_FIELD_PATHS,
                ));
            }
        }
        if let Some(c) = &from.config_map_key_ref {
            n += 1;
            errs.extend(key_selector(&c.name, &c.key, &fp.child("configMapKeyRef")));
        }
        if let Some(c) = &from.secret_key_ref {
            n += 1;
            errs.extend(key_selector(&c.name, &c.key, &fp.child("secretKeyRef")));
        }
        if n == 0 {
            errs.push(Error::invalid(&fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        } else if !s(&ev.value).is_empty() {
            errs.push(Error::invalid(
                &fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(Error::invalid(
                &fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_env_from(env_from: &[EnvFromSource], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in env_from.iter().enumerate() {
        let idx = path.index(i);
        let prefix = s(&ev.prefix);
        if !prefix.is_empty() {
            for m in is_env_var_name(prefix) {
                errs.push(Error::invalid(&idx.child("prefix"), prefix, &m));
            }
        }
        let mut n = 0;
        for (name, field) in [
            (
                ev.config_map_ref.as_ref().map(|r| r.name.as_str()),
                "configMapRef",
            ),
            (ev.secret_ref.as_ref().map(|r| r.name.as_str()), "secretRef"),
        ] {
            let Some(name) = name else { continue };
            n += 1;
            let p = idx.child(field).child("name");
            if name.is_empty() {
                errs.push(Error::required(&p, ""));
            } else {
                for m in name_is_dns_subdomain(name, true) {
                    errs.push(Error::invalid(&p, name, &m));
                }
            }
        }
        if n == 0 {
            errs.push(Error::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(Error::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(c: &Container, volumes: &Volumes<'_>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let devices: BTreeMap<&str, &str> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    let mut mount_points = BTreeSet::new();
    let privileged = c
        .security_context
        .as_ref()
        .and_then(|sc| sc.privileged)
        .unwrap_or(false);
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let idx = path.index(i);
        let VolumeMount {
            name, mount_path, ..
        } = m;
        if name.is_empty() {
            errs.push(Error::required(&idx.child("name"), ""));
        }
        if !volumes.contains_key(name) {
            errs.push(Error::not_found(&idx.child("name"), name));
        }
        if mount_path.is_empty() {
            errs.push(Error::required(&idx.child("mountPath"), ""));
        }
        if !mount_points.insert(mount_path.clone()) {
            errs.push(Error::invalid(
                &idx.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        if devices.contains_key(name.as_str()) {
            errs.push(Error::invalid(
                &idx.child("name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|p| p == mount_path) {
            errs.push(Error::invalid(
                &idx.child("mountPath"),
                mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = s(&m.sub_path);
        let sub_path_expr = s(&m.sub_path_expr);
        if volumes.get(name).is_some_and(|v| v.image.is_some()) {
            if !sub_path.is_empty() {
                errs.push(Error::invalid(
                    &idx.child("subPath"),
                    sub_path,
                    "not allowed in image volume sources",
                ));
            }
            if !sub_path_expr.is_empty() {
                errs.push(Error::invalid(
                    &idx.child("subPathExpr"),
                    sub_path_expr,
                    "not allowed in image volume sources",
                ));
            }
        }
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &path.child("subPath")));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(Error::invalid(
                    &idx.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(mp) = &m.mount_propagation {
            const MODES: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
            let p = path.child("mountPropagation");
            if !MODES.contains(&mp.as_str()) {
                errs.push(Error::not_supported(&p, mp, &MODES));
            } else if mp == "Bidirectional" && !privileged {
                errs.push(Error::forbidden(
                    &p,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
    }
    errs
}

fn validate_volume_devices(c: &Container, volumes: &Volumes<'_>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mounts: BTreeMap<&str, &str> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    let mut names = BTreeSet::new();
    let mut paths = BTreeSet::new();
    for (i, d) in c.volume_devices.iter().flatten().enumerate() {
        let idx = path.index(i);
        let vol = volumes.get(&d.name);
        if d.name.is_empty() {
            errs.push(Error::required(&idx.child("name"), ""));
        }
        if names.contains(&d.name) {
            errs.push(Error::invalid(
                &idx.child("name"),
                &d.name,
                "must be unique",
            ));
        }
        match vol {
            Some(v) if v.persistent_volume_claim.is_none() && v.ephemeral.is_none() => {
                errs.push(Error::invalid(&idx.child("name"), &d.name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"));
            }
            Some(_) => {}
            None => errs.push(Error::not_found(&idx.child("name"), &d.name)),
        }
        if d.device_path.is_empty() {
            errs.push(Error::required(&idx.child("devicePath"), ""));
        }
        if paths.contains(&d.device_path) {
            errs.push(Error::invalid(
                &idx.child("devicePath"),
                &d.device_path,
                "must be unique",
            ));
        }
        if !d.device_path.is_empty() && d.device_path.split('/').any(|p| p == "..") {
            errs.push(Error::invalid(
                &idx.child("devicePath"),
                &d.device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(d.device_path.clone());
        }
        if mounts.contains_key(d.name.as_str()) {
            errs.push(Error::invalid(
                &idx.child("name"),
                &d.name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|p| *p == d.device_path) {
            errs.push(Error::invalid(
                &idx.child("devicePath"),
                &d.device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !d.name.is_empty() {
            names.insert(d.name.clone());
        }
    }
    errs
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_huge_page(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_huge_page(name)
}

fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || is_extended_resource(name)
}

fn is_standard_resource(name: &str) -> bool {
    const STANDARD: [&str; 22] = [
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "services.nodeports",
        "services.loadbalancers",
        "storage",
        "requests.storage",
        "count/pods",
        "requests.hugepages-",
    ];
    STANDARD.contains(&name) || is_huge_page(name) || name.starts_with("requests.hugepages-")
}

/// `validateContainerResourceName`.
fn container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errs = qualified_name(name, path);
    if errs.is_empty() && !name.contains('/') && !is_standard_resource(name) {
        errs.push(Error::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_huge_page(name) {
            errs.push(Error::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(Error::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// `ValidateResourceQuantityValue`: not negative, and whole for integer resources.
pub(crate) fn resource_quantity_value(resource: &str, q: &Quantity, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if q.signum() < 0 {
        errs.push(Error::invalid(path, q.to_string(), IS_NEGATIVE));
    }
    if is_integer_resource(resource) && q.milli_value() % 1000 != 0 {
        errs.push(Error::invalid(path, q, "must be an integer"));
    }
    errs
}

fn validate_resources(
    r: Option<&ResourceRequirements>,
    claim_names: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(r) = r else { return errs };
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let requests = r.requests.as_ref().unwrap_or(&empty);
    let (mut cpu_mem, mut huge) = (false, false);
    for (name, q) in limits {
        let p = lim_path.key(name);
        errs.extend(container_resource_name(name, &p));
        errs.extend(resource_quantity_value(name, q, &p));
        huge |= is_huge_page(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in requests {
        let p = req_path.key(name);
        errs.extend(container_resource_name(name, &p));
        errs.extend(resource_quantity_value(name, q, &p));
        match limits.get(name) {
            Some(limit) => {
                if q != limit && !is_overcommit_allowed(name) {
                    errs.push(Error::invalid(
                        &req_path,
                        q.to_string(),
                        &format!("must be equal to {name} limit of {limit}"),
                    ));
                } else if q > limit {
                    errs.push(Error::invalid(
                        &req_path,
                        q.to_string(),
                        &format!("must be less than or equal to {name} limit of {limit}"),
                    ));
                }
            }
            None if !is_overcommit_allowed(name) => {
                errs.push(Error::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
        huge |= is_huge_page(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    if huge && !cpu_mem {
        errs.push(Error::forbidden(path, "HugePages require cpu or memory"));
    }
    let mut seen = BTreeSet::new();
    for (i, claim) in r.claims.iter().flatten().enumerate() {
        let p = path.child("claims").index(i);
        if claim.name.is_empty() {
            errs.push(Error::required(&p, ""));
            continue;
        }
        let key = match s(&claim.request) {
            "" => claim.name.clone(),
            req => {
                errs.extend(dns_label(req, &p.child("request")));
                format!("{}/{req}", claim.name)
            }
        };
        if !seen.insert(key.clone()) {
            errs.push(Error::duplicate(&p, key));
        }
        if !claim_names.contains(&claim.name) {
            let mut e = Error::not_found(&p, &claim.name);
            e.detail = if claim_names.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".into()
            } else {
                let names: Vec<&str> = claim_names.iter().map(String::as_str).collect();
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    names.join(", ")
                )
            };
            errs.push(e);
        }
    }
    errs
}

fn port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(i) => is_valid_port_num(i64::from(*i))
            .iter()
            .map(|m| Error::invalid(path, *i, m))
            .collect(),
        IntOrString::String(n) => is_valid_port_name(n)
            .iter()
            .map(|m| Error::invalid(path, n, m))
            .collect(),
    }
}

fn http_get(h: &HTTPGetAction, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if s(&h.path).is_empty() {
        errs.push(Error::required(&path.child("path"), ""));
    }
    errs.extend(port_num_or_name(&h.port, &path.child("port")));
    const SCHEMES: [&str; 2] = ["HTTP", "HTTPS"];
    if !SCHEMES.contains(&s(&h.scheme)) {
        errs.push(Error::not_supported(
            &path.child("scheme"),
            s(&h.scheme),
            &SCHEMES,
        ));
    }
    for header in h.http_headers.iter().flatten() {
        for m in is_http_header_name(&header.name) {
            errs.push(Error::invalid(&path.child("httpHeaders"), &header.name, &m));
        }
    }
    errs
}

/// `validateHandler` over the handler kinds a probe or lifecycle hook can set.
fn handler(
    h: &LifecycleHandler,
    grpc: Option<&crate::api::core_v1::GRPCAction>,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut n = 0;
    let mut one = |name: &str, set: bool, f: &dyn Fn(&Path) -> ErrorList, errs: &mut ErrorList| {
        if !set {
            return;
        }
        if n > 0 {
            errs.push(Error::forbidden(
                &path.child(name),
                "may not specify more than 1 handler type",
            ));
        } else {
            n += 1;
            errs.extend(f(&path.child(name)));
        }
    };
    one(
        "exec",
        h.exec.is_some(),
        &|p| match h.exec.as_ref().and_then(|e| e.command.as_ref()) {
            Some(c) if !c.is_empty() => ErrorList::new(),
            _ => Error::required(&p.child("command"), "").into(),
        },
        &mut errs,
    );
    one(
        "httpGet",
        h.http_get.is_some(),
        &|p| {
            h.http_get
                .as_ref()
                .map(|g| http_get(g, p))
                .unwrap_or_default()
        },
        &mut errs,
    );
    one(
        "tcpSocket",
        h.tcp_socket.is_some(),
        &|p| {
            h.tcp_socket
                .as_ref()
                .map(|t| port_num_or_name(&t.port, &p.child("port")))
                .unwrap_or_default()
        },
        &mut errs,
    );
    one(
        "grpc",
        grpc.is_some(),
        &|p| {
            grpc.map(|g| port_num_or_name(&IntOrString::Int(g.port), &p.child("port")))
                .unwrap_or_default()
        },
        &mut errs,
    );
    one(
        "sleep",
        h.sleep.is_some(),
        &|p| match (&h.sleep, grace) {
            (Some(sl), Some(g)) if sl.seconds < 0 || sl.seconds > g => Error::invalid(
                p,
                sl.seconds,
                &format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
            )
            .into(),
            _ => ErrorList::new(),
        },
        &mut errs,
    );
    if n == 0 {
        errs.push(Error::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_lifecycle(l: &Lifecycle, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(h) = &l.post_start {
        errs.extend(handler(h, None, grace, &path.child("postStart")));
    }
    if let Some(h) = &l.pre_stop {
        errs.extend(handler(h, None, grace, &path.child("preStop")));
    }
    errs
}

#[derive(Clone, Copy, PartialEq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// The lifecycle hooks and the liveness, readiness and startup probes of container `c` at `path`.
fn validate_lifecycle_and_probes(c: &Container, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(l) = &c.lifecycle {
        errs.extend(validate_lifecycle(l, grace, &path.child("lifecycle")));
    }
    for (probe, kind, field) in [
        (&c.liveness_probe, ProbeKind::Liveness, "livenessProbe"),
        (&c.readiness_probe, ProbeKind::Readiness, "readinessProbe"),
        (&c.startup_probe, ProbeKind::Startup, "startupProbe"),
    ] {
        errs.extend(validate_probe(
            probe.as_ref(),
            kind,
            grace,
            &path.child(field),
        ));
    }
    errs
}

fn validate_probe(
    p: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(p) = p else { return errs };
    let h = LifecycleHandler {
        exec: p.exec.clone(),
        http_get: p.http_get.clone(),
        sleep: None,
        tcp_socket: p.tcp_socket.clone(),
    };
    errs.extend(handler(&h, p.grpc.as_ref(), grace, path));
    for (name, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        errs.extend(validate_nonnegative(
            i64::from(v.unwrap_or(0)),
            &path.child(name),
        ));
    }
    if let Some(t) = p.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(Error::invalid(
            &path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let st = p.success_threshold.unwrap_or(0);
            if st != 1 {
                errs.push(Error::invalid(
                    &path.child("successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if let Some(t) = p.termination_grace_period_seconds {
                errs.push(Error::invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
    errs
}

fn seccomp_profile(sp: Option<&crate::api::core_v1::SeccompProfile>, p: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sp) = sp else { return errs };
    match sp.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(Error::required(
            &p.child("type"),
            "type is required when seccompProfile is set",
        )),
        t => errs.push(Error::not_supported(
            &p.child("type"),
            t,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    if sp.type_ == "Localhost" {
        match &sp.localhost_profile {
            None => errs.push(Error::required(
                &p.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(lp) => errs.extend(local_descending_path(lp, &p.child("localhostProfile"))),
        }
    } else if sp.localhost_profile.is_some() {
        errs.push(Error::invalid(
            &p.child("localhostProfile"),
            BadValue::json(sp),
            "can only be set when seccomp type is Localhost",
        ));
    }
    errs
}

const ID_RANGE_MAX: i64 = i32::MAX as i64;

/// `validatePodSpecSecurityContext`: ids in range, shareProcessNamespace without hostPID,
/// sysctl names, fsGroupChangePolicy, supplementalGroupsPolicy, seccomp profile.
fn pod_security_context(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sc) = &spec.security_context else {
        return errs;
    };
    let range = inclusive_range_error(0, ID_RANGE_MAX);
    for (name, v) in [
        ("fsGroup", sc.fs_group),
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(id) = v.filter(|id| !(0..=ID_RANGE_MAX).contains(id)) {
            errs.push(Error::invalid(&path.child(name), id, &range));
        }
    }
    for (i, gid) in sc.supplemental_groups.iter().flatten().enumerate() {
        if !(0..=ID_RANGE_MAX).contains(gid) {
            errs.push(Error::invalid(
                &path.child("supplementalGroups").index(i),
                *gid,
                &range,
            ));
        }
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(Error::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, sysctl) in sc.sysctls.iter().flatten().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        if sysctl.name.is_empty() {
            errs.push(Error::required(&p, ""));
        } else if !names.insert(sysctl.name.clone()) {
            errs.push(Error::duplicate(&p, &sysctl.name));
        }
    }
    if let Some(p) = sc
        .fs_group_change_policy
        .as_deref()
        .filter(|p| *p != "Always" && *p != "OnRootMismatch")
    {
        errs.push(Error::not_supported(
            &path.child("fsGroupChangePolicy"),
            p,
            &["Always", "OnRootMismatch"],
        ));
    }
    if let Some(p) = sc
        .supplemental_groups_policy
        .as_deref()
        .filter(|p| *p != "Merge" && *p != "Strict")
    {
        errs.push(Error::not_supported(
            &path.child("supplementalGroupsPolicy"),
            p,
            &["Merge", "Strict"],
        ));
    }
    errs.extend(seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    errs
}

fn validate_security_context(sc: Option<&SecurityContext>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sc) = sc else { return errs };
    for (name, v) in [
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(id) = v.filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            errs.push(Error::invalid(
                &path.child(name),
                id,
                &inclusive_range_error(0, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(pm) = &sc.proc_mount {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(Error::not_supported(
                &path.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
    }
    errs.extend(seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errs.push(Error::invalid(
                path,
                BadValue::json(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds = sc.capabilities.as_ref().and_then(|c| c.add.as_ref());
        if adds.is_some_and(|a| a.iter().any(|c| c == "CAP_SYS_ADMIN")) {
            errs.push(Error::invalid(path, BadValue::json(sc), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
        }
    }
    errs
}

fn validate_container_common(
    c: &Container,
    volumes: &Volumes<'_>,
    claims: &BTreeSet<String>,
    restart_policy: &str,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(Error::required(&name_path, ""));
    } else {
        errs.extend(dns_label(&c.name, &name_path));
    }
    if s(&c.image).is_empty() {
        errs.push(Error::required(&path.child("image"), ""));
    }
    match s(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(Error::required(&path.child("terminationMessagePolicy"), "")),
        other => errs.push(Error::not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(c, &path.child("ports")));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or(&[]),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or(&[]),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        c,
        volumes,
        &path.child("volumeMounts"),
    ));
    errs.extend(validate_volume_devices(
        c,
        volumes,
        &path.child("volumeDevices"),
    ));
    const PULL: [&str; 3] = ["Always", "IfNotPresent", "Never"];
    match s(&c.image_pull_policy) {
        "" => errs.push(Error::required(&path.child("imagePullPolicy"), "")),
        p if !PULL.contains(&p) => errs.push(Error::not_supported(
            &path.child("imagePullPolicy"),
            p,
            &PULL,
        )),
        _ => {}
    }
    errs.extend(validate_resources(
        c.resources.as_ref(),
        claims,
        &path.child("resources"),
    ));
    let rp = path.child("resizePolicy");
    let mut seen = BTreeSet::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        if !seen.insert(p.resource_name.clone()) {
            errs.push(Error::duplicate(&rp.index(i), &p.resource_name));
        }
        match p.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(Error::required(&rp, "")),
            other => errs.push(Error::not_supported(&rp, other, &["cpu", "memory"])),
        }
        match p.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(Error::required(&rp, "")),
            other => errs.push(Error::not_supported(
                &rp,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if restart_policy == "Never" && p.restart_policy != "NotRequired" {
            errs.push(Error::invalid(
                &rp,
                &p.restart_policy,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    errs.extend(validate_security_context(
        c.security_context.as_ref(),
        &path.child("securityContext"),
    ));
    errs
}

fn host_port_conflicts(containers: &[Container], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in c.ports.iter().flatten().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", s(&p.protocol), s(&p.host_ip));
            if !seen.insert(key.clone()) {
                errs.push(Error::duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            }
        }
    }
    errs
}

struct SpecCtx<'a> {
    volumes: Volumes<'a>,
    claims: BTreeSet<String>,
    grace: Option<i64>,
    restart_policy: &'a str,
}

fn validate_containers(containers: &[Container], ctx: &SpecCtx<'_>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if containers.is_empty() {
        errs.push(Error::required(path, ""));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(
            c,
            &ctx.volumes,
            &ctx.claims,
            ctx.restart_policy,
            &p,
        ));
        if !names.insert(c.name.clone()) {
            errs.push(Error::duplicate(&p.child("name"), &c.name));
        }
        errs.extend(validate_lifecycle_and_probes(c, ctx.grace, &p));
        if c.restart_policy.is_some() {
            errs.push(Error::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    ctx: &SpecCtx<'_>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    const WITHOUT_ALWAYS: &str = "may not be set for init containers without restartPolicy=Always";
    for (i, c) in inits.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(
            c,
            &ctx.volumes,
            &ctx.claims,
            ctx.restart_policy,
            &p,
        ));
        let mut restart_always = false;
        if let Some(rp) = &c.restart_policy {
            if rp != "Always" {
                errs.push(Error::not_supported(
                    &p.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
            restart_always = rp == "Always";
        }
        if names.contains(&c.name) {
            errs.push(Error::duplicate(&p.child("name"), &c.name));
        } else if !c.name.is_empty() {
            names.insert(c.name.clone());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            errs.extend(validate_lifecycle_and_probes(c, ctx.grace, &p));
        } else {
            for (name, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(Error::forbidden(&p.child(name), WITHOUT_ALWAYS));
                }
            }
        }
        if c.resize_policy.as_ref().is_some_and(|r| !r.is_empty()) {
            errs.push(Error::invalid(
                &p.child("resizePolicy"),
                BadValue::json(&c.resize_policy),
                "must not be set for init containers",
            ));
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Scheduling constraints.

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `validateTaintEffect`.
pub(crate) fn taint_effect(effect: &str, allow_empty: bool, path: &Path) -> ErrorList {
    if !allow_empty && effect.is_empty() {
        return Error::required(path, "").into();
    }
    if TAINT_EFFECTS.contains(&effect) {
        ErrorList::new()
    } else {
        Error::not_supported(path, effect, &TAINT_EFFECTS).into()
    }
}

/// `ValidateTolerations`.
pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, t) in tolerations.iter().enumerate() {
        let idx = path.index(i);
        let key = s(&t.key);
        let operator = s(&t.operator);
        let effect = s(&t.effect);
        let value = s(&t.value);
        if !key.is_empty() {
            errs.extend(label_name(&idx.child("key"), key));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(Error::invalid(&idx.child("operator"), operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(Error::invalid(
                &idx.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(Error::invalid(
                        &idx.child("operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(Error::invalid(
                        &idx.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(Error::not_supported(
                &idx.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(taint_effect(effect, true, &idx.child("effect")));
        }
    }
    errs
}

fn node_selector_requirement(
    rq: &NodeSelectorRequirement,
    check_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let values = rq.values.as_deref().unwrap_or(&[]);
    match rq.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(Error::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(Error::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(Error::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        op => errs.push(Error::invalid(
            &path.child("operator"),
            op,
            "not a valid selector operator",
        )),
    }
    errs.extend(label_name(&path.child("key"), &rq.key));
    if check_values {
        for (i, v) in values.iter().enumerate() {
            for m in is_valid_label_value(v) {
                errs.push(Error::invalid(&path.child("values").index(i), v, &m));
            }
        }
    }
    errs
}

fn node_selector_term(term: &NodeSelectorTerm, check_values: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (j, rq) in term.match_expressions.iter().flatten().enumerate() {
        errs.extend(node_selector_requirement(
            rq,
            check_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, rq) in term.match_fields.iter().flatten().enumerate() {
        let p = path.child("matchFields").index(j);
        let values = rq.values.as_deref().unwrap_or(&[]);
        match rq.operator.as_str() {
            "In" | "NotIn" => {
                if values.len() != 1 {
                    errs.push(Error::required(&p.child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
                }
            }
            op => errs.push(Error::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        if rq.key != "metadata.name" {
            errs.push(Error::invalid(
                &p.child("key"),
                &rq.key,
                "not a valid field selector key",
            ));
        } else {
            for (i, v) in values.iter().enumerate() {
                for m in name_is_dns_subdomain(v, false) {
                    errs.push(Error::invalid(&p.child("values").index(i), v, &m));
                }
            }
        }
    }
    errs
}

fn node_selector(ns: &NodeSelector, path: &Path) -> ErrorList {
    let p = path.child("nodeSelectorTerms");
    if ns.node_selector_terms.is_empty() {
        return Error::required(&p, "must have at least one node selector term").into();
    }
    let mut errs = ErrorList::new();
    for (i, t) in ns.node_selector_terms.iter().enumerate() {
        errs.extend(node_selector_term(t, true, &p.index(i)));
    }
    errs
}

fn pod_affinity_term(t: &PodAffinityTerm, path: &Path) -> ErrorList {
    let mut errs = validate_label_selector(t.label_selector.as_ref(), &path.child("labelSelector"));
    errs.extend(validate_label_selector(
        t.namespace_selector.as_ref(),
        &path.child("namespaceSelector"),
    ));
    for name in t.namespaces.iter().flatten() {
        for m in name_is_dns_label(name, false) {
            errs.push(Error::invalid(&path.child("namespace"), name, &m));
        }
    }
    let match_keys = t.match_label_keys.as_deref().unwrap_or(&[]);
    let mismatch_keys = t.mismatch_label_keys.as_deref().unwrap_or(&[]);
    for (field, keys) in [
        ("matchLabelKeys", match_keys),
        ("mismatchLabelKeys", mismatch_keys),
    ] {
        if keys.is_empty() {
            continue;
        }
        if t.label_selector.is_none() {
            errs.push(Error::forbidden(
                &path.child(field),
                "must not be specified when labelSelector is not set",
            ));
        } else {
            for (i, k) in keys.iter().enumerate() {
                errs.extend(label_name(&path.child(field).index(i), k));
            }
        }
    }
    for (i, k) in match_keys.iter().enumerate() {
        if mismatch_keys.contains(k) {
            errs.push(Error::invalid(
                &path.child("matchLabelKeys").index(i),
                k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    if t.topology_key.is_empty() {
        errs.push(Error::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(label_name(&path.child("topologyKey"), &t.topology_key));
    errs
}

fn validate_affinity(a: Option<&Affinity>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(a) = a else { return errs };
    if let Some(na) = &a.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errs.extend(node_selector(
                req,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            if !(1..=100).contains(&t.weight) {
                errs.push(Error::invalid(
                    &pp.index(i).child("weight"),
                    t.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(node_selector_term(
                &t.preference,
                false,
                &pp.index(i).child("preference"),
            ));
        }
    }
    for (field, req, pref) in [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|x| {
                (
                    &x.required_during_scheduling_ignored_during_execution,
                    &x.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|x| {
                (
                    &x.required_during_scheduling_ignored_during_execution,
                    &x.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ]
    .into_iter()
    .filter_map(|(f, x)| x.map(|(r, p)| (f, r, p)))
    {
        let p = path.child(field);
        let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in req.iter().flatten().enumerate() {
            errs.extend(pod_affinity_term(t, &rp.index(i)));
        }
        let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, w) in pref.iter().flatten().enumerate() {
            if !(1..=100).contains(&w.weight) {
                errs.push(Error::invalid(
                    &pp.index(i).child("weight"),
                    w.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(pod_affinity_term(
                &w.pod_affinity_term,
                &pp.index(i).child("podAffinityTerm"),
            ));
        }
    }
    errs
}

fn validate_topology_spread(constraints: &[TopologySpreadConstraint], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    const ACTIONS: [&str; 2] = ["DoNotSchedule", "ScheduleAnyway"];
    const POLICIES: [&str; 2] = ["Honor", "Ignore"];
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(Error::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                IS_NOT_POSITIVE,
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(Error::required(&p.child("topologyKey"), "can not be empty"));
        }
        if !ACTIONS.contains(&c.when_unsatisfiable.as_str()) {
            errs.push(Error::not_supported(
                &p.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &ACTIONS,
            ));
        }
        if constraints[i + 1..].iter().any(|r| {
            r.topology_key == c.topology_key && r.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(Error::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(Error::invalid(&p.child("minDomains"), md, IS_NOT_POSITIVE));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(Error::invalid(
                    &p.child("minDomains"),
                    md,
                    &format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (name, v) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !POLICIES.contains(v)) {
                errs.push(Error::not_supported(&p.child(name), v, &POLICIES));
            }
        }
        let keys = c.match_label_keys.as_deref().unwrap_or(&[]);
        if !keys.is_empty() {
            let mp = p.child("matchLabelKeys");
            let mut selector_keys = BTreeSet::new();
            match &c.label_selector {
                Some(sel) => {
                    selector_keys.extend(sel.match_labels.iter().flatten().map(|(k, _)| k.clone()));
                    selector_keys.extend(
                        sel.match_expressions
                            .iter()
                            .flatten()
                            .map(|e| e.key.clone()),
                    );
                }
                None => errs.push(Error::forbidden(
                    &mp,
                    "must not be specified when labelSelector is not set",
                )),
            }
            for (j, k) in keys.iter().enumerate() {
                errs.extend(label_name(&mp.index(j), k));
                if selector_keys.contains(k) {
                    errs.push(Error::invalid(
                        &mp.index(j),
                        k,
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        errs.extend(validate_label_selector(
            c.label_selector.as_ref(),
            &p.child("labelSelector"),
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// PodSpec.

/// `ValidatePodSpec`.
pub(crate) fn validate_pod_spec(spec: &PodSpec, opts: PodOpts, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(Error::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volumes, verrs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &path.child("volumes"),
    );
    errs.extend(verrs);
    let mut claims = BTreeSet::new();
    let cp = path.child("resourceClaims");
    for (i, c) in spec.resource_claims.iter().flatten().enumerate() {
        let p = cp.index(i);
        if c.name.is_empty() {
            errs.push(Error::required(&p.child("name"), ""));
        } else if claims.contains(&c.name) {
            errs.push(Error::duplicate(&p.child("name"), &c.name));
        } else {
            errs.extend(dns_label(&c.name, &p.child("name")));
            claims.insert(c.name.clone());
        }
        match (&c.resource_claim_name, &c.resource_claim_template_name) {
            (Some(_), Some(_)) => errs.push(Error::invalid(&p, BadValue::json(c), "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified")),
            (None, None) => errs.push(Error::invalid(&p, BadValue::json(c), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`")),
            _ => {}
        }
    }
    let restart_policy = s(&spec.restart_policy);
    let ctx = SpecCtx {
        volumes,
        claims,
        grace: spec.termination_grace_period_seconds,
        restart_policy,
    };
    errs.extend(validate_containers(
        &spec.containers,
        &ctx,
        &path.child("containers"),
    ));
    let inits = spec.init_containers.as_deref().unwrap_or(&[]);
    errs.extend(validate_init_containers(
        inits,
        &spec.containers,
        &ctx,
        &path.child("initContainers"),
    ));
    let eph_path = path.child("ephemeralContainers");
    let mut all_names: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(inits)
        .map(|c| c.name.as_str())
        .collect();
    let other_names = all_names.clone();
    for (i, ec) in spec.ephemeral_containers.iter().flatten().enumerate() {
        let p = eph_path.index(i);
        if let Ok(c) = serde_json::to_value(ec).and_then(serde_json::from_value::<Container>) {
            errs.extend(validate_container_common(
                &c,
                &ctx.volumes,
                &ctx.claims,
                restart_policy,
                &p,
            ));
        }
        if !all_names.insert(ec.name.as_str()) {
            errs.push(Error::duplicate(&p.child("name"), &ec.name));
        }
        let target = s(&ec.target_container_name);
        if !target.is_empty() && !other_names.contains(target) {
            errs.push(Error::not_found(&p.child("targetContainerName"), target));
        }
        const NOT_FOR_EPHEMERAL: &str = "cannot be set for an Ephemeral Container";
        for (name, set) in [
            ("ports", ec.ports.is_some()),
            ("resources", ec.resources.is_some()),
            ("livenessProbe", ec.liveness_probe.is_some()),
            ("readinessProbe", ec.readiness_probe.is_some()),
            ("startupProbe", ec.startup_probe.is_some()),
            ("lifecycle", ec.lifecycle.is_some()),
        ] {
            if set {
                errs.push(Error::forbidden(&p.child(name), NOT_FOR_EPHEMERAL));
            }
        }
    }
    if spec.host_network == Some(true) {
        let cp = path.child("containers");
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, port) in c.ports.iter().flatten().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != port.container_port {
                    errs.push(Error::invalid(
                        &cp.index(i).child("ports").index(j).child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    const RESTART: [&str; 3] = ["Always", "OnFailure", "Never"];
    match restart_policy {
        "" => errs.push(Error::required(&path.child("restartPolicy"), "")),
        p if !RESTART.contains(&p) => errs.push(Error::not_supported(
            &path.child("restartPolicy"),
            p,
            &RESTART,
        )),
        _ => {}
    }
    const DNS: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    let dns_policy = s(&spec.dns_policy);
    match dns_policy {
        "" => errs.push(Error::required(&path.child("dnsPolicy"), "")),
        p if !DNS.contains(&p) => {
            errs.push(Error::not_supported(&path.child("dnsPolicy"), p, &DNS))
        }
        _ => {}
    }
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    errs.extend(pod_security_context(spec, &path.child("securityContext")));
    errs.extend(validate_affinity(
        spec.affinity.as_ref(),
        &path.child("affinity"),
    ));
    let dp = path.child("dnsConfig");
    let dns_config_ok = if dns_policy == "None" {
        match &spec.dns_config {
            None => {
                errs.push(Error::required(
                    &dp,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                false
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                errs.push(Error::required(
                    &dp.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                false
            }
            Some(_) => true,
        }
    } else {
        true
    };
    if let Some(c) = spec.dns_config.as_ref().filter(|_| dns_config_ok) {
        let ns = c.nameservers.as_deref().unwrap_or(&[]);
        if ns.len() > 3 {
            errs.push(Error::invalid(
                &dp.child("nameservers"),
                BadValue::json(ns),
                "must not have more than 3 nameservers",
            ));
        }
        for (i, n) in ns.iter().enumerate() {
            errs.extend(valid_ip(&dp.child("nameservers").index(i), n));
        }
        let searches = c.searches.as_deref().unwrap_or(&[]);
        if searches.len() > 32 {
            errs.push(Error::invalid(
                &dp.child("searches"),
                BadValue::json(searches),
                "must not have more than 32 search paths",
            ));
        }
        if searches.join(" ").len() > 2048 {
            errs.push(Error::invalid(
                &dp.child("searches"),
                BadValue::json(searches),
                "must not have more than 2048 characters (including spaces) in the search list",
            ));
        }
        for (i, sp) in searches.iter().enumerate() {
            if sp != "." {
                errs.extend(dns_subdomain(
                    sp.strip_suffix('.').unwrap_or(sp),
                    &dp.child("searches").index(i),
                ));
            }
        }
        for (i, o) in c.options.iter().flatten().enumerate() {
            if s(&o.name).is_empty() {
                errs.push(Error::required(
                    &dp.child("options").index(i),
                    "must not be empty",
                ));
            }
        }
    }
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(qualified_name(
            &g.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(qualified_name(&g.name, &p));
        if !gates.insert(g.name.clone()) {
            errs.push(Error::duplicate(&p, &g.name));
        }
    }
    errs.extend(validate_topology_spread(
        spec.topology_spread_constraints.as_deref().unwrap_or(&[]),
        &path.child("topologySpreadConstraints"),
    ));
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
    ] {
        let v = s(value);
        if !v.is_empty() {
            for m in name_is_dns_subdomain(v, false) {
                errs.push(Error::invalid(&path.child(field), v, &m));
            }
        }
    }
    if let Some(ads) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(Error::invalid(
                &path.child("activeDeadlineSeconds"),
                ads,
                &inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !s(value).is_empty() {
            errs.extend(dns_label(s(value), &path.child(field)));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        &path.child("tolerations"),
    ));
    for (i, ha) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(valid_ip(&p.child("ip"), &ha.ip));
        for (j, h) in ha.hostnames.iter().flatten().enumerate() {
            errs.extend(dns_subdomain(h, &p.child("hostnames").index(j)));
        }
    }
    let pcn = s(&spec.priority_class_name);
    if !pcn.is_empty() {
        for m in name_is_dns_subdomain(pcn, false) {
            errs.push(Error::invalid(&path.child("priorityClassName"), pcn, &m));
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        for m in name_is_dns_subdomain(rc, false) {
            errs.push(Error::invalid(&path.child("runtimeClassName"), rc, &m));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        errs.extend(preemption_policy(pp, &path.child("preemptionPolicy")));
    }
    if let Some(overhead) = &spec.overhead {
        let lp = path.child("overhead").child("limits");
        for (name, q) in overhead {
            let p = lp.key(name);
            errs.extend(container_resource_name(name, &p));
            errs.extend(resource_quantity_value(name, q, &p));
        }
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errs.push(Error::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if os.name != "linux" && os.name != "windows" {
            errs.push(Error::not_supported(
                &path.child("os"),
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

/// `ValidatePreemptionPolicy`.
pub(crate) fn preemption_policy(p: &str, path: &Path) -> ErrorList {
    match p {
        "PreemptLowerPriority" | "Never" => ErrorList::new(),
        "" => Error::required(path, "").into(),
        other => Error::not_supported(path, other, &["PreemptLowerPriority", "Never"]).into(),
    }
}

/// `ValidatePodTemplateSpec`: template labels and annotations, the spec (as a template: hostPort
/// may be 0 with hostNetwork), no ephemeral containers.
pub(crate) fn validate_pod_template_spec(t: &PodTemplateSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let meta = t.metadata.clone().unwrap_or_default();
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    let spec = t.spec.clone().unwrap_or_default();
    errs.extend(pod_specific_annotations(
        &meta,
        &spec,
        &path.child("annotations"),
    ));
    errs.extend(validate_pod_spec(
        &spec,
        PodOpts::default(),
        &path.child("spec"),
    ));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(Error::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

fn pod_specific_annotations(meta: &ObjectMeta, spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(v) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubernetes.io/config.mirror"))
    {
        if s(&spec.node_name).is_empty() {
            errs.push(Error::invalid(
                &path.key("kubernetes.io/config.mirror"),
                v,
                "must set spec.nodeName if mirror pod annotation is set",
            ));
        }
    }
    if let Some(v) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
    {
        if v.parse::<i32>().is_err() {
            errs.push(Error::invalid(
                &path.key("controller.kubernetes.io/pod-deletion-cost"),
                v,
                "must be a 32bit integer",
            ));
        }
    }
    errs
}

const POD_META: MetaRules = MetaRules {
    namespaced: true,
    name_fn: name_is_dns_subdomain,
    kube_finalizers: true,
};

/// `validatePodMetadataAndSpec`.
fn pod_metadata_and_spec(pod: &Pod) -> ErrorList {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let spec = pod.spec.clone().unwrap_or_default();
    let mut errs = validate_object_meta(&pod.metadata, POD_META, &meta_path);
    errs.extend(pod_specific_annotations(
        &pod.metadata,
        &spec,
        &meta_path.child("annotations"),
    ));
    errs.extend(validate_pod_spec(
        &spec,
        PodOpts {
            resource_is_pod: true,
        },
        &spec_path,
    ));
    if s(&spec.service_account_name).is_empty() {
        for (vi, v) in spec.volumes.iter().flatten().enumerate() {
            let p = spec_path.child("volumes").index(vi).child("projected");
            for (si, src) in v
                .projected
                .iter()
                .flat_map(|pr| pr.sources.iter().flatten())
                .enumerate()
            {
                if src.service_account_token.is_some() {
                    errs.push(Error::forbidden(
                        &p.child("sources").index(si).child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for (field, list) in [
        ("containers", &spec.containers[..]),
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or(&[]),
        ),
    ] {
        for (i, c) in list.iter().enumerate() {
            let image = s(&c.image);
            if image.len() != image.trim().len() {
                errs.push(Error::invalid(
                    &spec_path.child(field).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errs
}

/// `ValidatePodCreate`.
pub(crate) fn validate_pod_create(pod: &Pod) -> ErrorList {
    let mut errs = pod_metadata_and_spec(pod);
    let spec_path = Path::new("spec");
    if let Some(spec) = &pod.spec {
        if spec
            .ephemeral_containers
            .as_ref()
            .is_some_and(|e| !e.is_empty())
        {
            errs.push(Error::forbidden(
                &spec_path.child("ephemeralContainers"),
                "cannot be set on create",
            ));
        }
        if !s(&spec.node_name).is_empty()
            && spec
                .scheduling_gates
                .as_ref()
                .is_some_and(|g| !g.is_empty())
        {
            errs.push(Error::forbidden(
                &spec_path.child("nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            ));
        }
    }
    errs
}

/// The fields a Pod update may change, as `ValidatePodUpdate` lists them.
pub const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn container_updates(new: &[Container], old: &[Container], path: &Path) -> (ErrorList, bool) {
    let mut errs = ErrorList::new();
    if new.len() != old.len() {
        errs.push(Error::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return (errs, true);
    }
    for (i, c) in new.iter().enumerate() {
        let image = s(&c.image);
        if image.is_empty() {
            errs.push(Error::required(&path.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errs.push(Error::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

/// A short description of how two specs differ (Kubernetes prints a go-cmp diff here; this
/// lists the differing top-level fields as JSON).
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (Ok(serde_json::Value::Object(o)), Ok(serde_json::Value::Object(n))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return String::new();
    };
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        let (ov, nv) = (o.get(k), n.get(k));
        if ov != nv {
            if let Some(v) = ov {
                out.push_str(&format!("- \t{k}: {v},\n"));
            }
            if let Some(v) = nv {
                out.push_str(&format!("+ \t{k}: {v},\n"));
            }
        }
    }
    out.push_str("  }\n");
    out
}

fn only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &Path) -> ErrorList {
    for o in old {
        let found = new.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            &o == n
        });
        if !found {
            return Error::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )
            .into();
        }
    }
    validate_tolerations(new, path)
}

/// `ValidatePodUpdate`: only images, activeDeadlineSeconds, added tolerations, removed
/// scheduling gates and a negative grace period set to 1 may change.
pub(crate) fn validate_pod_update(new: &Pod, old: &Pod) -> ErrorList {
    let meta_path = Path::new("metadata");
    let spec_path = Path::new("spec");
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path);
    errs.extend(pod_metadata_and_spec(new));
    let ap = meta_path.child("annotations");
    let empty = BTreeMap::new();
    let new_ann = new.metadata.annotations.as_ref().unwrap_or(&empty);
    let old_ann = old.metadata.annotations.as_ref().unwrap_or(&empty);
    const MIRROR: &str = "kubernetes.io/config.mirror";
    if old_ann
        .get(MIRROR)
        .is_some_and(|v| new_ann.get(MIRROR) != Some(v))
    {
        errs.push(Error::forbidden(
            &ap.key(MIRROR),
            "may not remove or update mirror pod annotation",
        ));
    }
    if new_ann.contains_key(MIRROR) && !old_ann.contains_key(MIRROR) {
        errs.push(Error::forbidden(
            &ap.key(MIRROR),
            "may not add mirror pod annotation",
        ));
    }
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    let (cerrs, stop) = container_updates(
        &new_spec.containers,
        &old_spec.containers,
        &spec_path.child("containers"),
    );
    errs.extend(cerrs);
    if stop {
        return errs;
    }
    let new_inits = new_spec.init_containers.clone().unwrap_or_default();
    let old_inits = old_spec.init_containers.clone().unwrap_or_default();
    let (cerrs, stop) =
        container_updates(&new_inits, &old_inits, &spec_path.child("initContainers"));
    errs.extend(cerrs);
    if stop {
        return errs;
    }
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(Error::invalid(
                &ads_path,
                n,
                &inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(Error::invalid(
                &ads_path,
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(Error::invalid(
            &ads_path,
            BadValue::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    errs.extend(only_added_tolerations(
        new_spec.tolerations.as_deref().unwrap_or(&[]),
        old_spec.tolerations.as_deref().unwrap_or(&[]),
        &spec_path.child("tolerations"),
    ));
    let old_gates: BTreeSet<&str> = old_spec
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new_spec.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(Error::forbidden(
                &spec_path.child("schedulingGates").index(i).child("name"),
                &format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    if new_spec == old_spec {
        return errs;
    }
    let mut munged = new_spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image.clone_from(&o.image);
    }
    if let Some(inits) = munged.init_containers.as_mut() {
        for (c, o) in inits.iter_mut().zip(&old_inits) {
            c.image.clone_from(&o.image);
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged
        .scheduling_gates
        .clone_from(&old_spec.scheduling_gates);
    munged.tolerations.clone_from(&old_spec.tolerations);
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if munged != old_spec {
        errs.push(Error::forbidden(
            &spec_path,
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                spec_diff(&old_spec, &munged)
            ),
        ));
    }
    errs
}
