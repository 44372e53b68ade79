"""A short comment thread on an inspection between its inspector and the reviewers, scoped."""
import pytest

from tests.factories import create_inspection, refused, sql


def post(client, user, inspection_id, body):
    return client.post(f"/api/v1/inspections/{inspection_id}/comments", json={"body": body}, headers=user.headers)


def thread(client, user, inspection_id):
    return client.get(f"/api/v1/inspections/{inspection_id}/comments", headers=user.headers)


def test_inspector_and_reviewer_share_a_thread(app, client, inspector, reviewer, bureau):
    made = create_inspection(app, inspector_id=inspector.id, status="returned")
    first = post(client, reviewer, made.id, "请补拍污水处理设施照片")
    assert first.status_code == 201
    assert first.get_json()["author"]["id"] == reviewer.id
    assert post(client, inspector, made.id, "明天补拍").status_code == 201
    assert post(client, bureau, made.id, "noted").status_code == 201
    for user in (inspector, reviewer, bureau):
        response = thread(client, user, made.id)
        assert response.status_code == 200
        assert [(c["author"]["username"], c["body"]) for c in response.get_json()["items"]] == [
            (reviewer.username, "请补拍污水处理设施照片"), (inspector.username, "明天补拍"), (bureau.username, "noted")]


def test_another_inspector_cannot_read_or_write(app, client, inspector, make_user):
    made = create_inspection(app, inspector_id=inspector.id)
    colleague = make_user("inspector", "230382100")
    refused(thread(client, colleague, made.id), 404)
    refused(post(client, colleague, made.id, "hello"), 404)
    assert sql(app, "SELECT count(*) FROM inspection_comments")[0][0] == 0
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


def test_a_reviewer_out_of_scope_gets_404(app, client, make_user):
    made = create_inspection(app)
    outsider = make_user("reviewer", "230382101")
    refused(thread(client, outsider, made.id), 404)
    refused(post(client, outsider, made.id, "hello"), 404)
    assert sql(app, "SELECT count(*) FROM inspection_comments")[0][0] == 0
    assert sql(app, "SELECT count(*) FROM audit_log")[0][0] == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_a_comment_needs_between_1_and_2000_characters(app, client, reviewer, body):
    made = create_inspection(app)
    response = post(client, reviewer, made.id, body)
    assert response.status_code == 422
    assert "body" in response.get_json()["error"]["fields"]


def test_comments_need_a_login(app, client):
    made = create_inspection(app)
    assert client.get(f"/api/v1/inspections/{made.id}/comments").status_code == 401
