"""Embedded services, dashboards, the worker launcher."""
