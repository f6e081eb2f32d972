"""The readiness report as one self-contained HTML page, for people rather than CI.

An auditor opens it from a mail or a ticket, often on a machine without
network access, and prints it to PDF for the migration file.  So the page
has no external asset at all: the CSS and the SVG pictures are inline, the
collapsible lists are ``<details>`` (no JavaScript needed; one line of it
opens them before printing, and the page works without it), and
``@media print`` drops the backgrounds and keeps table rows whole.

Everything that comes from the backup (usernames, file names, reasons) is
escaped: a backup is untrusted input, and a ``<script>`` in a username must
stay text.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any

from pytest_jiramigrate.core.chunks import plan_chunks
from pytest_jiramigrate.core.emails import domain_problem, tld_problem
from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.model import (
    Readiness,
    items_omitted,
    omitted_note,
    outcome_rank,
    readiness,
)
from pytest_jiramigrate.rules import after_import
from pytest_jiramigrate.rules.base import Rule, plural
from pytest_jiramigrate.rules.media import media_chunk_size, storage_within_plan
from pytest_jiramigrate.rules.site import CloudSite
from pytest_jiramigrate.rules.users import counted_users, licensed_users, user_count_within_plan
from pytest_jiramigrate.scan.media import attachment_path

#: Rows listed per rule; the JSON report has more (up to ``report.max_stored``).
MAX_ROWS = 200
#: Domains drawn in the users-by-domain picture (the largest ones).
MAX_DOMAINS = 25
#: what a report without a ``target`` section (an older or hand-made one) was checked against
DEFAULT_SITE = CloudSite()
#: Rules whose findings are what an import that succeeds drops, breaks or makes public:
#: listed in their own "After the import" section rather than under the rules
AFTER_IMPORT = frozenset(rule.id for rule in after_import.RULES)

BANNERS: dict[Readiness, str] = {
    "not-checked": "Not checked: no rule ran",
    "not-ready": "Not ready for Jira Cloud site import",
    "warnings": "Ready, with warnings",
    "ready": "Ready for Jira Cloud site import",
}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2125; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; }
h1 { font-size: 1.6em; margin: 0 0 .5em; } h2 { margin-top: 1.8em; font-size: 1.25em; }
.banner { padding: .8em 1em; border-radius: 6px; font-size: 1.3em; font-weight: 600;
          border: 2px solid; }
.banner.not-ready, .banner.not-checked {
  background: #ffeceb; border-color: #c9372c; color: #ae2e24; }
.banner.warnings { background: #fff7d6; border-color: #b38600; color: #7f5f01; }
.banner.ready { background: #dcfff1; border-color: #1f845a; color: #216e4e; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
table.inventory { width: auto; min-width: 20em; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #dcdfe4;
         vertical-align: top; }
th { background: #f1f2f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.identity { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.identity dt { font-weight: 600; } dl.identity dd { margin: 0; overflow-wrap: anywhere; }
.outcome { font-weight: 600; text-transform: uppercase; font-size: .85em; }
.failed, .error { color: #ae2e24; } .warning { color: #7f5f01; } .passed { color: #216e4e; }
.skipped { color: #626f86; }
details { margin: .4em 0 1em; } summary { cursor: pointer; font-weight: 600; }
.note { color: #44546f; font-style: italic; }
svg { max-width: 100%; height: auto; } svg text { font: 12px system-ui, sans-serif; }
.bar { fill: #579dff; } .bar.bad { fill: #e2483d; } .bar.over { fill: #e2483d; }
.bar.low { fill: #f5cd47; } .band { fill: #baf3db; } .mark { stroke: #1d2125; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .banner, th { background: none !important; }
  tr, .figure, dl.identity { break-inside: avoid; }
  h2 { break-after: avoid; }
  details > summary { list-style: none; }
}
"""

#: Opens every list before printing; without JavaScript the page only prints them as left.
PRINT_SCRIPT = (
    "addEventListener('beforeprint',function(){"
    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});"
)


