#!/usr/bin/env python3
"""Generates kube-api/src/protobuf/schema.rs: the protobuf wire schema of the kinds kubox serves.

Rerun (from the repository root, after `cargo fetch` has downloaded both crates):

    python3 kube-api/tools/gen_proto_schema.py > kube-api/src/protobuf/schema.rs
    rustfmt --edition 2021 kube-api/src/protobuf/schema.rs

Inputs (read only, never compiled or linked):
- k8s-pb 0.9.0 (`~/.cargo/registry/src/*/k8s-pb-0.9.0/src/`): the prost structs generated
  from k8s.io/api and apimachinery `generated.proto`; `#[prost(<type>, optional|repeated,
  tag = "N")]` gives the wire tag and type of every field.
- k8s-openapi 0.29.0 (`~/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_33/`): the JSON
  field names, from its `Deserialize` impls (`"clusterIP" => Field::Key_cluster_ip`).
  A field k8s-openapi does not know gets the lowerCamelCase of its proto field name.

Only messages reachable from ROOTS (the kinds of kube-core/src/registry.rs and the bodies
of their subresources) are emitted. apimachinery types with a special JSON form (Time,
MicroTime, Quantity, IntOrString, Duration, RawExtension, FieldsV1) become dedicated kinds.
Override a root list or a path with env vars K8S_PB_SRC / K8S_OPENAPI_SRC.
"""
import glob
import os
import re
import sys

HOME = os.path.expanduser("~")
PB = os.environ.get("K8S_PB_SRC") or glob.glob(
    f"{HOME}/.cargo/registry/src/*/k8s-pb-0.9.0/src")[0]
OA = os.environ.get("K8S_OPENAPI_SRC") or glob.glob(
    f"{HOME}/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_33")[0]

# (module path in k8s-pb, struct): the served kinds and their subresource bodies.
ROOTS = [
    ("api.core.v1", k) for k in [
        "Namespace", "Node", "Pod", "Service", "Endpoints", "ServiceAccount", "Secret",
        "ConfigMap", "Event", "Binding", "ReplicationController"]
] + [
    ("api.apps.v1", "Deployment"), ("api.apps.v1", "ReplicaSet"),
    ("api.discovery.v1", "EndpointSlice"),
    ("api.coordination.v1", "Lease"),
    ("api.rbac.v1", "Role"), ("api.rbac.v1", "RoleBinding"),
    ("api.rbac.v1", "ClusterRole"), ("api.rbac.v1", "ClusterRoleBinding"),
    ("api.scheduling.v1", "PriorityClass"),
    ("api.policy.v1", "PodDisruptionBudget"), ("api.policy.v1", "Eviction"),
    ("api.authorization.v1", "SelfSubjectAccessReview"),
    ("api.authorization.v1", "SelfSubjectRulesReview"),
    ("api.authentication.v1", "TokenRequest"),
    ("api.authentication.v1", "TokenReview"),
    ("api.authentication.v1", "SelfSubjectReview"),
    ("api.autoscaling.v1", "Scale"),
]

MV1 = "apimachinery.pkg.apis.meta.v1"
SPECIAL = {
    (MV1, "Time"): "Time",
    (MV1, "MicroTime"): "MicroTime",
    (MV1, "Duration"): "Duration",
    (MV1, "FieldsV1"): "RawJson",
    ("apimachinery.pkg.runtime", "RawExtension"): "RawJson",
    ("apimachinery.pkg.api.resource", "Quantity"): "Quantity",
    ("apimachinery.pkg.util.intstr", "IntOrString"): "IntOrString",
}

SCALARS = {
    "string": "String", "bool": "Bool", "int32": "Int32", "int64": "Int64",
    "uint32": "Uint32", "uint64": "Uint64", "double": "Double", "float": "Float",
    "bytes": "Bytes", "sint32": "Int32", "sint64": "Int64",
}


def parse_pb():
    """{(module, struct): [(tag, rust_field, type_word, repeated, map_value, msg_ref)]}"""
    out = {}
    for path in glob.glob(f"{PB}/**/mod.rs", recursive=True):
        module = os.path.relpath(os.path.dirname(path), PB).replace(os.sep, ".")
        lines = open(path).read().split("\n")
        i, cur = 0, None
        while i < len(lines):
            line = lines[i]
            m = re.match(r"pub struct (\w+) \{", line)
            if m:
                cur = out.setdefault((module, m.group(1)), [])
            elif line == "}":
                cur = None
            elif cur is not None and line.strip().startswith("#[prost("):
                attr = line.strip()
                j = i + 1
                decl = ""
                while True:
                    decl += lines[j].strip() + " "
                    if decl.strip().endswith(",") and decl.count("<") == decl.count(">"):
                        break
                    j += 1
                i = j
                fm = re.match(r"pub (?:r#)?(\w+):\s*(.*),\s*$", decl.strip())
                assert fm, decl
                name, ty = fm.group(1), fm.group(2)
                tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
                inner = attr[len("#[prost("):]
                mm = re.match(r'btree_map = "(\w+), (\w+)"', inner)
                repeated = ", repeated" in inner
                if mm:
                    assert mm.group(1) == "string", attr
                    kind_word, map_value = "map", mm.group(2)
                else:
                    kind_word, map_value = re.match(r"(\w+)", inner).group(1), None
                ref = None
                if kind_word == "message" or map_value == "message":
                    ref = resolve(module, ty)
                cur.append((tag, name, kind_word, repeated, map_value, ref))
            i += 1
    return out


