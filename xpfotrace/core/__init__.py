"""xpfotrace.core"""
