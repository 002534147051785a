"""Document versions over the API: upload, list, download, and who may do which."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient


def _document(client: TestClient, headers: dict[str, str], account_id: int) -> dict[str, Any]:
    response = client.post(
        "/api/v1/documents", json={"name": "DSA介入耗材对比表", "account_id": account_id}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_upload_list_and_download_versions(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    document = _document(client, headers, company["account"].id)
    for body in (b"v1 content", "第二版 内容".encode()):
        uploaded = client.post(
            f"/api/v1/documents/{document['id']}/versions",
            headers=headers,
            files={"file": ("对比表.pdf", body, "application/pdf")},
            data={"note": "更新"},
        )
        assert uploaded.status_code == 201, uploaded.text
    versions = client.get(f"/api/v1/documents/{document['id']}/versions", headers=headers).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["sha256"] == hashlib.sha256("第二版 内容".encode()).hexdigest()
    content = client.get(f"/api/v1/documents/{document['id']}/versions/2/content", headers=headers)
    assert "filename*=UTF-8''%E5%AF%B9" in content.headers["content-disposition"]
    assert content.content == "第二版 内容".encode()
    assert client.get(f"/api/v1/documents/{document['id']}", headers=headers).json()["current_version"] == 2
    missing = client.get(f"/api/v1/documents/{document['id']}/versions/9/content", headers=headers)
    assert missing.status_code == 404


def test_version_refusals(client: TestClient, company: dict[str, Any]) -> None:
    document = _document(client, company["headers"]["east_rep"], company["account"].id)
    upload = {"file": ("x.txt", b"x", "text/plain")}
    member = company["headers"]["member"]
    assert client.get(f"/api/v1/documents/{document['id']}/versions", headers=member).status_code == 200
    assert (
        client.post(f"/api/v1/documents/{document['id']}/versions", headers=member, files=upload).status_code
        == 403
    )
    no_file = client.post(
        f"/api/v1/documents/{document['id']}/versions", headers=company["headers"]["east_rep"]
    )
    assert no_file.status_code == 422 and no_file.json()["errors"][0]["field"] == "file"
