#!/usr/bin/env python3
"""The method table of poold, made from the IDL (the single source of the RPC contract).

Reads the .varlink files and writes, for every method:
  - its parameter schema (names, types, optional or not), from the declaration;
  - its class, from the annotation comment just above it: "# @class: read|write|data|privileged"
    (docs/security.md); a method without one fails the build;
  - its flags, from "# @flags: job overlap fd more" (optional, above the class line, which
    stays just above the declaration): "job" needs an "async: ?bool" parameter and every
    method with one needs "job";
  - its handler, pd_method_PREFIX_NAME (PREFIX per interface below, NAME the method in
    snake_case), declared in the generated header: a method without its handler does not
    link, a handler without its method has no prototype (-Wmissing-prototypes).
Usage: gen-methods.py OUT.c OUT.h FILE.varlink...     gen-methods.py --self-test
"""
import re
import sys

CLASSES = {"read": "PD_CLASS_READ", "write": "PD_CLASS_WRITE", "data": "PD_CLASS_DATA",
           "privileged": "PD_CLASS_PRIVILEGED"}
FLAGS = {"job": "PD_METHOD_JOB", "more": "PD_METHOD_NEEDS_MORE", "fd": "PD_METHOD_TAKES_FD",
         "overlap": "PD_METHOD_OVERLAP"}
TYPES = {"string": "PD_PARAM_STRING", "int": "PD_PARAM_INT", "bool": "PD_PARAM_BOOL"}
# Handler name prefix per interface (default: its last component in lower case).
PREFIXES = {"org.varlink.service": "", "io.poold.Volume": "vol"}


class IdlError(Exception):
    pass


def snake(name):
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\b)|[A-Z][a-z0-9]*|[a-z0-9]+", name)
    return "_".join(w.lower() for w in words)


def split_params(text, where):
    params = []
    depth = 0
    cur = ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur)
    out = []
    for p in params:
        name, sep, typ = p.partition(":")
        name, typ = name.strip(), typ.strip()
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise IdlError(f"{where}: cannot read parameter '{p.strip()}'")
        optional = typ.startswith("?")
        base = typ[1:] if optional else typ
        if base not in TYPES:
            raise IdlError(f"{where}: parameter '{name}' has type '{typ}': the dispatcher checks "
                           f"only string, int and bool (optional with ?)")
        out.append((name, base, optional))
    return out


def parse(text, path):
    """Returns (interface, [method dict]) of one IDL file."""
    m = re.search(r"^interface\s+([a-zA-Z][A-Za-z0-9.]*)\s*$", text, re.M)
    if not m:
        raise IdlError(f"{path}: no interface line")
    iface = m.group(1)
    methods = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        mm = re.match(r"method\s+([A-Z][A-Za-z0-9]*)\s*\(", line)
        if not mm:
            i += 1
            continue
        name = mm.group(1)
        where = f"{path}:{i + 1}: {iface}.{name}"
        # the comment block just above
        notes = {}
        j = i - 1
        while j >= 0 and lines[j].startswith("#"):
            an = re.match(r"#\s*@([a-z]+):\s*(.*?)\s*$", lines[j])
            if an:
                if an.group(1) in notes:
                    raise IdlError(f"{where}: two @{an.group(1)} annotations")
                notes[an.group(1)] = an.group(2)
            j -= 1
        # the declaration up to its input's closing parenthesis
        decl = line[mm.end():]
        k = i
        depth = 1
        args = ""
        while True:
            for ch in decl:
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                args += ch
            if depth == 0:
                break
            k += 1
            if k >= len(lines):
                raise IdlError(f"{where}: unterminated declaration")
            decl = lines[k]
            args += " "
        params = split_params(args, where)
        unknown = set(notes) - {"class", "flags"}
        if unknown:
            raise IdlError(f"{where}: unknown annotation @{sorted(unknown)[0]}")
        cls = notes.get("class")
        if cls is None:
            raise IdlError(f"{where}: no '# @class: read|write|data|privileged' just above it "
                           f"(docs/security.md)")
        if not re.match(r"#\s*@class:", lines[i - 1] if i else ""):
            raise IdlError(f"{where}: its '# @class:' line must be just above the declaration")
        if cls not in CLASSES:
            raise IdlError(f"{where}: unknown class '{cls}' (read, write, data, privileged)")
        flags = notes.get("flags", "").split()
        for f in flags:
            if f not in FLAGS:
                raise IdlError(f"{where}: unknown flag '{f}' ({', '.join(FLAGS)})")
        has_async = any(p[0] == "async" and p[1] == "bool" and p[2] for p in params)
        if ("job" in flags) != has_async:
            raise IdlError(f"{where}: a method takes 'async: ?bool' exactly when its flags "
                           f"say 'job'")
        prefix = PREFIXES.get(iface, iface.rsplit(".", 1)[-1].lower())
        handler = "pd_method_" + (prefix + "_" if prefix else "") + snake(name)
        methods.append({"name": f"{iface}.{name}", "params": params, "class": cls,
                        "flags": flags, "handler": handler})
        i = k + 1
    return iface, methods


