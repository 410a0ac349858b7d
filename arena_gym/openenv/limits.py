"""Default address and bounds of the env server (no dependencies, read by the command line)."""

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
#: Sessions (WebSocket connections) open at once.
DEFAULT_MAX_SESSIONS = 64
#: Seconds without a message after which a session is ended.
DEFAULT_IDLE_TIMEOUT_S = 600.0
#: Largest WebSocket message or HTTP body accepted, in bytes (an answer is at most 32 KB of
#: text; JSON escaping can double it).
DEFAULT_MAX_REQUEST_BYTES = 128 * 1024