def render_html(report: Mapping[str, Any], facts: Facts | None) -> str:
    """The page for ``report`` (schema ``jiramigrate-report/1``); pictures need ``facts``.

    Under ``--jira-redact`` the report's findings are already masked, and the
    pictures show the e-mail domains they read from the store through
    ``facts.mask``.
    """
    verdict = readiness(str(rule.get("outcome")) for rule in report.get("rules", ()))
    backup = report.get("backup", {})
    title = f"Jira Cloud readiness: {backup.get('name') or 'media'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<div class="banner {verdict}" role="status">{BANNERS[verdict]}</div>',
        identity_section(backup, facts),
        inventory_section(backup.get("counts")),
        rules_section(report.get("rules", ())),
        after_import_section(report.get("rules", ())),
        pictures_section(report, facts),
        f"<script>{PRINT_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def identity_section(backup: Mapping[str, Any], facts: Facts | None) -> str:
    meta = facts.meta if facts is not None else {}
    rows = [
        ("File", backup.get("name") or backup.get("path")),
        ("SHA-256", backup.get("sha256")),
        ("Jira version", backup.get("jira_version")),
        ("Build", backup.get("jira_build")),
        ("Backup date", backup_date(meta.get("backup_date"))),
        ("Base URL", backup.get("base_url")),
    ]
    items = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(str(value))}</dd>"
        for label, value in rows
        if value not in (None, "")
    )
    if not items:
        return '<h2>Backup</h2><p class="note">No site backup was checked (media only).</p>'
    return f'<h2>Backup</h2><dl class="identity">{items}</dl>'


def backup_date(value: str | None) -> str | None:
    """Jira writes the backup time as epoch milliseconds; show it in UTC."""
    if value is None or not value.isdigit():
        return value
    moment = datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def inventory_section(counts: Mapping[str, int] | None) -> str:
    if not counts:
        return ""
    cells = []
    for name, value in counts.items():
        shown = format_size(value) if name.endswith("bytes") else f"{value:,}"
        cells.append(f'<tr><th>{escape(name.replace("_", " "))}</th><td class="num">{shown}</td>')
    return f'<h2>Inventory</h2><table class="inventory">{"".join(cells)}</table>'


def rules_section(rules: Sequence[Mapping[str, Any]]) -> str:
    head = (
        "<tr><th>Rule</th><th>Target</th><th>Severity</th><th>Outcome</th>"
        '<th class="num">Findings</th><th>Message</th></tr>'
    )
    rows = "".join(
        f"<tr><td><code>{escape(str(rule.get('id')))}</code><br>{escape(rule.get('title', ''))}"
        f"</td><td>{escape(str(rule.get('target', '')))}</td>"
        f"<td>{escape(str(rule.get('severity', '')))}</td>"
        f'<td class="outcome {escape(str(rule.get("outcome")))}">'
        f"{escape(str(rule.get('outcome')))}</td>"
        f'<td class="num">{int(rule.get("findings") or 0):,}</td>'
        f"<td>{escape(str(rule.get('message', '')))}</td></tr>"
        for rule in sorted(rules, key=lambda rule: outcome_rank(str(rule.get("outcome"))))
    )
    details = "".join(
        findings_list(rule)
        for rule in rules
        if rule.get("outcome") in ("failed", "warning") and rule.get("id") not in AFTER_IMPORT
    )
    return f"<h2>Rules</h2><table>{head}{rows}</table>{details}"


def after_import_section(rules: Sequence[Mapping[str, Any]]) -> str:
    """What the import would drop, break or make public: the after-import rules' findings,
    apart from the import's blockers so that they are read as the work after the move."""
    after = [rule for rule in rules if rule.get("id") in AFTER_IMPORT]
    if not after:
        return ""
    lines = "".join(
        f"<li><code>{escape(str(rule.get('id')))}</code>"
        f' <span class="outcome {escape(str(rule.get("outcome")))}">'
        f"{escape(str(rule.get('outcome')))}</span>: {escape(str(rule.get('message', '')))}</li>"
        for rule in after
    )
    details = "".join(
        findings_list(rule) for rule in after if rule.get("outcome") in ("failed", "warning")
    )
    return (
        "<h2>After the import</h2><p>What an import that succeeds would silently drop, break"
        " or make public: app data, public access, work of former users, missing groups,"
        f" broken boards, Cloud's data limits and integrations.</p><ul>{lines}</ul>{details}"
    )


