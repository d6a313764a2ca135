"""The SSRF guard on user-chosen model endpoints (an agent's
llm_config.model_endpoint, a BYOK provider's base_url): inside addresses in
every spelling are refused, when set (400) and again before each request;
the admin's allow-list opens exactly what it lists.

No test resolves an outside name: addresses are literals, `localhost`, a
`.invalid` name, or a resolver the test controls."""

from __future__ import annotations

import pytest

from memory.llm.endpoint_guard import (
    EndpointPolicy,
    EndpointRefused,
    check_endpoint,
    guarded_provider,
)
from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent
from tests.fakes.llm_server import FakeLLMServer, reply

OPEN = EndpointPolicy()
HI = {"messages": [{"role": "user", "content": "hi"}]}

INSIDE = [
    "http://127.0.0.1/v1",
    "http://127.8.9.10:8000/",
    "http://10.1.2.3/v1",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1:11434",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8000/v1",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://0.0.0.0:8283/",
    "http://[::]/",
    "http://0/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://127.1/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",
    "http://localhost:8283/v1",
    "http://LOCALHOST./v1",
]


@pytest.mark.parametrize("url", INSIDE)
def test_an_inside_address_is_refused_in_every_spelling(url):
    # (httpx itself rejects 0177.0.0.1 as an invalid address: refused either way.)
    with pytest.raises(EndpointRefused, match="ADE_ALLOWED_MODEL_ENDPOINTS|not a valid URL"):
        check_endpoint(url, OPEN)


@pytest.mark.parametrize(
    "host,address,kind",
    [
        ("2130706433", "127.0.0.1", "loopback"),
        ("0177.0.0.1", "127.0.0.1", "loopback"),
        ("0x7f.1", "127.0.0.1", "loopback"),
        ("0", "0.0.0.0", "unspecified"),
        ("::ffff:a9fe:a9fe", "::ffff:169.254.169.254", "link-local"),
        ("[::1]", "::1", "loopback"),
        ("93.184.216.34", "93.184.216.34", None),
    ],
)
def test_numbers_are_read_as_the_c_resolver_reads_them(host, address, kind):
    import ipaddress

    from memory.llm.endpoint_guard import blocked_kind, literal_ip

    found = literal_ip(host)
    assert found == ipaddress.ip_address(address)
    assert blocked_kind(found) == kind


@pytest.mark.parametrize("url", ["http://8.8.8.8/v1", "https://[2606:4700:4700::1111]/v1/"])
def test_a_public_address_is_allowed(url):
    assert check_endpoint(url, OPEN) == url.rstrip("/")


@pytest.mark.parametrize(
    "url,why",
    [
        ("ftp://8.8.8.8/", "http"),
        ("file:///etc/passwd", "http"),
        ("gopher://8.8.8.8:70/", "http"),
        ("not a url", "spaces"),
        ("no-scheme.example", "http"),
        ("http://127.0.0.1\\.example.test/", "backslash"),
        ("http://example.test\\@127.0.0.1/", "backslash"),
        ("http://[::1", "not a valid URL"),
        ("http://8.8.8.8:99999/", "port"),
        ("", "empty"),
        ("http:///v1", "no host"),
        ("http://user:pass@8.8.8.8/", "user name"),
        ("http://8.8.8.8@127.0.0.1/", "user name"),
        ("http://8.8.8.8:port/", "port"),
        ("http://nothing-here.invalid/v1", "cannot be resolved"),
    ],
)
def test_a_malformed_or_unresolvable_endpoint_is_refused_with_a_reason(url, why):
    with pytest.raises(EndpointRefused, match=why):
        check_endpoint(url, OPEN)


def _resolving_to(*addresses):
    return EndpointPolicy(resolve=lambda host, port: list(addresses))


def test_a_name_is_judged_by_every_address_it_resolves_to():
    assert check_endpoint("https://llm.example.test/v1", _resolving_to("93.184.216.34"))
    with pytest.raises(EndpointRefused, match="loopback"):
        check_endpoint("https://llm.example.test/v1", _resolving_to("127.0.0.1"))
    with pytest.raises(EndpointRefused, match="private"):
        check_endpoint("https://llm.example.test/v1", _resolving_to("93.184.216.34", "10.0.0.5"))


