"""Kubernetes' own OpenAPI document turned into the JSON schemas kubeconform validates manifests against.

kubeconform fetches its schemas from the internet by default, which these machines cannot reach. The
schemas it uses are generated from Kubernetes' ``api/openapi-spec/swagger.json``; the same file ships in
the ``k8s.io/kubernetes`` Go module, which the Go module proxy serves. This module does that conversion
the way kubeconform's upstream schemas are made ("standalone-strict"):

- one file per kind and API version, named as kubeconform looks it up (``deployment-apps-v1.json``,
  ``configmap-v1.json``: ``{{ .ResourceKind }}{{ .KindSuffix }}.json``), every definition it refers to
  copied into its own ``definitions`` (standalone);
- strict: an object schema that lists properties refuses any other (``additionalProperties: false``),
  so a misspelt field is an error, as the API server's field validation makes it;
- ``apiVersion`` and ``kind`` only take the values of the kind's group-version-kinds;
- ``IntOrString`` accepts a string or an integer, ``Quantity`` a string or a number (as kubectl does);
- an optional field of a plain type may be ``null`` (the API server treats it as absent; templates
  often render it).

Descriptions are dropped: they are most of the file and no validation reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["convert", "schema_file_name"]

Schema = dict[str, Any]

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_PATCHED: dict[str, Schema] = {
    _INT_OR_STRING: {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    _QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}]},
}
#: schema keywords kept (swagger 2.0 uses no others that validate)
_KEPT = frozenset(
    {
        "type",
        "format",
        "enum",
        "required",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
    }
)
_REF_PREFIX = "#/definitions/"


def schema_file_name(group: str, version: str, kind: str) -> str:
    """The file kubeconform reads for a kind: its template ``{{ .ResourceKind }}{{ .KindSuffix }}``."""
    suffix = f"-{group.split('.')[0].lower()}" if group else ""
    return f"{kind.lower()}{suffix}-{version.lower()}.json"


def _nullable(schema: Schema) -> Schema:
    # only typed values; a reference stays an object (as in kubeconform's own schemas)
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return schema


def _convert(schema: Schema, needed: set[str]) -> Schema:
    """One schema with its references noted in ``needed``; strict and nullable as the module says."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(_REF_PREFIX)
        needed.add(name)
        return {"$ref": _REF_PREFIX + name}
    out: Schema = {key: value for key, value in schema.items() if key in _KEPT}
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            out[key] = [_convert(item, needed) for item in schema[key]]
    if "items" in schema:
        out["items"] = _convert(schema["items"], needed)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _convert(extra, needed)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    if "properties" in schema:
        required = set(schema.get("required", ()))
        properties = {}
        for name, sub in schema["properties"].items():
            converted = _convert(sub, needed)
            properties[name] = converted if name in required else _nullable(converted)
        out["properties"] = properties
        out.setdefault("additionalProperties", False)
    return out


def _kind_schema(definitions: dict[str, Schema], name: str) -> Schema:
    """A kind's schema with every definition it reaches, transitively, in its own ``definitions``."""
    root = dict(definitions[name])
    kinds = root["x-kubernetes-group-version-kind"]
    versions = sorted({f"{k['group']}/{k['version']}" if k["group"] else k["version"] for k in kinds})
    properties = dict(root.get("properties", {}))
    if "apiVersion" in properties:
        properties["apiVersion"] = {"type": "string", "enum": versions}
    if "kind" in properties:
        properties["kind"] = {"type": "string", "enum": sorted({k["kind"] for k in kinds})}
    root["properties"] = properties
    needed: set[str] = set()
    schema = _convert(root, needed)
    schema["type"] = "object"
    schema["$schema"] = "http://json-schema.org/draft-04/schema#"
    copied: dict[str, Schema] = {}
    while pending := needed - copied.keys():
        for ref in sorted(pending):
            copied[ref] = _convert(definitions[ref], needed)
    if copied:
        schema["definitions"] = dict(sorted(copied.items()))
    return schema


def _kinds(definitions: dict[str, Schema]) -> Iterator[tuple[str, str, str, str]]:
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            yield name, gvk["group"], gvk["version"], gvk["kind"]


def convert(swagger: Path, target: Path) -> int:
    """Write one schema per kind of ``swagger`` (Kubernetes' swagger.json) into ``target``; the count."""
    definitions: dict[str, Schema] = json.loads(swagger.read_text())["definitions"]
    definitions.update(_PATCHED)
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, group, version, kind in _kinds(definitions):
        if kind in ("WatchEvent", "DeleteOptions", "Status", "APIResourceList"):
            continue  # meta kinds listed under every group; no manifest declares them
        path = target / schema_file_name(group, version, kind)
        path.write_text(json.dumps(_kind_schema(definitions, name), separators=(",", ":")))
        written += 1
    return written
