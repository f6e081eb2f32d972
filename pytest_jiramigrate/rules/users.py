"""User rules: the e-mail addresses, usernames and user counts Cloud's import rejects.

Which users count (one decision, used by every rule through
:func:`counted_users`):

* **All users, active and inactive.**  Site import brings over every user of
  the backup; Atlassian's guide only says you can "overwrite all users, or
  ... merge users from the import file with existing cloud users".  An
  inactive user with a bad or duplicate e-mail address breaks the import just
  like an active one, so every e-mail and username rule checks them all.
* **One user per username.**  Jira resolves a username through its
  directories in order and the first directory (lowest ``position``) that
  holds it wins; copies in later directories are shadowed.  The import makes
  one Cloud account per username, so a username in several directories counts
  once, with the e-mail address, active flag and directory of the winning
  copy.  Users of pre-4.3 backups (``OSUser``) have no directory and count as
  they are.
* **Not the users of disabled directories.**  A directory with
  ``active = 0`` is skipped by Jira when it resolves users: its users cannot
  log in and do not shadow anyone, so they are left out before shadowing.
  Enable the directory before the backup if its users must come across.
* **Licensed users for the plan, the tier and site-import eligibility.**  The
  guide asks for "a user tier that supports all of the users you plan to
  import", and Cloud bills users with product access (Atlassian, "Manage users
  and user tiers").  :func:`licensed_users` counts the active users who have
  it on the server: from Jira 7 the members (direct, or through nested
  groups) of the groups in ``LicenseRoleGroup``; before 7.0 the members of
  the groups holding the global USE permission; all active users only when
  the backup has neither.  ``user-count-within-plan`` and
  ``site-import-eligibility`` use that count and say which counting it was.
* **Active users for the advance notice.**  The guide asks for notice when
  "migrating over 1,000 users": ``large-migration-notice`` counts every active
  user that comes across.

``user-unique-in-directory`` is the one rule that looks *before* shadowing,
because its fault is two rows for the same username inside one directory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_jiramigrate.core.emails import (
    domain_problem,
    pattern_advisory,
    syntax_problem,
    tld_problem,
)
from pytest_jiramigrate.facts import Facts, Mask
from pytest_jiramigrate.rules.base import (
    Finding,
    Rule,
    RuleSettings,
    Threshold,
    Verdict,
    plural,
    rule,
)

#: Every user row the import reads: users of enabled directories, and users
#: without a directory row (pre-4.3 ``OSUser``).  Missing flags mean "active".
IMPORTED_USERS_SQL = """
SELECT u.id, u.directory_id, u.user_name,
       coalesce(u.lower_user_name, lower(u.user_name)) AS lower_user_name,
       coalesce(u.active, 1) != 0 AS active, coalesce(u.email, '') AS email, u.line,
       u.display_name,
       d.name AS directory_name, d.position AS position
FROM user AS u LEFT JOIN directory AS d ON d.id = u.directory_id
WHERE coalesce(d.active, 1) != 0
"""

#: One row per username: the copy in the directory Jira resolves first.
COUNTED_USERS_SQL = f"""
WITH imported AS ({IMPORTED_USERS_SQL}),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY lower_user_name
        ORDER BY position IS NULL, position, CAST(directory_id AS INTEGER),
                 CAST(id AS INTEGER)) AS rank
    FROM imported)
