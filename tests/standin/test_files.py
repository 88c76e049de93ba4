"""files_upload_v2 end to end: upload URL on the stand-in, raw bytes, completion, read-back."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from slack_sdk.errors import SlackApiError


def test_files_upload_v2_to_a_dm_end_to_end(slack, client, humans):
    person = humans[0]
    dm = client.chat_postMessage(channel=person, text="your report follows")["channel"]
    csv = 'memo_id,recipient_name\nM-7,José Ñúñez\nM-7,=HYPERLINK("x")\n'.encode()
    r = client.files_upload_v2(
        channel=dm,
        content=csv,
        filename="M-7.csv",
        title="Report M-7",
        initial_comment="Report for M-7",
    )
    assert r["ok"] and r["file"]["id"].startswith("F") and r["file"]["name"] == "M-7.csv"
    assert r["file"]["title"] == "Report M-7" and r["file"]["ims"] == [dm]
    [f] = slack.files(dm)
    assert f.content == csv and f.text.startswith("memo_id") and f.name == "M-7.csv"
    assert f.channel == dm and f.initial_comment == "Report for M-7" and f.title == "Report M-7"
    shared = slack.dm(person)[-1]
    assert shared.text == "Report for M-7" and shared.files[0]["id"] == f.id
    url_call = slack.calls("files.getUploadURLExternal")[0]
    assert url_call.args["filename"] == "M-7.csv" and int(url_call.args["length"]) == len(csv)


def test_complete_upload_needs_a_conversation_id(slack, client, humans):
    with pytest.raises(SlackApiError) as e:
        client.files_upload_v2(channel=humans[0], content=b"a,b\n", filename="r.csv")
    assert e.value.response["error"] == "invalid_arguments"
    assert slack.files() == []


def test_upload_url_accepts_multipart_and_rejects_strangers(slack, client):
    got = client.files_getUploadURLExternal(filename="n.txt", length=5)
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="n.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    req = urllib.request.Request(
        got["upload_url"],
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200 and resp.read() == b"OK - 5"
    general = next(c for c in slack.directory.channels if c.is_general)
    done = client.files_completeUploadExternal(
        files=[{"id": got["file_id"], "title": "Note"}], channel_id=general.id
    )
    assert done["files"][0]["title"] == "Note"
    assert slack.files(general.id)[0].content == b"hello"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(got["upload_url"] + "x", data=b"nope"))
    assert e.value.code == 404
    with pytest.raises(SlackApiError) as e:  # completing twice
        client.files_completeUploadExternal(files=[{"id": got["file_id"]}], channel_id=general.id)
    assert e.value.response["error"] == "file_not_found"
