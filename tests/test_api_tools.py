"""Tools through /v1: created from Python source (schema from the signature
and docstring), upserted, modified, deleted, tried out in the sandbox, and
attached to agents, with approval rules."""

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent

ROLL = '''
def roll_dice(sides: int, times: int = 1) -> str:
    """Roll dice and add them up.

    Args:
        sides: Faces on each die.
        times: How many dice to roll.
    """
    print("rolling")
    return str(sides * times)
'''


def test_a_tool_gets_its_schema_from_the_source(as_alice):
    tool = as_alice.post("/v1/tools/", {"source_code": ROLL, "tags": ["games"]}).json()
    schema = tool["json_schema"]
    assert (
        tool["name"] == "roll_dice" and tool["tool_type"] == "custom" and tool["tags"] == ["games"]
    )
    assert schema["description"].startswith("Roll dice") and schema["parameters"]["required"] == [
        "sides"
    ]
    assert schema["parameters"]["properties"]["times"]["type"] == "integer"
    again = as_alice.post("/v1/tools/", {"source_code": ROLL})
    assert again.status_code == 409 and "upsert" in again.json()["detail"]


def test_modify_regenerates_the_schema_and_upsert_replaces(as_alice):
    tool = as_alice.post("/v1/tools/", {"source_code": ROLL}).json()
    changed = as_alice.patch(
        f"/v1/tools/{tool['id']}",
        {
            "source_code": ROLL.replace("Roll dice and add them up.", "Roll some dice."),
            "metadata_": {"owner": "games team"},
        },
    ).json()
    assert changed["json_schema"]["description"] == "Roll some dice." and changed["metadata_"] == {
        "owner": "games team"
    }
    upserted = as_alice.put("/v1/tools/", {"source_code": ROLL, "return_char_limit": 100}).json()
    assert upserted["id"] == tool["id"] and upserted["return_char_limit"] == 100
    assert as_alice.delete(f"/v1/tools/{tool['id']}").status_code == 200
    assert as_alice.get(f"/v1/tools/{tool['id']}").status_code == 404


def test_built_in_tools_are_listed_but_only_an_admin_changes_them(as_alice):
    builtins = as_alice.get("/v1/tools/", return_only_letta_tools=True, limit=100).json()
    names = {t["name"] for t in builtins}
    assert {"send_message", "memory_replace", "archival_memory_search"} <= names
    target = builtins[0]
    response = as_alice.patch(f"/v1/tools/{target['id']}", {"description": "hacked"})
    assert response.status_code == 403 and "built-in" in response.json()["detail"]
    assert as_alice.delete(f"/v1/tools/{target['id']}").status_code == 403


def test_the_tool_tester_runs_source_with_arguments(as_alice):
    body = as_alice.post(
        "/v1/tools/run", {"source_code": ROLL, "args": {"sides": 6, "times": 2}}
    ).json()
    assert body["message_type"] == "tool_return_message" and body["status"] == "success"
    assert body["tool_return"] == "12" and body["stdout"] == ["rolling\n"]
    wrong = as_alice.post("/v1/tools/run", {"source_code": ROLL, "args": {"faces": 6}}).json()
    assert wrong["status"] == "error" and "sides" in wrong["tool_return"]
    crash = as_alice.post(
        "/v1/tools/run",
        {
            "source_code": 'def boom() -> str:\n    """Boom."""\n'
            "    raise RuntimeError('kaput')\n",
            "args": {},
        },
    ).json()
    assert crash["status"] == "error" and "kaput" in crash["tool_return"]
    env = as_alice.post(
        "/v1/tools/run",
        {
            "source_code": 'def token() -> str:\n    """Read the token."""\n    import os\n'
            "    return os.environ.get('TOKEN', 'none')\n",
            "args": {},
            "env_vars": {"TOKEN": "abc"},
        },
    ).json()
    assert env["tool_return"] == "abc"


def test_attach_detach_and_run_an_agents_tool(as_alice):
    agent = create_agent(as_alice, tool_exec_environment_variables={"GREETING": "hey"})
    tool = as_alice.post(
        "/v1/tools/",
        {
            "source_code": 'def greet(name: str) -> str:\n    """Greet.\n\n'
            '    Args:\n        name: who\n    """\n    import os\n'
            "    return os.environ['GREETING'] + ' ' + name\n"
        },
    ).json()
    attached = as_alice.patch(f"/v1/agents/{agent['id']}/tools/attach/{tool['id']}").json()
    assert "greet" in {t["name"] for t in attached["tools"]}
    ran = as_alice.post(
        f"/v1/agents/{agent['id']}/tools/greet/run", {"args": {"name": "Alice"}}
    ).json()
    assert ran == {**ran, "status": "success", "func_return": "hey Alice"}
    builtin = as_alice.post(f"/v1/agents/{agent['id']}/tools/memory_replace/run", {"args": {}})
    assert builtin.status_code == 422
    context = as_alice.get(f"/v1/agents/{agent['id']}/context").json()
    assert "greet" in [f["function"]["name"] for f in context["functions_definitions"]]
    listed = as_alice.get(f"/v1/agents/{agent['id']}/tools", limit=100).json()
    assert "greet" in {t["name"] for t in listed}
    approval = as_alice.patch(
        f"/v1/agents/{agent['id']}/tools/approval/greet?requires_approval=true"
    ).json()
    assert {"type": "requires_approval", "tool_name": "greet"} in approval["tool_rules"]
    cleared = as_alice.patch(
        f"/v1/agents/{agent['id']}/tools/approval/greet", {"requires_approval": False}
    ).json()
    assert cleared["tool_rules"] == []
    detached = as_alice.patch(f"/v1/agents/{agent['id']}/tools/detach/{tool['id']}").json()
    assert "greet" not in {t["name"] for t in detached["tools"]}
    assert as_alice.patch(f"/v1/agents/{agent['id']}/tools/detach/{tool['id']}").status_code == 404


def test_team_members_share_tools_and_strangers_do_not(as_alice, as_bob, as_charlie):
    tool = as_alice.post("/v1/tools/", {"source_code": ROLL}).json()
    assert as_bob.get(f"/v1/tools/{tool['id']}").status_code == 200
    assert as_charlie.get(f"/v1/tools/{tool['id']}").status_code == 404
    assert "roll_dice" not in {t["name"] for t in as_charlie.get("/v1/tools/", limit=100).json()}
    theirs = as_charlie.post("/v1/tools/", {"source_code": ROLL})
    assert theirs.status_code == 200 and theirs.json()["id"] != tool["id"]


def test_a_user_without_a_team_gets_a_private_tool(client, db):
    from agents.models import User
    from agents.services.accounts import apikey_create
    from tests.api_helpers import Api

    loner = User.objects.create_user(username="loner", password="pw-loner-123")
    other = User.objects.create_user(username="other", password="pw-other-123")
    as_loner = Api(client, apikey_create(user=loner)[1])
    tool = as_loner.post("/v1/tools/", {"source_code": ROLL}).json()
    assert (
        Api(client, apikey_create(user=other)[1]).get(f"/v1/tools/{tool['id']}").status_code == 404
    )
