"""qualityfm.quality"""