SELECT * FROM ranked WHERE rank = 1 ORDER BY lower_user_name
"""

RESERVED_PREFIX = "addon_"

#: Atlassian's annual user tiers for Jira Cloud (upper bound of each tier).
JIRA_ANNUAL_TIERS: tuple[int, ...] = (
    10, 25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1200,
    1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 15000, 20000, 25000, 30000,
    35000, 40000, 45000, 50000,
)  # fmt: skip


@dataclass(frozen=True)
class ImportedUser:
    """One user row as the import sees it, named the way an administrator finds it."""

    user_name: str
    lower_user_name: str
    email: str
    active: bool
    directory_id: str | None
    directory_name: str | None
    line: int | None
    display_name: str | None = None

    @property
    def directory(self) -> str | None:
        """The directory's name, or its id when the backup has no Directory row for it."""
        return self.directory_name if self.directory_name is not None else self.directory_id

    def where(self) -> str:
        return "" if self.directory is None else f" (directory '{self.directory}')"

    def finding(self, reason: str, mask: Mask, *, with_email: bool = True) -> Finding:
        """The user named through ``mask``: the text is built from the masked values."""
        user, email = mask.user(self.user_name), mask.email(self.email)
        address = f" <{email}>" if with_email else ""
        return Finding(
            text=f"{user}{address}{self.where()}: {reason}",
            fields={
                "user": user,
                "display_name": self.display_name and mask.name(self.display_name),
                "email": email,
                "directory": self.directory,
                "directory_id": self.directory_id,
                "line": self.line,
                "reason": reason,
            },
        )


def _users(rows: Iterable[Any]) -> list[ImportedUser]:
    return [
        ImportedUser(
            user_name=row["user_name"] or "",
            lower_user_name=row["lower_user_name"] or "",
            email=row["email"],
            active=bool(row["active"]),
            directory_id=row["directory_id"],
            directory_name=row["directory_name"],
            line=row["line"],
            display_name=row["display_name"],
        )
        for row in rows
    ]


def imported_users(facts: Facts) -> list[ImportedUser]:
    """Every user row of enabled directories, before shadowing, by directory and username."""
    return _users(
        facts.rows(IMPORTED_USERS_SQL + " ORDER BY u.directory_id, lower_user_name, u.line")
    )


def counted_users(facts: Facts) -> list[ImportedUser]:
    """The users the import creates: one per username, active and inactive (module docstring).

    Built once per run and shared by every user and group rule: do not modify it.
    """
    return facts.derived("counted_users", lambda f: _users(f.rows(COUNTED_USERS_SQL)))


def active_user_count(facts: Facts) -> int:
    """Active counted users: the ones large-migration-notice counts (seats are
    :func:`licensed_users`)."""
    return sum(user.active for user in counted_users(facts))


@dataclass(frozen=True)
class LicensedUsers:
    """How many users take a seat in Cloud, and how they were told apart (said in verdicts)."""

    count: int
    counting: str


#: The groups that give product access, and every group nested in them (Jira's
#: GROUP_GROUP memberships: the child group's members are the parent's too).
_ACCESS_GROUPS_SQL = """
WITH RECURSIVE access(name) AS (
    {granting}
    UNION
    SELECT coalesce(m.lower_child_name, lower(m.child_name))
    FROM membership AS m JOIN access AS a
      ON coalesce(m.lower_parent_name, lower(m.parent_name)) = a.name
    WHERE m.membership_type = 'GROUP_GROUP')
SELECT DISTINCT coalesce(m.lower_child_name, lower(m.child_name)), m.directory_id
FROM membership AS m JOIN access AS a
  ON coalesce(m.lower_parent_name, lower(m.parent_name)) = a.name
WHERE m.membership_type = 'GROUP_USER'
"""

_GRANTING = (
    (
        "SELECT lower(group_name) FROM license_role_group WHERE group_name IS NOT NULL",
        "members of the LicenseRoleGroup application-access groups",
    ),
    (
        "SELECT lower(group_name) FROM global_permission"
        " WHERE permission = 'USE' AND group_name IS NOT NULL",
        "members of the groups with the global USE permission",
    ),
)


def licensed_users(facts: Facts) -> LicensedUsers:
    """Active users with product access: members of the groups that grant it (module docstring)."""
    return facts.derived("licensed_users", _count_licensed)


