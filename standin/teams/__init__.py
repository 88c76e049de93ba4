"""A stand-in for Microsoft Teams on loopback: the Bot Connector, the token endpoint, and Teams.

Start one, point the bot at it, and let it act as Teams::

    from standin.teams import StandInTeams, generate_teams_directory

    with StandInTeams(generate_teams_directory(people=300), time_scale=20) as teams:
        teams.bot_url = "http://127.0.0.1:3978"        # Teams posts to bot_url + "/api/messages"
        # the bot: service_url=teams.service_url, app id/password = teams.app_id/app_password,
        #   token from teams.token_url, inbound JWKS from teams.openid_metadata_url
        teams.install(user)                               # installationUpdate + conversationUpdate
        teams.message(comms, "memo")                      # a message in the 1:1 chat
        teams.open_dialog(comms, teams.chat(comms)[-1], "New memo")
        teams.submit_dialog(comms, {"Title": "...", "Members of teams": ["Sales"]})
        teams.wait_for(lambda: teams.chat(user))
        teams.invoke_action(user, teams.chat(user)[0], "Acknowledge")

What it is
    A real HTTP server (127.0.0.1, free port, threads) for one tenant and one bot
    (``28:<app_id>``). ``service_url`` is ``http://127.0.0.1:PORT/`` (what Teams
    puts in activity.serviceUrl; any path before ``/v3/`` is accepted). Bot
    Connector REST, ids URL-decoded, resource names case-insensitive:
      POST   /v3/conversations                         create/get the 1:1 -> 201 {"id": "a:1..."}
      POST   /v3/conversations/{id}/activities         -> 201 {"id": "<epoch ms>"}
      POST   /v3/conversations/{id}/activities/{aid}   (botbuilder's reply) -> 201 {"id"}
      PUT    /v3/conversations/{id}/activities/{aid}   update in place -> 200 {"id": aid}
      DELETE /v3/conversations/{id}/activities/{aid}   -> 200, empty body
      GET    /v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=
      GET    /v3/conversations/{id}/members[/{userId or aadObjectId}]
      GET    /v3/conversations/{id}/activities/{aid}/members
      GET    /v3/teams/{teamId}, /v3/teams/{teamId}/conversations
    Errors are ``{"error": {"code", "message"}}`` with Teams' codes (BadArgument,
    BadSyntax, ConversationNotFound, ActivityNotFoundInConversation,
    MemberNotFoundInConversation, ForbiddenOperationException,
    BotNotInConversationRoster, ConversationBlockedByUser, BotDisabledByAdmin,
    MessageSizeTooBig, Throttled, PreconditionFailed, ServiceUnavailable,
    GatewayTimeout); MessageWritesBlocked comes as ``{"errorCode": 209,
    "message": "<json with subCode>"}``; 502 is an HTML gateway page.
    Who the bot can reach: people with the app in personal scope, and members
    of a team where the bot is installed (by their 29: id; an aadObjectId
    works only with a personal install). Others: create -> 403
    ForbiddenOperationException; writes into their chat -> 403
    BotNotInConversationRoster.

Auth (always on: the stand-in is only as good as the checks it makes)
    Bot -> Teams: POST ``token_url`` (``/botframework.com/oauth2/v2.0/token``,
    also ``/{tenant_id}/...``), form ``grant_type=client_credentials``,
    ``client_id=app_id``, ``client_secret=app_password``,
    ``scope=https://api.botframework.com/.default`` -> ``{"token_type": "Bearer",
    "expires_in": 3599, "access_token": <JWT>}`` (Entra's AADSTS errors
    otherwise). Every /v3 call needs ``Authorization: Bearer <that token>``
    (signature, aud https://api.botframework.com, exp, appid), else 401.
    ``token_provider()`` is a cached callable(scope, tenant_id) for the Teams
    SDK's ``App(token=...)``; ``fetch_token()`` one token; ``access_token(...)``
    forges (``foreign=True``, ``expires_in=-60``, ``app_id=``, ``audience=``).
    Teams -> bot: ``Authorization: Bearer <JWT>`` RS256, iss
    https://api.botframework.com, aud app_id, ``serviceurl`` = activity.serviceUrl,
    nbf/exp (1 h); keys at ``jwks_url`` (``/v1/.well-known/keys``, with
    endorsements ["msteams", ...]), metadata at ``openid_metadata_url``
    (``/v1/.well-known/openidconfiguration``). ``cloud_environment()`` is a
    microsoft_teams CloudEnvironment pointing its validator here.
    ``channel_token(...)`` forges (``audience=``, ``issuer=``, ``expires_in=``,
    ``foreign=True``, ``service_url=``, ``omit=("serviceurl",)``); send it with
    ``send_activity(activity, token=...)`` ("" = no header) or ``post_raw``.

Rate limits (TeamsRateLimiter; ``time_scale`` multiplies every rate)
    50 requests/s per app per tenant over all /v3 calls (bucket of 1 s); per
    conversation (per user for create) all of 7/1 s, 8/2 s, 60/30 s, 1800/1 h
    for sends, edits and deletes, the same for create, 14/16/120/3600 for member
    reads. Over: HTTP 429 ``{"error": {"code": "Throttled"}}`` and Retry-After:
    whole seconds at time_scale 1, real seconds as a decimal ("0.05")
    otherwise. ``ceiling_per_second("app" | "send" | "create" | "members",
    window=None)``, ``burst(...)``, ``rate_limits.set_app_rps`` /
    ``set_windows`` / ``enabled``.

Faults (TeamsFaults, seeded; ``op`` = "activities.send" / "activities.update" /
"activities.delete" / "conversations.create" / "members.paged" / ... / "token")
    ``faults.set(op=None, status_5xx=, status_412=, latency=, drop_before=,
    drop_after=)`` (5xx drawn among 502/503/504, answered without acting;
    drops reset the connection, drop_after after acting);
    ``faults.burst_429(count, retry_after=None, op=None)`` (None: no
    Retry-After header); ``faults.drop_next``, ``faults.fail_next(count,
    status)``; ``block(user, code="ConversationBlockedByUser")`` (also
    "BotDisabledByAdmin", which refuses create too, "MessageWritesBlocked", ...;
    None unblocks); ``faults.counts`` {"429", "5xx", "412", "latency",
    "drop_before", "drop_after", "blocked"}; ``faults.clear()``. op=None rules
    leave the token endpoint alone.

Recording (thread-safe copies)
    ``calls(op)`` -> [Call(method, verb, path, body, status, error,
    conversation_id, activity_id, started, finished, fault)]; ``stats()`` per
    op (also GET /_sandbox/stats); ``conversation_of(user)``; ``chat(user)`` ->
    the bot's messages in the 1:1, oldest first, current state: Message(text,
    attachments, activity, edits [Version], updated_by "bot"|"invoke",
    deleted, warnings) with ``card()``, ``content()``, ``buttons()`` (titles),
    ``actions()``; ``messages(conversation_id)`` (people's too),
    ``find_message``, ``channel_messages(team)``; ``invokes(user)`` (what the
    bot answered to invokes and what Teams did), ``shown(user)`` (messages
    Teams showed), ``open_dialog_views(user)``, ``dialog(user)``;
    ``wait_for(predicate, timeout)``.

Acting as Teams (POST bot_url + "/api/messages"; Reply(status, headers, body,
elapsed, request, outcome, shown, card, errors_by_label, problem), ``.json()``)
    ``install(user, profile=True)`` / ``uninstall(user)`` (installationUpdate
    add/remove and conversationUpdate membersAdded/membersRemoved [the bot];
    Replies; ``profile=False``: exactly as Teams sends them, no name and no time
    zone), ``install_many(users=None)``, ``install_in_team(team)`` /
    ``uninstall_from_team(team)``, ``rename_team(team, name)`` (conversationUpdate
    eventType "teamRenamed"); ``message(user, text)``;
    ``message_in_channel(user, team, text)`` (a new thread in the General channel,
    ``<at>Errata</at>&nbsp;text`` with a mention entity; the thread is the
    conversation ``<channel>;messageid=<id>``), ``group_chat(users)`` -> chat id,
    ``message_in_group_chat(user, chat_id, text)`` (the same shape in a group chat);
    ``open_card(user, message)``: the person looks at a card; a ``refresh`` meant
    for them (userIds) is invoked (adaptiveCard/action, trigger "automatic") and
    the answer shown on that device;
    ``invoke_action(user, message, title, values=None)``: Action.Execute ->
    invoke adaptiveCard/action {action {type, id?, verb, data}, trigger
    "manual"}, replyToId; an answer ``{"statusCode": 200, "type":
    "application/vnd.microsoft.card.adaptive", "value": card}`` replaces the
    card on the device that clicked only (``Message.card_on_device(user_id)``;
    ``chat()`` keeps the stored message, as other devices and a reload show it,
    until the bot edits it), ``...activity.message`` shows the text, anything
    else shows an error; Action.Submit -> a message with ``value`` = data + inputs
    (messageBack / imBack as Teams sends them), or task/fetch when
    data.msteams.type is "task/fetch". ``open_dialog(user, message, title)``;
    ``submit_dialog(user, values, button=None, client_checks=True)`` fills inputs BY LABEL
    (Input.Text str, Toggle bool -> valueOn/valueOff, ChoiceSet by title or
    value, multi-select comma-joined, Date "YYYY-MM-DD", Time "HH:MM",
    Number), checks isRequired/regex/min/max as Teams' client does
    (``outcome="not_sent"``), sends task/submit {data, context}; ``{"task":
    {"type": "continue", "value": TaskInfo}}`` keeps the dialog open with the
    new card, ``{"task": {"type": "message", ...}}`` or an empty 200 closes it.
    Invoke answers slower than ``invoke_timeout`` (5 s) are ignored.

Deliberate differences from real Teams
    - One tenant, one bot, http on loopback; no Graph, no proactive install,
      no sovereign clouds; group chats only as ``group_chat`` makes them. MSAL cannot use the token endpoint
      (it wants an https authority): use a token callable in tests.
    - Limits are token buckets refilled continuously (Teams does not publish
      its algorithm); 412 happens only when injected.
    - One "device" per person: an Action.Execute answer shows on it until the
      bot edits the message.
    - ``install`` sends a name and a time zone unless ``profile=False``.
    - Every input is sent, as a string ("" when empty); Toggle as its
      valueOn/valueOff; Number as its text.
    - Cards are never refused: what Teams would render badly is listed in
      Message.warnings. Messages over 28 KB of JSON get 413.
    - pagedmembers: default page 100, pageSize clamped to 50..500.
    - 401 bodies carry both ASP.NET's {"message": ...} and an error object.
"""

from standin.teams.directory import (
    Team,
    TeamsDirectory,
    TeamsPerson,
    generate_teams_directory,
)
from standin.teams.records import (
    Call,
    Dialog,
    InvokeRecord,
    Message,
    Replies,
    Reply,
    Version,
)
from standin.teams.server import StandInTeams

__all__ = [
    "Call",
    "Dialog",
    "InvokeRecord",
    "Message",
    "Replies",
    "Reply",
    "StandInTeams",
    "Team",
    "TeamsDirectory",
    "TeamsPerson",
    "Version",
    "generate_teams_directory",
]
