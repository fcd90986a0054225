"""What every router of the REST API (/api/v1/) shares, and the Segment-compatible ingestion
(/segment/) that rides on the same keys: body decoding (`body`), API-key authentication
(`auth`) and its rate limit (`ratelimit`), the JSON error bodies and their handlers (`errors`),
and the field types the schemas share (`fields`).

The NinjaAPI itself is assembled in config/api.py; each app's endpoints are in `<app>/api.py`.
"""
