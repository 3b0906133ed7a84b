"""Timers and reports over the same objects the device uses."""
