from django.test import Client


def test_static_files_are_served_by_the_app_itself(db):
    response = Client().get("/static/app.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)


def test_readiness_checks_the_database_and_the_channel_layer(db):
    response = Client().get("/v1/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}
