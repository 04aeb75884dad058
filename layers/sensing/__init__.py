"""Sensing: sensors, their readings, alarm rules with memory, and the MQTT and SensorThings ways in."""
