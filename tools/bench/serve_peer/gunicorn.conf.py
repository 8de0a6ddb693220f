# gunicorn settings of the serve.sh peer: two sync workers (the usual
# deployment, one per CPU), on loopback only. PEER_PORT sets the port.
import os

bind = f"127.0.0.1:{os.environ.get('PEER_PORT', '8601')}"
workers = 2
worker_class = "sync"
loglevel = "warning"
accesslog = None
