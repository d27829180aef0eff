"""xpfotrace.fleet"""
