"""qualityfm.signal"""
