#!/usr/bin/env python3
"""Writes the hand-made seed corpus under fuzz/corpus/<target>/seed-*.

The layouts are documented at the top of each fuzz target. Run from any
directory; existing seed-* files are overwritten, fuzzer-found files are
left alone.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------ response_parse

FULL = {
    "message_id": "msg_01J9Z3X8Q4T6N2K7",
    "content": "Dear Ms Patel, your flu vaccination is due. Book at the surgery.",
    "created_at": "2026-11-24T10:15:22Z",
    "snomed_code": "185317003",
    "write_to_record": True,
    "auth_token": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "confirm_write_to_record_url": "https://app.herohealth.net/confirm/msg_01J9Z3X8Q4T6N2K7",
    "submitted_by": "Dr A Example (API)",
    "send_at": "2026-12-01T09:00:00Z",
}
write("response_parse", "full", json.dumps(FULL))
write("response_parse", "full-pretty", json.dumps(FULL, indent=2, ensure_ascii=True))
write("response_parse", "minimal", '{"message_id":"4711"}')
write(
    "response_parse",
    "loose-types",
    '{"message_id":"m2","content":7,"created_at":null,"snomed_code":["185317003"],'
    '"write_to_record":"yes","auth_token":{"t":1},"send_at":1.5e3,"extra":{"a":[1,2]}}',
)
write(
    "response_parse",
    "escapes",
    '{"message_id":"m\\u00e9\\n\\"3\\"","content":"Caf\\u00e9 \\ud83d\\ude00 \\u0000 end",'
    '"write_to_record":false,"submitted_by":"\\/api"}',
)
write("response_parse", "broken", '{"message_id":"msg_01J9","content":"cut off')
write("response_parse", "empty-id", '{"message_id":"","content":"x"}')
write("response_parse", "id-number", '{"message_id":4242}')
write("response_parse", "array", '[{"message_id":"m1"}]')
write("response_parse", "duplicate-key", '{"message_id":"a","message_id":"b"}')

# ---------------------------------------------------------- request_validate

MT = {"hero": 0, "sms": 1, "email": 2, "nhs_app": 3}
OPTIONAL = [
    "recipient_contact_detail",
    "fallback_contact_detail",
    "snomed_code",
    "snomed_term",
    "task_id",
    "attachment_uuid",
    "short_link_id",
    "send_at",
]


def esc(b):
    return b.replace(b"\x01", b"\x01\x01").replace(b"\x00", b"\x01\x00")


def request(
    patient,
    mtype,
    text,
    fallback=None,
    write_to_record=None,
    auto_write=None,
    encrypted=None,
    assignee_id=None,
    assignee_type=None,
    **opt,
):
    tri = {None: 0, True: 1, False: 2}
    b0 = MT[mtype] | {None: 0, "sms": 1, "email": 2}[fallback] << 2
    b0 |= tri[write_to_record] << 4 | tri[auto_write] << 6
    enc = 0 if encrypted is None else 1 if encrypted is True else 2 if encrypted is False else 3
    b1 = enc | {None: 0, "Admin": 1, "AdminTeam": 2}[assignee_type] << 2
    b1 |= 0x10 if assignee_id is not None else 0
    b2 = sum(1 << i for i, k in enumerate(OPTIONAL) if k in opt)
    fields = [patient, text] + [opt.get(k, "") for k in OPTIONAL]
    fields += [encrypted if isinstance(encrypted, str) else "", str(assignee_id or "")]
    body = b"\x00".join(esc(f.encode()) for f in fields)
    return bytes([b0, b1, b2]) + body


write(
    "request_validate",
    "sms-flu",
    request(
        "4242",
        "sms",
        "Your flu jab is due.",
        write_to_record=True,
        recipient_contact_detail="07700 900123",
        snomed_code="185317003",
    ),
)
write(
    "request_validate",
    "email-all-fields",
    request(
        "4242",
        "email",
        "Your blood test results are ready to view.",
        fallback="sms",
        write_to_record=True,
        auto_write=True,
        encrypted=True,
        assignee_id=17,
        assignee_type="Admin",
        recipient_contact_detail="patient@example.nhs.uk",
        fallback_contact_detail="07700 900123",
        snomed_code="185317003",
        snomed_term="Influenza vaccination invitation",
        task_id="task-77",
        attachment_uuid="3fa85f64-5717-4562-b3fc-2c963f66afa6",
        short_link_id="sl_9f2c",
        send_at="2026-12-01T09:00:00Z",
    ),
)
write(
    "request_validate",
    "nhs-app-scheduled",
    request(
        "98765",
        "nhs_app",
        "Reminder: appointment on 1 December at 09:00.",
        encrypted="AES256",
        assignee_id=9007199254740991,
        assignee_type="AdminTeam",
        send_at="2026-12-01T09:00:00.123+01:00",
    ),
)
write("request_validate", "hero-minimal", request("1", "hero", "Audit note"))
write(
    "request_validate",
    "invalid-values",
    request(
        "42a",
        "sms",
        "Please call the surgery about your results",
        fallback="email",
        write_to_record=False,
        auto_write=True,
        assignee_id=-1,
        recipient_contact_detail="+44 7700 900123x",
        fallback_contact_detail="not-an-email@",
        snomed_code="185317004",
        snomed_term="",
        attachment_uuid="",
        send_at="2026-02-30T09:00:00Z",
    ),
)
write(
    "request_validate",
    "intl-phone-leap",
    request(
        "4242",
        "sms",
        'Text with "quotes", \\ backslash, \x00 NUL, \u00e9 and \U0001F600',
        recipient_contact_detail="+44 (0)7700 900123",
        snomed_code="22298006",
        send_at="2016-12-31T23:59:60Z",
    ),
)

# --------------------------------------------------------------------- c_api

OPS = {
    "recipient_contact_detail": 0,
    "fallback_contact_detail": 1,
    "snomed_code": 2,
    "snomed_term": 3,
    "task_id": 4,
    "attachment_uuid": 5,
    "short_link_id": 6,
    "send_at": 7,
    "encrypted_text": 8,
    "encrypted": 9,
    "write_to_record": 10,
    "auto_write_to_record": 11,
    "fallback_message_type": 12,
    "assignee_id": 13,
    "assignee_type": 14,
    "message_type_from_name": 15,
    "fallback_type_from_name": 16,
    "assignee_type_from_name": 17,
    "connect_timeout_ms": 18,
    "deadline_ms": 19,
    "max_attempts": 20,
    "max_retry_wait_ms": 21,
    "strict_checks": 22,
    "user_agent_suffix": 23,
    "ca_file_path": 24,
    "ca_file_content": 25,
    "proxy": 26,
    "log_callback": 27,
}


def op(name, arg=b"", null_handle=False, null_str=False):
    if isinstance(arg, str):
        arg = arg.encode()
    code = OPS[name] | (0x80 if null_handle else 0) | (0x40 if null_str else 0)
    assert b"\x00" not in arg
    return bytes([code]) + arg


def c_api(h, patient, text, base, key, group, ops):
    header = bytes(h) + bytes(16 - len(h))
    chunks = [s.encode() if isinstance(s, str) else s for s in [patient, text, base, key, group]]
    return header + b"\x00".join(chunks + ops)


SEND = 0x40
write(
    "c_api",
    "sms-custom-send",
    c_api(
        [2, 0, 3, 0, SEND],
        "4242",
        "Your flu jab is due.",
        "http://127.0.0.1:8080",
        "test-api-key-0001",
        "pg-1234",
        [
            op("recipient_contact_detail", "07700 900123"),
            op("write_to_record", "1"),
            op("snomed_code", "185317003"),
            op("send_at", "2026-12-01T09:00:00Z"),
            op("max_attempts", "1"),
            op("deadline_ms", "1500"),
            op("log_callback", "0"),
        ],
    ),
)
write(
    "c_api",
    "email-production-all",
    c_api(
        [3, 0, 1, 0x01, 0, 0x01],
        "4242",
        "Your blood test results are ready to view.",
        "",
        "live_key_7f3a9c2e",
        "practice-group-88",
        [
            op("recipient_contact_detail", "patient@example.nhs.uk"),
            op("fallback_contact_detail", "07700 900123"),
            op("fallback_message_type", "1"),
            op("snomed_term", "Influenza vaccination invitation"),
            op("task_id", "task-77"),
            op("attachment_uuid", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
            op("short_link_id", "sl_9f2c"),
            op("encrypted", "1"),
            op("auto_write_to_record", "1"),
            op("assignee_id", "17"),
            op("assignee_type", "1"),
            op("strict_checks", "0"),
            op("connect_timeout_ms", "5000"),
            op("max_retry_wait_ms", "30000"),
        ],
    ),
)
write(
    "c_api",
    "staging-settings",
    c_api(
        [4, 0, 2, 0x01],
        "98765",
        "Reminder: appointment on 1 December at 09:00.",
        "",
        "staging-key-0042",
        "pg-staging",
        [
            op("user_agent_suffix", "MyEHR/4.2"),
            op("proxy", "http://proxy.example.nhs.uk:3128"),
            op("ca_file_path", "ca.pem"),
            op(
                "ca_file_content",
                "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk=\n-----END CERTIFICATE-----\n",
            ),
            op("encrypted_text", "AES256"),
            op("message_type_from_name", "nhs_app"),
            op("fallback_type_from_name", "email"),
            op("assignee_type_from_name", "AdminTeam"),
        ],
    ),
)
write(
    "c_api",
    "misuse",
    c_api(
        [0, 0x02, 7, 0x00, 0x01, 0x08],
        b"42\xff",
        "text",
        b"http://[::1]:9/\xc3",
        "key with space ",
        "pg\x7f",
        [
            op("snomed_code", b"\xed\xa0\x80"),
            op("send_at", null_str=True),
            op("task_id", "x", null_handle=True),
            op("fallback_message_type", "7"),
            op("assignee_type", "4294967295"),
            op("message_type_from_name", "SMS"),
            op("assignee_type_from_name", "Admin", null_handle=True),
            op("proxy", "socks5://127.0.0.1:1"),
        ],
    ),
)
write(
    "c_api",
    "custom-url-errors",
    c_api(
        [1, 0, 3, 0, SEND],
        "4242",
        "Audit note for the record",
        "http://api.herohealth.net",
        "test-api-key-0001",
        "pg-1234",
        [op("assignee_id", "-1"), op("assignee_type", "2")],
    ),
)
