#!/usr/bin/env python3
"""Derives the JSON Schema of PayPal's create-order request body: the PayPal client's tests validate
what the client sends with it, and the emulator's local PayPal checks what it receives with it.

    scripts/derive-paypal-schema.py CHECKOUT_ORDERS_V2_JSON [OUT_DIR]

The input is PayPal's official OpenAPI description of Orders v2 (paypal/paypal-rest-api-specifications
`openapi/checkout_orders_v2.json`, Apache-2.0). It is not part of this repository, so the tests cannot
read it: this script turns the request body of `POST /v2/checkout/orders` (`order_request`) into a
self-contained JSON Schema (draft 2020-12) and writes `paypal-order-request.schema.json` to OUT_DIR
(by default `shared/clients/schemas`). Run it again when the spec changes and review the diff.

It applies the rules of scripts/derive-provider-schemas.py (imported from there: `$ref`s inlined,
validation keywords kept, prose dropped, objects that list their properties closed, unknown keywords
stop the script), after two steps that PayPal's spec needs and the others do not:
- `allOf` (how PayPal extends a schema, e.g. `card_request` = `card` + vaulting fields) is merged into
  one object, so that closing it does not reject the fields of the other branches; a property defined
  differently by two branches stops the script;
- `deprecated` is dropped (an annotation; `payer` is deprecated but still accepted).
"""
import copy
import importlib.util
import json
import pathlib
import sys

SCRIPTS = pathlib.Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
_spec = importlib.util.spec_from_file_location("provider_schemas", SCRIPTS / "derive-provider-schemas.py")
provider_schemas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provider_schemas)

PATH, METHOD = "/v2/checkout/orders", "post"
OUT = "paypal-order-request.schema.json"
SOURCE = (
    "paypal/paypal-rest-api-specifications openapi/checkout_orders_v2.json (Apache License 2.0, "
    "Copyright PayPal), request body of POST /v2/checkout/orders (operationId orders.create)"
)


def merge(into, branch, where):
    """Adds one resolved `allOf` branch to `into`: properties and required lists are united."""
    for key, value in branch.items():
        if key == "properties":
            properties = into.setdefault("properties", {})
            for name, sub in value.items():
                if name in properties and properties[name] != sub:
                    raise SystemExit(f"{where}: allOf branches define {name!r} differently")
                properties[name] = sub
        elif key == "required":
            into["required"] = into.get("required", []) + [r for r in value if r not in into.get("required", [])]
        elif key in ("description", "title"):
            into.setdefault(key, value)
        elif key in into and into[key] != value:
            raise SystemExit(f"{where}: allOf branches disagree on {key!r}")
        else:
            into[key] = value


def prepare(document, node, where):
    """In place, on one schema and the schemas inside it: merges `allOf`, drops `deprecated`."""
    if not isinstance(node, dict):
        return node
    node.pop("deprecated", None)
    for name, sub in node.get("properties", {}).items():
        prepare(document, sub, f"{where}/{name}")
    for key in ("items", "additionalProperties"):
        prepare(document, node.get(key), f"{where}/{key}")
    for i, branch in enumerate(node.pop("allOf", [])):
        resolved = provider_schemas.resolve(document, branch)
        merge(node, prepare(document, copy.deepcopy(resolved), f"{where}/allOf/{i}"), where)
    return node


def reached(document, node, names):
    """The names of the components that `node` refers to, directly or not."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if ref and name not in names:
            names.add(name)
            reached(document, provider_schemas.resolve(document, {"$ref": ref}), names)
        for value in node.values():
            reached(document, value, names)
    elif isinstance(node, list):
        for value in node:
            reached(document, value, names)
    return names


def main(argv):
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    out_dir = pathlib.Path(argv[2]) if len(argv) == 3 else SCRIPTS.parent / "shared/clients/schemas"
    document, digest = provider_schemas.load(argv[1])
    body = provider_schemas.resolve(document, document["paths"][PATH][METHOD]["requestBody"])
    root = body["content"]["application/json"]["schema"]
    components = sorted(reached(document, root, set()))
    for name in components:
        prepare(document, document["components"]["schemas"][name], name)
    schema = provider_schemas.derive(document, root, PATH)
    comment = (
        f"Derived by scripts/derive-paypal-schema.py from {SOURCE}; spec info.version "
        f"{document['info']['version']}, input sha256 {digest}. Parts: order_request and every "
        f"component it reaches, inlined: {', '.join(components)}. allOf merged into one object; kept as "
        "published: type, properties, required, items, enum, format, pattern, minLength/maxLength, "
        "minItems/maxItems, minimum/maximum; dropped: descriptions, titles, examples, defaults, "
        "readOnly, deprecated. Tightened: objects that list their properties are closed "
        "(additionalProperties: false) so a misspelt field fails."
    )
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": comment, **schema}
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / OUT
    out.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
