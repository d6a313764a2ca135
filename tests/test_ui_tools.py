"""The tools panel: attach and remove tools, tool rules, and the tool editor
(source → schema preview → test run → save and attach)."""

import pytest
from django.urls import reverse

from agents.models import Tool
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = '''def shout(text: str, times: int = 1) -> str:
    """Say something loudly.

    Args:
        text: What to say.
        times: How often.
    """
    print("shouting")
    return " ".join([text.upper()] * times)
'''


def test_removing_and_adding_a_tool(agent, as_bob):
    tool = agent.tools.get(name="conversation_search")
    response = htmx(as_bob, "post", reverse("tool-detach", args=[agent.id, tool.id]))
    assert response.status_code == 200 and not agent.tools.filter(pk=tool.pk).exists()
    assert f'<option value="{tool.id}">conversation_search' in response.text
    htmx(as_bob, "post", reverse("tool-attach", args=[agent.id]), {"tool_id": tool.id})
    assert agent.tools.filter(pk=tool.pk).exists()


def test_tool_rules_are_validated_and_saved(agent, as_alice):
    url = reverse("tool-rules", args=[agent.id])
    bad = htmx(as_alice, "post", url, {"rules": '[{"type": "nonsense", "tool_name": "x"}]'})
    assert bad.status_code == 422 and "not one of" in bad.text
    assert htmx(as_alice, "post", url, {"rules": "not json"}).status_code == 422
    good = htmx(
        as_alice, "post", url, {"rules": '[{"type": "exit_loop", "tool_name": "memory_insert"}]'}
    )
    assert good.status_code == 200 and "Rules saved." in good.text
    agent.refresh_from_db()
    assert agent.tool_rules == [{"type": "exit_loop", "tool_name": "memory_insert"}]


def test_the_editor_previews_the_schema_the_model_will_see(agent, as_alice):
    html = htmx(as_alice, "post", reverse("tool-preview", args=[agent.id]), {"source": SOURCE}).text
    assert "&quot;name&quot;: &quot;shout&quot;" in html and "What to say." in html
    broken = htmx(
        as_alice, "post", reverse("tool-preview", args=[agent.id]), {"source": "def f(:"}
    ).text
    assert "syntax error" in broken


def test_a_test_run_shows_output_and_errors(agent, as_alice):
    url = reverse("tool-run", args=[agent.id])
    ok = htmx(
        as_alice, "post", url, {"source": SOURCE, "arguments": '{"text": "hi", "times": 2}'}
    ).text
    assert "HI HI" in ok and "shouting" in ok
    failing = SOURCE.replace('print("shouting")', 'raise ValueError("too quiet")')
    error = htmx(as_alice, "post", url, {"source": failing, "arguments": '{"text": "hi"}'}).text
    assert "too quiet" in error and "tool-return failed" in error
    bad_args = htmx(as_alice, "post", url, {"source": SOURCE, "arguments": "[1]"}).text
    assert "JSON object" in bad_args


def test_saving_creates_a_team_tool_and_attaches_it(agent, as_bob, bob):
    response = htmx(
        as_bob, "post", reverse("tool-save", args=[agent.id]), {"source": SOURCE, "arguments": "{}"}
    )
    assert response.status_code == 200 and "Saved <code>shout</code>" in response.text
    tool = Tool.objects.get(name="shout")
    assert tool.organization_id == bob.organization_id and tool.json_schema["name"] == "shout"
    assert agent.tools.filter(pk=tool.pk).exists()
    editor = htmx(as_bob, "get", reverse("tool-editor", args=[agent.id]), {"tool": tool.id}).text
    assert "Editing <code>shout</code>" in editor and "Say something loudly." in editor


def test_a_tool_may_not_take_a_built_in_name(agent, as_alice):
    source = SOURCE.replace("def shout", "def send_message")
    response = htmx(as_alice, "post", reverse("tool-save", args=[agent.id]), {"source": source})
    assert response.status_code == 422 and "built-in" in response.text


def test_strangers_cannot_touch_tools(agent, as_charlie):
    tool = agent.tools.first()
    assert (
        htmx(as_charlie, "post", reverse("tool-detach", args=[agent.id, tool.id])).status_code
        == 404
    )
    assert (
        htmx(
            as_charlie, "post", reverse("tool-rules", args=[agent.id]), {"rules": "[]"}
        ).status_code
        == 404
    )
    assert (
        htmx(
            as_charlie, "post", reverse("tool-run", args=[agent.id]), {"source": SOURCE}
        ).status_code
        == 404
    )
    assert (
        htmx(
            as_charlie, "post", reverse("tool-save", args=[agent.id]), {"source": SOURCE}
        ).status_code
        == 404
    )
    assert agent.tools.filter(pk=tool.pk).exists()
