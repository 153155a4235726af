"""Publishes a platform event as another module would, with pika: the envelope as the JSON body,
persistent, `message_id` the event id, `type` the event type, `user_id` the broker user the
module connects as (RabbitMQ vouches for it).

    publish_event.py AMQP_URL EXCHANGE ENVELOPE_JSON
"""

import json
import sys
import urllib.parse

import pika

url, exchange, envelope = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
user = urllib.parse.unquote(urllib.parse.urlparse(url).username or "guest")
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
channel.basic_publish(
    exchange=exchange,
    routing_key=envelope["type"],
    body=json.dumps(envelope).encode(),
    properties=pika.BasicProperties(
        content_type="application/json",
        delivery_mode=2,
        message_id=envelope["id"],
        type=envelope["type"],
        user_id=user,
    ),
)
connection.close()
