"""The API as a whole: the OpenAPI document matches the routes, and no route
answers bad or unauthenticated input with a 500 or with another error shape."""

import re

import pytest

from tests.helpers import assert_error_shape

API = "/api/v1"
PUBLIC = {f"{API}/openapi.json"}


def api_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API) and rule.rule not in PUBLIC
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def concrete(rule: str, value: str = "does-not-exist") -> str:
    """The rule with `value` in each path parameter; an <int:...> one gets 0, as
    any other value would not even reach the route."""
    return re.sub(r"<(\w+:)?(\w+)>", lambda m: "0" if m.group(1) == "int:" else value, rule)


def test_openapi_document_matches_registered_routes(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = sorted(
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    )
    registered = sorted((re.sub(r"<\w+:(\w+)>", r"<\1>", rule), method) for rule, method in api_routes(app))
    assert documented == registered
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(operation).replace("'", '"')):
                assert ref in document["components"]["schemas"], f"{path}: dangling $ref {ref}"


def test_openapi_is_generated_from_the_validating_schemas(client):
    document = client.get(f"{API}/openapi.json").get_json()
    demo = document["paths"][f"{API}/jobs/demo"]["post"]
    schema = document["components"]["schemas"][
        demo["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    ]
    assert schema["properties"]["seconds"]["maximum"] == 600
    # and the same limit is what the route enforces
    assert client.post(f"{API}/jobs/demo", json={"seconds": 601}).status_code == 401  # auth comes first


def test_every_api_route_needs_credentials(app, client):
    for rule, method in api_routes(app):
        response = client.open(concrete(rule), method=method, json={})
        assert response.status_code == 401, f"{method} {rule}"
        assert_error_shape(response)


MALFORMED_BODIES = [b"{not json", b"[]", b'"text"', b'{"seconds": "many", "fail": "maybe"}', b'{"x": 1}']


def test_no_route_answers_malformed_input_with_a_500(app, client, bearer):
    headers = bearer("admin")
    for rule, method in api_routes(app):
        for value in ("does-not-exist", "0", "%00", "a" * 300):
            path = concrete(rule, value)
            if method == "GET":
                attempts = [client.get(path + "?page=-1&per_page=abc&sort=sideways&queue=nope", headers=headers)]
            else:
                attempts = [
                    client.open(path, method=method, data=body, headers=headers, content_type="application/json")
                    for body in MALFORMED_BODIES
                ]
            for response in attempts:
                assert response.status_code < 500, f"{method} {path}: {response.status_code}"
                if response.status_code >= 400:
                    assert_error_shape(response)


@pytest.mark.parametrize(
    "body, field", [({"seconds": -1}, "seconds"), ({"seconds": 5, "extra": 1}, "extra"), ({"fail": "perhaps"}, "fail")]
)
def test_validation_errors_name_the_field(client, bearer, body, field):
    response = client.post(f"{API}/jobs/demo", json=body, headers=bearer("operator"))
    assert response.status_code == 422
    assert_error_shape(response)
    assert response.json["error"]["code"] == "invalid_input"
    assert field in [f["field"] for f in response.json["error"]["details"]["fields"]]


def test_unknown_api_path_and_wrong_method_use_the_error_shape(client, bearer):
    headers = bearer("operator")
    missing = client.get(f"{API}/nothing-here", headers=headers)
    assert missing.status_code == 404
    assert_error_shape(missing)
    wrong = client.delete(f"{API}/queues", headers=headers)
    assert wrong.status_code == 405
    assert_error_shape(wrong)


def test_a_wrong_method_says_which_methods_are_allowed(client, bearer):
    wrong = client.delete(f"{API}/queues", headers=bearer("operator"))
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["Allow"]
    assert_error_shape(wrong)


def _request_schemas(document: dict) -> list[dict]:
    """Every schema a request may carry: parameters and bodies, with what they refer to."""
    components = document["components"]["schemas"]
    found, todo = [], []
    for operations in document["paths"].values():
        for operation in operations.values():
            todo += [param["schema"] for param in operation["parameters"]]
            todo += [body["schema"] for body in operation.get("requestBody", {}).get("content", {}).values()]
    seen: set[str] = set()
    while todo:
        schema = todo.pop()
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                todo.append(components[name])
            continue
        found.append(schema)
        options = schema.get("anyOf", [])
        if any(option.get("type") == "number" for option in options):  # a Decimal: its text must be a number
            options = [option for option in options if option.get("type") != "string"]
        todo += list(schema.get("properties", {}).values()) + options
        todo += [schema[key] for key in ("items", "additionalProperties") if isinstance(schema.get(key), dict)]
    return found


def test_every_request_text_refuses_nul_and_every_integer_is_bounded(client):
    document = client.get(f"{API}/openapi.json").get_json()
    for schema in _request_schemas(document):
        if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
            assert "pattern" in schema and not re.fullmatch(schema["pattern"], "a\x00"), schema
        if schema.get("type") == "integer":
            assert "maximum" in schema and schema["maximum"] <= 2**31 - 1, schema


HUGE = "99999999999999999999999"


def test_ids_and_pages_beyond_the_bounds_are_refused_not_500(client, bearer):
    document = client.get(f"{API}/openapi.json").get_json()
    assert document["paths"][f"{API}/ecos/{{eco_id}}"]["get"]["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    headers = bearer("admin")
    for path in [
        f"{API}/ecos/{2**31}",
        f"{API}/ecos/{HUGE}",
        f"{API}/jobs/%C3%A5",
        f"{API}/flows/%C2%B3",
        f"{API}/jobs/a%00",
    ]:
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert_error_shape(response)
    for query in [f"page={HUGE}", f"item_id={HUGE}", "q=a%00b"]:
        response = client.get(f"{API}/ecos?{query}", headers=headers)
        assert response.status_code == 422, query
        assert_error_shape(response)


@pytest.mark.dialects  # the grouped job activity (CASE, ||, min/max) and OFFSET past the end
def test_every_list_page_takes_any_page_number(app, signed_in):
    client, _ = signed_in("admin")
    pages = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api/", "/static", "/ws"))
    ]
    for path in pages:
        response = client.get(f"{path}?page={HUGE}&eco_id={HUGE}&rule_id={HUGE}&child={HUGE}")
        assert response.status_code < 500, path


def test_a_list_past_its_last_page_links_to_its_last_page(client, bearer, signed_in):
    headers = bearer("admin")
    item = client.post(
        f"{API}/items", json={"number": "ASM-1", "name": "Unit", "item_type": "assembly"}, headers=headers
    )
    assert (
        client.post(f"{API}/ecos", json={"title": "Change", "item_id": item.json["id"]}, headers=headers).status_code
        == 201
    )
    browser, _ = signed_in("admin")
    for path in ("/items/", "/ecos/"):
        for asked, shown in (("7", "7"), (HUGE, str(2**31 - 1))):
            html = browser.get(f"{path}?page={asked}").get_data(as_text=True)
            assert f"Page {shown} of 1 is empty" in html, path
            link = re.search(r'id="past-last-page">.*?<a href="([^"]+)">go to the last page', html, re.S).group(1)
            assert link.startswith(f"{path}?") and "page=1" in link.split("?")[1].split("&amp;"), link
            assert "yet" not in html.split('id="past-last-page"')[1].split("</p>")[0]
        assert "past-last-page" not in browser.get(f"{path}?page=1").get_data(as_text=True)
    for path, empty in (("/flows/", "No flows yet."), ("/documents/", "No documents yet.")):
        html = browser.get(f"{path}?page=7").get_data(as_text=True)  # nothing at all: the list's own empty state
        assert empty in html and "past-last-page" not in html, path


def test_nul_null_and_a_missing_body_are_422(client, bearer):
    headers = bearer("admin")
    created = client.post(f"{API}/items", json={"number": "P-1", "name": "Part"}, headers=headers)
    assert created.status_code == 201
    item = f"{API}/items/{created.json['id']}"
    attempts = [
        ("POST", f"{API}/items", {"number": "P-2", "name": "Pa\x00rt"}, "invalid_input"),
        ("PATCH", item, {"name": None}, "invalid_input"),
        ("POST", f"{API}/workflow-actions/rules", {"params": {"text": "\x00"}}, "invalid_input"),
        ("POST", f"{API}/items", None, "missing_body"),
    ]
    for method, path, body, code in attempts:
        response = client.open(path, method=method, json=body, headers=headers)
        assert (response.status_code, response.json["error"]["code"]) == (422, code), (method, path, body)
    # a NUL reaches a string only as the escape \u0000 (found above); a raw one is not JSON at all
    raw = client.post(
        f"{API}/items", data=b'{"number": "P-3", "name": "Pa\x00rt"}', content_type="application/json", headers=headers
    )
    assert (raw.status_code, raw.json["error"]["code"]) == (422, "invalid_json")
    assert client.get(item, headers=headers).json["name"] == "Part"
