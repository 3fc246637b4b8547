#!/usr/bin/env python3
"""Fetch the GraphiQL explorer's browser files from the npm registry into the package.

The server serves GraphiQL from ``notes_bff/static/graphiql/`` so that it works without
internet access. This script is how those files got there, and how they are upgraded:

* every npm tarball below is pinned by version and by its sha512 ``integrity`` (the value
  ``npm view <package>@<version> dist.integrity`` and package-lock files show); a download
  that does not match is refused;
* only the listed files are extracted, unchanged, to ``<package>@<version>/<path>`` (the
  layout of unpkg.com and cdn.jsdelivr.net/npm, so ``NOTES_BFF_GRAPHIQL_ASSETS_URL`` can
  point at either, or at a mirror), with each package's licence;
* ``manifest.json`` records every file's SHA-384, which the page uses as its Subresource
  Integrity and a test checks against the committed files.

To upgrade, change a version and its integrity below (and the paths in
``notes_bff/http/graphiql.py``), run this script, and commit the result. ``--check``
downloads again and verifies the committed files are exactly what the tarballs hold.
Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
DEST = Path(__file__).resolve().parent.parent / "notes_bff" / "static" / "graphiql"
MANIFEST = "manifest.json"
THIRD_PARTY = "THIRD_PARTY.md"
# Files of ours in DEST that this script does not manage.
OWN_FILES = {"page.js", "page.css"}


@dataclass(frozen=True)
class Package:
    """One pinned npm tarball and the files taken from it."""

    name: str
    version: str
    integrity: str
    files: tuple[str, ...]
    license_from: str | None = None  # a package whose LICENSE applies (same repository)

    @property
    def folder(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


# GraphiQL 3.x is the last major with a UMD build (4 and later are ES modules around Monaco);
# React 18 is the last with UMD builds. See docs/frontend.md, "GraphiQL".
PACKAGES = (
    Package(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        ("umd/react.production.min.js", "LICENSE"),
    ),
    Package(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        ("umd/react-dom.production.min.js", "LICENSE"),
    ),
    Package(
        "graphiql",
        "3.9.0",
        "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
        ("graphiql.min.js", "graphiql.min.css", "LICENSE"),
    ),
    Package(
        "@graphiql/plugin-explorer",
        "3.2.6",
        "sha512-MXzG/zVNzZfes4Em253bHyAbD/lwwAZkPKvxCAQkjz0i3dtcv4uF3D8iqJ7214iu3SCphbORYZZUC93fik1yew==",
        ("dist/index.umd.js", "dist/style.css"),
        license_from="graphiql",  # its tarball has none; same repository (graphql/graphiql), MIT
    ),
    Package(
        # Bundled inside the explorer plugin's UMD file: only its licence is shipped.
        "graphiql-explorer",
        "0.9.0",
        "sha512-fZC/wsuatqiQDO2otchxriFO0LaWIo/ovF/CQJ1yOudmY0P7pzDiP+l9CEHUiWbizk3e99x6DQG4XG1VxA+d6A==",
        ("LICENSE",),
    ),
)


def download(package: Package) -> bytes:
    """The tarball, verified against its pinned sha512 integrity."""
    with urllib.request.urlopen(package.tarball, timeout=60) as response:  # noqa: S310
        data: bytes = response.read()
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package.tarball}: integrity mismatch ({algorithm}-{actual})")
    return data


def members(data: bytes) -> dict[str, bytes]:
    """Regular files of an npm tarball, by path inside ``package/``."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None
                found[member.name.split("/", 1)[1]] = extracted.read()
    return found


def sri(content: bytes) -> str:
    """A Subresource Integrity value (SHA-384)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def bundled_packages(source_map: bytes) -> list[str]:
    """npm packages compiled into a bundle, from the ``sources`` of its source map."""
    names = set()
    for source in json.loads(source_map)["sources"]:
        found = re.findall(r"node_modules/((?:@[^/]+/)?[^/]+)", source)
        if found:
            names.add(found[-1])
    return sorted(names)


def collect() -> tuple[dict[str, bytes], dict[str, object]]:
    """Every file to ship (path under DEST -> content) and the manifest."""
    tarballs = {p.name: members(download(p)) for p in PACKAGES}
    files: dict[str, bytes] = {}
    packages = []
    for package in PACKAGES:
        content = tarballs[package.name]
        for path in package.files:
            files[f"{package.folder}/{path}"] = content[path]
        if package.license_from:
            files[f"{package.folder}/LICENSE"] = tarballs[package.license_from]["LICENSE"]
        packages.append(
            {
                "name": package.name,
                "version": package.version,
                "tarball": package.tarball,
                "integrity": package.integrity,
                "license": json.loads(content["package.json"])["license"],
            }
        )
    bundled = bundled_packages(tarballs["graphiql"]["graphiql.min.js.map"])
    files[THIRD_PARTY] = third_party_notice(bundled).encode()
    manifest = {
        "packages": packages,
        "files": {path: sri(content) for path, content in sorted(files.items())},
    }
    return files, manifest


def third_party_notice(bundled: list[str]) -> str:
    """What the shipped files are, and what graphiql.min.js bundles."""
    lines = [
        "# GraphiQL's browser files",
        "",
        "Unmodified files from these npm packages, fetched and verified by",
        "`scripts/fetch_graphiql.py` (versions and sha512 integrity in `manifest.json`); each",
        "folder holds its package's licence.",
        "",
        *(f"- `{p.name}@{p.version}`" for p in PACKAGES),
        "",
        "`graphiql.min.js` bundles these packages (from its source map), each under its own",
        "licence as published on the npm registry:",
        "",
        ", ".join(f"`{name}`" for name in bundled) + ".",
        "",
    ]
    return "\n".join(lines)


def write(files: dict[str, bytes], manifest: dict[str, object], dest: Path) -> None:
    """Replace the managed files under ``dest`` (our own page files stay)."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():
        if entry.name in OWN_FILES:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for path, content in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def check(files: dict[str, bytes], manifest: dict[str, object], dest: Path) -> list[str]:
    """Differences between what the tarballs give and what ``dest`` holds."""
    problems = [
        p for p, c in files.items() if not (dest / p).is_file() or (dest / p).read_bytes() != c
    ]
    if json.loads((dest / MANIFEST).read_text()) != manifest:
        problems.append(MANIFEST)
    return problems


def main() -> int:
    """Command line: fetch (default) or ``--check``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dest", type=Path, default=DEST, help=f"target folder (default {DEST})")
    parser.add_argument(
        "--check",
        action="store_true",
        help="download and verify the files in --dest instead of writing them",
    )
    args = parser.parse_args()
    files, manifest = collect()
    if args.check:
        problems = check(files, manifest, args.dest)
        for problem in problems:
            print(f"differs from the npm tarballs: {problem}", file=sys.stderr)
        return 1 if problems else 0
    write(files, manifest, args.dest)
    total = sum(len(c) for c in files.values())
    print(f"wrote {len(files)} files ({total / 1e6:.1f} MB) and {MANIFEST} to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