def _count_licensed(facts: Facts) -> LicensedUsers:
    active = [user for user in counted_users(facts) if user.active]
    for granting, counting in _GRANTING:
        if facts.scalar(f"SELECT count(*) FROM ({granting})"):
            members: dict[str, set[str | None]] = defaultdict(set)
            for name, directory_id in facts.db.execute(
                _ACCESS_GROUPS_SQL.format(granting=granting)
            ):
                members[name].add(directory_id)
            count = sum(
                1
                for user in active
                if user.lower_user_name in members
                and _same_directory(user.directory_id, members[user.lower_user_name])
            )
            return LicensedUsers(count, counting)
    return LicensedUsers(len(active), "all active users, as the backup names no access groups")


def _same_directory(directory_id: str | None, membership_directories: set[str | None]) -> bool:
    """A membership belongs to the user of its directory (pre-4.3 rows have none)."""
    return (
        directory_id is None
        or None in membership_directories
        or (directory_id in membership_directories)
    )


def agree(count: int, noun: str, singular_verb: str, plural_verb: str) -> str:
    """``1 user has``, ``3 users have``: the subject of a summary sentence."""
    return f"{plural(count, noun)} {singular_verb if count == 1 else plural_verb}"


def _with_email(users: Sequence[ImportedUser]) -> list[ImportedUser]:
    """Users that have an address; users without one are `email-present`'s findings."""
    return [user for user in users if user.email.strip()]


def _address_verdict(
    facts: Facts, problem: Callable[[str], str | None], fault: str, fine: str
) -> Verdict:
    """Check every counted user's address with ``problem``; one finding per offender."""
    users = _with_email(counted_users(facts))
    findings = []
    for user in users:
        reason = problem(user.email)
        if reason is not None:
            findings.append(user.finding(reason, facts.mask))
    if findings:
        subject = agree(len(findings), "user", "has", "have")
        return Verdict(findings, f"{subject} an e-mail address {fault}.")
    if not users:
        return Verdict((), "No user has an e-mail address to check.")
    return Verdict((), f"{_all(len(users), 'user', 'has', 'have')} an e-mail address {fine}.")


def _scanned(
    facts: Facts, column: str, problem: Callable[[str], str | None]
) -> Callable[[str], str | None]:
    """``problem``, answered from the verdicts the scan stored (``email_check``) where it can:
    they do not depend on the configuration, and 20,000 addresses take a second to check.

    The stored reasons name domains in clear; under --jira-redact an offender's reason
    is made again by ``problem``, which shows the domain through the mask.
    """
    verdicts: dict[str, str | None] = facts.derived(
        f"email_check.{column}",
        lambda f: dict(f.db.execute(f"SELECT email, {column} FROM email_check").fetchall()),
    )
    redacting = facts.mask.redacting

    def check(address: str) -> str | None:
        if address not in verdicts:
            return problem(address)
        stored = verdicts[address]
        return problem(address) if stored is not None and redacting else stored

    return check


def _withheld(problem: Callable[[str], str | None], mask: Mask) -> Callable[[str], str | None]:
    """A syntax reason that could quote the address (email-validator's IDNA errors do),
    withheld under --jira-redact rather than rewritten."""

    def check(address: str) -> str | None:
        reason = problem(address)
        if reason is None or not mask.redacting:
            return reason
        local, _, domain = address.rpartition("@")
        pieces = [piece for piece in (local, *domain.split(".")) if len(piece) > 2]
        if any(piece.lower() in reason.lower() for piece in pieces):
            return "The address is malformed (the reason quotes it: withheld under --jira-redact)"
        return reason

    return check


def _all(count: int, noun: str, singular_verb: str, plural_verb: str) -> str:
    """``The 1 user has``, ``All 20 users have``: the subject of a passing summary."""
    return ("The " if count == 1 else "All ") + agree(count, noun, singular_verb, plural_verb)


