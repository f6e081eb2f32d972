"""``python -m synth OUT.zip``: write a synthetic backup (and media) from the command line.

Run from the repository's root.  What the tests, the example project and the
benchmarks use to make backups with known faults; not part of the installed
package, so not a ``jiramigrate`` subcommand.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_jiramigrate.core.outputs import check_output
from synth.backup import scale_to_megabytes, write_backup
from synth.media import write_media, write_media_zip
from synth.spec import BACKUP_FAULTS, MEDIA_FAULTS, SynthSpec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synth",
        description="Write a synthetic Jira site backup zip, optionally with injected faults.",
    )
    defaults = SynthSpec()
    parser.add_argument("out", type=Path, metavar="OUT.zip")
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--issues", type=int, default=defaults.issues)
    parser.add_argument("--projects", type=int, default=defaults.projects)
    parser.add_argument(
        "--fault",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        choices=[*BACKUP_FAULTS, *MEDIA_FAULTS],
        help="fault to inject (repeatable); media faults apply to --media/--media-zip",
    )
    parser.add_argument("--media", type=Path, help="also write the media tree into this folder")
    parser.add_argument("--media-zip", type=Path, help="also write the media as this zip")
    parser.add_argument("--manifest", type=Path, help="write the manifest JSON here")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--version", default=defaults.jira_version, help="Jira version, e.g. 8.5.0")
    parser.add_argument(
        "--target-mb", type=float, help="scale the issue count so entities.xml is about N MB"
    )
    return parser


def spec_from_arguments(args: argparse.Namespace) -> SynthSpec:
    """The spec the command line asks for; ValueError with a one-line reason for nonsense."""
    if not re.fullmatch(r"[1-9][0-9]*(\.[0-9]+){0,2}", args.version):
        raise ValueError(f"--version {args.version!r} is not a Jira version such as 8.20.10")
    for name in ("users", "issues", "projects"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name} must not be negative")
    if args.target_mb is not None and args.target_mb <= 0:
        raise ValueError("--target-mb must be more than 0")
    return SynthSpec(
        seed=args.seed,
        jira_version=args.version,
        build_number=build_number(args.version),
        users=args.users,
        issues=args.issues,
        projects=args.projects,
        faults=tuple(f for f in args.fault if f in BACKUP_FAULTS),
    )


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse outputs that are directories, lie in missing folders or name each other."""
    check_output(args.out, [])
    written = [args.out]
    for path, directory in ((args.media, True), (args.media_zip, False), (args.manifest, False)):
        if path is not None:
            check_output(path, written, directory=directory)
            written.append(path)


def build_number(version: str) -> int:
    """Jira's build number for a release: 8.20.10 is build 820010."""
    parts = [int(p) for p in ([*version.split("."), "0", "0"])[:3]]
    return parts[0] * 100_000 + parts[1] * 1000 + parts[2]


def main(argv: Sequence[str] | None = None) -> int:
    """Write the backup (and media, manifest) the arguments ask for; 2 on nonsense."""
    args = build_parser().parse_args(argv)
    try:
        spec = spec_from_arguments(args)
        check_outputs(args)
    except ValueError as error:  # OutputError too
        print(f"synth: {error}", file=sys.stderr)
        return 2
    if args.target_mb:
        spec = scale_to_megabytes(spec, args.target_mb)
    manifest = write_backup(args.out, spec)
    media_faults = [f for f in args.fault if f in MEDIA_FAULTS]
    if args.media:
        write_media(args.media, manifest, faults=media_faults)
    if args.media_zip:
        write_media_zip(args.media_zip, manifest, faults=media_faults)
    if args.manifest:
        manifest.write(args.manifest)
    total = sum(manifest.counts.values())
    print(f"wrote {args.out}: {spec.issues} issues, {total} rows, {len(manifest.faults)} faults")
    return 0


if __name__ == "__main__":
    sys.exit(main())
