"""A stand-in for Slack on loopback, for the tests, the demo and the benchmarks.

Start one, point the bot's Web API client at it, and let it act as Slack::

    from standin.slack import StandInSlack, generate_directory

    with StandInSlack(generate_directory(people=300), time_scale=20) as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)  # SLACK_API_URL
        slack.bot_url = "http://127.0.0.1:3001"     # where the bot serves /slack/events
        slack.command(user_id, "/memo")              # signed slash command
        slack.submit_view(user_id, {"Title": "...", "People": [a, b]})
        slack.wait_for(lambda: len(slack.dm(a)) == 1)
        slack.click(a, slack.dm(a)[0], "Acknowledge")

What it is
    A real HTTP server (127.0.0.1, free port, threads) answering ``/api/<method>``
    with Slack's JSON shapes and error codes for: auth.test, users.list/info
    (/lookupByEmail), conversations.list/members/info/open/history,
    usergroups.list, usergroups.users.list, chat.postMessage/update/delete/
    postEphemeral/getPermalink, views.open/push/update/publish,
    files.getUploadURLExternal + the upload URL + files.completeUploadExternal.
    Form, JSON and multipart bodies are accepted; the token comes from
    ``Authorization: Bearer`` or a ``token`` field; an extra ``team_id`` is ignored.

Rate limits
    Token buckets per method per workspace (Tier 2 = 20/min, Tier 3 = 50/min,
    Tier 4 = 100/min, auth.test and chat.getPermalink 600/min); chat.postMessage
    is 1/s per channel (burst 3) plus a workspace cap of ``post_per_minute``.
    Buckets hold ``burst_seconds`` (5) worth of rate. Over the limit: HTTP 429,
    ``{"ok": false, "error": "ratelimited"}`` and ``Retry-After``.
    ``time_scale`` multiplies every rate. At time_scale 1 Retry-After is whole
    seconds (ceil, >= 1) as Slack sends it; at any other scale it is the REAL
    number of seconds to wait as a decimal string ("0.05"), so parse it with
    ``float()`` (slack_sdk's RateLimitErrorRetryHandler does ``int()`` and would
    raise on it; pass ``integer_retry_after=True`` to get Slack's integer form
    at any scale). ``ceiling_per_second(method)`` gives the allowed rate.

Faults
    ``faults.set(method, status_5xx=, latency=, drop_before=, drop_after=)``
    (probabilities per call, seeded; a method's own rule replaces the
    all-methods rule), ``faults.burst_429(method, n, retry_after=None)``,
    ``faults.drop_next(method, n, after=True)`` (deterministic drops),
    ``faults.fail_user(user, "account_inactive")``, ``faults.clear()``,
    ``faults.counts`` ({"429", "5xx", "latency", "drop_before", "drop_after",
    "fail_user"}). A drop aborts the TCP connection (RST): urllib raises
    ConnectionResetError / RemoteDisconnected at once. drop_after performs the
    call first (the message IS posted), which is how a careless retry
    double-sends: slack_sdk's default ConnectionErrorRetryHandler does exactly
    that. Keys "upload" and "response_url" fault those endpoints.

Recording (thread-safe; copies of the current state)
    ``calls(method)`` -> [Call(method, args, status, ok, error, started,
    finished, fault)] in arrival order; ``dm_channel(user)``; ``dm(user)`` /
    ``messages(channel)`` / ``message(channel, ts)`` -> Message (text, blocks,
    metadata, posted_at, edits, updated_at, deleted, ``content()``,
    ``buttons()``); ``ephemerals(user)``; ``home(user)``; ``open_views(user)``;
    ``files(channel)`` -> UploadedFile (name, title, content bytes, channel,
    initial_comment); ``stats()`` (also ``GET /_sandbox/stats``);
    ``wait_for(predicate, timeout)`` to synchronise without sleeping;
    ``inject_message(channel, user, text)`` for messages people wrote.
    The Directory: ``people`` / ``channels`` / ``groups`` lists,
    ``active_humans()``, ``person(id)``, ``channel(id)``, ``group(id)``,
    ``add_person`` / ``add_channel`` / ``add_group``.

Acting as Slack (signed like Slack: v0 HMAC-SHA256 of ``v0:{ts}:{body}``)
    ``command`` ("/retract M-7 why" is split into command and text),
    ``submit_view`` (fills inputs by label; unfilled inputs carry their
    initial value or Slack's empty shape; waits up to ``wait`` s for a modal),
    ``close_view``, ``click`` (message buttons, also in ephemerals),
    ``click_home``, ``click_view`` (a button in the top modal),
    ``message_shortcut``, ``send_event``, ``open_home``; ``sign`` and
    ``post_raw`` for forged, stale or replayed requests. Each returns a
    ``Reply(status, headers, body, elapsed)``. Answers are applied as Slack
    applies them: a command's HTTP body (plain text or JSON) becomes an
    ephemeral message (``in_channel`` posts it); ``response_action``
    errors/update/push/clear drive the modal stack (``Reply.errors``,
    ``Reply.errors_by_label``); response_url posts (ephemeral by default,
    ``in_channel``, ``replace_original``, ``delete_original``) are answered
    ``200 {"ok": true}``. Answers slower than ``ack_timeout`` (3 s) are
    ignored, as Slack ignores them. Trigger ids live 3 s and open one view.

Deliberate differences from real Slack
    - One workspace, one app, one bot token; no OAuth, no Socket Mode, no
      Enterprise Grid. Scopes are not checked.
    - Messages posted with a user id land in the app's DM with that user and the
      response's ``channel`` is the D id (modern bot-token behaviour); D ids are
      stable per user but only known once the bot has used them.
    - Private channels the bot is not in answer ``not_in_channel`` to
      chat.postMessage (real Slack may say ``channel_not_found``).
    - Bot messages carry ``bot_id``/``app_id``/``user``/``bot_profile`` and no
      ``subtype`` (as bot-token posts do today).
    - chat.update keeps text, blocks and metadata that are not sent again.
    - block_actions / message_action payloads omit message ``metadata``.
    - users.list pages default to 100 members (max 1000); real Slack may send
      more per page without a limit.
    - An empty 200 to a view_submission closes the submitted view (and the ones
      pushed above it), not the whole stack; ``clear`` closes the stack.
    - Reusing a trigger_id answers ``exchanged_trigger_id`` (Slack's code for it).
    - The response_url accepts 5 uses in 30 minutes, then ``used_url`` (HTTP 404).
    - Deactivated members come without tz, colour and role flags, as Slack
      sends them; read those fields with ``.get``.
    - Slack does not publish its limiter: here it is a token bucket per method
      (and per channel for chat.postMessage) that starts full.
    - chat.update with text over 40,000 characters answers ``msg_too_long``;
      chat.postMessage truncates with the ``message_truncated`` warning.
    - conversations.open with a deactivated user answers ``user_disabled``.
    - The upload URL is on the stand-in (``/upload/v1/<file_id>.<secret>``) and
      answers ``200 "OK - <bytes>"``; files are shared synchronously.
"""

from standin.slack.directory import Channel, Directory, Person, UserGroup, generate_directory
from standin.slack.records import Call, Message, Reply, UploadedFile, Version
from standin.slack.server import StandInSlack

__all__ = [
    "Call",
    "Channel",
    "Directory",
    "Message",
    "Person",
    "Reply",
    "StandInSlack",
    "UploadedFile",
    "UserGroup",
    "Version",
    "generate_directory",
]
