"""The ``--jira-*`` options and their ini keys, parsed once into :class:`Options`.

pytest-jiramigrate reads its command line in one place: ``pytest_configure``
parses it into a frozen :class:`Options` kept in ``config.stash``, and the run
(and ``jiramigrate check``, which forwards its arguments) reads that, never
``config.getoption`` again.  Paths from an ini key are relative to the ini
file's directory (the rootdir without one); paths from the command line are
relative to where pytest was started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_jiramigrate.cache import DEFAULT_CACHE_DAYS, DEFAULT_CACHE_MAX_MB

#: options with a value: (name, metavar, help); each has an ini key too
VALUE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("backup", "PATH", "the Jira site backup zip (entities.xml + activeobjects.xml) to check"),
    ("config", "PATH", "YAML thresholds (default: jiramigrate.yaml in the rootdir, if present)"),
    ("report", "PATH", "write the JSON readiness report (schema jiramigrate-report/1) here"),
    ("summary", "PATH", "append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)"),
    ("export", "DIR", "write one CSV of offenders per failed or warned rule into DIR"),
    ("html", "PATH", "write the self-contained HTML readiness report here"),
)
#: on/off options: (name, help, whether an ini key can set it too)
FLAGS: tuple[tuple[str, str, bool], ...] = (
    ("strict", "readiness warnings fail too", True),
    ("redact", "mask e-mail addresses, usernames and display names in every output", True),
    (
        "rules",
        "list every readiness rule with its effective severity and thresholds, and exit",
        False,
    ),
    ("rescan", "scan the backup again even if its facts are cached", False),
)

#: the cache's limits: (ini key, default, help); 0 turns a limit off
CACHE_LIMITS: tuple[tuple[str, float, str], ...] = (
    (
        "jira_cache_days",
        DEFAULT_CACHE_DAYS,
        "days after its last use that a backup's cached facts are removed (0: never)",
    ),
    (
        "jira_cache_max_mb",
        DEFAULT_CACHE_MAX_MB,
        "MB of cached facts kept; the least recently used are removed beyond (0: no bound)",
    ),
)

#: ``--jira-workers`` (and ``jiramigrate check --workers``)
WORKERS_HELP = "processes that parse entities.xml (default: one per available core; 1: none)"


def add_options(parser: pytest.Parser) -> None:
    """Register every ``--jira-*`` option and ``jira_*`` ini key."""
    group = parser.getgroup("jiramigrate", "Jira Cloud migration readiness")
    for name, metavar, help_text in VALUE_OPTIONS:
        group.addoption(f"--jira-{name}", dest=f"jira_{name}", metavar=metavar, help=help_text)
        parser.addini(f"jira_{name}", help_text, type="string", default="")
    group.addoption(
        "--jira-media",
        dest="jira_media",
        metavar="PATH",
        action="append",
        default=[],
        help="a media directory or media zip (attachments, avatars, logos); repeat per chunk",
    )
    parser.addini("jira_media", "media directories or zips, one per line", type="linelist")
    group.addoption("--jira-workers", dest="jira_workers", metavar="N", help=WORKERS_HELP)
    parser.addini("jira_workers", WORKERS_HELP, type="string", default="")
    for key, default, help_text in CACHE_LIMITS:
        parser.addini(key, f"{help_text}; default {default:g}", type="string", default="")
    for name, help_text, ini in FLAGS:
        group.addoption(
            f"--jira-{name}",
            dest=f"jira_{name}",
            action="store_true",
            default=None,
            help=help_text,
        )
        if ini:
            parser.addini(f"jira_{name}", help_text, type="bool", default=False)


@dataclass(frozen=True)
class Options:
    """What the command line and the ini file asked of this run."""

    #: the backup zip, resolved against where pytest was started
    backup: Path | None
    #: each media directory or zip (one per chunk)
    media: tuple[Path, ...]
    #: ``--jira-config`` as given, and the ``jira_config`` ini value as written
    config_option: str | None
    config_ini: str | None
    #: output paths as given (``--jira-<name>``, else the ini key's path)
    report: str | None
    summary: str | None
    export: str | None
    html: str | None
    strict: bool
    redact: bool
    list_rules: bool
    rescan: bool
    #: processes that parse entities.xml; None: one per available core
    workers: int | None = None
    #: the cache's limits (ini keys ``jira_cache_days``, ``jira_cache_max_mb``)
    cache_days: float = DEFAULT_CACHE_DAYS
    cache_max_mb: float = DEFAULT_CACHE_MAX_MB

    @property
    def checks_something(self) -> bool:
        """Whether a readiness run was asked for; without one the plugin stays inert."""
        return self.backup is not None or bool(self.media)

    @classmethod
    def parse(cls, config: pytest.Config) -> Options:
        backup = value_or_ini(config, "backup")
        media = tuple(media_paths(config))
        return cls(
            backup=config.invocation_params.dir / backup if backup else None,
            media=media,
            config_option=config.getoption("jira_config"),
            config_ini=config.getini("jira_config") or None,
            report=value_or_ini(config, "report"),
            summary=value_or_ini(config, "summary"),
            export=value_or_ini(config, "export"),
            html=value_or_ini(config, "html"),
            strict=flag(config, "strict"),
            redact=flag(config, "redact"),
            list_rules=flag(config, "rules"),
            rescan=flag(config, "rescan"),
            # an inert plugin (nothing to check) does not judge its settings
            workers=worker_count(config) if backup or media else None,
            cache_days=cache_limit(config, "jira_cache_days") if backup or media else 0.0,
            cache_max_mb=cache_limit(config, "jira_cache_max_mb") if backup or media else 0.0,
        )


#: the run's options, parsed once in ``pytest_configure``
OPTIONS_KEY = pytest.StashKey[Options]()


def options(config: pytest.Config) -> Options:
    """The run's :class:`Options`, parsed on first use and kept in ``config.stash``."""
    if OPTIONS_KEY not in config.stash:
        config.stash[OPTIONS_KEY] = Options.parse(config)
    return config.stash[OPTIONS_KEY]


