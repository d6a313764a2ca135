from django.test import Client


def test_static_files_are_served_by_the_app_itself(db):
    response = Client().get("/static/app.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)
