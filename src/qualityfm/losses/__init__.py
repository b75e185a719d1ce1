"""qualityfm.losses"""
