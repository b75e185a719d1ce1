"""qualityfm.model"""