def findings_list(rule: Mapping[str, Any]) -> str:
    """The findings of one failed or warned rule, capped at :data:`MAX_ROWS`.

    The label and the "and N more" note count the findings the report did not
    store as well (``items_omitted``): the page gives the rule's real total.
    """
    items: Sequence[Mapping[str, Any]] = rule.get("items") or ()
    omitted = items_omitted(rule)
    if not items and not omitted:
        return ""
    shown = items[:MAX_ROWS]
    rows = "".join(f"<tr><td>{escape(str(item.get('detail') or item))}</td></tr>" for item in shown)
    note = omitted_note(rule, len(shown), "— the full list is in the JSON report")
    more = f'<p class="note">{escape(note)}</p>' if note else ""
    total = len(items) + omitted
    label = f"{rule.get('id')} ({rule.get('target')}): {plural(total, 'finding')}"
    table = f"<table>{rows}</table>" if rows else ""
    return (
        f'<details open><summary class="{escape(str(rule.get("outcome")))}">{escape(label)}'
        f"</summary>{table}{more}</details>"
    )


# --------------------------------------------------------------------------- pictures


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str
    kind: str = ""
    hint: str = ""


def bar_chart(bars: Sequence[Bar], scale: int, marks: Sequence[tuple[int, str]] = ()) -> str:
    """Horizontal bars on a common ``scale``; ``marks`` are labelled vertical lines."""
    label_width, plot_width, row, top = 190, 430, 22, 20 if marks else 4
    width = label_width + plot_width + 120
    height = top + row * len(bars) + 6
    scale = max(scale, 1)

    def x(value: int) -> float:
        return label_width + plot_width * min(value, scale) / scale

    shapes = []
    for lower, upper in _bands(marks):
        shapes.append(
            f'<rect class="band" x="{x(lower):.1f}" y="{top}" width="{x(upper) - x(lower):.1f}"'
            f' height="{row * len(bars)}"/>'
        )
    for index, bar in enumerate(bars):
        y = top + index * row
        title = f"<title>{escape(bar.hint)}</title>" if bar.hint else ""
        shapes.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">'
            f"{escape(_clip(bar.label))}</text>"
            f'<rect class="bar {bar.kind}" x="{label_width}" y="{y + 3}" height="{row - 6}"'
            f' width="{max(x(bar.value) - label_width, 1):.1f}">{title}</rect>'
            f'<text x="{x(bar.value) + 4:.1f}" y="{y + 15}">{escape(bar.text)}</text>'
        )
    for value, label in marks:
        shapes.append(
            f'<line class="mark" x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top - 4}"'
            f' y2="{height}" stroke-dasharray="3 2"/>'
            f'<text x="{x(value):.1f}" y="{top - 7}" text-anchor="middle">{escape(label)}</text>'
        )
    return (
        f'<svg viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img">{"".join(shapes)}</svg>'
    )


def _bands(marks: Sequence[tuple[int, str]]) -> Iterator[tuple[int, int]]:
    """A band is shaded between two marks labelled ``min …`` and ``max …``."""
    lows = [value for value, label in marks if label.startswith("min")]
    highs = [value for value, label in marks if label.startswith("max")]
    if lows and highs:
        yield lows[0], highs[0]


