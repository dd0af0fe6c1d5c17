"""Payloads are encrypted before they reach the Temporal server: what the server stores (and its
Web UI shows) holds no ID number, phone, name or bank account; the worker and the API read the
cases as before; keys rotate; the codec endpoint decrypts for the district's supervisors only."""

import asyncio
import base64
import json
import re
import uuid

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory

from api.main import create_app
from api.tokens import issue_token
from domain.cases import LEVEL_OF_ROLE, Actor, CaseStart, Role
from domain.identity import mask_id_number, mask_phone
from domain.sealing import KeyConfigError, KeyRing, Unsealable
from logs import configure_logging
from tests.helpers.actors import ASSISTANT, approver_of, assistant_of
from tests.helpers.api import application, emergency, until, wait_for
from tests.helpers.people import id_number
from tests.helpers.servers import serve
from tests.helpers.stack import CONVERTER, TEMPORAL, Stack, running_stack
from workflows.client import ENCRYPTED, KEY_ID, EncryptionCodec, connect, data_converter

SUPERVISOR = Actor(user_id="u-sup", name="督办员", role=Role.supervisor, jurisdiction="370305")
ADMIN = Actor(user_id="u-admin", name="管理员", role=Role.admin, jurisdiction="370305")


def key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


# --- the key ring ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "current", "says"),
    [
        ({"k1": base64.b64encode(b"short").decode()}, "k1", "has 5 bytes; an AES-256 key has 32"),
        ({"k1": "not base64!"}, "k1", "'k1' is not base64"),
        ({"k1": key(b"a")}, "k2", "current encryption key 'k2' (JIUZHU_ENCRYPTION_KEY_ID)"),
        ({}, "k1", "no encryption key is configured"),
        ({"k 1:x": key(b"a")}, "k 1:x", "key id has 1 to 64 letters"),
    ],
)
def test_a_bad_key_configuration_is_refused_clearly(keys, current, says):
    with pytest.raises(KeyConfigError, match=re.escape(says)) as refused:
        KeyRing(keys, current=current)
    for value in keys.values():  # the error never quotes a key
        assert value not in str(refused.value)


async def test_every_payload_is_sealed_and_plain_ones_pass_through():
    codec = EncryptionCodec(KeyRing({"a": key(b"a")}, current="a"))
    [plain] = CONVERTER.payload_converter.to_payloads([{"id_number": "370305198001010015"}])
    [sealed] = await codec.encode([plain])
    assert sealed.metadata["encoding"] == ENCRYPTED and sealed.metadata[KEY_ID] == b"a"
    assert b"370305198001010015" not in sealed.SerializeToString()
    assert await codec.decode([sealed, plain]) == [plain, plain]  # recorded before encryption
    [again] = await codec.encode([plain])
    assert again.data != sealed.data  # a fresh nonce each time

    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(Unsealable, match="does not open"):
        await codec.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID] = b"z"
    with pytest.raises(Unsealable, match="key 'z', which is not configured"):
        await codec.decode([relabelled])


# --- what the Temporal server holds ---------------------------------------------------------


async def raw_history(dev_env, workflow_id: str) -> WorkflowHistory:
    """The history as the server stores it and the Web UI shows it: read with no codec."""
    plain = await Client.connect(
        dev_env.client.service_client.config.target_host, namespace=dev_env.client.namespace
    )
    return await plain.get_workflow_handle(workflow_id).fetch_history()


def payloads_in(message: Message, path: str = "") -> list[tuple[str, Payload]]:
    """Every payload of a history, with where it is; not the search attributes (the SDK never
    encodes those: they carry stage, township, type and dates only) nor the markers of
    ``workflow.patched`` (the SDK's core writes them, with the patch's name only)."""
    found = []
    for field, value in message.ListFields():
        if field.name == "search_attributes":
            continue
        if field.name == "marker_recorded_event_attributes" and value.marker_name == "core_patch":
            continue
        if field.message_type is None:
            continue
        values = value.values() if field.message_type.GetOptions().map_entry else value
        items = values if field.is_repeated else [value]
        for item in items:
            if isinstance(item, Payload):
                found.append((f"{path}/{field.name}", item))
            elif isinstance(item, Message):
                found.extend(payloads_in(item, f"{path}/{field.name}"))
    return found


