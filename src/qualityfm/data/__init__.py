"""qualityfm.data"""
