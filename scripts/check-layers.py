#!/usr/bin/env python3
"""Checks daemon/'s #include edges against the allowed order written in docs/architecture.md.

The document holds the order in a fenced block marked `layers`: one line per folder of
daemon/, "NAME: the layers it uses directly". A layer may include its own headers and those
of every layer it reaches through that list (downward); anything else is an upward (or
sideways) include and fails. Also fails when a folder of daemon/ holding C files is not a
layer, a layer names an unknown one, or the order has a cycle. daemon/main.c may use all.
Usage: check-layers.py [--root DIR] [--stamp FILE]   (exit 0: ok, 1: violations)
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"daemon/([^/"]+)/[^"]+"', re.M)


def read_layers(doc):
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"^```layers\n(.*?)^```", text, re.M | re.S)
    if not m:
        sys.exit(f"{doc}: no ```layers block")
    layers = {}
    for n, line in enumerate(m.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, uses = line.partition(":")
        layers[name.strip()] = uses.split()
    return layers


def closure(layers, problems):
    """Every layer's reachable set; reports unknown names and cycles."""
    for name, uses in layers.items():
        for u in uses:
            if u not in layers:
                problems.append(f"docs/architecture.md: layer {name} uses unknown layer {u}")
    reach = {}

    def visit(name, stack):
        if name in reach:
            return reach[name]
        if name in stack:
            problems.append("docs/architecture.md: cycle " + " -> ".join(stack + [name]))
            return set()
        out = set()
        for u in layers.get(name, []):
            if u in layers:
                out |= {u} | visit(u, stack + [name])
        reach[name] = out
        return out

    for name in layers:
        visit(name, [])
    return reach


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=".")
    ap.add_argument("--stamp")
    args = ap.parse_args()
    root = args.root
    layers = read_layers(os.path.join(root, "docs", "architecture.md"))
    problems = []
    reach = closure(layers, problems)
    daemon = os.path.join(root, "daemon")
    for entry in sorted(os.listdir(daemon)):
        path = os.path.join(daemon, entry)
        if not os.path.isdir(path):
            continue
        has_c = any(f.endswith((".c", ".h")) for _, _, fs in os.walk(path) for f in fs)
        if has_c and entry not in layers:
            problems.append(f"daemon/{entry}/: not a layer of docs/architecture.md")
    for dirpath, _, files in os.walk(daemon):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, root)
            parts = rel.split(os.sep)
            if len(parts) == 2:  # daemon/main.c, daemon/layer-check.c: the top
                continue
            layer = parts[1]
            allowed = {layer} | reach.get(layer, set())
            text = open(full, encoding="utf-8", errors="replace").read()
            for m in INCLUDE.finditer(text):
                target = m.group(1)
                if target not in allowed:
                    line = text.count("\n", 0, m.start()) + 1
                    problems.append(f"{rel}:{line}: {layer}/ may not include daemon/{target}/ "
                                    f"(it may use: {' '.join(sorted(allowed - {layer})) or 'none'})")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violation(s); the order is in docs/architecture.md")
        return 1
    print(f"layers ok: {len(layers)} layers")
    if args.stamp:
        open(args.stamp, "w").write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
