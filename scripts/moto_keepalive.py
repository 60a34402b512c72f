"""moto's server app over HTTP/1.1 keep-alive, as AWS's endpoints answer.

moto_server (werkzeug) closes every connection, so a client pays a TCP
connect (and the SDK a DNS lookup) per call; a Lambda function on AWS keeps
its connections. The CPU benchmark measures the functions on both.
Usage: python moto_keepalive.py PORT
"""

import logging
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress import serve

app = DomainDispatcherApplication(create_backend_app)
# Requests wait their turn by design (below): no warning for each.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
# One request at a time: moto's DynamoDB is not safe for concurrent
# transactions (tests/support/env.rs), and with eight threads a run of the
# benchmark found fewer jobs queued than events. Waiting on moto is not the
# functions' CPU, so serving one call at a time does not change the measure.
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=1, _quiet=True)
