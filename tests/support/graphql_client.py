#!/usr/bin/env python3
"""An independent GraphQL client against a running Passerelle: graphql-core's
standard introspection query, the client schema it builds, and every
operation the pages send, validated against it.

    graphql_client.py <graphql url> <committed sdl> <source file or dir>...

Checks that:
- the standard introspection query (descriptions, specifiedByURL,
  isRepeatable, the schema's description, deprecated arguments: the deepest
  `ofType` chain) is answered without errors;
- the client schema built from it is the committed SDL: the same printed
  schema once both are sorted, and no breaking or dangerous change either
  way;
- each GraphQL document written as a Rust string literal in the sources
  (the pages' operations, the exports') parses and validates against it,
  selecting no deprecated field.

Prints a JSON summary on success; on failure, says what differs on stderr
and exits 1. Needs graphql-core (scripts/test installs it).
"""

import difflib
import json
import pathlib
import re
import sys
import urllib.request

import graphql

# The independent client the suite was checked with: another release may
# print or validate differently (scripts/test installs this one).
PINNED = "3.2.8"
if graphql.__version__ != PINNED:
    sys.exit(f"graphql-core {graphql.__version__} found, {PINNED} needed: pip install graphql-core=={PINNED}")

from graphql import (
    GraphQLError,
    build_client_schema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    get_introspection_query,
    lexicographic_sort_schema,
    parse,
    print_schema,
    specified_rules,
    validate,
)
from graphql.validation import NoDeprecatedCustomRule


def post(url, body):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


# A Rust string literal: raw (r"…", r#"…"#) or with escapes.
LITERAL = re.compile(r'(?P<raw>r(?P<hashes>#*)"(?P<rawbody>.*?)"(?P=hashes))|"(?P<body>(?:[^"\\]|\\.)*)"', re.S)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "\n":  # a line continuation skips the next line's indent
            i += 2
            while i < len(body) and body[i] in " \t\n":
                i += 1
        elif nxt == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
        else:
            out.append(ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


# An operation, or a query's shorthand (`{ people … }`, the brace followed by
# a space as the sources write it, unlike format strings' `{name}`).
DOCUMENT = re.compile(r"^\s*(?:(?:query|mutation|subscription)\b|\{\s+[A-Za-z_])")
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*)\}(?!\})")
FIELD_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
# A fragment written on its own, which documents of other files spread
# (`...Version`) and append before they are sent.
FRAGMENT = re.compile(r"^\s*fragment\s+([A-Za-z_][A-Za-z0-9_]*)\s+on\b")
SPREAD = re.compile(r"\.\.\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def documents(path):
    """The GraphQL documents written in a Rust file: (line, text, is_format)."""
    source = path.read_text()
    found, names = [], set()
    for m in LITERAL.finditer(source):
        text = m.group("rawbody") if m.group("raw") else unescape(m.group("body"))
        if FIELD_NAME.match(text):
            names.add(text)
        is_format = source[: m.start()].rstrip().endswith("format!(")
        if not DOCUMENT.match(text.replace("{{", "{") if is_format else text):
            continue
        line = source.count("\n", 0, m.start()) + 1
        found.append((line, text, is_format))
    return found, names


def fragments(args):
    """The fragments written as literals of their own, by name."""
    found = {}
    for path in sources(args):
        for m in LITERAL.finditer(path.read_text()):
            text = m.group("rawbody") if m.group("raw") else unescape(m.group("body"))
            named = FRAGMENT.match(text)
            if named:
                found[named.group(1)] = text
    return found


def with_fragments(text, known):
    """`text` with the fragments it spreads but does not define appended,
    as the pages append them."""
    defined = {m.group(1) for m in re.finditer(r"\bfragment\s+([A-Za-z_][A-Za-z0-9_]*)", text)}
    wanted = [n for n in dict.fromkeys(SPREAD.findall(text)) if n not in defined and n != "on"]
    return text + "".join(known[n] for n in wanted if n in known)


def sources(args):
    for arg in args:
        p = pathlib.Path(arg)
        yield from (sorted(p.rglob("*.rs")) if p.is_dir() else [p])


def check_operations(schema, args):
    """Validates every document; a format! template is valid when one of the
    field names written in its file fills it, and each such name that is a
    root field fills one of the file's templates."""
    roots = set()
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        if root is not None:
            roots.update(root.fields)
    failures, count = [], 0
    known = fragments(args)
    for path in sources(args):
        found, names = documents(path)
        candidates = sorted(names & roots)
        templates, filled = [], set()
        for line, text, is_format in found:
            where = f"{path}:{line}"
            if not is_format:
                count += 1
                failures += [f"{where}: {e}" for e in errors(schema, with_fragments(text, known))]
                continue
            templates.append(where)
            text = text.replace("{{", "\0").replace("}}", "\1")
            placeholders = set(PLACEHOLDER.findall(text))
            fits = []
            for name in candidates:
                filled_text = PLACEHOLDER.sub(name, text).replace("\0", "{").replace("\1", "}")
                if not errors(schema, filled_text):
                    fits.append(name)
            count += 1
            if placeholders and not fits:
                failures.append(f"{where}: no field named in {path.name} fills this template")
            elif not placeholders:
                plain = text.replace("\0", "{").replace("\1", "}")
                failures += [f"{where}: {e}" for e in errors(schema, plain)]
            filled.update(fits)
        if templates:
            for name in candidates:
                used_as_template_argument = re.search(
                    r'(?:one\(|=\s*if\b[^;]*?|\belse\s*\{\s*)"' + re.escape(name) + '"', path.read_text()
                )
                if used_as_template_argument and name not in filled:
                    failures.append(f"{path}: {name} fills none of the file's templates")
    return count, failures


def errors(schema, text):
    try:
        document = parse(text)
    except GraphQLError as e:
        return [f"syntax: {e.message}"]
    # The pages use no deprecated field: each has its typed replacement.
    rules = [*specified_rules, NoDeprecatedCustomRule]
    return [e.message for e in validate(schema, document, rules)]


def main(url, sdl_path, *source_args):
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    answer = post(url, {"query": query})
    if answer.get("errors") or not answer.get("data"):
        print("the standard introspection query was refused:", json.dumps(answer)[:2000], file=sys.stderr)
        return 1
    client = build_client_schema(answer["data"])
    committed = build_schema(pathlib.Path(sdl_path).read_text())

    failed = False
    printed_client = print_schema(lexicographic_sort_schema(client))
    printed_committed = print_schema(lexicographic_sort_schema(committed))
    if printed_client != printed_committed:
        failed = True
        diff = difflib.unified_diff(
            printed_committed.splitlines(),
            printed_client.splitlines(),
            "committed SDL",
            "introspected schema",
            lineterm="",
        )
        print("\n".join(list(diff)[:200]), file=sys.stderr)
    changes = [
        ("breaking, committed -> served", find_breaking_changes(committed, client)),
        ("breaking, served -> committed", find_breaking_changes(client, committed)),
        ("dangerous, committed -> served", find_dangerous_changes(committed, client)),
        ("dangerous, served -> committed", find_dangerous_changes(client, committed)),
    ]
    for what, found in changes:
        for change in found:
            failed = True
            print(f"{what}: {change.description}", file=sys.stderr)

    count, failures = check_operations(client, source_args)
    for failure in failures:
        failed = True
        print(failure, file=sys.stderr)
    if count == 0:
        failed = True
        print("no GraphQL document found in", source_args, file=sys.stderr)

    print(json.dumps({"types": len(client.type_map), "operations": count, "ok": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
