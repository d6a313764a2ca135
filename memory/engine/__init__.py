"""The agent engine: plain Python, no Django (only `store.py` talks to the ORM)."""