@rule(
    id="email-present",
    title="Every user has an e-mail address",
    why="""
        A Jira Cloud user is an Atlassian account, and an Atlassian account is
        identified by its e-mail address, so the import cannot create a user
        without one. Inactive users are imported too and need one as well.
    """,
    fix="""
        Give each listed user an e-mail address (User management > Edit, or in
        the LDAP/Crowd directory it synchronises from), or delete users nobody
        needs, then take a new backup.
    """,
    sql="""
select u.user_name, d.directory_name
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1 and (u.email_address is null or trim(u.email_address) = '')
    """,
    group="users",
    needs=("entities",),
)
def email_present(facts: Facts, settings: RuleSettings) -> Verdict:
    users = counted_users(facts)
    findings = [
        user.finding("no e-mail address", facts.mask, with_email=False)
        for user in users
        if not user.email.strip()
    ]
    if findings:
        subject = agree(len(findings), "user", "has", "have")
        return Verdict(findings, f"{subject} no e-mail address.")
    if not users:
        return Verdict((), "The backup has no users.")
    return Verdict((), f"{_all(len(users), 'user', 'has', 'have')} an e-mail address.")


@rule(
    id="email-syntax",
    title="E-mail addresses are well-formed",
    why="""
        Cloud's user import refuses malformed addresses: what the RFCs (5321,
        5322, 6531) do not allow, including a part before the @ longer than 64
        characters. Atlassian's KB "Resolve invalid email addresses when
        migrating to the Cloud" finds them on PostgreSQL with the pattern
        ^[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+$, which is stricter than
        the same KB's MySQL and Oracle queries: valid addresses it refuses ('+',
        apostrophes, quoted or non-ASCII local parts) are listed as warnings.
    """,
    fix="""
        Correct each listed address in Jira or in the directory it comes from
        (for an LDAP directory, in LDAP, then synchronise), then take a new backup.
        Addresses listed as warnings are valid: change them only if the import
        refuses them.
    """,
    sql="""
-- PostgreSQL (the KB's pattern: it also lists valid addresses with '+' or apostrophes);
-- on MySQL use "not regexp", on Oracle "not regexp_like(...)"
select u.user_name, u.email_address, d.directory_name
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1
  and (u.email_address !~ '^[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+$'
       or length(split_part(u.email_address, '@', 1)) > 64)
    """,
    group="users",
    needs=("entities",),
)
def email_syntax(facts: Facts, settings: RuleSettings) -> Verdict:
    verdict = _address_verdict(
        facts,
        _withheld(_scanned(facts, "syntax", syntax_problem), facts.mask),
        "that the RFCs call malformed",
        "that is well-formed",
    )
    pattern = _scanned(facts, "pattern", pattern_advisory)
    advisories = [
        user.finding(reason, facts.mask)
        for user in _with_email(counted_users(facts))
        if (reason := pattern(user.email)) is not None
    ]
    if not advisories:
        return verdict
    subject = agree(len(advisories), "valid address", "is", "are")
    return replace(
        verdict,
        summary=f"{verdict.summary} {subject} refused by the stricter pattern of Atlassian's KB.",
        advisories=advisories,
    )


@rule(
    id="email-tld",
    title="E-mail addresses end in a top-level domain",
    why="""
        Atlassian's site-import guide: "All emails must end in a top-level
        domain. For example: john_doe@company isn't valid because it's missing
        the .com, and would block the import." The last label is checked
        against the ICANN top-level domains of the public suffix list.
    """,
    fix="""
        Give each listed user a full address ending in a real top-level domain
        (jdoe@acmecorp -> jdoe@acmecorp.com), in Jira or in the directory it
        comes from, then take a new backup.
    """,
    sql="""
-- every domain in use, to review: a domain without a dot has no top-level domain
select lower(substr(u.email_address, strpos(u.email_address, '@') + 1)) as domain, count(*)
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1
group by 1 order by 1
    """,
    group="users",
    needs=("entities",),
)
def email_tld(facts: Facts, settings: RuleSettings) -> Verdict:
    return _address_verdict(
        facts,
        _scanned(facts, "tld", lambda address: tld_problem(address, facts.mask.domain)),
        "without a top-level domain",
        "with a top-level domain",
    )


