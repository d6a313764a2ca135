"""Tools the agent can call: plumbing (`base`), the built-in memory tools (`core`)
and their registry (`catalog`). Plain Python, no Django."""
