"""Engineering change orders: stages per type, activity gates, events, and the
custom-action rules that run around every stage move (capabilities 3 and 4)."""