@rule(
    id="email-domain",
    title="E-mail domains are real, public domains",
    why="""
        Atlassian's site-import guide: "All emails must use a valid domain."
        Special-use names (RFC 6761 localhost/.test/.invalid/.example, RFC 6762
        .local and the private-use names of its appendix G, RFC 8375 home.arpa)
        cannot be real mailboxes, and Cloud's import is known to fail on
        @example.com (Atlassian KB "Error processing user emails CSV"). A domain
        whose registrable part cannot be found in the public suffix list is not
        a recognised domain. target.allow_domains accepts a domain regardless;
        target.deny_domains adds domains to refuse.
    """,
    fix="""
        Replace each listed address with one on the organisation's real mail
        domain (in Jira, or in the directory it comes from), or delete placeholder
        and test users, then take a new backup. If a listed domain is real, add it
        to target.allow_domains.
    """,
    sql="""
select u.user_name, u.email_address, d.directory_name
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1
  and (u.lower_email_address like '%@localhost' or u.lower_email_address like '%.local'
       or u.lower_email_address like '%@example.%' or u.lower_email_address like '%.example.%'
       or u.lower_email_address like '%.test' or u.lower_email_address like '%.invalid')
    """,
    group="users",
    needs=("entities",),
)
def email_domain(facts: Facts, settings: RuleSettings) -> Verdict:
    target = settings.site

    def problem(address: str) -> str | None:
        return domain_problem(address, target.allow_domains, target.deny_domains, facts.mask.domain)

    return _address_verdict(
        facts, problem, "on a domain Cloud does not accept", "on an accepted domain"
    )


@rule(
    id="email-unique",
    title="No two users share an e-mail address",
    why="""
        Atlassian's site-import guide: "All users must have unique email
        addresses." Cloud accounts are keyed by address, compared without
        regard to case. The same username in several directories is one user
        (Jira's directory shadowing), so it is not a duplicate of itself.
    """,
    fix="""
        Give each listed user a distinct address, or merge the accounts of one
        person into one username (delete or rename the duplicates), then take a
        new backup.
    """,
    sql="""
select u.lower_email_address, count(distinct u.lower_user_name)
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1
group by u.lower_email_address having count(distinct u.lower_user_name) > 1
    """,
    group="users",
    needs=("entities",),
)
def email_unique(facts: Facts, settings: RuleSettings) -> Verdict:
    users = _with_email(counted_users(facts))
    by_address: dict[str, list[ImportedUser]] = defaultdict(list)
    for user in users:
        by_address[user.email.strip().lower()].append(user)
    findings = [
        _shared_address(address, sharing, facts.mask)
        for address, sharing in sorted(by_address.items())
        if len(sharing) > 1
    ]
    if findings:
        sharing_count = sum(len(finding.fields["users"]) for finding in findings)
        subject = agree(len(findings), "e-mail address", "is", "are")
        return Verdict(
            findings,
            f"{subject} shared by more than one user ({sharing_count} users in all).",
        )
    if not users:
        return Verdict((), "No user has an e-mail address to check.")
    return Verdict((), f"{_all(len(users), 'user', 'has', 'have')} a unique e-mail address.")


def _shared_address(address: str, users: Sequence[ImportedUser], mask: Mask) -> Finding:
    names = [mask.user(user.user_name) for user in users]
    named = ", ".join(
        name if user.directory is None else f"{name} ({user.directory})"
        for name, user in zip(names, users, strict=True)
    )
    shown = mask.email(address)
    return Finding(
        text=f"{shown}: {named}",
        fields={
            "email": shown,
            "users": names,
            "directories": [user.directory for user in users],
            "count": len(users),
        },
    )


