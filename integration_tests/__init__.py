"""integration_tests"""
