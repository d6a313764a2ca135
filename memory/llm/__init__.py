"""LLM and embedding providers behind one small interface: `base` (what an
adapter implements), one module per provider, `registry` (handles to providers),
`embeddings`. Importing this package loads no provider SDK."""