@rule(
    id="username-reserved-prefix",
    title="No username starts with the reserved prefix addon_",
    why="""
        Atlassian's site-import guide: "Usernames starting with addon_ will need
        to be renamed or deleted. This prefix is reserved for Atlassian
        Marketplace apps." The prefix is matched without regard to case.
    """,
    fix="""
        Rename (Jira 7+: User management > Edit username) or delete each listed
        user, then take a new backup.
    """,
    sql=r"""
select u.user_name, d.directory_name
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1 and u.lower_user_name like 'addon\_%' escape '\'
    """,
    group="users",
    needs=("entities",),
)
def username_reserved_prefix(facts: Facts, settings: RuleSettings) -> Verdict:
    users = counted_users(facts)
    reason = f"starts with the reserved prefix {RESERVED_PREFIX}"
    findings = [
        user.finding(reason, facts.mask)
        for user in users
        if user.lower_user_name.startswith(RESERVED_PREFIX)
    ]
    if findings:
        subject = agree(len(findings), "username", "starts", "start")
        return Verdict(findings, f"{subject} with the reserved prefix {RESERVED_PREFIX}.")
    return Verdict(
        (), f"No username starts with {RESERVED_PREFIX} ({plural(len(users), 'user')} checked)."
    )


@rule(
    id="user-unique-in-directory",
    title="No username appears twice in one directory",
    why="""
        Jira requires a username to be unique within a directory
        (lower_user_name), and Cloud's UsersImportService fails on a backup that
        holds two such rows (Atlassian KB on UsersImportService errors). Such
        rows come from database edits or broken directory synchronisation.
    """,
    fix="""
        Delete the extra row (keep the one the user logs in with, and re-point
        its memberships) or re-synchronise the directory, then take a new backup.
    """,
    sql="""
select directory_id, lower_user_name, count(*)
from cwd_user
group by directory_id, lower_user_name having count(*) > 1
    """,
    group="users",
    needs=("entities",),
)
def user_unique_in_directory(facts: Facts, settings: RuleSettings) -> Verdict:
    rows: dict[tuple[str | None, str], list[ImportedUser]] = defaultdict(list)
    for user in imported_users(facts):
        rows[(user.directory_id, user.lower_user_name)].append(user)
    findings = [_duplicate_rows(copies, facts.mask) for copies in rows.values() if len(copies) > 1]
    if findings:
        subject = agree(len(findings), "username", "appears", "appear")
        return Verdict(findings, f"{subject} more than once in the same directory.")
    return Verdict(
        (), f"No username appears twice in one directory ({plural(len(rows), 'user')} checked)."
    )


def _duplicate_rows(copies: Sequence[ImportedUser], mask: Mask) -> Finding:
    """One username's rows in one directory; under --jira-redact the spellings, which differ
    only in case, become one pseudonym."""
    first = copies[0]
    user, spellings = mask.user(first.lower_user_name), [mask.user(c.user_name) for c in copies]
    return Finding(
        text=f"{user} appears {len(copies)} times{first.where()}: {', '.join(spellings)}",
        fields={
            "user": user,
            "users": spellings,
            "emails": [mask.email(copy.email) for copy in copies],
            "directory": first.directory,
            "directory_id": first.directory_id,
            "lines": [copy.line for copy in copies],
            "count": len(copies),
        },
    )


def tier_band(tiers: Sequence[int], users: int) -> tuple[int, str] | None:
    """The smallest tier holding ``users`` and its band ("101-150"), or None above them all."""
    lower_bound = 0
    for tier in sorted(tiers):
        if users <= tier:
            return tier, f"{lower_bound + 1}-{tier}"
        lower_bound = tier
    return None