def assert_ciphertext_only(history: WorkflowHistory, secrets: list[str]) -> None:
    stored = History(events=history.events).SerializeToString()
    assert not [s for s in secrets if s.encode() in stored]
    payloads = payloads_in(History(events=history.events))
    assert len(payloads) > 5
    assert not [where for where, p in payloads if p.metadata.get("encoding") != ENCRYPTED], (
        "a payload reached the server in clear"
    )


async def test_the_server_holds_no_personal_data_in_clear_and_the_case_reads_as_before(
    stack, dev_env
):
    applicant = {"name": "欧阳明月", "id_number": id_number("19700707"), "phone": "13912345678"}
    member = {
        "name": "欧阳星辰", "id_number": id_number("20100808"), "relation": "子女",
        "monthly_income": "0",
    }  # fmt: skip
    body = application(
        applicant=applicant,
        household=[member],
        bank_account={"bank": "齐商银行", "account_no": "6217030199887766", "holder": "欧阳明月"},
    )
    township, village = "370305106", "370305106201"
    urgent = emergency(township, village, name="上官云飞", account="6217030155443322")
    async with (
        stack.client(ASSISTANT) as assistant,
        stack.client(assistant_of(township)) as emergency_assistant,
        stack.client(approver_of(township)) as approver,
    ):
        created = await assistant.post("/applications", json=body)
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        case = await wait_for(assistant, case_no, lambda c: c["verification"] is not None)
        assert case["applicant_name"] == "欧阳明月"  # the API reads the case through the codec

        requested = await emergency_assistant.post("/emergencies", json=urgent)
        assert requested.status_code == 201, requested.text
        emergency_no = requested.json()["case_no"]
        approved = await approver.post(
            f"/emergencies/{emergency_no}/approval", json={"amount": "2000.00", "note": "属实"}
        )
        assert approved.status_code == 200, approved.text
        paid = await until(approver, emergency_no, lambda c: c["paid_at"] is not None)
        assert paid["payments"][0]["status"] == "settled"  # the payment activity read the account

    application_history = await raw_history(dev_env, f"application-{case_no}")
    assert_ciphertext_only(
        application_history,
        [
            applicant["name"], applicant["id_number"], applicant["phone"],
            member["name"], member["id_number"], "6217030199887766",
        ],
    )  # fmt: skip
    assert_ciphertext_only(
        await raw_history(dev_env, f"emergency-{emergency_no}"),
        [
            "上官云飞", urgent["applicant"]["id_number"], urgent["applicant"]["phone"],
            urgent["household"][0]["id_number"], "6217030155443322",
        ],
    )  # fmt: skip

    # The worker's client (with the codec) reads the same history whole.
    started = application_history.events[0].workflow_execution_started_event_attributes
    [start] = await CONVERTER.decode(started.input.payloads, [CaseStart])
    assert start.applicant.id_number == applicant["id_number"]
    assert start.bank_account.account_no == "6217030199887766"


# --- the codec endpoint ---------------------------------------------------------------------


def token(stack: Stack, actor: Actor) -> dict[str, str]:
    return stack.headers(actor)


def as_json(*payloads: Payload) -> dict:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_json(answer: httpx.Response) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in answer.json()["payloads"]]


async def a_started_case(stack: Stack, dev_env) -> tuple[str, Payload]:
    """A new case, and its workflow's input as the server stores it (encrypted)."""
    async with stack.client(ASSISTANT) as assistant:
        created = await assistant.post("/applications", json=application())
        assert created.status_code == 201, created.text
    case_no = created.json()["case_no"]
    history = await raw_history(dev_env, f"application-{case_no}")
    started = history.events[0].workflow_execution_started_event_attributes
    return case_no, started.input.payloads[0]


