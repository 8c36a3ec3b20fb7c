#!/usr/bin/env python3
"""Release checks that need cargo's metadata, for .ci/run.

  release-checks.py libraries        the published (library) packages, one a line
  release-checks.py msrv             fails when a normal dependency of a library
                                     declares a rust-version above the workspace's
  release-checks.py readme-links PKG fails when PKG's README links to a relative path
                                     that its package does not contain
  release-checks.py problem-codes    fails when a library's source has a problem code
                                     (a SCREAMING_SNAKE string) not in PROBLEM_CODES
  release-checks.py problem-anchors DOC_DIR
                                     fails when the docs.rs-style page of
                                     portcullis_core::problem lacks an anchor for a code
"""
import json
import re
import subprocess
import sys
from pathlib import Path


def metadata(no_deps):
    command = ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"]
    if no_deps:
        command.append("--no-deps")
    else:
        host = re.search(r"^host: (\S+)", subprocess.check_output(["rustc", "-vV"], text=True), re.M)
        command += ["--filter-platform", host.group(1)]
    return json.loads(subprocess.check_output(command))


def libraries(meta):
    return [
        package
        for package in meta["packages"]
        if package["name"].startswith("portcullis-") and package.get("publish") != []
    ]


def version_tuple(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def check_msrv():
    meta = metadata(no_deps=False)
    by_id = {package["id"]: package for package in meta["packages"]}
    nodes = {node["id"]: node for node in meta["resolve"]["nodes"]}
    ours = libraries(meta)
    declared = {package["rust_version"] for package in ours}
    if len(declared) != 1 or None in declared:
        sys.exit(f"msrv: the library crates declare {sorted(map(str, declared))}, not one rust-version")
    msrv = declared.pop()
    # Every package a library reaches through normal dependencies (and their build
    # dependencies, which compile with the same toolchain).
    seen, stack = set(), [package["id"] for package in ours]
    while stack:
        node = nodes[stack.pop()]
        if node["id"] in seen:
            continue
        seen.add(node["id"])
        for dep in node["deps"]:
            kinds = {kind["kind"] for kind in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                stack.append(dep["pkg"])
    too_new = sorted(
        f"{by_id[id]['name']} {by_id[id]['version']} needs Rust {by_id[id]['rust_version']}"
        for id in seen
        if by_id[id].get("rust_version")
        and version_tuple(by_id[id]["rust_version"]) > version_tuple(msrv)
    )
    if too_new:
        sys.exit(f"msrv: our rust-version is {msrv}, but\n  " + "\n  ".join(too_new))
    print(f"msrv: {len(seen)} packages reached by the libraries; none declares a rust-version above {msrv}")


def check_readme_links(name):
    meta = metadata(no_deps=True)
    (package,) = [p for p in meta["packages"] if p["name"] == name]
    root = Path(package["manifest_path"]).parent
    readme = root / "README.md"
    if not readme.exists():
        sys.exit(f"{name}: no README.md")
    listed = set(
        subprocess.check_output(
            ["cargo", "package", "--list", "--locked", "--allow-dirty", "-p", name], text=True
        ).split()
    )
    for required in ["README.md", "CHANGELOG.md", "LICENSE-MIT", "LICENSE-APACHE"]:
        if required not in listed:
            sys.exit(f"{name}: the package does not contain {required}")
    text = readme.read_text()
    # Inline links and reference definitions; code blocks cannot hold links.
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    # A reference definition cannot interrupt a paragraph: it follows a blank line or
    # another definition.
    previous_ends_paragraph = True
    for line in text.splitlines():
        definition = re.match(r"^\[[^\]]+\]:\s*(\S+)", line)
        if definition and previous_ends_paragraph:
            targets.append(definition.group(1))
        previous_ends_paragraph = not line.strip() or bool(definition and previous_ends_paragraph)
    missing = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if path and path not in listed:
            missing.append(target)
    if missing:
        sys.exit(f"{name}: README.md links to {missing}, which the package does not contain "
                 "(crates.io cannot follow a link out of the package: use an absolute URL)")
    print(f"{name}: README.md, CHANGELOG.md and both licences are packaged; {len(targets)} links checked")


def problem_codes():
    source = Path("core/src/problem.rs").read_text()
    table = source.split("pub const PROBLEM_CODES", 1)[1].split("];", 1)[0]
    return re.findall(r'^\s+"([A-Z][A-Z0-9_]+)",$', table, flags=re.M)


# SCREAMING_SNAKE strings in the libraries that are not problem codes.
NOT_PROBLEM_CODES = {
    "CARGO_MANIFEST_DIR",  # an environment variable
    "CORS_FORBIDDEN",  # core's own unit tests of `Problem`
    "PORTCULLIS_MALFORMED",  # the Redis script's marker for a malformed entry
}


def check_problem_codes():
    codes = set(problem_codes())
    unlisted = {}
    for package in libraries(metadata(no_deps=True)):
        src = Path(package["manifest_path"]).parent / "src"
        for file in sorted(src.rglob("*.rs")):
            for literal in re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', file.read_text()):
                if literal not in codes and literal not in NOT_PROBLEM_CODES:
                    unlisted.setdefault(literal, str(file))
    if unlisted:
        sys.exit("problem codes missing from portcullis_core::problem::PROBLEM_CODES (and its "
                 "page of anchors, core/src/problem_types.md): "
                 + ", ".join(f"{code} ({file})" for code, file in sorted(unlisted.items())))
    print(f"problem codes: every code in the libraries' source is one of the {len(codes)} listed")


def check_problem_anchors(doc_dir):
    codes = problem_codes()
    page = (Path(doc_dir) / "portcullis_core" / "problem" / "index.html").read_text()
    missing = [code for code in codes if f'id="{code.lower().replace("_", "-")}"' not in page]
    if not codes or missing:
        sys.exit(f"problem types: no anchor on the built page for {missing or 'any code'}")
    print(f"problem types: all {len(codes)} codes have their anchor on the built page")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "libraries":
        print("\n".join(package["name"] for package in libraries(metadata(no_deps=True))))
    elif command == "msrv":
        check_msrv()
    elif command == "readme-links" and len(sys.argv) == 3:
        check_readme_links(sys.argv[2])
    elif command == "problem-codes":
        check_problem_codes()
    elif command == "problem-anchors" and len(sys.argv) == 3:
        check_problem_anchors(sys.argv[2])
    else:
        sys.exit(__doc__)
