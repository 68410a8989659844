#!/usr/bin/env python3
"""Derives the JSON Schemas that the SendGrid and Mailchimp client tests validate request bodies with.

    scripts/derive-provider-schemas.py SENDGRID_TSG_MAIL_V3_JSON MAILCHIMP_LIST_MEMBER_PUT_YAML [OUT_DIR]

The inputs are the official OpenAPI descriptions (twilio/sendgrid-oai `spec/json/tsg_mail_v3.json`,
and an extract of Mailchimp's Marketing API holding `PUT /lists/{list_id}/members/{subscriber_hash}`).
They are not part of this repository, so the tests cannot read them: this script turns each
operation's request body into a self-contained JSON Schema (draft 2020-12) and writes
`sendgrid-mail-send.schema.json` and `mailchimp-put-member.schema.json` to OUT_DIR (by default
`shared/clients/schemas`). Run it again when a spec changes and review the diff.

What it does, so the result can be checked by hand:
- inlines every `$ref` (a `$ref` with sibling keywords is merged with them, as OpenAPI 3.1 allows);
- keeps the validation keywords (`type`, `properties`, `required`, `items`, `enum`, `format`,
  `additionalProperties` schemas, min/max lengths, items and properties, `uniqueItems`, `pattern`);
- drops prose and annotations (`description`, `title`, `example(s)`, `default`, `readOnly`, `x-*`);
- closes every object that lists its properties (`additionalProperties: false`): the specs leave
  them open, but a client that sends a field the spec does not name has a bug (usually a typo);
- applies the ERRATA below, each checked against the value it replaces, so a fixed spec makes the
  script stop instead of patching blindly;
- stops on any keyword it does not know, rather than silently dropping a constraint.

Needs PyYAML (Debian: python3-yaml).
"""
import copy
import hashlib
import json
import pathlib
import sys

import yaml

KEEP = {
    "type", "properties", "required", "items", "enum", "format", "additionalProperties",
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems", "pattern",
}
DROP = {"description", "title", "example", "examples", "default", "readOnly"}

SENDGRID_LICENCE = (
    "MIT License. Copyright (c) 2024 Twilio. Permission is hereby granted, free of charge, to any "
    "person obtaining a copy of this software and associated documentation files (the \"Software\"), "
    "to deal in the Software without restriction, including without limitation the rights to use, "
    "copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to "
    "permit persons to whom the Software is furnished to do so, subject to the following conditions: "
    "The above copyright notice and this permission notice shall be included in all copies or "
    "substantial portions of the Software. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY "
    "KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS "
    "FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS "
    "BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR "
    "OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS "
    "IN THE SOFTWARE."
)

PROVIDERS = {
    "sendgrid": {
        "out": "sendgrid-mail-send.schema.json",
        "path": "/v3/mail/send",
        "method": "post",
        "source": (
            "twilio/sendgrid-oai spec/json/tsg_mail_v3.json (commit "
            "dbe0e0d2e67a0c3c55b222d54df2acda2b9027a7), request body of POST /v3/mail/send"
        ),
        "licence": SENDGRID_LICENCE,
        # Top-level `custom_args` is typed `string` in the spec, but SendGrid (and its own helper
        # libraries) use an object of strings, as the spec does for `personalizations[].custom_args`.
        # Our client sends custom_args in the personalization, so this spec error does not affect it;
        # it is left as published.
        "errata": [],
    },
    "mailchimp": {
        "out": "mailchimp-put-member.schema.json",
        "path": "/lists/{list_id}/members/{subscriber_hash}",
        "method": "put",
        "source": (
            "Mailchimp Marketing API 3.0.55 (mailchimp/mailchimp-client-lib-codegen spec/marketing.json, "
            "as re-serialised in Hevelop/go-client-mailchimp-marketing-api api/openapi.yaml at commit "
            "56e0b7a4da1e655dfbc9d806343b384494362ed7), request body (Add_List_Members_2) of PUT "
            "/lists/{list_id}/members/{subscriber_hash}"
        ),
        "licence": (
            "The official spec is under the proprietary Mailchimp Client Library License Agreement "
            "(mailchimp/mailchimp-client-lib-codegen LICENSE); the re-serialisation has no licence "
            "file. This file keeps only field names, types, enums and required lists, no prose; "
            "check the terms before redistributing it."
        ),
        "errata": [
            {
                "pointer": "/properties/merge_fields/additionalProperties",
                "published": {"type": "object"},
                "replacement": {"type": ["string", "number", "object"]},
                "why": (
                    "merge field values are strings (text, date, phone, ...), numbers, or objects "
                    "(address); the spec's `object` would reject {\"FNAME\": \"Ada\"}, the documented usage"
                ),
            }
        ],
    },
}


