"""The replay engine: state pass, remote pass, projection (docs/model.md sections 3-6)."""