@rule(
    id="user-count-within-plan",
    title="The Cloud plan and user tier hold every user with product access",
    why="""
        The import fails when it brings more users than the site allows. The
        Free plan holds 10 users ("If you attempt to migrate more users than the
        plan allows, your migration will fail"). On an annual subscription
        "check that you have a user tier that supports all of the users you plan
        to import. For example, if you plan to import 125 users, you'll need the
        annual user tier for 101 - 200 users or above for the import to succeed.
        If you're paying monthly, this doesn't apply." Cloud bills the users with
        product access (Atlassian, "Manage users and user tiers"): the active
        members of the groups that grant application access (LicenseRoleGroup,
        Jira 7+) or the global USE permission (before 7.0); all active users when
        the backup names neither.
    """,
    fix="""
        Choose a plan or annual tier that holds the users with product access (set
        target.plan/target.billing/target.user_tier to match the Cloud site),
        stay on monthly billing until the import is done, as Atlassian
        recommends, or deactivate users who no longer need Jira and take a new
        backup.
    """,
    sql="""
select count(distinct u.lower_user_name)
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1 and u.active = 1
    """,
    thresholds=(
        Threshold("free_limit", 10, "users the Free plan holds"),
        Threshold(
            "annual_tiers",
            JIRA_ANNUAL_TIERS,
            "upper bounds of the annual user tiers (YAML lists arrive as strings)",
            kind="list",
        ),
    ),
    group="users",
    needs=("entities",),
)
def user_count_within_plan(facts: Facts, settings: RuleSettings) -> Verdict:
    licensed = licensed_users(facts)
    target = settings.site
    counting = {"counting": licensed.counting}
    if target.plan == "free":
        return _free_plan_verdict(licensed, int(settings["free_limit"]))
    if target.billing == "monthly":
        return Verdict(
            (),
            f"{_has_licensed(licensed)}; monthly billing has no user tier to outgrow.",
            observed=licensed.count,
            properties=counting,
        )
    tiers = [int(tier) for tier in settings["annual_tiers"]]
    return _annual_tier_verdict(licensed, tiers, target.user_tier)


def _has_licensed(licensed: LicensedUsers) -> str:
    """``The backup has 12 users with product access, counted as members of ...``."""
    return (
        f"The backup has {plural(licensed.count, 'user')} with product access,"
        f" counted as {licensed.counting}"
    )


def _free_plan_verdict(licensed: LicensedUsers, free_limit: int) -> Verdict:
    users, count = _has_licensed(licensed), licensed.count
    properties = {"counting": licensed.counting}
    if count <= free_limit:
        return Verdict(
            (),
            f"{users}, within the Free plan's {plural(free_limit, 'user')}.",
            observed=count,
            limit=free_limit,
            properties=properties,
        )
    text = f"{users}, more than the Free plan's limit of {plural(free_limit, 'user')}"
    fields = {"licensed_users": count, "counting": licensed.counting, "plan": "free"}
    finding = Finding(text, {**fields, "limit": free_limit})
    return Verdict((finding,), text + ".", observed=count, limit=free_limit, properties=properties)


def _annual_tier_verdict(
    licensed: LicensedUsers, tiers: Sequence[int], user_tier: int | None
) -> Verdict:
    active = licensed.count
    needed = tier_band(tiers, active)
    subject = f"{plural(active, 'user')} with product access {'needs' if active == 1 else 'need'}"
    need = (
        f"{subject} an annual tier above {max(tiers)} users"
        if needed is None
        else f"{subject} the annual tier for {needed[1]} users or above"
    )
    properties = {"counting": licensed.counting}
    if needed is not None:
        properties["needed_tier"] = needed[1]
    if user_tier is None:
        return Verdict(
            (),
            f"{need} (target.user_tier is not set).",
            observed=active,
            limit=None if needed is None else needed[0],
            properties=properties,
        )
    if active <= user_tier:
        return Verdict(
            (),
            f"{plural(active, 'user')} with product access {'fits' if active == 1 else 'fit'}"
            " the annual tier of"
            f" {plural(user_tier, 'user')}.",
            observed=active,
            limit=user_tier,
            properties=properties,
        )
    text = f"{need}, but the target's tier is {plural(user_tier, 'user')}"
    fields = {"licensed_users": active, "user_tier": user_tier, **properties}
    return Verdict(
        (Finding(text, fields),),
        text + ".",
        observed=active,
        limit=user_tier,
        properties=properties,
    )


