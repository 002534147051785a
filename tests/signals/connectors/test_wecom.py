"""企业微信 callback crypto against WeCom's published sample vectors, and message parsing.

The vectors are the ones in WeCom's "加解密方案说明" and its WXBizMsgCrypt sample code
(Token "QDG6eK", EncodingAESKey "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
CorpID "wx5823bf96d3bd56c7"); both the URL-verification and the message example verify.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from pathcast.signals.connectors.base import PayloadInvalid, ReplayRejected, SignatureInvalid
from pathcast.signals.connectors.wecom import WeComCrypto, parse_message

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"

# URL verification (GET) example.
VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
VERIFY_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="

# Message (POST) example.
MESSAGE_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
MESSAGE_TIMESTAMP = "1409659813"
MESSAGE_NONCE = "1372623149"
MESSAGE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/s"
    "YYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGU"
    "callcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDY"
    "A5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
MESSAGE_BODY = (
    f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
    f"<Encrypt><![CDATA[{MESSAGE_ENCRYPT}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
).encode()


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_published_url_verification_vector(crypto: WeComCrypto) -> None:
    assert crypto.signature(VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR) == VERIFY_SIGNATURE
    plain = crypto.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR)
    assert plain == "1616140317555161061"


def test_url_verification_survives_a_plus_decoded_as_space(crypto: WeComCrypto) -> None:
    mangled = VERIFY_ECHOSTR.replace("+", " ")
    assert (
        crypto.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, mangled) == "1616140317555161061"
    )


def test_published_message_vector(crypto: WeComCrypto) -> None:
    inner = crypto.decrypt_message(MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, MESSAGE_NONCE, MESSAGE_BODY)
    assert "<Content><![CDATA[hello]]></Content>" in inner
    draft = parse_message(inner)
    assert draft is not None
    assert draft.channel == "wecom"
    assert draft.sender == "mycreate"
    assert draft.body == "hello"
    assert draft.idempotency_key == "4561255354251345929"
    assert draft.sent_at == datetime.fromtimestamp(1409659813, tz=UTC)
    assert draft.thread_key == "wecom:mycreate"
    assert draft.extra == {"msg_type": "text", "corp_id": CORP_ID, "agent_id": "218"}


def test_the_vector_pads_to_32_bytes_not_16() -> None:
    """The sample's padding is 30 bytes: a 16-byte PKCS#7 decoder would reject it."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(MESSAGE_ENCRYPT)) + decryptor.finalize()
    assert plain[-1] == 30


def test_bad_signature_is_refused(crypto: WeComCrypto) -> None:
    with pytest.raises(SignatureInvalid):
        crypto.verify_url("0" * 40, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR)
    with pytest.raises(SignatureInvalid):
        crypto.decrypt_message(MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, "1372623150", MESSAGE_BODY)
    wrong_token = WeComCrypto("other-token", AES_KEY, CORP_ID)
    with pytest.raises(SignatureInvalid):
        wrong_token.decrypt_message(MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, MESSAGE_NONCE, MESSAGE_BODY)


def test_tampered_ciphertext_is_refused(crypto: WeComCrypto) -> None:
    raw = bytearray(base64.b64decode(VERIFY_ECHOSTR))
    raw[20] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    # With the original signature: the signature no longer matches.
    with pytest.raises(SignatureInvalid):
        crypto.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, tampered)
    # Re-signed by someone who knows the token but not the AES key: it does not decrypt.
    resigned = crypto.signature(VERIFY_TIMESTAMP, VERIFY_NONCE, tampered)
    with pytest.raises(SignatureInvalid):
        crypto.verify_url(resigned, VERIFY_TIMESTAMP, VERIFY_NONCE, tampered)
    # Flipping a bit of the last block breaks the padding.
    raw = bytearray(base64.b64decode(VERIFY_ECHOSTR))
    raw[-1] ^= 0x55
    tail = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureInvalid):
        crypto.verify_url(crypto.signature("1", "2", tail), "1", "2", tail)


def test_wrong_corp_id_is_refused() -> None:
    other = WeComCrypto(TOKEN, AES_KEY, "wwaaaaaaaaaaaaaaaa")
    with pytest.raises(SignatureInvalid, match="receive id"):
        other.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR)
    with pytest.raises(SignatureInvalid, match="receive id"):
        other.decrypt_message(MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, MESSAGE_NONCE, MESSAGE_BODY)


def test_garbage_ciphertext_is_refused(crypto: WeComCrypto) -> None:
    for encrypt in ("not base64!!", base64.b64encode(b"short").decode(), ""):
        with pytest.raises(SignatureInvalid):
            crypto.verify_url(crypto.signature("1", "2", encrypt), "1", "2", encrypt)


