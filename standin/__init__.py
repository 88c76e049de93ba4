"""Stand-ins for Slack and Microsoft Teams on loopback: a test double like moto or
fakeredis, with its own tests (tests/standin/) and public hooks.

- `standin.slack`: the Web API, rate limits, faults, and acting as Slack toward
  the bot (signed slash commands, clicks, modal submissions, events).
- `standin.teams`: the Bot Connector, the Entra token endpoint and OpenID
  metadata with real signed tokens, limits, faults, and acting as Teams.

The product (`bot/`, `handlers/`) never imports this package; the demo, the
tests and the benchmarks do. `pip install .[standin]` installs what it needs.
"""
