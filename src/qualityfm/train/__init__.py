"""qualityfm.train"""