def test_round_trip_with_chinese_text_is_deterministic(crypto: WeComCrypto) -> None:
    # From WeCom's sample: msg_len counts bytes, which Chinese text makes differ from characters.
    inner = (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[测试一下中文的情况，消息长度是按字节来算的]]></Content>"
        "<MsgId>1234567890123456</MsgId><AgentID>1</AgentID></xml>"
    )
    first = crypto.encrypt(inner, nonce="1372623149", timestamp="1409659813", random16=b"0123456789abcdef")
    second = crypto.encrypt(inner, nonce="1372623149", timestamp="1409659813", random16=b"0123456789abcdef")
    assert first == second
    encrypted, signature = first
    assert len(base64.b64decode(encrypted)) % 32 == 0
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    assert crypto.decrypt_message(signature, "1409659813", "1372623149", body.encode()) == inner
    draft = parse_message(inner)
    assert draft is not None
    assert draft.body == "测试一下中文的情况，消息长度是按字节来算的"
    assert draft.sender == "zhangsan"
    assert draft.idempotency_key == "1234567890123456"
    assert draft.sent_at == datetime(2012, 9, 28, 11, 31, tzinfo=UTC)


@pytest.mark.parametrize("length", [0, 1, 11, 12, 13, 31, 32, 33, 100])
def test_round_trip_at_every_padding_boundary(crypto: WeComCrypto, length: int) -> None:
    text = "x" * length
    encrypted, signature = crypto.encrypt(text, nonce="n", timestamp="1")
    assert crypto.verify_url(signature, "1", "n", encrypted) == text


def test_random_prefix_differs_between_encryptions(crypto: WeComCrypto) -> None:
    first, _ = crypto.encrypt("same", nonce="n", timestamp="1")
    second, _ = crypto.encrypt("same", nonce="n", timestamp="1")
    assert first != second


def test_reply_xml_decrypts(crypto: WeComCrypto) -> None:
    reply = crypto.reply_xml("<xml><Content>收到</Content></xml>", nonce="99", timestamp="1409659813")
    assert "<MsgSignature>" in reply
    encrypted = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert crypto.verify_url(signature, "1409659813", "99", encrypted) == "<xml><Content>收到</Content></xml>"


def test_optional_replay_window(crypto: WeComCrypto) -> None:
    with pytest.raises(ReplayRejected):
        crypto.decrypt_message(
            MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, MESSAGE_NONCE, MESSAGE_BODY, now=datetime.now(UTC)
        )
    inside = datetime.fromtimestamp(int(MESSAGE_TIMESTAMP) + 60, tz=UTC)
    assert crypto.decrypt_message(
        MESSAGE_SIGNATURE, MESSAGE_TIMESTAMP, MESSAGE_NONCE, MESSAGE_BODY, now=inside
    )


def test_bad_encoding_aes_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        WeComCrypto(TOKEN, "too-short", CORP_ID)
    with pytest.raises(ValueError):
        WeComCrypto(TOKEN, "!" * 43, CORP_ID)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><Encrypt>unterminated",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
        b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><Encrypt>x</Encrypt></xml>',
    ],
)
def test_hostile_or_broken_xml_is_refused(crypto: WeComCrypto, body: bytes) -> None:
    with pytest.raises(PayloadInvalid):
        crypto.decrypt_message("x", "1", "2", body)


def test_missing_encrypt_element(crypto: WeComCrypto) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        crypto.decrypt_message("x", "1", "2", b"<xml><ToUserName>a</ToUserName></xml>")
    assert caught.value.field == "Encrypt"


@pytest.mark.parametrize(
    "inner",
    [
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl>http://x</PicUrl><MediaId>m</MediaId><MsgId>1</MsgId></xml>",
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        "<MediaId>m</MediaId><Format>amr</Format><MsgId>2</MsgId></xml>",
        "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        "<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>"
        "<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmABC]]></ExternalUserID></xml>",
    ],
)
def test_non_text_messages_and_events_store_nothing(inner: str) -> None:
    assert parse_message(inner) is None


@pytest.mark.parametrize(
    ("inner", "field"),
    [
        (
            "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime><Content>a</Content><MsgId>1</MsgId></xml>",
            "FromUserName",
        ),
        (
            "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><CreateTime>1</CreateTime><Content>a</Content></xml>",
            "MsgId",
        ),
        (
            "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><CreateTime>x</CreateTime><Content>a</Content><MsgId>1</MsgId></xml>",
            "CreateTime",
        ),
        (
            "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><CreateTime>1</CreateTime><Content> </Content><MsgId>1</MsgId></xml>",
            "Content",
        ),
    ],
)
def test_text_message_missing_fields(inner: str, field: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_message(inner)
    assert caught.value.field == field
