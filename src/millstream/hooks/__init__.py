"""Hooks: clients for external systems (databases, HTTP) built from stored connections."""

from __future__ import annotations

from millstream.hooks.base import BaseHook, HookError, get_hook

__all__ = ["BaseHook", "HookError", "get_hook"]
