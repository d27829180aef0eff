"""Rendering results for people and tools: text tables (``tables``), the self-contained
HTML report (``html``), and Chrome JSON traces for Perfetto (``perfetto``)."""