def load(path):
    text = pathlib.Path(path).read_text(encoding="utf-8")
    document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    return document, hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve(document, node):
    """Follows `$ref`s (local `#/...` pointers only) until `node` is not a reference."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SystemExit(f"unsupported non-local $ref {ref}")
        target = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings}
    return node


def derive(document, node, where, seen=()):
    node = resolve(document, node)
    if not isinstance(node, dict):
        raise SystemExit(f"{where}: expected a schema object, found {node!r}")
    if id(node) in seen:
        raise SystemExit(f"{where}: recursive schema")
    seen = (*seen, id(node))
    schema = {}
    for key, value in node.items():
        if key in DROP or key.startswith("x-"):
            continue
        if key not in KEEP:
            raise SystemExit(f"{where}: unknown keyword {key!r}; decide whether to keep or drop it")
        if key == "properties":
            schema[key] = {name: derive(document, sub, f"{where}/{name}", seen) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and not isinstance(value, bool):
            schema[key] = derive(document, value, f"{where}/{key}", seen)
        else:
            schema[key] = copy.deepcopy(value)
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return schema


def apply_erratum(schema, erratum):
    *parents, last = erratum["pointer"].lstrip("/").split("/")
    target = schema
    for part in parents:
        target = target[part]
    if target.get(last) != erratum["published"]:
        raise SystemExit(
            f"erratum at {erratum['pointer']} expected {erratum['published']}, found {target.get(last)}: "
            "the spec changed; review the erratum"
        )
    target[last] = erratum["replacement"]


def request_body_schema(name, provider, spec_path):
    document, digest = load(spec_path)
    operation = document["paths"][provider["path"]][provider["method"]]
    body = resolve(document, operation["requestBody"])
    schema = derive(document, body["content"]["application/json"]["schema"], provider["path"])
    for erratum in provider["errata"]:
        apply_erratum(schema, erratum)
    errata = "; ".join(f"{e['pointer']} set to {json.dumps(e['replacement'])} because {e['why']}" for e in provider["errata"])
    comment = (
        f"Derived by scripts/derive-provider-schemas.py from {provider['source']}; "
        f"spec info.version {document['info']['version']}, input sha256 {digest}. "
        "$refs inlined; kept: type, properties, required, items, enum, format, additionalProperties, "
        "min/max lengths, items and properties, uniqueItems, pattern; dropped: descriptions, titles, "
        "examples, defaults, readOnly, x-* extensions. Tightened: objects that list their properties "
        "are closed (additionalProperties: false) so a misspelt field fails. "
        f"Errata: {errata or 'none'}. Licence of the source: {provider['licence']}"
    )
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": comment, **schema}


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    out_dir = pathlib.Path(argv[3]) if len(argv) == 4 else pathlib.Path(__file__).resolve().parent.parent / "shared/clients/schemas"
    out_dir.mkdir(parents=True, exist_ok=True)
    for (name, provider), spec_path in zip(PROVIDERS.items(), argv[1:3]):
        schema = request_body_schema(name, provider, spec_path)
        out = out_dir / provider["out"]
        out.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
