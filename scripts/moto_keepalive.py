"""moto's server app over HTTP/1.1 keep-alive, as AWS's endpoints answer.

moto_server (werkzeug) closes every connection, so a client pays a TCP
connect (and the SDK a DNS lookup) per call; a Lambda function on AWS keeps
its connections. The CPU benchmark measures the functions on both.
Usage: python moto_keepalive.py PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress import serve

app = DomainDispatcherApplication(create_backend_app)
# One request at a time: with eight threads, a run of the benchmark found
# fewer jobs on the deliveries queue than the worker had sent; with one,
# every run counts them all. Waiting is not CPU, so this costs nothing here.
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=1, _quiet=True)