def resolve(module, ty):
    """The (module, struct) a field's Rust type names."""
    t = ty.replace(" ", "")
    for w in ["::core::option::Option<", "::prost::alloc::vec::Vec<",
              "::prost::alloc::boxed::Box<",
              "::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,"]:
        t = t.replace(w, "")
    t = t.rstrip(">").rstrip(",")
    parts = t.split("::")
    mod = module.split(".")
    while parts[0] == "super":
        parts.pop(0)
        mod.pop()
    return (".".join(mod + parts[:-1]), parts[-1])


def parse_openapi():
    """{(module, lowercased struct): {rust_field: json_name}}"""
    out = {}
    for path in glob.glob(f"{OA}/**/*.rs", recursive=True):
        module = os.path.relpath(os.path.dirname(path), OA).replace(os.sep, ".")
        text = open(path).read()
        sm = re.search(r"pub struct (\w+)", text)
        if not sm:
            continue
        names = {norm(js): js for js, _ in
                 re.findall(r'"([^"]+)" => Field::Key_(\w+),', text)}
        out[(module, sm.group(1).lower())] = names
    return out


def norm(name):
    """Case- and underscore-insensitive key: `non_resource_ur_ls` and `nonResourceURLs` meet."""
    return name.replace("_", "").lower()


def lower_camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def main():
    pb = parse_pb()
    oa = parse_openapi()
    reach, todo = [], list(ROOTS)
    seen = set()
    while todo:
        key = todo.pop()
        if key in seen or key in SPECIAL:
            continue
        seen.add(key)
        assert key in pb, f"unknown message {key}"
        reach.append(key)
        for f in pb[key]:
            if f[5] is not None:
                todo.append(f[5])
    reach.sort(key=lambda k: f"k8s.io.{k[0]}.{k[1]}")
    index = {k: i for i, k in enumerate(reach)}
    fallbacks, inlined = [], []

    def kind_of(word, ref):
        if word == "message":
            if ref in SPECIAL:
                return f"Kind::{SPECIAL[ref]}"
            return f"Kind::Message({index[ref]})"
        return f"Kind::{SCALARS[word]}"

    print("// @generated by kube-api/tools/gen_proto_schema.py from k8s-pb 0.9.0 (wire tags and")
    print("// types) and k8s-openapi 0.29.0 v1_33 (JSON names). Do not edit: rerun the script")
    print("// (see its header).")
    print("//! The protobuf schema of the kinds kubox serves: every message reachable from them, by")
    print("//! full proto name, with each field's tag, JSON name and wire kind.")
    print()
    # Generated tables: one long literal; neither lint helps readability here.
    print("#![allow(clippy::too_many_lines, clippy::unreadable_literal)]")
    print()
    print("use super::{Field, Kind, Message};")
    print()
    print("/// Every message, sorted by name (binary-searched by `find`).")
    print(f"pub(super) static MESSAGES: [Message; {len(reach)}] = [")
    # Messages only ever embedded inline (VolumeSource, ProbeHandler, ...) have no
    # k8s-openapi struct: their names come from the structs that inline them.
    inherited = {}
    for key in reach:
        names = oa.get((key[0], key[1].lower()), {})
        for f in pb[key]:
            if f[2] == "message" and f[5] not in SPECIAL and norm(f[1]) not in names:
                sub = [norm(g[1]) for g in pb[f[5]]]
                if sum(n in names for n in sub) * 2 >= len(sub):
                    inherited.setdefault(f[5], {}).update(names)
    for key in reach:
        oa_names = dict(inherited.get(key, {}))
        oa_names.update(oa.get((key[0], key[1].lower()), {}))
        print(f"    Message {{ name: \"k8s.io.{key[0]}.{key[1]}\", fields: &[")
        for tag, name, word, repeated, map_value, ref in sorted(pb[key]):
            js = oa_names.get(norm(name))
            if js is None and ref is not None and ref not in SPECIAL and word == "message":
                # A Go embedded struct (`json:",inline"`, e.g. Volume.VolumeSource,
                # ConfigMapKeySelector.LocalObjectReference): k8s-openapi has its fields
                # flattened into the parent. JSON name "" = merge into the parent object.
                sub = [norm(f[1]) for f in pb[ref]]
                if sum(n in oa_names for n in sub) * 2 >= len(sub):
                    js = ""
                    inlined.append(f"{key[1]}.{name}")
            if js is None:
                js = lower_camel(name)
                fallbacks.append(f"{key[1]}.{name} -> {js}")
            if word == "map":
                kind = f"Kind::Map(&{kind_of(map_value, ref)})"
            else:
                kind = kind_of(word, ref)
            print(f"        Field {{ tag: {tag}, json: \"{js}\", kind: {kind}, repeated: {'true' if repeated else 'false'} }},")
        print("    ] },")
    print("];")
    for f in inlined:
        print(f"inline: {f}", file=sys.stderr)
    for f in fallbacks:
        print(f"fallback JSON name: {f}", file=sys.stderr)
    print(f"{len(reach)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
