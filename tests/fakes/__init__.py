"""Test doubles that speak real wire protocols (see llm_server.py)."""