@rule(
    id="site-import-eligibility",
    title="The site is large enough for Atlassian to offer server-to-cloud site import",
    why="""
        Since May 2022 Atlassian offers site import (backup and restore) from Server
        or Data Center to Cloud only for migrations of more than 1,000 users; smaller
        sites migrate with the Jira Cloud Migration Assistant, or ask Atlassian
        support for an exception. (Atlassian, "Use Jira Site Import to migrate from
        server to cloud".) The users counted are those with product access, as Cloud
        bills them: the active members of the groups that grant application access
        (LicenseRoleGroup, Jira 7+) or the global USE permission (before 7.0), or all
        active users when the backup names neither.
    """,
    fix="""
        Plan the migration with the Jira Cloud Migration Assistant, or contact
        Atlassian support before relying on site import. Nothing in the backup
        needs to change.
    """,
    sql="""
-- Jira 7+: active users in the groups that grant application access (direct members)
select count(distinct u.lower_user_name)
from cwd_user u join cwd_directory d on d.id = u.directory_id
join cwd_membership m on m.lower_child_name = u.lower_user_name
    and m.directory_id = u.directory_id and m.membership_type = 'GROUP_USER'
join licenserolesgroup l on lower(l.group_id) = m.lower_parent_name
where d.active = 1 and u.active = 1
    """,
    severity="warning",
    thresholds=(
        Threshold(
            "more_than", 1000, "users with product access above which site import is offered"
        ),
    ),
    group="users",
    needs=("entities",),
)
def site_import_eligibility(facts: Facts, settings: RuleSettings) -> Verdict:
    licensed = licensed_users(facts)
    more_than = int(settings["more_than"])
    users = _has_licensed(licensed)
    properties = {"counting": licensed.counting}
    if licensed.count > more_than:
        return Verdict(
            (),
            f"{users}, more than {more_than:,}: Atlassian offers site import for a migration"
            " of this size.",
            observed=licensed.count,
            limit=more_than,
            properties=properties,
        )
    text = (
        f"{users}, not more than {more_than:,}: since May 2022 Atlassian offers server-to-cloud"
        f" site import only for migrations of more than {plural(more_than, 'user')}; use the"
        " Jira Cloud Migration Assistant or ask Atlassian support"
    )
    finding = Finding(
        text,
        {"licensed_users": licensed.count, "counting": licensed.counting, "limit": more_than},
    )
    return Verdict(
        (finding,), text + ".", observed=licensed.count, limit=more_than, properties=properties
    )


@rule(
    id="large-migration-notice",
    title="Atlassian support is told about a large migration",
    why="""
        Atlassian's site-import guide: "If you'll be performing your migration
        over a weekend or holiday, or are migrating over 1,000 users to cloud,
        get in touch at least two weeks in advance to let us know. That way, we
        can ensure we have extra support on hand during your migration."
    """,
    fix="""
        Contact Atlassian support at least two weeks before the import date with
        the number of users and the planned date. Nothing in the backup needs
        to change.
    """,
    sql="""
select count(distinct u.lower_user_name)
from cwd_user u join cwd_directory d on d.id = u.directory_id
where d.active = 1 and u.active = 1
    """,
    severity="warning",
    thresholds=(Threshold("users", 1000, "active users above which Atlassian wants notice"),),
    group="users",
    needs=("entities",),
)
def large_migration_notice(facts: Facts, settings: RuleSettings) -> Verdict:
    active = active_user_count(facts)
    limit = int(settings["users"])
    users = f"The backup has {plural(active, 'active user')}"
    if active <= limit:
        return Verdict(
            (),
            f"{users}, not more than {limit:,}: no advance notice to Atlassian is needed.",
            observed=active,
            limit=limit,
        )
    text = (
        f"{users}, more than {limit:,}: contact Atlassian support at least two weeks"
        " before the import"
    )
    finding = Finding(text, {"active_users": active, "limit": limit})
    return Verdict((finding,), text + ".", observed=active, limit=limit)


RULES: tuple[Rule, ...] = (
    email_present,
    email_syntax,
    email_tld,
    email_domain,
    email_unique,
    username_reserved_prefix,
    user_unique_in_directory,
    user_count_within_plan,
    site_import_eligibility,
    large_migration_notice,
)
