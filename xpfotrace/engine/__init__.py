"""The replay engine: state pass, remote pass, projection (MODEL.md sections 3-6)."""
