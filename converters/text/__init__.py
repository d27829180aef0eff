"""xpfotrace.converters.text"""