async def test_the_codec_endpoint_decrypts_what_the_worker_encrypted_for_the_district_only(
    stack, dev_env
):
    case_no, sealed = await a_started_case(stack, dev_env)
    [expected] = await CONVERTER.payload_codec.decode([sealed])
    [plain_old] = CONVERTER.payload_converter.to_payloads(["a payload of before encryption"])
    real = CONVERTER.payload_converter.from_payload(expected, CaseStart)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        for user in (SUPERVISOR, ADMIN):
            decoded = await http.post(
                "/codec/decode",
                json=as_json(sealed, plain_old),
                headers=token(stack, user) | {"X-Namespace": dev_env.client.namespace},
            )
            assert decoded.status_code == 200, decoded.text
            shown, old = from_json(decoded)
            assert old == plain_old
            start = CONVERTER.payload_converter.from_payload(shown, CaseStart)
            assert start.case_no == case_no and start.applicant.name == real.applicant.name
            # Overseers read the family's numbers masked here as everywhere else.
            assert start.applicant.id_number == mask_id_number(real.applicant.id_number)
            assert start.applicant.phone == mask_phone(real.applicant.phone)
            assert start.bank_account.account_no == "****" + real.bank_account.account_no[-4:]
            assert real.applicant.id_number not in decoded.text

        # Encoding seals under the current key, for the worker to read.
        encoded = await http.post(
            "/codec/encode", json=as_json(expected), headers=token(stack, SUPERVISOR)
        )
        assert encoded.status_code == 200, encoded.text
        [resealed] = from_json(encoded)
        assert resealed.metadata["encoding"] == ENCRYPTED
        assert await CONVERTER.payload_codec.decode([resealed]) == [expected]

        # Who may not: no token, a forged one, other roles, a supervisor of a township.
        body = as_json(sealed)
        assert (await http.post("/codec/decode", json=body)).status_code == 401
        forged = issue_token(
            secret="not-the-secret-of-this-system-at-all",
            sub="x",
            name="x",
            role=Role.admin,
            jurisdiction="370305",
        )
        answer = await http.post(
            "/codec/decode", json=body, headers={"Authorization": f"Bearer {forged}"}
        )
        assert answer.status_code == 401
        codes = {"district": "370305", "township": "370305001", "village": "370305001001"}
        for role in Role:
            if role in (Role.supervisor, Role.admin):
                continue
            at_its_level = codes[LEVEL_OF_ROLE[role]]
            department = "medical_insurance" if role == Role.department_liaison else None
            user = Actor(user_id=f"u-{role}", name="某", role=role, jurisdiction=at_its_level,
                         department=department)  # fmt: skip
            answer = await http.post("/codec/decode", json=body, headers=token(stack, user))
            assert answer.status_code == 403, (role, answer.text)
            assert "supervisor" in answer.json()["detail"], (role, answer.text)
        township = Actor(
            user_id="u-sup-t", name="镇督办", role=Role.supervisor, jurisdiction="370305001"
        )
        answer = await http.post("/codec/decode", json=body, headers=token(stack, township))
        assert answer.status_code == 403 and "works for the district" in answer.json()["detail"]

        # Bad input: another namespace, a key this system does not have, broken base64,
        # unknown fields, too many payloads.
        headers = token(stack, SUPERVISOR)
        other = await http.post(
            "/codec/decode", json=body, headers=headers | {"X-Namespace": "someone-else"}
        )
        assert other.status_code == 400 and "namespace" in other.json()["detail"]
        unknown = Payload()
        unknown.CopyFrom(sealed)
        unknown.metadata[KEY_ID] = b"retired-2019"
        answer = await http.post("/codec/decode", json=as_json(unknown), headers=headers)
        assert answer.status_code == 400
        assert (
            "payload 0: " in answer.json()["detail"] and "'retired-2019'" in answer.json()["detail"]
        )
        for broken in ({"encoding": "%%%"}, {"encoding": "a"}):
            answer = await http.post(
                "/codec/decode", json={"payloads": [{"metadata": broken}]}, headers=headers
            )
            assert answer.status_code == 422, answer.text
            where = answer.json()["detail"][0]["loc"]
            assert [str(part) for part in where[:3]] == ["body", "payloads", "0"]
        extra = {"payloads": [{"metadata": {}, "data": "", "evil": 1}]}
        assert (await http.post("/codec/decode", json=extra, headers=headers)).status_code == 422
        many = {"payloads": [{"data": ""}] * 101}
        assert (await http.post("/codec/decode", json=many, headers=headers)).status_code == 422
        huge = {"payloads": [{"data": "A" * 70_000}]}
        assert (await http.post("/codec/decode", json=huge, headers=headers)).status_code == 413

        # A decoded answer is never kept for a retry (it holds the case's personal data).
        twice = headers | {"Idempotency-Key": str(uuid.uuid4())}
        first = await http.post("/codec/decode", json=body, headers=twice)
        second = await http.post("/codec/decode", json=body, headers=twice)
        assert first.status_code == second.status_code == 200
        assert "Idempotent-Replayed" not in second.headers


