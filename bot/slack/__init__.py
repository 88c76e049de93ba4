"""Slack: the adapter (on slack_sdk), its directory, and the Block Kit it sends."""

# The platform's name in every (platform, id) principal the core handles.
SLACK = "slack"