def generate(paths):
    methods = []
    seen = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            _, ms = parse(f.read(), path)
        for m in ms:
            if m["name"] in seen:
                raise IdlError(f"{path}: {m['name']} declared twice")
            seen.add(m["name"])
            methods.append(m)
    if not methods:
        raise IdlError("no methods in " + " ".join(paths))
    c = ["/* Generated from the IDL by daemon/rpc/schema/gen-methods.py: do not edit. */",
         '#include "daemon/api/pd-methods.h"', "", '#include "daemon/rpc/dispatch.h"', ""]
    for n, m in enumerate(methods):
        if not m["params"]:
            continue
        c.append(f"static const PdParamSpec p{n}[] = {{ /* {m['name']} */")
        for name, typ, optional in m["params"]:
            c.append(f'    {{"{name}", {TYPES[typ]}, {"false" if optional else "true"}}},')
        c.append("    {NULL, 0, false},")
        c.append("};")
    c.append("")
    c.append("static const PdMethod methods[] = {")
    for n, m in enumerate(methods):
        flags = " | ".join(FLAGS[f] for f in m["flags"]) or "0"
        params = f"p{n}" if m["params"] else "NULL"
        c.append(f'    {{"{m["name"]}", {m["handler"]}, {params}, {CLASSES[m["class"]]}, {flags}}},')
    c.append("    {NULL, NULL, NULL, PD_CLASS_NONE, 0},")
    c.append("};")
    c.append("")
    c.append("const PdMethod *pd_method_table(void)\n{\n    return methods;\n}\n")
    c.append("const PdMethod *pd_method_lookup(const char *name)\n{\n"
             "    return pd_method_find(methods, name);\n}")
    h = ["/* Generated from the IDL by daemon/rpc/schema/gen-methods.py: do not edit.",
         " * The method table and the handler of each method (api/). */",
         "#pragma once", "", '#include "daemon/rpc/method.h"', "", "G_BEGIN_DECLS", "",
         "/* The method table, terminated by an entry with name NULL. */",
         "const PdMethod *pd_method_table(void);",
         "const PdMethod *pd_method_lookup(const char *name);", ""]
    for m in methods:
        h.append(f"void {m['handler']}(PdDaemon *daemon, PdCall *call, JsonObject *params);")
    h += ["", "G_END_DECLS"]
    return "\n".join(c) + "\n", "\n".join(h) + "\n"


def self_test():
    """The generator's own checks: each bad IDL must be refused with its reason."""
    good = "interface a.b\n# @class: read\nmethod Get(x: string, y: ?int) -> ()\n"
    _, ms = parse(good, "good")
    assert ms[0]["params"] == [("x", "string", False), ("y", "int", True)], ms
    assert ms[0]["handler"] == "pd_method_b_get", ms
    assert snake("DumpXML") == "dump_xml" and snake("GetInterfaceDescription") == \
        "get_interface_description" and snake("BlkList") == "blk_list"
    multi = "interface a.b\n# @flags: job\n# @class: write\nmethod M(a: string,\n  async: ?bool) ->\n  ()\n"
    assert parse(multi, "multi")[1][0]["flags"] == ["job"]
    bad = {
        "no class": "interface a.b\nmethod M() -> ()\n",
        "unknown class": "interface a.b\n# @class: root\nmethod M() -> ()\n",
        "unknown flag": "interface a.b\n# @class: read\n# @flags: fast\nmethod M() -> ()\n",
        "job without async": "interface a.b\n# @class: write\n# @flags: job\nmethod M() -> ()\n",
        "async without job": "interface a.b\n# @class: write\nmethod M(async: ?bool) -> ()\n",
        "type": "interface a.b\n# @class: read\nmethod M(x: []string) -> ()\n",
        "annotation": "interface a.b\n# @class: read\n# @klass: read\nmethod M() -> ()\n",
        "no interface": "# @class: read\nmethod M() -> ()\n",
        "class not last": "interface a.b\n# @class: write\n# @flags: job\nmethod M(async: ?bool) -> ()\n",
    }
    for what, text in bad.items():
        try:
            parse(text, what)
        except IdlError:
            continue
        raise AssertionError(f"a bad IDL was accepted: {what}")
    print("gen-methods self-test ok:", len(bad), "bad IDLs refused")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        c, h = generate(sys.argv[3:])
    except IdlError as e:
        print(f"gen-methods: {e}", file=sys.stderr)
        return 1
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(c)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(h)
    return 0


if __name__ == "__main__":
    sys.exit(main())