def _clip(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def figure(title: str, body: str, note: str = "") -> str:
    remark = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<div class="figure"><h3>{escape(title)}</h3>{body}{remark}</div>'


def pictures_section(report: Mapping[str, Any], facts: Facts | None) -> str:
    if facts is None or not _has_table(facts, "user"):
        return ""
    config = report.get("config", {})
    site = config.get("target", {})

    def limits(rule: Rule) -> dict[str, Any]:
        """The rule's thresholds as the run used them, else the rule's own defaults."""
        used = config.get("rules", {}).get(rule.id, {}).get("limits", {})
        return {**rule.defaults(), **used}

    pictures: list[Callable[[], str]] = [
        lambda: storage_figure(facts, site, limits(storage_within_plan)),
        lambda: chunk_figure(facts, limits(media_chunk_size)),
        lambda: domain_figure(facts, config.get("email", {})),
        lambda: user_tier_figure(facts, site, limits(user_count_within_plan)),
    ]
    return "<h2>Pictures</h2>" + "".join(picture() for picture in pictures)


def _has_table(facts: Facts, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return facts.scalar(query, (name,)) is not None


def storage_figure(facts: Facts, site: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    """Attachment bytes per project, and their total against the plan's file storage."""
    rows = facts.query(
        "SELECT coalesce(p.key, '(no project)') AS key, sum(a.filesize) AS bytes"
        " FROM attachment AS a LEFT JOIN issue AS i ON i.id = a.issue_id"
        " LEFT JOIN project AS p ON p.id = i.project_id GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    if not rows:
        return figure("Attachment storage", "", "The backup has no attachments.")
    bars = [Bar(row["key"], row["bytes"] or 0, format_size(row["bytes"] or 0)) for row in rows]
    projects = bar_chart(bars, max(bar.value for bar in bars))
    total = sum(bar.value for bar in bars)
    plan = str(site.get("plan", DEFAULT_SITE.plan))
    storage = _plan_storage(plan, limits)
    if storage is None:
        note = f"The {plan.capitalize()} plan has unlimited file storage ({format_size(total)})."
        return figure("Attachment storage per project", projects, note)
    kind = "over" if total > storage else ""
    share = f"{format_size(total)} of {format_size(storage)} ({100 * total / storage:.2g}%)"
    gauge = bar_chart([Bar("all projects", total, share, kind)], storage)
    note = f"Against the {plan.capitalize()} plan's {format_size(storage)} of file storage."
    return figure("Attachment storage per project", projects + gauge, note)


def _plan_storage(plan: str, limits: Mapping[str, Any]) -> int | None:
    if plan == "free":
        return int(limits["free_storage"])
    if plan == "standard":
        return int(limits["standard_storage"])
    return None


def chunk_figure(facts: Facts, limits: Mapping[str, Any]) -> str:
    """The media zips given (or the split planned from the attachments) against the band."""
    low, high = int(limits["min_chunk"]), int(limits["max_chunk"])
    whole = int(limits["max_zip"])
    marks = [(low, f"min {format_size(low)}"), (high, f"max {format_size(high)}")]
    title = f"Media chunks against the {format_size(low)} to {format_size(high)} band"
    if _has_table(facts, "media_target") and facts.scalar("SELECT count(*) FROM media_target"):
        rows = facts.query("SELECT name, coalesce(zip_bytes, total_bytes) AS b FROM media_target")
        bars = [Bar(row["name"], row["b"] or 0, format_size(row["b"] or 0)) for row in rows]
        note = "The media given with --jira-media."
    else:
        files = [
            (attachment_path(row["key"], row["number"], row["issue"], row["id"]), row["size"] or 0)
            for row in facts.rows(
                "SELECT a.id, a.filesize AS size, coalesce(p.key, 'NONE') AS key,"
                " coalesce(i.key, a.issue_id) AS issue, coalesce(i.number, 1) AS number"
                " FROM attachment AS a"
                " LEFT JOIN issue AS i ON i.id = a.issue_id"
                " LEFT JOIN project AS p ON p.id = i.project_id"
            )
        ]
        if not files:
            return figure(title, "", "No media were given and the backup lists no attachments.")
        plan = plan_chunks(lambda: files, high, low)
        bars = [
            Bar(f"chunk {chunk.number}", chunk.bytes, format_size(chunk.bytes))
            for chunk in plan.chunks
        ]
        total = sum(size for _, size in files)
        fits = " It fits one upload: no split is needed." if total <= whole else ""
        note = f"Planned from the attachment sizes in the backup (no media given).{fits}"
    for index, bar in enumerate(bars):
        kind = "over" if bar.value > high else "low" if bar.value < low else ""
        bars[index] = Bar(bar.label, bar.value, bar.text, kind)
    scale = max(high + high // 5, *(bar.value for bar in bars))
    return figure(title, bar_chart(bars, scale, marks), note)


def domain_figure(facts: Facts, email: Mapping[str, Any]) -> str:
    """Users per e-mail domain; a domain Cloud refuses is drawn red with its reason."""
    allow = tuple(email.get("allow_domains", ()))
    deny = tuple(email.get("deny_domains", DEFAULT_SITE.deny_domains))
    domains: Counter[str] = Counter()
    problems: dict[str, str] = {}
    for user in counted_users(facts):
        if not user.email:
            domains["(no e-mail)"] += 1
            continue
        domain = user.email.rpartition("@")[2].lower() or "(no domain)"
        domains[domain] += 1
        problem = tld_problem(user.email, facts.mask.domain) or domain_problem(
            user.email, allow, deny, facts.mask.domain
        )
        if problem:
            problems[domain] = problem
    if not domains:
        return figure("Users by e-mail domain", "", "The backup has no users.")

    def shown(domain: str) -> str:
        return domain if domain.startswith("(") else facts.mask.domain(domain)

    def hint(domain: str) -> str:
        return problems.get(domain, "")

    bars = [
        Bar(shown(domain), count, f"{count:,}" + (" — invalid" if domain in problems else ""),
            "bad" if domain in problems else "", hint(domain))
        for domain, count in domains.most_common(MAX_DOMAINS)
    ]  # fmt: skip
    rest = len(domains) - len(bars)
    invalid = plural(len(problems), "invalid domain")
    note = f"Red: a domain Cloud refuses (hover for the reason). {invalid}."
    if rest > 0:
        note += f" {plural(rest, 'smaller domain')} {'is' if rest == 1 else 'are'} not drawn."
    reasons = "".join(
        f"<li><code>{escape(shown(domain))}</code>: {escape(hint(domain))}</li>"
        for domain in sorted(problems)
    )
    listed = f"<ul>{reasons}</ul>" if reasons else ""
    return figure("Users by e-mail domain", bar_chart(bars, bars[0].value) + listed, note)


def user_tier_figure(facts: Facts, site: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    """Active users against the plan's user tiers (the boundaries near the count)."""
    tiers = sorted(int(tier) for tier in limits["annual_tiers"])
    free_limit = int(limits["free_limit"])
    try:
        active = licensed_users(facts).count  # what user-count-within-plan counts
    except sqlite3.Error:
        return ""
    plan = str(site.get("plan", DEFAULT_SITE.plan))
    boundaries = [free_limit] if plan == "free" else tiers
    above = [tier for tier in boundaries if tier >= active]
    scale = above[1] if len(above) > 1 else above[0] if above else max(active, 1)
    chosen = site.get("user_tier")
    marks = [(tier, f"{tier:,}") for tier in boundaries if tier <= scale]
    kind = "over" if not above or (chosen is not None and active > int(chosen)) else ""
    bars = [Bar("users with product access", active, f"{active:,}", kind)]
    if chosen is not None:
        bars.append(Bar("your user tier", int(chosen), f"{int(chosen):,}"))
    tier = f"the {above[0]:,}-user tier" if above else "no tier (over the largest)"
    users = f"{plural(active, 'user')} with product access {'fits' if active == 1 else 'fit'}"
    note = f"{users} {tier} of the {plan.capitalize()} plan."
    return figure("Users against the plan's tiers", bar_chart(bars, scale, marks[-12:]), note)
