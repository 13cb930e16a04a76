"""The live channel: any process publishes events to Redis pub/sub; each web
process fans them out to its own WebSockets (flask-sock has no broadcast)."""

from app.core.live.bus import CHANNEL, make_event, publish, publish_many, publish_on_commit

__all__ = ["CHANNEL", "make_event", "publish", "publish_many", "publish_on_commit"]
