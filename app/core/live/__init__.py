"""The live channel: any process publishes events to Redis pub/sub; each web
process fans them out to its own WebSockets (flask-sock has no broadcast)."""

from app.core.live.bus import channel, make_event, publish, publish_many, publish_on_commit, user_changed

__all__ = ["channel", "make_event", "publish", "publish_many", "publish_on_commit", "user_changed"]
