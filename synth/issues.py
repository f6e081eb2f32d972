"""Rows of projects, issues and their children (actions, worklogs, history, links, files)."""

from __future__ import annotations

import random
from typing import Any

from synth.plan import STATUSES, WORDS, below, pick, plan_attachments
from synth.rowsource import RowSource
from synth.spec import (
    LONG_SUMMARY_CHARS,
    LONG_TEXT_CHARS,
)
from synth.xmlrows import MARK, Cut, FaultyRow, Rows, xml_row


def _long_text(rng: random.Random, chars: int) -> str:
    """Multi-line prose of exactly ``chars`` characters (a pasted log, a spec)."""
    line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\n"
    return (line * (chars // len(line) + 1))[:chars]


def _payload_facts(payload: str) -> dict[str, Any]:
    if payload == "\udcc3":
        return {"byte": 0xC3}
    if payload.startswith("&#"):
        return {"codepoint": int(payload[2:-1]), "text": payload}
    return {"codepoint": ord(payload)}


class IssueRows(RowSource):
    """Rows of projects, issues and their children (actions, worklogs, history, links, files)."""

    # projects -------------------------------------------------------------------

    def project_rows(self) -> Rows:
        for index, project in enumerate(self.plan.projects):
            yield xml_row(
                "Project",
                (
                    ("id", project.id),
                    ("name", project.name),
                    ("url", ""),
                    ("lead", project.lead),
                    ("description", f"Work of the {project.name} team."),
                    ("key", project.key),
                    ("pcounter", project.counter),
                    ("assigneetype", 3),
                    ("avatar", 10100 + index),
                    ("originalkey", project.original_key),
                    ("projecttype", "software"),
                ),
            )

    def project_keys(self) -> Rows:
        next_id = 10000
        for project in self.plan.projects:
            keys = [project.key]
            if project.original_key != project.key:
                keys.insert(0, project.original_key)
            for key in keys:
                yield xml_row(
                    "ProjectKey",
                    (("id", next_id), ("projectId", project.id), ("projectKey", key)),
                )
                next_id += 1

    def moved_issue_keys(self) -> Rows:
        projects = self.plan.projects
        if len(projects) > 1 and projects[1].issue_count:
            moved = projects[1].first_issue
            old_key = f"{projects[0].key}-{projects[0].counter}"
            yield xml_row(
                "MovedIssueKey",
                (("id", 10000), ("oldIssueKey", old_key), ("issueId", 10000 + moved)),
            )

    # issues and their children ----------------------------------------------------

    def issues(self) -> Rows:
        plan, spec, rng = self.plan, self.spec, self.rng("Issue")
        targets = plan.targets
        for index in range(spec.issues):
            issue_id = 10000 + index
            key = plan.issue_key(index)
            summary = self.text(rng)
            description: str | None = (
                self.paragraph(rng, 1 + below(rng, 4)) if rng.random() < 0.8 else None
            )
            split_lines = rng.random() < 0.25
            status_id = pick(rng, STATUSES)[0]
            fault: tuple[str, str, str] | None = None  # name, field, payload
            if targets.get("control-char") == index:
                summary, fault = f"Crash on {MARK}import", ("control-char", "summary", "\x01")
            elif targets.get("char-ref") == index:
                summary, fault = f"Pasted {MARK}from mail", ("char-ref", "summary", "&#1;")
            elif targets.get("invalid-utf8") == index:
                description = f"Caf{MARK} menu is broken\nsince the upgrade"
                fault = ("invalid-utf8", "description", "\udcc3")
            if targets.get("long-summary") == index:
                summary = ("Long summary " * 30)[:LONG_SUMMARY_CHARS]
                self.long_text("long-summary", "Issue", issue_id, key, "summary", summary)
            if targets.get("long-description") == index:
                description = _long_text(rng, LONG_TEXT_CHARS)
                self.long_text(
                    "long-description", "Issue", issue_id, key, "description", description
                )
            fields = (
                ("id", issue_id),
                ("key", key),
                ("number", plan.issue_number[index]),
                ("project", plan.projects[plan.issue_project[index]].id),
                ("reporter", plan.actor(rng)),
                ("assignee", plan.actor(rng)),
                ("creator", plan.actor(rng)),
                ("type", pick(rng, "123")),
                ("summary", summary),
                ("priority", 1 + below(rng, 5)),
                ("resolution", 1 if status_id in ("5", "6") else None),
                ("status", status_id),
                ("created", plan.when(index)),
                ("updated", plan.when(index, 600)),
                ("workflowId", issue_id),
                ("description", description),
            )
            text = xml_row("Issue", fields, split_lines)
            if fault is None:
                yield text
            else:
                name, field_name, payload = fault
                record = {
                    "fault": name,
                    "entity": "Issue",
                    "id": str(issue_id),
                    "issue_key": key,
                    "field": field_name,
                    **_payload_facts(payload),
                }
                yield FaultyRow(text, payload, record)

    def long_text(
        self, fault: str, entity: str, row_id: int, key: str, name: str, text: str
    ) -> None:
        self.plan.user_faults.append(
            {
                "fault": fault,
                "entity": entity,
                "id": str(row_id),
                "issue_key": key,
                "field": name,
                "length": len(text),
            }
        )

    def actions(self) -> Rows:
        plan, rng = self.plan, self.rng("Action")
        next_id = 10000
        fffe_at = plan.targets.get("fffe")
        long_at = plan.targets.get("long-comment")
        for index in range(self.spec.issues):
            for number in range(plan.comments[index]):
                body = (
                    self.paragraph(rng, 2 + below(rng, 2)) if rng.random() < 0.4 else self.text(rng)
                )
                first = number == 0
                if first and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-comment", "Action", next_id, plan.issue_key(index), "body", body
                    )
                if first and index == fffe_at:
                    body = f"Copied from Word{MARK} here"
                text = xml_row(
                    "Action",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("type", "comment"),
                        ("body", body),
                        ("created", plan.when(index, 60 + number)),
                    ),
                )
                if first and index == fffe_at:
                    record = {
                        "fault": "fffe",
                        "entity": "Action",
                        "id": str(next_id),
                        "issue_key": plan.issue_key(index),
                        "field": "body",
                        **_payload_facts("\ufffe"),
                    }
                    yield FaultyRow(text, "\ufffe", record)
                else:
                    yield text
                next_id += 1

    def worklogs(self) -> Rows:
        plan, rng = self.plan, self.rng("Worklog")
        next_id = 10000
        long_at = plan.targets.get("long-worklog")
        cut_at = plan.targets.get("truncated")
        for index in range(self.spec.issues):
            for number in range(plan.worklogs[index]):
                body = self.text(rng)
                if number == 0 and index == long_at:
                    body = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-worklog", "Worklog", next_id, plan.issue_key(index), "body", body
                    )
                started = plan.when(index, 120 + number)
                text = xml_row(
                    "Worklog",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("body", body),
                        ("created", started),
                        ("startdate", started),
                        ("timeworked", 900 * (1 + below(rng, 32))),
                    ),
                )
                if number == 0 and index == cut_at:
                    # the last entity in the file, so a cut backup still holds every other fault
                    record = {"fault": "truncated", "entity": "Worklog", "id": str(next_id)}
                    yield Cut(text[: len(text) // 2], record)
                    return
                yield text
                next_id += 1

    def change_groups(self) -> Rows:
        plan, rng = self.plan, self.rng("ChangeGroup")
        next_id = 10000
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                yield xml_row(
                    "ChangeGroup",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("author", plan.actor(rng)),
                        ("created", plan.when(index, 180 + number)),
                    ),
                )
                next_id += 1

    def change_items(self) -> Rows:
        plan, rng = self.plan, self.rng("ChangeItem")
        group_id, item_id = 10000, 10000
        target = plan.targets.get("control-char-changeitem")
        for index in range(self.spec.issues):
            for number in range(plan.change_groups[index]):
                old_index = below(rng, len(STATUSES))
                old = STATUSES[old_index]
                new = STATUSES[(old_index + 1 + below(rng, len(STATUSES) - 1)) % len(STATUSES)]
                yield xml_row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "status"),
                        ("oldvalue", old[0]),
                        ("oldstring", old[1]),
                        ("newvalue", new[0]),
                        ("newstring", new[1]),
                    ),
                )
                item_id += 1
                before, after = plan.actor(rng), plan.actor(rng)
                faulty = number == 0 and index == target
                text = xml_row(
                    "ChangeItem",
                    (
                        ("id", item_id),
                        ("group", group_id),
                        ("fieldtype", "jira"),
                        ("field", "assignee"),
                        ("oldvalue", before),
                        ("oldstring", before),
                        ("newvalue", after),
                        ("newstring", f"{MARK}[0m{after}" if faulty else after),
                    ),
                )
                if faulty:
                    record = {
                        "fault": "control-char-changeitem",
                        "entity": "ChangeItem",
                        "id": str(item_id),
                        "issue_key": plan.issue_key(index),
                        "field": "newstring",
                        **_payload_facts("\x1b"),
                    }
                    yield FaultyRow(text, "\x1b", record)
                else:
                    yield text
                item_id += 1
                group_id += 1

    def custom_field_values(self) -> Rows:
        plan, rng = self.plan, self.rng("CustomFieldValue")
        next_id = 10000
        long_at = plan.targets.get("long-custom-text")
        for index in range(self.spec.issues):
            for number in range(plan.custom_texts[index]):
                text = self.paragraph(rng, 2 + below(rng, 3))
                if number == 0 and index == long_at:
                    text = _long_text(rng, LONG_TEXT_CHARS)
                    self.long_text(
                        "long-custom-text",
                        "CustomFieldValue",
                        next_id,
                        plan.issue_key(index),
                        "textvalue",
                        text,
                    )
                yield xml_row(
                    "CustomFieldValue",
                    (
                        ("id", next_id),
                        ("issue", 10000 + index),
                        ("customfield", 10000),
                        ("textvalue", text),
                    ),
                    split_lines=rng.random() < 0.25,
                )
                next_id += 1

    def file_attachments(self) -> Rows:
        plan, rng = self.plan, self.rng("FileAttachment")
        for attachment in plan_attachments(plan):
            index = attachment.issue_id - 10000
            yield xml_row(
                "FileAttachment",
                (
                    ("id", attachment.id),
                    ("issue", attachment.issue_id),
                    ("mimetype", attachment.mimetype),
                    ("filename", attachment.filename),
                    ("created", plan.when(index, 30)),
                    ("filesize", attachment.filesize),
                    ("author", plan.actor(rng)),
                    ("zip", 0),
                    ("thumbnailable", 1 if attachment.thumbnailable else 0),
                ),
            )

    def issue_links(self) -> Rows:
        plan, rng = self.plan, self.rng("IssueLink")
        next_id = 10000
        total = self.spec.issues
        for index in range(total):
            for sequence in range(plan.links[index]):
                yield xml_row(
                    "IssueLink",
                    (
                        ("id", next_id),
                        ("linktype", 10000 + below(rng, 4)),
                        ("source", 10000 + index),
                        ("destination", 10000 + below(rng, total)),
                        ("sequence", sequence),
                    ),
                )
                next_id += 1

    def current_steps(self) -> Rows:
        plan = self.plan
        for index in range(self.spec.issues):
            yield xml_row(
                "OSCurrentStep",
                (
                    ("id", 10000 + index),
                    ("entryId", 10000 + index),
                    ("stepId", 1),
                    ("actionId", 0),
                    ("startDate", plan.when(index)),
                    ("status", "Open"),
                ),
            )
