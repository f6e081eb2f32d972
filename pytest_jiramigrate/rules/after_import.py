"""After-import rules: what an import that "succeeds" silently drops, breaks or makes public.

The other rule groups catch what makes Cloud's site import fail.  These catch
the costlier surprises after it: app data that never arrives, projects and
filters open to anyone, work credited to "Former user", boards that open
empty, permissions given to groups that do not exist, Cloud's data limits,
integrations still pointing at the server, the importer's own account, and
what the Free plan takes away.  Atlassian's Cloud Migration Assistant checks
some of these, but only on a running server with its app installed; these
rules read the backup alone.  They warn by default: none of them is known to
make the import fail.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import (
    Finding,
    NotChecked,
    Rule,
    RuleSettings,
    Threshold,
    Verdict,
    passed,
    plural,
    rule,
)
from pytest_jiramigrate.rules.groups import backup_groups, group_members, imported_user_names

GROUP = "after-import"
GUIDE = 'Atlassian, "Use Jira Site Import to migrate from server to cloud"'
LIMITS_PAGE = (
    'Atlassian, "Data limits and guardrails" (Jira Cloud administration,'
    " support.atlassian.com/jira-cloud-administration/docs/data-limits-and-guardrails)"
)

# --- apps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownApp:
    """An app whose Active Objects tables may be in a backup without its PluginVersion row."""

    key: str
    name: str


#: Apps named even when the backup has no PluginVersion row for them.  Site import
#: carries Jira Software's boards and sprints and Service Management's data; no
#: third-party app's data (Atlassian, "Use Jira Site Import...": the import restores
#: Jira's own data; apps need their vendor's migration path).
KNOWN_APPS: tuple[KnownApp, ...] = (
    KnownApp("com.pyxis.greenhopper.jira", "Jira Software (boards, sprints)"),
    KnownApp("com.atlassian.servicedesk", "Jira Service Management"),
    KnownApp("com.atlassian.jira.plugins.jira-bitbucket-connector-plugin", "DVCS connector"),
    KnownApp("com.atlassian.streams", "Activity Streams"),
    KnownApp("com.atlassian.jira.plugins.webhooks.jira-webhooks-plugin", "Webhooks"),
    KnownApp("com.googlecode.jira-suite-utilities", "Jira Suite Utilities"),
)
#: Atlassian platform tables whose plugin key was not confirmed (named by their tables)
KNOWN_PREFIXES: dict[str, tuple[str, str, str | None]] = {
    "AO_21D670": ("com.atlassian.plugins.atlassian-whitelist", "Atlassian allowlist", None),
}
#: Plugin keys of Atlassian's own apps and of Jira itself: site import carries Jira
#: Software's and Service Management's data; the other Atlassian tables hold platform
#: settings (webhooks, allowlist, activity streams, DVCS links), not an app's data
ATLASSIAN_KEYS: tuple[str, ...] = ("com.atlassian.", "com.pyxis.greenhopper.", "jira.")


def ao_prefix(plugin_key: str) -> str:
    """``AO_`` and the last 6 hex digits, upper case, of the MD5 of a plugin key (how
    Active Objects names an app's tables: com.pyxis.greenhopper.jira -> AO_60DB71)."""
    return (
        "AO_"
        + hashlib.md5(plugin_key.encode("utf-8"), usedforsecurity=False).hexdigest()[-6:].upper()
    )


def is_atlassian(plugin_key: str) -> bool:
    return plugin_key.startswith(ATLASSIAN_KEYS)


def apps_by_prefix(facts: Facts) -> dict[str, tuple[str, str, str | None]]:
    """Table prefix -> (plugin key, name, version): the backup's PluginVersion rows first,
    the built-in table of well-known apps where the backup has no row for them."""
    apps = dict(KNOWN_PREFIXES)
    apps |= {ao_prefix(app.key): (app.key, app.name, None) for app in KNOWN_APPS}
    for row in facts.query("SELECT key, name, version FROM plugin WHERE key IS NOT NULL"):
        apps[ao_prefix(row["key"])] = (row["key"], row["name"] or row["key"], row["version"])
    return apps


def _app_finding(
    prefix: str, app: tuple[str, str, str | None] | None, tables: list[str]
) -> Finding:
    listed = ", ".join(tables)
    if app is None:
        text = f"unknown app {prefix} (no plugin in the backup has this table prefix): {listed}"
        return Finding(text, {"prefix": prefix, "app": None, "tables": tables})
    key, name, version = app
    label = f"{name} {version}" if version else name
    text = f"{label} ({key}, {prefix}): {listed}"
    return Finding(text, {"prefix": prefix, "app": name, "plugin_key": key, "tables": tables})


@rule(
    id="app-data-not-migrated",
    title="App data that Cloud's site import does not carry",
    why=f"""
        Site import restores Jira's own data, Jira Software's boards and sprints and Jira
        Service Management's data. The data of other apps, kept in activeobjects.xml
        tables named AO_ plus a hash of the app's plugin key, does not arrive: it needs the
        vendor's own migration path (Tempo, for example, documents one), and custom fields
        whose type belongs to such an app arrive empty or unusable without it. ({GUIDE};
        Atlassian's "Assess and migrate apps" guidance for the Cloud Migration Assistant.
        No Atlassian page was found that lists, table by table, what site import drops.)
    """,
    fix="""
        For each app listed, install its Cloud version and follow the vendor's migration
        path, or export what you need before the move. Tables of Atlassian's own platform
        (webhooks, allowlist, activity streams) hold settings to recreate by hand. Custom
        fields of an app without a Cloud version: copy their values into a Jira custom
        field, or remove the field, before the backup.
    """,
    severity="warning",
    needs=("entities", "activeobjects"),
    sql="""
        -- the app of a table prefix: AO_ || upper(right(md5(pluginkey), 6))
        SELECT pluginkey, pluginname, pluginversion FROM pluginversion;
        -- custom fields of apps other than Atlassian's
        SELECT id, cfname, customfieldtypekey FROM customfield
        WHERE customfieldtypekey NOT LIKE 'com.atlassian.%';
    """,
    group=GROUP,
)
def app_data_not_migrated(facts: Facts, settings: RuleSettings) -> Verdict:
    apps = apps_by_prefix(facts)
    tables: dict[str, list[str]] = defaultdict(list)
    for row in facts.query("SELECT name, rows FROM ao_table WHERE rows > 0 ORDER BY name"):
        name = row["name"]
        if name.upper().startswith("AO_") and len(name) > 9:
            tables[name[:9].upper()].append(f"{name} ({plural(row['rows'], 'row')})")
    findings = [
        _app_finding(prefix, apps.get(prefix), listed)
        for prefix, listed in sorted(tables.items())
        # Jira Software and Service Management are carried; Atlassian's platform tables
        # (webhooks, allowlist, ...) are settings, not an app's data
        if prefix not in apps or not is_atlassian(apps[prefix][0])
    ]
    for row in facts.query("SELECT id, name, type_key FROM custom_field ORDER BY name, id"):
        key = (row["type_key"] or "").split(":", 1)[0]
        if key and not is_atlassian(key):
            findings.append(
                Finding(
                    f"custom field {row['name']} (customfield_{row['id']}) is of type"
                    f" {row['type_key']}, an app's type: its values arrive unusable without it",
                    {"custom_field": row["name"], "id": row["id"], "type_key": row["type_key"]},
                )
            )
    if not findings:
        return passed(
            "Every app table with rows belongs to Jira Software, Service Management or"
            " Atlassian's platform, and every custom field type is Atlassian's."
        )
    return Verdict(
        findings,
        f"{plural(len(findings), 'app or app field', 'apps or app fields')}"
        f" {'holds' if len(findings) == 1 else 'hold'} data that Cloud's site import does not"
        " carry.",
        observed=len(findings),
    )


# --- public access ---------------------------------------------------------------------

#: SchemePermissions rows granted to "Anyone": type group with no group named
ANYONE = "type = 'group' AND coalesce(parameter, '') = ''"
#: Before Jira 7.0 a grant names its permission by number (Jira's Permissions constants)
LEGACY_PERMISSIONS: dict[str, str] = {
    "0": "ADMINISTER",
    "1": "USE",
    "10": "BROWSE_PROJECTS",
    "11": "CREATE_ISSUES",
    "12": "EDIT_ISSUES",
    "13": "ASSIGN_ISSUES",
    "14": "RESOLVE_ISSUES",
    "15": "ADD_COMMENTS",
    "16": "DELETE_ISSUES",
    "17": "ASSIGNABLE_USER",
    "18": "CLOSE_ISSUES",
    "19": "CREATE_ATTACHMENTS",
    "20": "WORK_ON_ISSUES",
    "21": "LINK_ISSUES",
    "44": "SYSTEM_ADMIN",
}


def permission_name(permission: str) -> str:
    """A permission key as Jira 7+ writes it; a pre-7.0 number becomes its key."""
    return LEGACY_PERMISSIONS.get(permission, permission)


def anyone_grants(facts: Facts) -> list[Finding]:
    """Grants to anyone, logged in or not: permission schemes (with their projects) and
    global permissions (``global_permission``: GlobalPermissionEntry and the pre-7.0 form)."""
    findings = []
    schemes = facts.query(
        f"SELECT sp.scheme, coalesce(ps.name, 'permission scheme ' || sp.scheme) AS name,"
        f" group_concat(DISTINCT sp.permission) AS permissions FROM scheme_permission sp"
        f" LEFT JOIN permission_scheme ps ON ps.id = sp.scheme"
        f" WHERE sp.scheme IS NOT NULL AND {ANYONE} GROUP BY sp.scheme ORDER BY name"
    )
    for scheme in schemes:
        projects = [
            row["key"]
            for row in facts.query(
                "SELECT DISTINCT p.key FROM scheme_association a JOIN project p"
                " ON p.id = a.project_id WHERE a.sink_entity = 'PermissionScheme'"
                " AND a.scheme = ? ORDER BY p.key",
                (scheme["scheme"],),
            )
        ]
        used = f"projects {', '.join(projects)}" if projects else "no project uses it"
        permissions = [permission_name(p) for p in scheme["permissions"].split(",")]
        findings.append(
            Finding(
                f"permission scheme {scheme['name']} grants {','.join(permissions)} to"
                f" Anyone ({used})",
                {"scheme": scheme["name"], "permissions": permissions, "projects": projects},
            )
        )
    # global_permission holds the pre-7.0 global grants too (SchemePermissions rows
    # without a scheme), so they are not read again from scheme_permission
    globals_ = facts.query(
        "SELECT DISTINCT permission FROM global_permission WHERE coalesce(group_name, '') = ''"
        " ORDER BY 1"
    )
    for row in globals_:
        findings.append(
            Finding(
                f"global permission {permission_name(row['permission'])} is granted to Anyone",
                {"global_permission": permission_name(row["permission"])},
            )
        )
    return findings


def public_shares(facts: Facts) -> list[Finding]:
    """Filters and dashboards shared with everyone (``SharePermissions`` type global).
    Jira's own System Dashboard (no owner) is shared with everyone by design."""
    rows = facts.query(
        "SELECT s.entity_type, s.entity_id, coalesce(f.name, d.name) AS name,"
        " coalesce(f.owner, d.owner) AS owner FROM share_permission s"
        " LEFT JOIN search_request f ON s.entity_type = 'SearchRequest' AND f.id = s.entity_id"
        " LEFT JOIN portal_page d ON s.entity_type = 'PortalPage' AND d.id = s.entity_id"
        " WHERE s.type = 'global' AND s.entity_type IN ('SearchRequest', 'PortalPage')"
        " AND NOT (s.entity_type = 'PortalPage' AND d.id IS NOT NULL AND d.owner IS NULL)"
        " ORDER BY s.entity_type DESC, name"
    )
    findings = []
    for row in rows:
        kind = "filter" if row["entity_type"] == "SearchRequest" else "dashboard"
        name = row["name"] or f"{kind} {row['entity_id']}"
        owner = row["owner"] and facts.mask.user(row["owner"])
        findings.append(
            Finding(
                f"{kind} {name}{f' (owner {owner})' if owner else ''} is shared with everyone",
                {kind: name, "id": row["entity_id"], "user": owner},
            )
        )
    return findings


@rule(
    id="public-access",
    title="Projects, filters and dashboards that anyone may see after the import",
    why=f"""
        A permission granted to "Anyone" (a group grant without a group) and a filter or
        dashboard shared with everyone keep that reach in Cloud, where a site that allows
        anonymous access is on the internet: issues and filter results become readable by
        anyone with the link. Anonymous access is removed on the Free plan. ({GUIDE},
        step 8 "Complete post-migration checks"; Atlassian, "Manage project permissions",
        on the Anyone on the web grant. No Atlassian page was found that states what site
        import does to a share with everyone.)
    """,
    fix="""
        In each permission scheme listed, replace the Anyone grant with a group (for
        example jira-software-users); in Global permissions, remove grants to Anyone; share
        each listed filter and dashboard with a group or project instead of Everyone. Or
        decide deliberately that these stay public, and raise max_findings.
    """,
    severity="warning",
    sql="""
        SELECT s.name, sp.permission_key FROM schemepermissions sp
        JOIN permissionscheme s ON s.id = sp.scheme
        WHERE sp.perm_type = 'group' AND sp.perm_parameter IS NULL;
        SELECT permission FROM globalpermissionentry WHERE group_id IS NULL OR group_id = '';
        SELECT sharetype, entitytype, entityid FROM sharepermissions WHERE sharetype = 'global';
    """,
    group=GROUP,
)
def public_access(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = [*anyone_grants(facts), *public_shares(facts)]
    if not findings:
        return passed("No permission is granted to Anyone and no filter or dashboard is public.")
    return Verdict(
        findings,
        f"{plural(len(findings), 'grant or share', 'grants or shares')}"
        f" {'opens' if len(findings) == 1 else 'open'} Jira to anyone.",
        observed=len(findings),
    )


# --- former users ----------------------------------------------------------------------


def user_resolver(facts: Facts) -> Mapping[str, str]:
    """User key or name (lower case) -> username of every user the import creates.

    From Jira 6 rows name users by their user key, which ``ApplicationUser`` maps to a
    username; before, and for users never renamed, the key is the username itself.
    """
    imported = imported_user_names(facts)
    resolver = dict(imported)
    for row in facts.query("SELECT user_key, lower_user_name FROM app_user"):
        if row["user_key"] and row["lower_user_name"] in imported:
            resolver[row["user_key"].lower()] = imported[row["lower_user_name"]]
    return resolver


@rule(
    id="former-users",
    title="Work credited to users the import does not create",
    why=f"""
        Issues, comments, worklogs, project and component leads, filters, dashboards and
        boards that name a user with no user row, or one only in a disabled directory,
        arrive credited to "Former user": Cloud creates no account for them, and the
        filters, dashboards and boards they owned become private and out of reach. ({GUIDE},
        step 1 "Determine your user migration strategy": only the backup's users are
        imported. No Atlassian page was found that names the "Former user" display.)
    """,
    fix="""
        Where the work must stay attributed, restore the user (an inactive user in the
        internal directory is enough) before the backup; otherwise reassign project and
        component leads and the owners of shared filters, dashboards and boards to an
        active user.
    """,
    severity="warning",
    needs=("entities",),
    sql="""
        -- repeat for assignee/creator, jiraaction.author, worklog.author, project.lead ...
        SELECT i.reporter, count(*) FROM jiraissue i
        LEFT JOIN app_user au ON au.user_key = i.reporter
        LEFT JOIN cwd_user u ON u.lower_user_name = coalesce(au.lower_user_name, lower(i.reporter))
        WHERE i.reporter IS NOT NULL AND u.id IS NULL GROUP BY i.reporter;
    """,
    group=GROUP,
)
def former_users(facts: Facts, settings: RuleSettings) -> Verdict:
    known = user_resolver(facts)
    refs = [
        (row["kind"], row["user_key"], row["n"])
        for row in facts.query("SELECT kind, user_key, n FROM user_ref ORDER BY user_key, kind")
    ]
    if facts.missing("activeobjects") is None:
        refs += [
            ("board owner", row["owner"], row["n"])
            for row in facts.query(
                "SELECT owner, count(*) AS n FROM board WHERE coalesce(owner, '') != ''"
                " GROUP BY owner ORDER BY owner"
            )
        ]
    missing: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, user_key, count in refs:
        if user_key.lower() not in known:
            missing[user_key][kind] = missing[user_key].get(kind, 0) + count
    findings = [
        Finding(
            f"{shown}: " + ", ".join(f"{plural(n, kind)}" for kind, n in sorted(kinds.items())),
            {"user": shown, "references": dict(sorted(kinds.items()))},
        )
        for user, kinds in sorted(missing.items())
        for shown in (facts.mask.user(user),)
    ]
    if not findings:
        return passed("Every user that issues, comments, worklogs and owners name is imported.")
    per_kind: dict[str, int] = defaultdict(int)
    for kinds in missing.values():
        for kind, n in kinds.items():
            per_kind[kind] += n
    return Verdict(
        findings,
        f"{plural(len(findings), 'user')} named in the backup will not exist in Cloud;"
        " their work shows as Former user.",
        observed=len(findings),
        properties={f"former_{kind.replace(' ', '_')}s": str(n) for kind, n in per_kind.items()},
    )


# --- group references ------------------------------------------------------------------

#: Where a group is named, and the facts query that lists (group, place)
GROUP_REFERENCES: tuple[tuple[str, str], ...] = (
    (
        "permission scheme",
        "SELECT sp.parameter, coalesce(ps.name, sp.scheme) FROM scheme_permission sp"
        " LEFT JOIN permission_scheme ps ON ps.id = sp.scheme"
        " WHERE sp.scheme IS NOT NULL AND sp.type = 'group' AND coalesce(sp.parameter, '') != ''",
    ),
    (
        "project role",
        "SELECT a.parameter, coalesce(p.key, 'default') || ' ' || coalesce(r.name, a.role_id)"
        " FROM project_role_actor a LEFT JOIN project p ON p.id = a.project_id"
        " LEFT JOIN project_role r ON r.id = a.role_id"
        " WHERE a.role_type = 'atlassian-group-role-actor' AND coalesce(a.parameter, '') != ''",
    ),
    (
        "share",
        "SELECT param1, lower(entity_type) || ' ' || entity_id FROM share_permission"
        " WHERE type = 'group' AND coalesce(param1, '') != ''",
    ),
    (
        "global permission",
        "SELECT group_name, permission FROM global_permission WHERE coalesce(group_name, '') != ''",
    ),
    (
        "application access",
        "SELECT group_name, role FROM license_role_group WHERE coalesce(group_name, '') != ''",
    ),
)


@rule(
    id="group-references",
    title="Permissions, roles and shares name groups that exist",
    why="""
        A permission scheme, project role, share, global permission or application access
        that names a group the backup does not have gives no one anything in Cloud, and
        Atlassian's Cloud Migration Assistant stops with "Group ... does not exist" on
        them. What site import does with them is not documented (no Atlassian source was
        found), so this is a warning.
    """,
    fix="""
        Create each listed group (it may be empty), or remove the grants, role actors and
        shares that name it, then take a new backup.
    """,
    severity="warning",
    sql="""
        SELECT perm_parameter FROM schemepermissions WHERE perm_type = 'group'
          AND lower(perm_parameter) NOT IN (SELECT lower_group_name FROM cwd_group);
        SELECT roletypeparameter FROM projectroleactor
        WHERE roletype = 'atlassian-group-role-actor'
          AND lower(roletypeparameter) NOT IN (SELECT lower_group_name FROM cwd_group);
        -- likewise sharepermissions.param1 (sharetype 'group'), globalpermissionentry.group_id
        -- and licenserolesgroup.group_id
    """,
    group=GROUP,
)
def group_references(facts: Facts, settings: RuleSettings) -> Verdict:
    groups = backup_groups(facts)
    places: dict[str, list[str]] = defaultdict(list)
    for kind, sql in GROUP_REFERENCES:
        for group, where in facts.db.execute(sql):
            if group.lower() not in groups:
                places[group].append(f"{kind} {where}")
    findings = [
        Finding(
            f"{group} does not exist; named by {', '.join(sorted(set(where)))}",
            {"group": group, "referenced_by": sorted(set(where))},
        )
        for group, where in sorted(places.items())
    ]
    if not findings:
        return passed("Every group that permissions, roles and shares name exists.")
    return Verdict(
        findings,
        f"{plural(len(findings), 'group')} named by permissions, roles or shares"
        f" {'does' if len(findings) == 1 else 'do'} not exist.",
        observed=len(findings),
    )


# --- boards ----------------------------------------------------------------------------


@rule(
    id="board-integrity",
    title="Jira Software boards have their filter and their columns' statuses",
    why="""
        A board (AO_60DB71_RAPIDVIEW) shows the issues of its saved filter, in columns
        mapped to statuses. A board whose filter is missing from the backup opens broken
        in Cloud, and a column mapped to a status that no longer exists stays empty.
        (No Atlassian source was found on what site import does with such boards; the
        effect described is Jira Software's own, on the server as in Cloud.)
    """,
    fix="""
        On the server, open each listed board's configuration: give it an existing filter
        (or delete the board), and remove or remap the columns' missing statuses.
    """,
    severity="warning",
    needs=("entities", "activeobjects"),
    sql="""
        SELECT rv.id, rv.name, rv.saved_filter_id FROM "AO_60DB71_RAPIDVIEW" rv
        LEFT JOIN searchrequest sr ON sr.id = rv.saved_filter_id WHERE sr.id IS NULL;
        SELECT rv.name, c.name, cs.status_id FROM "AO_60DB71_COLUMNSTATUS" cs
        JOIN "AO_60DB71_COLUMN" c ON c.id = cs.column_id
        JOIN "AO_60DB71_RAPIDVIEW" rv ON rv.id = c.rapid_view_id
        LEFT JOIN issuestatus s ON s.id = cs.status_id WHERE s.id IS NULL;
    """,
    group=GROUP,
)
def board_integrity(facts: Facts, settings: RuleSettings) -> Verdict:
    boards = facts.scalar("SELECT count(*) FROM board") or 0
    findings = [
        Finding(
            f"board {row['name']} (id {row['id']}) uses filter {row['saved_filter_id']},"
            " which is not in the backup",
            {"board": row["name"], "id": row["id"], "filter": row["saved_filter_id"]},
        )
        for row in facts.query(
            "SELECT b.id, b.name, b.saved_filter_id FROM board b WHERE b.saved_filter_id"
            " NOT IN (SELECT id FROM search_request WHERE id IS NOT NULL)"
            " OR b.saved_filter_id IS NULL ORDER BY b.name, b.id"
        )
    ]
    findings += [
        Finding(
            f"board {row['board']} column {row['column']} maps status {row['status_id']},"
            " which is not in the backup",
            {"board": row["board"], "column": row["column"], "status": row["status_id"]},
        )
        for row in facts.query(
            "SELECT coalesce(b.name, c.board_id) AS board, c.name AS column, cs.status_id"
            " FROM board_column_status cs JOIN board_column c ON c.id = cs.column_id"
            " LEFT JOIN board b ON b.id = c.board_id"
            " WHERE cs.status_id NOT IN (SELECT id FROM status WHERE id IS NOT NULL)"
            " ORDER BY board, c.name, cs.status_id"
        )
    ]
    if not findings:
        return passed(f"Every one of {plural(boards, 'board')} has its filter and statuses.")
    return Verdict(
        findings,
        f"{plural(len(findings), 'board problem')} will open boards broken or empty.",
        observed=len(findings),
    )


# --- Cloud's data limits ---------------------------------------------------------------

#: (threshold, what is counted, the facts query giving (name, count) over the limit)
DATA_LIMITS: tuple[tuple[str, str, str], ...] = (
    (
        "max_options_per_field",
        "options",
        "SELECT coalesce(f.name, 'customfield_' || o.custom_field) || ' (customfield_'"
        " || o.custom_field || ')', count(*) FROM custom_field_option o"
        " LEFT JOIN custom_field f ON f.id = o.custom_field GROUP BY o.custom_field",
    ),
    (
        "max_issue_types_per_scheme",
        "issue types",
        "SELECT coalesce(s.name, 'issue type scheme of field configuration '"
        " || o.field_config), count(DISTINCT o.option_id) FROM issue_type_option o"
        " LEFT JOIN field_config_link l ON l.field_config = o.field_config"
        " LEFT JOIN issue_type_scheme s ON s.id = l.scheme GROUP BY o.field_config",
    ),
    (
        "max_versions_per_project",
        "versions",
        "SELECT coalesce(p.key, 'project ' || v.project_id), count(*) FROM version v"
        " LEFT JOIN project p ON p.id = v.project_id GROUP BY v.project_id",
    ),
    (
        "max_components_per_project",
        "components",
        "SELECT coalesce(p.key, 'project ' || c.project_id), count(*) FROM component c"
        " LEFT JOIN project p ON p.id = c.project_id GROUP BY c.project_id",
    ),
    (
        "max_security_levels_per_scheme",
        "security levels",
        "SELECT coalesce(s.name, 'issue security scheme ' || l.scheme), count(*)"
        " FROM security_level l LEFT JOIN security_scheme s ON s.id = l.scheme"
        " GROUP BY l.scheme",
    ),
    ("max_custom_fields", "custom fields", "SELECT 'the site', count(*) FROM custom_field"),
)


@rule(
    id="cloud-data-limits",
    title="Configuration fits Jira Cloud's data limits",
    why=f"""
        Jira Cloud enforces limits that a server never had: 10,000 options per select
        list field (20,000 per field from September 2026), 150 work types per space,
        15,000 releases per space, 50 work item security levels per space, and 700 fields
        per space, where every global custom field counts for every space. ({LIMITS_PAGE}.)
        Issue types and security levels are counted per scheme, as a scheme gives them to
        each of its projects. The page gives no limit on components per project; that
        threshold is 0 (not checked) unless set.
    """,
    fix="""
        Before the backup, disable or delete unused options, issue types, versions (archive
        is not enough: archived versions still count) and security levels, merge
        duplicate custom fields, or give global custom fields a project context.
    """,
    severity="warning",
    thresholds=[
        Threshold("max_options_per_field", 10_000, "options in one custom field (all contexts)"),
        Threshold("max_issue_types_per_scheme", 150, "issue types in one issue type scheme"),
        Threshold("max_versions_per_project", 15_000, "versions (releases) of one project"),
        Threshold("max_components_per_project", 0, "components of one project (0: not checked)"),
        Threshold("max_security_levels_per_scheme", 50, "levels of one issue security scheme"),
        Threshold(
            "max_custom_fields",
            700,
            "custom fields on the site (each global one counts in every space)",
        ),
    ],
    sql="""
        SELECT customfield, count(*) FROM customfieldoption GROUP BY customfield
        HAVING count(*) > 10000;
        SELECT fieldconfig, count(*) FROM optionconfiguration WHERE fieldid = 'issuetype'
        GROUP BY fieldconfig HAVING count(*) > 150;
        SELECT project, count(*) FROM projectversion GROUP BY project HAVING count(*) > 15000;
        SELECT scheme, count(*) FROM schemeissuesecuritylevels GROUP BY scheme
        HAVING count(*) > 50;
        SELECT count(*) FROM customfield;
    """,
    group=GROUP,
)
def cloud_data_limits(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = []
    for threshold, noun, sql in DATA_LIMITS:
        limit = settings[threshold]
        if not limit:
            continue
        for name, count in facts.db.execute(sql):
            if count > limit:
                findings.append(
                    Finding(
                        f"{name}: {count:,} {noun} (limit {limit:,})",
                        {"name": name, "what": noun, "count": count, "limit": limit},
                    )
                )
    if not findings:
        return passed("Options, issue types, versions, security levels and fields fit Cloud.")
    return Verdict(
        findings,
        f"{plural(len(findings), 'count')} {'exceeds' if len(findings) == 1 else 'exceed'}"
        " Jira Cloud's data limits.",
        observed=len(findings),
    )


# --- integrations ----------------------------------------------------------------------

#: Services that read mail into issues (incoming mail handlers)
MAIL_HANDLER_CLASSES: tuple[str, ...] = ("MailFetcherService", "PopService", "ImapService")


def application_links(facts: Facts) -> list[Finding]:
    """Application links from the ``applinks.application.<id>.{name,rpc.url}`` properties."""
    links: dict[str, dict[str, str]] = defaultdict(dict)
    for row in facts.query(
        "SELECT key, value FROM property WHERE key LIKE 'applinks.application.%'"
    ):
        link_id, _, what = row["key"][len("applinks.application.") :].partition(".")
        if what in ("name", "rpc.url", "type"):
            links[link_id][what] = row["value"]
    findings = []
    for link_id, link in sorted(links.items()):
        url = link.get("rpc.url") and facts.mask.url(link["rpc.url"])
        findings.append(
            Finding(
                f"application link {link.get('name', link_id)}"
                + (f" ({url})" if url else "")
                + ": recreate it in Cloud",
                {"application_link": link.get("name", link_id), "url": url},
            )
        )
    return findings


@rule(
    id="integrations",
    title="Application links, mail servers and mail handlers to recreate or disable",
    why=f"""
        Application links, mail servers and incoming mail handlers come across still
        pointing at the server's hosts and credentials: links to Confluence or Bitbucket
        break, and a handler may read a mailbox the server still reads. The guide also
        asks to choose whether outgoing mail is on when importing, so that users are not
        flooded with notifications. ({GUIDE}, step 4 and "If there are links that need to
        be mapped in cloud".)
    """,
    fix="""
        After the import, recreate each application link from Cloud's side, set up
        Cloud's own incoming mail handlers and remove the server's, and choose "Disable
        outgoing mail" on the import screen until the site is checked.
    """,
    severity="warning",
    sql="""
        SELECT property_key FROM propertyentry WHERE property_key LIKE 'applinks.application.%';
        SELECT name, mailfrom, servertype, servername FROM mailserver;
        SELECT servicename, clazz FROM serviceconfig WHERE clazz LIKE '%Mail%';
        SELECT e.property_key, n.propertyvalue FROM propertyentry e
        JOIN propertynumber n ON n.id = e.id WHERE e.property_key = 'jira.mail.send.disabled';
    """,
    group=GROUP,
)
def integrations(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = application_links(facts)
    for row in facts.query("SELECT name, type, host FROM mail_server ORDER BY name, id"):
        host = row["host"] and facts.mask.domain(row["host"])
        findings.append(
            Finding(
                f"{(row['type'] or 'mail').upper()} mail server {row['name']}"
                f" ({host or 'no host'}): recreate it in Cloud or leave it out",
                {"mail_server": row["name"], "type": row["type"], "host": host},
            )
        )
    findings += [
        Finding(
            f"incoming mail handler {row['name']} ({row['class']}): disable it on the server"
            " or recreate it in Cloud",
            {"mail_handler": row["name"], "class": row["class"]},
        )
        for row in facts.query("SELECT name, class FROM service_config ORDER BY name, id")
        if (row["class"] or "").endswith(MAIL_HANDLER_CLASSES)
    ]
    disabled = facts.scalar(
        "SELECT value FROM property WHERE key = 'jira.mail.send.disabled' ORDER BY rowid DESC"
    )
    # told, not warned: whether Cloud sends mail is chosen on the import screen (the guide's
    # "select your outgoing mail setting"), whatever the backup says
    mail = "on" if str(disabled).strip().lower() not in ("1", "true") else "off"
    choose = (
        f' Outgoing mail is {mail} in the backup: choose "Disable outgoing mail" on the'
        " import screen until the site is checked."
    )
    if not findings:
        return passed(
            "No application link, mail server or mail handler." + choose,
            properties={"outgoing_mail": mail},
        )
    return Verdict(
        findings,
        f"{plural(len(findings), 'integration')} still"
        f" {'points' if len(findings) == 1 else 'point'} at the server." + choose,
        observed=len(findings),
        properties={"outgoing_mail": mail},
    )


# --- the importer's account ------------------------------------------------------------


@rule(
    id="importer-account",
    title="The Cloud administrator who runs the import is not a user of the backup",
    why=f"""
        When the e-mail address of the Cloud site administrator who runs the import
        belongs to a user in the backup, that user's group memberships from the backup are
        not imported for them, and with users: overwrite the importer can lose their
        administration rights: the guide's step 7 is to re-add yourself to the imported
        groups. ({GUIDE}, step 7 "Re-add yourself to groups imported from server".)
    """,
    fix="""
        Plan to re-add the importer to the listed groups after the import, or run the
        import as a Cloud administrator whose address is not in the backup. Set
        target.importer_email in the configuration to check this.
    """,
    severity="warning",
    sql="""
        SELECT u.user_name, m.parent_name FROM cwd_user u
        LEFT JOIN cwd_membership m ON m.lower_child_name = u.lower_user_name
        WHERE lower(u.email_address) = lower('admin@example.com');
    """,
    group=GROUP,
)
def importer_account(facts: Facts, settings: RuleSettings) -> Verdict:
    email = settings.site.importer_email
    if not email:
        raise NotChecked("set target.importer_email")
    users = facts.query(
        "SELECT DISTINCT user_name, lower_user_name FROM user WHERE lower(email) = lower(?)"
        " ORDER BY lower_user_name",
        (email,),
    )
    if not users:
        # the address is not repeated: --jira-redact only masks the backup's own addresses
        return passed("No user in the backup has the importer's address (target.importer_email).")
    imported = imported_user_names(facts)
    overwrite = settings.site.users == "overwrite"
    findings = []
    for user in users:
        groups = sorted(
            row["parent_name"]
            for row in facts.query(
                "SELECT DISTINCT parent_name FROM membership WHERE lower_child_name = ?"
                " AND membership_type = 'GROUP_USER'",
                (user["lower_user_name"],),
            )
            if row["parent_name"]
        )
        loss = "; with users: overwrite the importer can lose administration" if overwrite else ""
        listed = ", ".join(groups) if groups else "no group"
        name, address = facts.mask.user(user["user_name"]), facts.mask.email(email)
        findings.append(
            Finding(
                f"{name} <{address}> is in the backup: memberships not imported"
                f" for the importer ({listed}){loss}",
                {
                    "user": name,
                    "email": address,
                    "groups": groups,
                    "imported": user["lower_user_name"] in imported,
                },
            )
        )
    return Verdict(
        findings,
        "The importer's address (target.importer_email) belongs to a user in the backup.",
        observed=len(findings),
    )


# --- the Free plan ---------------------------------------------------------------------

#: Project roles every Jira has; others are lost on the Free plan
DEFAULT_ROLES: frozenset[str] = frozenset(
    {
        "administrators",
        "developers",
        "users",
        "service desk team",
        "service desk customers",
        "atlassian-addons-project-access",
    }
)
DEFAULT_PERMISSION_SCHEME = "0"
SERVICE_DESK_ROLE = "jira-servicedesk"
FREE_AGENTS = 3


def service_desk_agents(facts: Facts) -> list[str]:
    """Usernames of the active imported users in a group with Service Management access."""
    users = imported_user_names(facts)
    groups = [
        row["group_name"].lower()
        for row in facts.query(
            "SELECT DISTINCT group_name FROM license_role_group WHERE role = ?",
            (SERVICE_DESK_ROLE,),
        )
        if row["group_name"]
    ]
    agents = {member.name for group in groups for member in group_members(facts, group, users)}
    return sorted(agents)


def _named(items: Iterable[str]) -> str:
    return ", ".join(items)


@rule(
    id="free-plan-restrictions",
    title="What the Free plan removes or locks",
    why="""
        Jira's Free plan has no issue security, no anonymous access, only the default
        project roles and permission scheme, and at most 3 Service Management agents:
        what the backup configures beyond that is removed or locked after an import into
        a Free site. (The site-import guide, "Before you start": Free plans do not offer
        the same permissions as Standard and Premium; the list above is Atlassian's Jira
        Cloud plan comparison, not re-checked here against a current page.) Checked only
        with target.plan: free.
    """,
    fix="""
        Import into a Standard or Premium site, or accept the listed losses: remove issue
        security schemes, anonymous grants, extra project roles and permission schemes,
        and keep at most 3 agents, before relying on the Free site.
    """,
    severity="warning",
    sql="""
        SELECT name FROM issuesecurityscheme;
        SELECT name FROM projectrole;
        SELECT name FROM permissionscheme WHERE id != 0;
        SELECT group_id FROM licenserolesgroup WHERE license_role_name = 'jira-servicedesk';
    """,
    group=GROUP,
)
def free_plan_restrictions(facts: Facts, settings: RuleSettings) -> Verdict:
    if settings.site.plan != "free":
        raise NotChecked(f"target.plan is {settings.site.plan}; only the Free plan restricts")
    findings = [
        Finding(f"issue security scheme {row['name']} is removed", {"security_scheme": row["name"]})
        for row in facts.query("SELECT name FROM security_scheme ORDER BY name")
    ]
    findings += [
        Finding(f"{finding.text}: anonymous access is removed", finding.fields)
        for finding in anyone_grants(facts)
    ]
    findings += [
        Finding(f"project role {row['name']} is not available", {"project_role": row["name"]})
        for row in facts.query("SELECT DISTINCT name FROM project_role ORDER BY name")
        if (row["name"] or "").lower() not in DEFAULT_ROLES
    ]
    findings += [
        Finding(
            f"permission scheme {row['name']} is replaced by the default",
            {"permission_scheme": row["name"]},
        )
        for row in facts.query(
            "SELECT name FROM permission_scheme WHERE id != ? ORDER BY name",
            (DEFAULT_PERMISSION_SCHEME,),
        )
    ]
    agents = service_desk_agents(facts)
    if len(agents) > FREE_AGENTS:
        findings.append(
            Finding(
                f"{len(agents)} Service Management agents, {FREE_AGENTS} allowed: {_named(agents)}",
                {"agents": agents, "limit": FREE_AGENTS},
            )
        )
    if not findings:
        return passed("Nothing in the backup needs more than the Free plan offers.")
    return Verdict(
        findings,
        f"The Free plan removes or locks {plural(len(findings), 'configured item')}.",
        observed=len(findings),
    )


RULES: tuple[Rule, ...] = (
    app_data_not_migrated,
    public_access,
    former_users,
    group_references,
    board_integrity,
    cloud_data_limits,
    integrations,
    importer_account,
    free_plan_restrictions,
)
