# SPDX-License-Identifier: Apache-2.0
"""A small JSON Schema (draft 2020-12) validator for the tests: type,
enum, const, required, properties, additionalProperties, items, minimum,
maximum, maxItems, maxLength, pattern, allOf, $ref (within a document and
across the documents loaded into one Registry by their $id), and the formats
uuid, date-time and uri.  Enough for the OpenLineage and lineage-record
schemas; stdlib only (PyPI is out of reach here)."""

import json
import re

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Registry:
    def __init__(self):
        self.docs = {}

    def add_file(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.docs[doc["$id"]] = doc
        return doc

    def resolve(self, ref, base):
        url, _, frag = ref.partition("#")
        doc = self.docs[url] if url else base
        node = doc
        for part in [p for p in frag.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, doc

    def errors(self, value, schema, doc, path="$"):
        """Returns a list of "path: problem" strings (empty when valid)."""
        out = []
        if schema is True or schema == {}:
            return out
        if schema is False:
            return [path + ": no value allowed"]
        if "$ref" in schema:
            target, tdoc = self.resolve(schema["$ref"], doc)
            out += self.errors(value, target, tdoc, path)
        for sub in schema.get("allOf", []):
            out += self.errors(value, sub, doc, path)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(TYPES[t](value) for t in types):
                return out + ["%s: expected %s, got %r" % (path, "/".join(types), value)]
        if "enum" in schema and value not in schema["enum"]:
            out.append("%s: %r not in %r" % (path, value, schema["enum"]))
        if "const" in schema and value != schema["const"]:
            out.append("%s: expected %r" % (path, schema["const"]))
        if isinstance(value, str):
            fmt = schema.get("format")
            if fmt == "uuid" and not UUID.match(value):
                out.append(path + ": not a uuid")
            if fmt == "date-time" and not DATE_TIME.match(value):
                out.append(path + ": not a date-time")
            if fmt == "uri" and not URI.match(value):
                out.append(path + ": not a uri")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                out.append("%s: does not match %s" % (path, schema["pattern"]))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(path + ": too long")
        if TYPES["number"](value):
            if "minimum" in schema and value < schema["minimum"]:
                out.append(path + ": below minimum")
            if "maximum" in schema and value > schema["maximum"]:
                out.append(path + ": above maximum")
        if isinstance(value, dict):
            for k in schema.get("required", []):
                if k not in value:
                    out.append("%s: missing %s" % (path, k))
            props = schema.get("properties", {})
            for k, v in value.items():
                if k in props:
                    out += self.errors(v, props[k], doc, path + "." + k)
                elif "additionalProperties" in schema:
                    out += self.errors(v, schema["additionalProperties"], doc, path + "." + k)
        if isinstance(value, list):
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append(path + ": too many items")
            if "items" in schema:
                for i, v in enumerate(value):
                    out += self.errors(v, schema["items"], doc, "%s[%d]" % (path, i))
        return out
