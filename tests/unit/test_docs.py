"""Documentation is tested: every setting documented, every command helped."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("setting", [s.name for s in SETTINGS])
def test_every_setting_is_in_env_example_and_readme(setting):
    assert re.search(rf"^{setting}=", (ROOT / ".env.example").read_text(), re.M), setting
    assert f"`{setting}`" in (ROOT / "README.md").read_text(), setting


def test_readme_starts_with_the_demo_and_test_commands():
    """A title, one sentence of what Errata is, then the demo and the test commands."""
    text = (ROOT / "README.md").read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "# Errata"
    commands = [line for line in lines if line.startswith("python3 -m venv")]
    assert lines.index(commands[0]) == lines.index("```sh") + 1 < 6
    assert commands[0].endswith("python -m bot demo")
    assert commands[1].endswith("python -m pytest")
    assert text.index("```sh") < text.index("\n## ")


def _commands(parser, prefix=()):
    """Every (sub)command path of the CLI, e.g. ("audit", "verify")."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*prefix, name), helps.get(name)
                yield from _commands(sub, (*prefix, name))


def test_every_cli_command_has_help():
    from bot.__main__ import _parser

    commands = list(_commands(_parser()))
    assert ("demo",) in [c for c, _ in commands] and ("run",) in [c for c, _ in commands]
    for command, summary in commands:
        assert summary, f"{' '.join(command)} has no help line"
        sub = subprocess.run(
            [sys.executable, "-m", "bot", *command, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert sub.returncode == 0 and "usage:" in sub.stdout, command


def test_manifest_declares_the_commands_and_socket_mode():
    manifest = (ROOT / "manifest.yml").read_text()
    for needle in (
        "command: /memo",
        "command: /retract",
        "messages_tab_enabled: true",
        "socket_mode_enabled: true",
        "chat:write",
        "callback_id: retract_memo_shortcut",
    ):
        assert needle in manifest
