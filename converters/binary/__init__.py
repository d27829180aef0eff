"""xpfotrace.converters.binary"""
