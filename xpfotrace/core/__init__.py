"""What every layer may import, and which imports nothing above it: the event schema,
event names and limits, ``TraceInfo``, errors, gfp flags, array types, the rules for
writing outputs, and the readers' shared types."""