async def test_the_web_ui_may_call_the_codec_from_its_origin_and_no_other(stack):
    settings = stack.settings
    allowed = settings.codec_cors_origins[0]
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        }
        answer = await http.options("/codec/decode", headers=preflight | {"Origin": allowed})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == allowed
        assert "x-namespace" in answer.headers["access-control-allow-headers"].lower()
        stranger = await http.options(
            "/codec/decode", headers=preflight | {"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in stranger.headers
        # A refusal reaches the Web UI readable (it can tell the user to sign in).
        refused = await http.post(
            "/codec/decode",
            json={"payloads": []},
            headers={"Origin": allowed, "Authorization": "Bearer x"},
        )
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == allowed
        # The rest of the API is not for other origins' pages.
        other = await http.options("/applications", headers=preflight | {"Origin": allowed})
        assert "access-control-allow-origin" not in other.headers


async def test_the_temporal_cli_shows_a_history_decrypted_through_the_codec_endpoint(
    stack, dev_env
):
    case_no, sealed = await a_started_case(stack, dev_env)
    [expected] = await CONVERTER.payload_codec.decode([sealed])

    async def started_input(*codec: str) -> Payload:
        """``temporal workflow show``: the workflow's input, as the CLI prints it."""
        process = await asyncio.create_subprocess_exec(
            str(TEMPORAL), "workflow", "show", "--workflow-id", f"application-{case_no}",
            "--address", dev_env.client.service_client.config.target_host,
            "--namespace", dev_env.client.namespace, "--output", "json", *codec,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        first = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
        return json_format.ParseDict(first["input"]["payloads"][0], Payload())

    supervisor = token(stack, SUPERVISOR)["Authorization"]
    codec = ("--codec-endpoint", f"{stack.url}/codec", "--codec-auth", supervisor)
    shown = CONVERTER.payload_converter.from_payload(await started_input(*codec), CaseStart)
    real = CONVERTER.payload_converter.from_payload(expected, CaseStart)
    assert shown.case_no == case_no and shown.reason == real.reason
    assert shown.applicant.id_number == mask_id_number(real.applicant.id_number)
    assert await started_input() == sealed  # without the codec: ciphertext


# --- rotation ---------------------------------------------------------------------------------


async def test_a_case_started_under_one_key_goes_on_after_another_is_made_current(
    dev_env, api_settings
):
    a_only = api_settings.model_copy(
        update={"encryption_keys": {"a": key(b"a")}, "encryption_key_id": "a"}
    )
    both = a_only.model_copy(
        update={"encryption_keys": {"a": key(b"a"), "b": key(b"b")}, "encryption_key_id": "b"}
    )
    target, namespace = dev_env.client.service_client.config.target_host, dev_env.client.namespace
    first = await connect(target, namespace, ring=a_only.key_ring())
    async with running_stack(first, a_only) as stack, stack.client(ASSISTANT) as assistant:
        created = await assistant.post("/applications", json=application())
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        await wait_for(assistant, case_no, lambda c: c["verification"] is not None)

    # The keys rotate: a fresh worker replays the history sealed under "a", and goes on
    # under "b".
    second = await connect(target, namespace, ring=both.key_ring())
    async with running_stack(second, both) as stack, stack.client(ASSISTANT) as assistant:
        paused = await assistant.post(
            f"/applications/{case_no}/documents-requested", json={"documents": ["户口簿"]}
        )
        assert paused.status_code == 200, paused.text
        assert paused.json()["stage"] == "awaiting_documents"
        # The Web UI's codec, on an API with both keys, reads payloads of either.
        history = await raw_history(dev_env, f"application-{case_no}")
        sealed = [p for _, p in payloads_in(History(events=history.events))]
        assert {p.metadata[KEY_ID] for p in sealed} == {b"a", b"b"}
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            decoded = await http.post(
                "/codec/decode", json=as_json(*sealed[:10]), headers=token(stack, SUPERVISOR)
            )
            assert decoded.status_code == 200, decoded.text

    # A ring without "a" cannot read what "a" sealed, and says which key it needs.
    without_a = EncryptionCodec(KeyRing({"b": key(b"b")}, current="b"))
    under_a = next(p for p in sealed if p.metadata[KEY_ID] == b"a")
    with pytest.raises(Unsealable, match="key 'a', which is not configured"):
        await without_a.decode([under_a])
    assert await data_converter(both.key_ring()).payload_codec.decode([under_a])


# --- hostile payloads -------------------------------------------------------------------------


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_a_payload_nested_too_deep_is_refused_naming_it_and_never_floods_the_log(
    api_settings, log_lines
):
    """A 1.5 KB request of 700 nested lists was a 500, ~370 KB of traceback in the log and a
    connection reset; a payload as deep as the limit is read, its numbers masked."""
    number = id_number()
    at_the_limit = json_payload("[" * 31 + json.dumps({"id_number": number}) + "]" * 31)
    deep = json_payload("[" * 700 + "]" * 700)
    [deep_sealed] = await CONVERTER.payload_codec.encode([deep])

    def api():
        configure_logging(fmt="json", level="INFO", process="api", stream=log_lines)
        return create_app(api_settings)

    with serve(api, factory=True, log_level="info") as url:
        stack = Stack(url, api_settings)
        # One client, one kept-alive connection: a reset would fail the next request.
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for user, route, hostile in [
                (SUPERVISOR, "/codec/decode", deep),
                (SUPERVISOR, "/codec/decode", deep_sealed),
                (ADMIN, "/codec/decode", deep),
                (SUPERVISOR, "/codec/encode", deep),
                (ADMIN, "/codec/encode", deep),
            ]:
                before = len(log_lines.getvalue())
                answer = await http.post(
                    route, json=as_json(at_the_limit, hostile), headers=token(stack, user)
                )
                assert answer.status_code == 422, (user.role, route, answer.text)
                [problem] = answer.json()["detail"]
                assert [str(part) for part in problem["loc"]] == ["body", "payloads", "1", "data"]
                assert "nested deeper than 32 levels" in problem["msg"]

                fine = await http.post(
                    route, json=as_json(at_the_limit), headers=token(stack, user)
                )
                assert fine.status_code == 200, (user.role, route, fine.text)
                if route == "/codec/decode":
                    shown = json.loads(from_json(fine)[0].data)
                    for _ in range(31):
                        [shown] = shown
                    assert shown == {"id_number": mask_id_number(number)}
                # Both requests' lines together, the refused one's included: a few KB at most.
                written = len(log_lines.getvalue()) - before
                assert written < 3000, (route, written, log_lines.getvalue()[before:][:2000])
    assert "RecursionError" not in log_lines.getvalue()


async def test_the_embedded_web_ui_reads_payloads_masked_without_a_token(stack, dev_env):
    """`make run` has no identity provider to sign the Web UI a token: its calls from its own
    origin over loopback are decoded, every personal number masked as an overseer reads it;
    from another origin, or where a provider is configured, a token is needed."""
    case_no, sealed = await a_started_case(stack, dev_env)
    [expected] = await CONVERTER.payload_codec.decode([sealed])
    real = CONVERTER.payload_converter.from_payload(expected, CaseStart)
    web_ui = {"Origin": stack.settings.codec_cors_origins[0]}
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        decoded = await http.post("/codec/decode", json=as_json(sealed), headers=web_ui)
        assert decoded.status_code == 200, decoded.text
        [shown] = from_json(decoded)
        start = CONVERTER.payload_converter.from_payload(shown, CaseStart)
        assert start.case_no == case_no
        assert start.applicant.id_number == mask_id_number(real.applicant.id_number)
        assert real.applicant.id_number not in decoded.text
        assert real.applicant.phone not in decoded.text
        stranger = {"Origin": "https://evil.example"}
        assert (
            await http.post("/codec/decode", json=as_json(sealed), headers=stranger)
        ).status_code == 401
        encode = await http.post("/codec/encode", json=as_json(expected), headers=web_ui)
        assert encode.status_code == 401  # sealing is never the Web UI's without a token

    provided = stack.settings.model_copy(update={"jwks_url": "http://127.0.0.1:9/jwks"})
    transport = httpx.ASGITransport(app=create_app(provided), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        answer = await http.post("/codec/decode", json=as_json(sealed), headers=web_ui)
        assert answer.status_code == 401
