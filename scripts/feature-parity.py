#!/usr/bin/env python3
"""Fails if `cargo run -p emulator` and `cargo test --workspace` build a dependency twice.

Cargo turns a dependency's features on from the packages a command selects (and, for tests,
their dev-dependencies). When two commands turn on different features of one crate, each builds
its own copy of it and of everything above it: after a fresh clone's `cargo run -p emulator`,
`cargo test --workspace` would rebuild reqwest, sqlx and the AWS SDKs. The emulator's
`[dependencies]` turn the test build's extra features on too (its "build parity" section); this
script checks that the three resolutions agree on every crate they share:

- `cargo run -p emulator` (the emulator alone);
- the build of the function binaries it runs (`-p emulator -p payment ...`, see
  `emulator::lambda::build_binaries`);
- `cargo test --workspace` (every member, dev-dependencies included).

Usage: scripts/feature-parity.py (from anywhere in the workspace). Prints the differences, if any,
with the crates that turn each extra feature on.
"""

import subprocess
import sys

# The packages `emulator::lambda::build_binaries` builds: the five Lambda functions and the Azure
# Function App's custom handler.
FUNCTIONS = ["payment", "orchestrator", "save-order", "email", "mailing-list", "azure-app"]


def features(args, edges):
    """Package id -> set of features, as `cargo tree` resolves them for `args`."""
    out = subprocess.run(
        ["cargo", "tree", "-q", *args, "-e", edges, "--target", "all", "--prefix", "none",
         "-f", "{p}|{f}"],
        check=True, capture_output=True, text=True,
    ).stdout
    resolved = {}
    for line in out.splitlines():
        package, _, enabled = line.replace(" (*)", "").partition("|")
        if package and not package.startswith("["):
            resolved.setdefault(package, set()).update(f for f in enabled.split(",") if f)
    return resolved


def main():
    resolutions = {
        "cargo run -p emulator": features(["-p", "emulator"], "normal,build"),
        "the function binaries' build": features(
            ["-p", "emulator", *[a for f in FUNCTIONS for a in ("-p", f)]], "normal,build"),
        "cargo test --workspace": features(["--workspace"], "normal,build,dev"),
    }
    reference_name, reference = next(iter(resolutions.items()))
    differences = 0
    for name, resolved in list(resolutions.items())[1:]:
        for package in sorted(reference.keys() & resolved.keys()):
            extra = resolved[package] - reference[package]
            missing = reference[package] - resolved[package]
            if extra or missing:
                differences += 1
                print(f"{package}: {name} has {sorted(extra) or 'nothing'} more and "
                      f"{sorted(missing) or 'nothing'} less than {reference_name}")
    if differences:
        print(f"\n{differences} crate(s) would be built twice. Turn the extra features on in the "
              "emulator's build-parity dependencies (emulator/Cargo.toml); "
              "`cargo tree --workspace -e features -i CRATE` shows who turns them on.",
              file=sys.stderr)
        sys.exit(1)
    print(f"ok: the three builds agree on the features of {len(reference)} crates")


if __name__ == "__main__":
    main()