def test_the_allow_list_opens_hosts_ports_and_networks_it_names():
    one_address = EndpointPolicy.parse("127.0.0.1")
    assert check_endpoint("http://127.0.0.1:1234/v1", one_address)
    assert check_endpoint("http://2130706433:1234/v1", one_address)  # the same, spelled oddly
    assert check_endpoint("http://localhost:1234/v1", one_address)  # a name resolving to it

    policy = EndpointPolicy.parse("localhost:8080, 10.0.0.0/8, [::1]:9000")
    assert check_endpoint("http://localhost:8080/v1", policy)
    assert check_endpoint("http://10.9.8.7/v1", policy)
    assert check_endpoint("http://[::1]:9000/v1", policy)
    for url in (
        "http://localhost:9090/",
        "http://192.168.1.1/",
        "http://[::1]:9001/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(EndpointRefused):
            check_endpoint(url, policy)


def test_unreadable_allow_list_entries_open_nothing():
    policy = EndpointPolicy.parse("10.0.0.0/33, host:port, , ::1")
    assert len(policy.rules) == 1  # the bare IPv6 address
    with pytest.raises(EndpointRefused):
        check_endpoint("http://10.0.0.1/", policy)


def test_allowing_private_networks_still_keeps_the_metadata_service_shut():
    policy = EndpointPolicy.parse("", allow_private=True)
    for url in ("http://127.0.0.1:11434", "http://192.168.1.20/v1", "http://[fd00::1]/"):
        assert check_endpoint(url, policy)
    for url in ("http://169.254.169.254/", "http://0.0.0.0/", "http://224.0.0.1/"):
        with pytest.raises(EndpointRefused):
            check_endpoint(url, policy)


def test_a_url_the_server_is_configured_with_is_allowed_exactly():
    policy = EndpointPolicy.parse("", trusted_urls=["http://127.0.0.1:11434/"])
    assert check_endpoint("http://127.0.0.1:11434", policy)
    with pytest.raises(EndpointRefused):
        check_endpoint("http://127.0.0.1:11435", policy)


def test_a_name_rebound_to_an_inside_address_is_refused_at_the_next_request():
    """DNS rebinding: public when the endpoint was set, loopback later."""
    from memory.llm.errors import ProviderError
    from memory.llm.openai import OpenAIProvider

    answers = ["93.184.216.34"]
    policy = EndpointPolicy(resolve=lambda host, port: list(answers))
    provider = guarded_provider(
        OpenAIProvider, policy, base_url="http://llm.example.test/v1", api_key="k", timeout=5
    )
    answers[:] = ["127.0.0.1"]
    with pytest.raises(ProviderError, match="loopback"):
        provider.list_models()
    with pytest.raises(ProviderError, match="loopback"):
        provider.stream_payload({"model": "m", "messages": []})


def test_a_guarded_provider_at_an_allowed_endpoint_talks_over_real_http():
    from memory.llm.openai import OpenAIProvider

    with FakeLLMServer() as server:
        policy = EndpointPolicy.parse("127.0.0.1")
        provider = guarded_provider(
            OpenAIProvider, policy, base_url=server.url + "/v1", api_key="k", timeout=5
        )
        assert provider.list_models()
        assert any(r.group == "models" for r in server.requests)


# --- through the API -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v1", "http://169.254.169.254/", "http://[::1]/", "ftp://8.8.8.8/"]
)
def test_an_agent_cannot_be_created_with_an_inside_model_endpoint(as_alice, fake_llm, url):
    response = as_alice.post(
        "/v1/agents/",
        {"name": "Sneaky", "model": "openai/gpt-4o-mini", "llm_config": {"model_endpoint": url}},
    )
    assert response.status_code == 400, response.content
    assert "model endpoint" in response.json()["detail"]


def test_an_agent_cannot_be_pointed_at_an_inside_model_endpoint(as_alice, fake_llm):
    agent = create_agent(as_alice)
    response = as_alice.patch(
        f"/v1/agents/{agent['id']}", {"llm_config": {"model_endpoint": "http://2130706433:5432/"}}
    )
    assert response.status_code == 400, response.content
    assert "loopback" in response.json()["detail"]
    after = as_alice.get(f"/v1/agents/{agent['id']}").json()
    assert after["llm_config"]["model_endpoint"] is None


def test_letta_s_default_endpoint_means_the_configured_provider(as_alice, fake_llm):
    """Letta's clients send model_endpoint https://api.openai.com/v1 by default;
    it means the openai provider as the server configures it (no DNS asked)."""
    agent = create_agent(as_alice, llm_config={"model_endpoint": "https://api.openai.com/v1"})
    fake_llm.script(reply("hello"))
    body = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI).json()
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert fake_llm.last_chat().headers["authorization"] == "Bearer test-key"


def test_an_allowed_model_endpoint_serves_the_agent_end_to_end(as_alice, fake_llm, settings):
    from memory import models as m

    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as own:
        endpoint = own.url + "/v1"
        refused = as_alice.post(
            "/v1/agents/",
            {"model": "openai/gpt-4o-mini", "llm_config": {"model_endpoint": endpoint}},
        )
        assert refused.status_code == 400

        settings.ALLOWED_MODEL_ENDPOINTS = "127.0.0.1"
        agent = create_agent(as_alice, llm_config={"model_endpoint": endpoint})
        assert agent["llm_config"]["model_endpoint"] == endpoint
        own.script(reply("from my own server"))
        body = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI).json()
        assert body["stop_reason"]["stop_reason"] == "end_turn"
        assert own.chat_requests() and not fake_llm.chat_requests()
        # The server's OPENAI_API_KEY does not follow an agent's endpoint elsewhere.
        assert "test-key" not in own.last_chat().headers.get("authorization", "")

        # Checked again at request time: once the admin withdraws it, the turn is refused.
        settings.ALLOWED_MODEL_ENDPOINTS = ""
        refused = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
        body = refused.json()
        assert refused.status_code == 400 and body["stop_reason"] == "llm_api_error"
        run = m.Run.objects.get(pk=body["run_id"])
        assert "loopback" in run.error
        assert len(own.chat_requests()) == 1

        # Clearing the endpoint sends the agent back to the server's provider.
        cleared = as_alice.patch(
            f"/v1/agents/{agent['id']}", {"llm_config": {"model_endpoint": None}}
        )
        assert cleared.json()["llm_config"]["model_endpoint"] is None
        body = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI).json()
        assert body["stop_reason"]["stop_reason"] == "end_turn"
        assert fake_llm.chat_requests()


def test_allowing_private_endpoints_lets_an_agent_use_a_local_server(as_alice, fake_llm, settings):
    settings.ALLOW_PRIVATE_MODEL_ENDPOINTS = True
    with FakeLLMServer() as own:
        agent = create_agent(as_alice, llm_config={"model_endpoint": own.url + "/v1"})
        body = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI).json()
        assert body["stop_reason"]["stop_reason"] == "end_turn"
        assert own.chat_requests()