def flag(config: pytest.Config, name: str) -> bool:
    """A ``--jira-<name>`` flag, else its ini key where it has one."""
    if config.getoption(f"jira_{name}"):
        return True
    return any(name == flag_name and ini for flag_name, _, ini in FLAGS) and bool(
        config.getini(f"jira_{name}")
    )


def worker_count(config: pytest.Config) -> int | None:
    """``--jira-workers``, else the ``jira_workers`` ini key; None when neither is set.

    Anything but a positive whole number is a usage error that names the value.
    """
    given = config.getoption("jira_workers")
    source = "--jira-workers"
    if given is None:
        given, source = config.getini("jira_workers"), "the jira_workers ini key"
    text = str(given).strip()
    if not text:
        return None
    if not text.isdecimal() or int(text) < 1:
        raise pytest.UsageError(
            f"{source} must be a whole number of processes, 1 or more (1: parse in the "
            f"pytest process); got {given!r}"
        )
    return int(text)


def cache_limit(config: pytest.Config, key: str) -> float:
    """A cache limit from its ini key, else its default; anything but a number, 0 or
    more, is a usage error that names the key and the value."""
    (default,) = [default for name, default, _ in CACHE_LIMITS if name == key]
    text = str(config.getini(key)).strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise pytest.UsageError(f"the {key} ini key must be a number, 0 or more; got {text!r}")
    return value


def value_or_ini(config: pytest.Config, name: str) -> str | None:
    """A ``--jira-<name>`` option, else the ``jira_<name>`` ini key; paths from ini are
    relative to the ini file's directory (the rootdir without one)."""
    value = config.getoption(f"jira_{name}")
    if value:
        return str(value)
    ini_value = config.getini(f"jira_{name}")
    if not ini_value:
        return None
    return str(ini_base(config) / ini_value)


def media_paths(config: pytest.Config) -> list[Path]:
    """Every ``--jira-media`` (one per chunk), else the ``jira_media`` ini lines."""
    given = config.getoption("jira_media")
    if given:
        return [config.invocation_params.dir / path for path in given]
    return [ini_base(config) / line for line in config.getini("jira_media")]


def ini_base(config: pytest.Config) -> Path:
    """What a path in an ini key is relative to: the ini file's directory, else the rootdir."""
    return config.inipath.parent if config.inipath else config.rootpath
