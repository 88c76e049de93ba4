"""The app manifests: Slack's two variants kept in sync and checked against the rules of Slack's
app manifest JSON schema, and the Teams manifest validated against Microsoft's schema for its
`manifestVersion`. Fast and offline.

Slack: no package on PyPI or npm ships Slack's schema, so the rules that our manifests touch are
tested here, each citing the definition it comes from in

    schemas/manifest.schema.1.0.0.json of github.com/slackapi/manifest-schema, tag v0.5.0:
    https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json

(the schema that Slack's top-level manifest.schema.json selects for a manifest without
`_metadata`, as ours are: its last `oneOf` branch, "when _metadata is not present").

Teams: Microsoft's npm package @microsoft/app-manifest ships every MicrosoftTeams.schema.json
(build/json-schemas/teams/v1.N/), the files published at
https://developer.microsoft.com/json-schemas/teams/v1.N/MicrosoftTeams.schema.json. .ci/run
installs it into .venv/npm; the test validates teams/manifest.json against the one for its
`manifestVersion` with jsonschema. The schema files are not copied into this repository.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft4Validator, Draft6Validator, validators

ROOT = Path(__file__).resolve().parents[2]
SOCKET = ROOT / "manifest.yml"
HTTP = ROOT / "manifest.http.yml"
TEAMS = ROOT / "teams" / "manifest.json"
HTTP_URL = "https://your-host/slack/events"

SLACK_SCHEMA = (
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/"
    "schemas/manifest.schema.1.0.0.json"
)
TEAMS_PACKAGE = "@microsoft/app-manifest@1.1.2"
TEAMS_SCHEMAS = ROOT / ".venv/npm/node_modules/@microsoft/app-manifest/build/json-schemas/teams"
TEAMS_INSTALL = (
    "npm install --prefix .venv/npm --no-save --ignore-scripts --no-audit --no-fund "
    + TEAMS_PACKAGE
)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


SLACK = {"manifest.yml": load(SOCKET), "manifest.http.yml": load(HTTP)}


# --- the two Slack variants: one app, two transports ---------------------------------------


def _without_transport(manifest: dict) -> dict:
    """The manifest less what differs between Socket Mode and HTTP: the URLs and the switch."""
    m = copy.deepcopy(manifest)
    for command in m["features"]["slash_commands"]:
        command.pop("url", None)
    m["settings"]["event_subscriptions"].pop("request_url", None)
    m["settings"]["interactivity"].pop("request_url", None)
    m["settings"].pop("socket_mode_enabled")
    return m


@pytest.mark.parametrize(
    "part",
    [
        ("features", "slash_commands"),
        ("features", "shortcuts"),
        ("oauth_config", "scopes"),
        ("settings", "event_subscriptions", "bot_events"),
    ],
    ids=lambda p: ".".join(p),
)
def test_http_manifest_declares_the_same_commands_shortcuts_scopes_and_events(part):
    socket, http = (_without_transport(m) for m in SLACK.values())
    for key in part:
        socket, http = socket[key], http[key]
    assert http == socket, f"manifest.http.yml and manifest.yml differ in {'.'.join(part)}"


def test_http_manifest_is_manifest_yml_with_request_urls_instead_of_socket_mode():
    socket, http = SLACK["manifest.yml"], SLACK["manifest.http.yml"]
    assert _without_transport(http) == _without_transport(socket)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert http["settings"]["socket_mode_enabled"] is False
    assert [c["url"] for c in http["features"]["slash_commands"]] == [HTTP_URL] * len(
        http["features"]["slash_commands"]
    )
    assert http["settings"]["interactivity"]["request_url"] == HTTP_URL
    assert http["settings"]["event_subscriptions"]["request_url"] == HTTP_URL
    assert "url" not in json.dumps(socket["features"]["slash_commands"])
    assert "request_url" not in json.dumps(socket["settings"])


def test_http_manifest_says_to_replace_your_host():
    header = HTTP.read_text().split("\ndisplay_information:")[0]
    assert all(line.startswith("#") for line in header.splitlines())
    assert re.search(r"[Rr]eplace `?your-host`?", header)


# --- Slack's app manifest schema (v1), the rules our manifests touch ------------------------
# Each rule names the schema definition it is taken from, in SLACK_SCHEMA.


def _length(problems, where, value, low, high):
    if not isinstance(value, str):
        problems.append(f"{where}: not a string")
    elif not low <= len(value) <= high:
        problems.append(f"{where}: length {len(value)} not in {low}..{high}")


def _keys(problems, where, obj, allowed, required=()):
    if not isinstance(obj, dict):
        problems.append(f"{where}: not an object")
        return
    problems += [f"{where}: unknown key {k}" for k in sorted(set(obj) - set(allowed))]
    problems += [f"{where}: missing {k}" for k in required if k not in obj]


def _booleans(problems, where, obj, names):
    problems += [
        f"{where}.{n}: not a boolean" for n in names if n in obj and not isinstance(obj[n], bool)
    ]


def _url(problems, where, value, high):
    # "pattern": "^https?:\\/\\/" and a maxLength, on every URL in the schema.
    if not isinstance(value, str) or not re.match(r"^https?://", value) or len(value) > high:
        problems.append(f"{where}: not an http(s) URL of at most {high} characters")


def slack_schema_problems(m: dict) -> list[str]:
    """What in `m` breaks a rule of SLACK_SCHEMA that our manifests touch ([] when none)."""
    p: list[str] = []
    # Top level: "required": ["display_information"], "additionalProperties": false.
    _keys(
        p,
        "manifest",
        m,
        [
            "$schema",
            "_metadata",
            "app_directory",
            "display_information",
            "features",
            "oauth_config",
            "settings",
            "functions",
            "workflows",
            "datastores",
            "outgoing_domains",
            "types",
            "external_auth_providers",
            "mcp_servers",
        ],
        required=["display_information"],
    )

    # #/definitions/app-manifests.v1.display_information.schema
    info = m.get("display_information", {})
    _keys(
        p,
        "display_information",
        info,
        ["name", "description", "background_color", "long_description"],
        ["name"],
    )
    _length(p, "display_information.name", info.get("name"), 1, 35)
    if "description" in info:
        _length(p, "display_information.description", info["description"], 1, 140)
    if "long_description" in info:
        _length(p, "display_information.long_description", info["long_description"], 175, 4000)
    if "background_color" in info:
        color = info["background_color"]
        _length(p, "display_information.background_color", color, 4, 7)
        # The schema spells this one "regex" (not a JSON Schema keyword, so a validator would
        # skip it); Slack's form rejects anything else.
        if not re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", str(color)):
            p.append("display_information.background_color: not #rgb or #rrggbb")

    # #/definitions/app-manifests.v1.features.schema
    features = m.get("features", {})
    _keys(
        p,
        "features",
        features,
        [
            "app_home",
            "bot_user",
            "functions",
            "shortcuts",
            "slash_commands",
            "workflow_steps",
            "unfurl_domains",
            "assistant_view",
            "agent_view",
        ],
    )
    # #/definitions/app-manifests.v1.features.app_home
    home = features.get("app_home", {})
    names = ["home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"]
    _keys(p, "features.app_home", home, names)
    _booleans(p, "features.app_home", home, names)
    # #/definitions/app-manifests.v1.features.bot_user
    bot = features.get("bot_user", {})
    _keys(p, "features.bot_user", bot, ["display_name", "always_online"], ["display_name"])
    _length(p, "features.bot_user.display_name", bot.get("display_name"), 1, 80)
    _booleans(p, "features.bot_user", bot, ["always_online"])

    # #/definitions/app-manifests.v1.features.slash_commands: 1..50 items.
    commands = features.get("slash_commands", [])
    if "slash_commands" in features and not 1 <= len(commands) <= 50:
        p.append("features.slash_commands: not 1..50 items")
    for i, c in enumerate(commands):
        at = f"features.slash_commands[{i}]"
        _keys(
            p,
            at,
            c,
            ["command", "description", "url", "usage_hint", "should_escape"],
            ["command", "description"],
        )
        _length(p, f"{at}.command", c.get("command"), 2, 32)
        if not str(c.get("command", "")).startswith("/"):  # "pattern": "^\\/"
            p.append(f"{at}.command: does not start with /")
        _length(p, f"{at}.description", c.get("description"), 1, 2000)
        if "usage_hint" in c:
            _length(p, f"{at}.usage_hint", c["usage_hint"], 1, 1000)
        if "url" in c:
            _url(p, f"{at}.url", c["url"], 3000)
        _booleans(p, at, c, ["should_escape"])

    # #/definitions/app-manifests.v1.features.shortcuts: 1..10 items.
    shortcuts = features.get("shortcuts", [])
    if "shortcuts" in features and not 1 <= len(shortcuts) <= 10:
        p.append("features.shortcuts: not 1..10 items")
    for i, s in enumerate(shortcuts):
        at = f"features.shortcuts[{i}]"
        fields = ["name", "type", "callback_id", "description"]
        _keys(p, at, s, fields, fields)
        _length(p, f"{at}.name", s.get("name"), 1, 24)
        if s.get("type") not in ("message", "global"):  # "enum": ["message", "global"]
            p.append(f"{at}.type: not message or global")
        _length(p, f"{at}.callback_id", s.get("callback_id"), 1, 255)
        _length(p, f"{at}.description", s.get("description"), 1, 150)

    # #/definitions/app-manifests.v1.oauth_config.schema and .oauth_config.scopes: each list of
    # at most 255 scopes of at most 50 characters. (The schema has no list of scope names.)
    oauth = m.get("oauth_config", {})
    _keys(
        p,
        "oauth_config",
        oauth,
        ["redirect_urls", "scopes", "token_management_enabled", "pkce_enabled"],
    )
    scopes = oauth.get("scopes", {})
    _keys(p, "oauth_config.scopes", scopes, ["user", "bot", "user_optional", "bot_optional"])
    for kind, names in scopes.items():
        if not isinstance(names, list) or len(names) > 255:
            p.append(f"oauth_config.scopes.{kind}: not a list of at most 255")
            continue
        for name in names:
            _length(p, f"oauth_config.scopes.{kind}: {name}", name, 0, 50)

    # #/definitions/app-manifests.v1.settings.schema
    settings = m.get("settings", {})
    _keys(
        p,
        "settings",
        settings,
        [
            "allowed_ip_address_ranges",
            "event_subscriptions",
            "incoming_webhooks",
            "interactivity",
            "org_deploy_enabled",
            "socket_mode_enabled",
            "is_hosted",
            "token_rotation_enabled",
            "siws_links",
            "hermes_app_type",
            "function_runtime",
            "is_mcp_enabled",
        ],
    )
    flags = ["org_deploy_enabled", "socket_mode_enabled", "is_hosted", "token_rotation_enabled"]
    _booleans(p, "settings", settings, [*flags, "is_mcp_enabled"])
    # #/definitions/app-manifests.v1.settings.event_subscriptions: at most 100 unique events of
    # at most 50 characters; request_url ^https?:// of at most 3500.
    events = settings.get("event_subscriptions", {})
    _keys(
        p,
        "settings.event_subscriptions",
        events,
        ["request_url", "user_events", "bot_events", "metadata_subscriptions"],
    )
    if "request_url" in events:
        _url(p, "settings.event_subscriptions.request_url", events["request_url"], 3500)
    for kind in ("bot_events", "user_events"):
        names = events.get(kind, [])
        if len(names) > 100 or len(set(names)) != len(names):
            p.append(f"settings.event_subscriptions.{kind}: not at most 100 unique")
        for name in names:
            _length(p, f"settings.event_subscriptions.{kind}: {name}", name, 0, 50)
    # #/definitions/app-manifests.v1.settings.interactivity: "required": ["is_enabled"].
    if "interactivity" in settings:
        inter = settings["interactivity"]
        at = "settings.interactivity"
        _keys(
            p, at, inter, ["is_enabled", "request_url", "message_menu_options_url"], ["is_enabled"]
        )
        _booleans(p, at, inter, ["is_enabled"])
        for key in ("request_url", "message_menu_options_url"):
            if key in inter:
                _url(p, f"{at}.{key}", inter[key], 3500)
    return p


@pytest.mark.parametrize("name", SLACK)
def test_slack_manifest_keeps_the_rules_of_slacks_manifest_schema(name):
    assert "_metadata" not in SLACK[name], "the rules here are those of schema v1"
    assert slack_schema_problems(SLACK[name]) == []


def _set(path: str, value):
    def change(m):
        *parents, last = path.split(".")
        for key in parents:
            m = m[int(key)] if isinstance(m, list) else m[key]
        if isinstance(m, list):
            m[int(last)] = value
        else:
            m[last] = value

    return change


def _drop(path: str):
    def change(m):
        *parents, last = path.split(".")
        for key in parents:
            m = m[int(key)] if isinstance(m, list) else m[key]
        del m[last]

    return change


# One manifest change per rule above, and the problem it must be reported as: so that a rule
# that stops catching anything fails here rather than passes quietly.
BROKEN = {
    "unknown top-level key": (_set("bot", {}), "manifest: unknown key bot"),
    "no display_information": (_drop("display_information"), "manifest: missing display_information"),
    "name of 36": (_set("display_information.name", "E" * 36), "display_information.name: length 36"),
    "description of 141": (_set("display_information.description", "d" * 141), "display_information.description: length 141"),
    "long_description of 174": (_set("display_information.long_description", "d" * 174), "display_information.long_description: length 174"),
    "long_description of 4001": (_set("display_information.long_description", "d" * 4001), "display_information.long_description: length 4001"),
    "background_color not hex": (_set("display_information.background_color", "#2c2d3g"), "display_information.background_color: not #rgb"),
    "background_color of 4 hex digits": (_set("display_information.background_color", "#2c2d"), "display_information.background_color: not #rgb"),
    "unknown feature": (_set("features.home", {}), "features: unknown key home"),
    "app_home flag not boolean": (_set("features.app_home.home_tab_enabled", "yes"), "features.app_home.home_tab_enabled: not a boolean"),
    "bot display_name of 81": (_set("features.bot_user.display_name", "E" * 81), "features.bot_user.display_name: length 81"),
    "no slash commands": (_set("features.slash_commands", []), "features.slash_commands: not 1..50 items"),
    "command without /": (_set("features.slash_commands.0.command", "memo"), "features.slash_commands[0].command: does not start with /"),
    "command of 33": (_set("features.slash_commands.0.command", "/" + "m" * 32), "features.slash_commands[0].command: length 33"),
    "command description of 2001": (_set("features.slash_commands.0.description", "d" * 2001), "features.slash_commands[0].description: length 2001"),
    "command without description": (_drop("features.slash_commands.0.description"), "features.slash_commands[0]: missing description"),
    "usage_hint of 1001": (_set("features.slash_commands.0.usage_hint", "u" * 1001), "features.slash_commands[0].usage_hint: length 1001"),
    "command url not http": (_set("features.slash_commands.0.url", "your-host/slack/events"), "features.slash_commands[0].url: not an http(s) URL"),
    "unknown command key": (_set("features.slash_commands.0.request_url", HTTP_URL), "features.slash_commands[0]: unknown key request_url"),
    "shortcut name of 25": (_set("features.shortcuts.0.name", "R" * 25), "features.shortcuts[0].name: length 25"),
    "shortcut type": (_set("features.shortcuts.0.type", "channel"), "features.shortcuts[0].type: not message or global"),
    "callback_id of 256": (_set("features.shortcuts.0.callback_id", "c" * 256), "features.shortcuts[0].callback_id: length 256"),
    "shortcut description of 151": (_set("features.shortcuts.0.description", "d" * 151), "features.shortcuts[0].description: length 151"),
    "shortcut without description": (_drop("features.shortcuts.0.description"), "features.shortcuts[0]: missing description"),
    "11 shortcuts": (lambda m: m["features"]["shortcuts"].extend(m["features"]["shortcuts"] * 10), "features.shortcuts: not 1..10 items"),
    "scope of 51": (lambda m: m["oauth_config"]["scopes"]["bot"].append("s" * 51), "oauth_config.scopes.bot: " + "s" * 51),
    "unknown scope kind": (_set("oauth_config.scopes.app", ["connections:write"]), "oauth_config.scopes: unknown key app"),
    "socket_mode_enabled not boolean": (_set("settings.socket_mode_enabled", "true"), "settings.socket_mode_enabled: not a boolean"),
    "event twice": (lambda m: m["settings"]["event_subscriptions"]["bot_events"].append("app_home_opened"), "settings.event_subscriptions.bot_events: not at most 100 unique"),
    "events request_url of 3501": (_set("settings.event_subscriptions.request_url", "https://" + "h" * 3493), "settings.event_subscriptions.request_url: not an http(s) URL"),
    "interactivity without is_enabled": (_drop("settings.interactivity.is_enabled"), "settings.interactivity: missing is_enabled"),
    "interactivity request_url not http": (_set("settings.interactivity.request_url", "ftp://your-host"), "settings.interactivity.request_url: not an http(s) URL"),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_each_slack_schema_rule_catches_what_it_forbids(case):
    change, expected = BROKEN[case]
    manifest = copy.deepcopy(SLACK["manifest.http.yml"])
    change(manifest)
    problems = slack_schema_problems(manifest)
    assert any(problem.startswith(expected) for problem in problems), problems


# --- Microsoft's Teams app manifest schema ---------------------------------------------------

TEAMS_MANIFEST = json.loads(TEAMS.read_text())

# The Teams schemas are draft-04 and use `const` (from draft-06) for manifestVersion, as
# Microsoft's own validator in the same package does (Ajv for draft-04, which knows `const`).
TeamsValidator = validators.extend(Draft4Validator, {"const": Draft6Validator.VALIDATORS["const"]})


def test_teams_manifest_names_the_schema_of_its_manifest_version():
    version = TEAMS_MANIFEST["manifestVersion"]
    assert TEAMS_MANIFEST["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"
    )


@pytest.fixture(scope="module")
def teams_schema():
    path = TEAMS_SCHEMAS / f"v{TEAMS_MANIFEST['manifestVersion']}" / "MicrosoftTeams.schema.json"
    if not path.exists():
        message = f"{path.relative_to(ROOT)} is missing: install it with `{TEAMS_INSTALL}`"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run does)")
        pytest.skip(message)
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    TeamsValidator.check_schema(schema)
    return schema


def test_teams_manifest_validates_against_microsofts_schema_for_its_manifest_version(teams_schema):
    assert (
        teams_schema["properties"]["manifestVersion"]["const"] == TEAMS_MANIFEST["manifestVersion"]
    )
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in TeamsValidator(teams_schema).iter_errors(TEAMS_MANIFEST)
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name.short", "E" * 31),
        ("description.short", "d" * 81),
        ("accentColor", "red"),
        ("bots.0.botId", "errata"),
        ("bots.0.scopes", ["personal", "everyone"]),
        ("bots.0.commandLists.0.commands.0.title", "t" * 33),
        ("manifestVersion", "1.18"),
    ],
)
def test_the_teams_schema_check_rejects_a_broken_manifest(teams_schema, path, value):
    manifest = copy.deepcopy(TEAMS_MANIFEST)
    _set(path, value)(manifest)
    assert not TeamsValidator(teams_schema).is_valid(manifest)


def test_teams_manifest_declares_the_track_as_memo_message_action():
    from bot.teams.channels import TRACK_COMMAND

    [extension] = TEAMS_MANIFEST["composeExtensions"]
    assert extension["botId"] == TEAMS_MANIFEST["bots"][0]["botId"]
    [command] = extension["commands"]
    assert command["id"] == TRACK_COMMAND and command["title"] == "Track as memo"
    assert command["type"] == "action" and command["context"] == ["message"]
    assert command["fetchTask"] is True
