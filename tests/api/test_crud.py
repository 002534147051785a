"""CRUD, filtering, sorting, cursor pagination and problem details over the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_health_and_openapi_are_public(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/opportunities" in spec["paths"]
    read = spec["components"]["schemas"]["OpportunityRead"]["properties"]
    assert read["description"]["x-export-class"] == "internal"
    assert read["amount"]["x-export-class"] == "customer_visible"


def test_unauthenticated_requests_get_a_problem(client: TestClient) -> None:
    response = client.get("/api/v1/opportunities")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthenticated")
    bad = client.get("/api/v1/opportunities", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_create_read_update_delete_account(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    created = client.post(
        "/api/v1/accounts",
        json={"name": "上海瑞金医院", "industry": "medical", "tier": "strategic"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["owner_id"] == company["east_rep"].id
    assert created.headers["location"] == f"/api/v1/accounts/{account['id']}"
    patched = client.patch(f"/api/v1/accounts/{account['id']}", json={"city": "上海"}, headers=headers)
    assert patched.json()["city"] == "上海"
    timeline = client.get(f"/api/v1/accounts/{account['id']}/events", headers=headers).json()
    assert [e["type"] for e in timeline] == ["account.updated", "account.created"]
    # reps may not delete accounts; admins may
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=headers).status_code == 403
    admin = company["headers"]["admin"]
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/accounts/{account['id']}", headers=admin).status_code == 404


def test_validation_errors_name_the_field(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    response = client.post(
        "/api/v1/opportunities", json={"name": "", "amount": -5, "currency": "yuan"}, headers=headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"name", "amount", "currency"} <= fields


def test_problem_details_follow_the_users_language(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]  # factory users default to zh-CN
    response = client.get("/api/v1/opportunities/999999", headers=headers)
    assert response.status_code == 404
    assert "不存在" in response.json()["detail"]
    client.patch("/api/v1/me", json={"locale": "en"}, headers=headers)
    response = client.get("/api/v1/opportunities/999999", headers=headers)
    assert "exists" in response.json()["detail"]


def test_unknown_reference_is_a_field_error(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    response = client.post("/api/v1/opportunities", json={"name": "x", "account_id": 424242}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "account_id"


def test_stage_move_records_history_and_one_event(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    deal = company["east_deal"]
    stages = client.get("/api/v1/stages", params={"sort": "position"}, headers=headers).json()["items"]
    before = client.get(f"/api/v1/opportunities/{deal.id}/events", headers=headers).json()
    moved = client.post(
        f"/api/v1/opportunities/{deal.id}/stage", json={"stage_id": stages[1]["id"]}, headers=headers
    )
    assert moved.status_code == 200, moved.text
    after = client.get(f"/api/v1/opportunities/{deal.id}/events", headers=headers).json()
    assert len(after) == len(before) + 1
    assert after[0]["type"] == "opportunity.stage_changed"
    history = client.get(f"/api/v1/opportunities/{deal.id}/stage-history", headers=headers).json()
    assert [h["to_stage_id"] for h in history] == [stages[0]["id"], stages[1]["id"]]
    won = next(s for s in stages if s["status_class"] == "won")
    closed = client.patch(
        f"/api/v1/opportunities/{deal.id}", json={"stage_id": won["id"], "amount": "150000"}, headers=headers
    ).json()
    assert closed["status"] == "won" and closed["closed_at"] is not None
    fields = client.get(f"/api/v1/opportunities/{deal.id}/field-history", headers=headers).json()
    assert fields[-1]["field"] == "amount" and fields[-1]["new_value"] == "150000"


def test_filters_sorting_and_cursor_pagination(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["admin"]
    for i in range(23):
        response = client.post(
            "/api/v1/products",
            json={"code": f"P-{i:03d}", "name": f"产品 {i}", "list_price": str(100 + (i % 5))},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5, "sort": "-list_price"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/products", params=params, headers=headers).json()
        assert page["total"] == 23
        seen.extend(item["code"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23
    prices = [
        float(p)
        for p in [
            client.get("/api/v1/products", params={"code": c}, headers=headers).json()["items"][0][
                "list_price"
            ]
            for c in seen
        ]
    ]
    assert prices == sorted(prices, reverse=True)
    cheap = client.get("/api/v1/products", params={"list_price__lte": "101"}, headers=headers).json()
    assert cheap["total"] == 10
    found = client.get("/api/v1/products", params={"q": "产品 2"}, headers=headers).json()
    assert {i["code"] for i in found["items"]} == {"P-002", "P-020", "P-021", "P-022"}


def test_bad_list_parameters_are_named(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["admin"]
    for params, field in [
        ({"sort": "password"}, "sort"),
        ({"amount__gte": "lots"}, "amount__gte"),
        ({"secret": "1"}, "secret"),
        ({"cursor": "%%%"}, "cursor"),
    ]:
        response = client.get("/api/v1/opportunities", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field


def test_quote_totals_follow_lines(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    admin = company["headers"]["admin"]
    product = client.post(
        "/api/v1/products", json={"code": "DSA-1", "name": "DSA 导管", "list_price": "1000"}, headers=admin
    ).json()
    quote = client.post(
        "/api/v1/quotes",
        json={"opportunity_id": company["east_deal"].id, "discount_pct": "10"},
        headers=headers,
    ).json()
    assert quote["number"].startswith("Q-")
    line = client.post(
        "/api/v1/quote_lines",
        json={"quote_id": quote["id"], "product_id": product["id"], "quantity": "3", "discount_pct": "5"},
        headers=headers,
    )
    assert line.status_code == 201, line.text
    total = client.get(f"/api/v1/quotes/{quote['id']}", headers=headers).json()["total"]
    assert total == "2565.00"  # 3 x 1000, -5 % on the line, -10 % on the quote


def test_quote_numbers_stay_unique_after_a_deletion(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    deal = company["east_deal"].id
    first, second = (
        client.post("/api/v1/quotes", json={"opportunity_id": deal}, headers=headers).json() for _ in range(2)
    )
    assert client.delete(f"/api/v1/quotes/{first['id']}", headers=headers).status_code == 204
    third = client.post("/api/v1/quotes", json={"opportunity_id": deal}, headers=headers)
    assert third.status_code == 201, third.text
    assert third.json()["number"] != second["number"]
