"""qualityfm.tasks"""
